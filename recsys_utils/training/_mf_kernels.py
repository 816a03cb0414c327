"""The compiled loops behind ``_fused_mf``: one MF minibatch step in five passes, and a
parallel shuffle. Numba (which umap-learn already brings) compiles them on first use and
caches the machine code beside this file.

A step, for the ratings ``order`` picks (sorted, so a file grouped by user reads in runs):

1. ``gather``: the batch's users, movies and ratings into contiguous arrays;
2. ``slots``: each distinct user and movie gets a row of a small gradient buffer (a
   ``pos`` table of -1s, reset by ``update``, replaces the sort in ``torch.unique``) and
   a count of its ratings (for the L2 term);
3. ``errors``: ``e = mu + b_u + b_i + p_u . q_i - r`` (threads split the batch);
4. ``gradients``: ``g_p[u] += (2/n) e q_i`` and ``g_q[i] += (2/n) e p_u``, users on one
   thread and movies on the other;
5. ``update``: the L2 term ``(2 l2 / n) count * row``, then the lazy SGD / Adagrad / Adam
   of ``_rowsparse.RowSparseOptimizer`` on the distinct rows, in parallel over rows.

The random row reads are what a step waits on, so each loop asks the CPU for the rows
``AHEAD`` iterations early (``llvm.prefetch``), and Adam's ``b**t`` comes from a table.
Without numba, ``numba`` is ``None`` here and nothing else is defined.
"""

from __future__ import annotations

import numpy as np

try:  # numba comes with umap-learn; without it training takes the generic path
    import numba
    from numba import njit, prange
except ImportError:  # pragma: no cover - exercised only where numba is missing
    numba = None


def _prefetch_intrinsic():
    """``prefetch(arr, i, j)``: ask the CPU to start loading ``arr[i, j]`` (``arr[i]`` for
    a 1-D array) into cache, LLVM's ``llvm.prefetch``. Random row reads are latency-bound; asking a few
    ratings ahead takes about a third off each pass. A no-op where the intrinsic does not
    compile (another LLVM)."""
    from llvmlite import ir
    from numba import types
    from numba.core import cgutils
    from numba.extending import intrinsic

    @intrinsic
    def prefetch(typingctx, arr, i, j):
        def codegen(context, builder, signature, args):
            aryty = signature.args[0]
            ary = context.make_array(aryty)(context, builder, args[0])
            idx = [args[1], args[2]][: aryty.ndim]  # a 1-D array ignores j
            ptr = cgutils.get_item_pointer(context, builder, aryty, ary, idx)
            i8p, i32 = ir.IntType(8).as_pointer(), ir.IntType(32)
            fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
            fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0")
            # read, high temporal locality, data cache
            builder.call(fn, [builder.bitcast(ptr, i8p), *(ir.Constant(i32, c) for c in (0, 3, 1))])
            return context.get_dummy_value()

        return types.void(arr, i, j), codegen

    @njit
    def check(a):
        prefetch(a, 0, 0)
        return a[0, 0]

    try:
        check(np.zeros((1, 1), np.float32))
        return prefetch
    except Exception:  # noqa: BLE001 - any compile failure means: no hints

        @njit(inline="always")
        def no_prefetch(arr, i, j):
            pass

        return no_prefetch


AHEAD = 16  # ratings (or rows) ahead to prefetch; 8-32 measured alike


if numba is not None:
    _prefetch = _prefetch_intrinsic()

    @njit(inline="always")
    def _prefetch_row(W, x):
        for c in range(0, W.shape[1], 16):  # one 64-byte line holds 16 float32s
            _prefetch(W, x, c)

    @njit(parallel=True, cache=True)
    def gather(order, users, items, ratings, ub, ib, rb):
        """The batch's users, movies and ratings, contiguous (``order`` indexes them)."""
        n = order.shape[0]
        for k in prange(n):
            if k + AHEAD < n:
                j = order[k + AHEAD]
                _prefetch(users, j, 0)
                _prefetch(items, j, 0)
                _prefetch(ratings, j, 0)
            j = order[k]
            ub[k], ib[k], rb[k] = users[j], items[j], ratings[j]

    @njit(cache=True)
    def _slots_side(idx, pos, rows, count):
        """Give each distinct index a slot (``pos[x]``, ``rows[slot] = x``), count its
        ratings in ``count[slot]``; return the number of slots."""
        m = 0
        for k in range(idx.shape[0]):
            x = idx[k]
            if pos[x] < 0:
                pos[x] = m
                rows[m] = x
                m += 1
            count[pos[x]] += 1
        return m

    @njit(parallel=True, cache=True)
    def slots(ub, ib, pos_u, rows_u, count_u, pos_i, rows_i, count_i, out):
        for side in prange(2):  # users on one thread, movies on the other
            if side == 0:
                out[0] = _slots_side(ub, pos_u, rows_u, count_u)
            else:
                out[1] = _slots_side(ib, pos_i, rows_i, count_i)

    @njit(parallel=True, fastmath=True, cache=True)
    def errors(ub, ib, rb, P, Q, bu, bi, mu, err):  # noqa: N803
        """``err[k] = mu + b_u + b_i + p_u . q_i - r`` for the batch; return the sum of
        squared errors (float64)."""
        n, dim = ub.shape[0], P.shape[1]
        sse = 0.0
        for k in prange(n):
            if k + AHEAD < n:
                _prefetch_row(P, ub[k + AHEAD])
                _prefetch_row(Q, ib[k + AHEAD])
            u, i = ub[k], ib[k]
            s = np.float32(0.0)
            for d in range(dim):
                s += P[u, d] * Q[i, d]
            e = s + mu + bu[u, 0] + bi[i, 0] - rb[k]
            err[k] = e
            sse += e * e
        return sse

    @njit(fastmath=True, cache=True)
    def _accumulate(own, other, err, scale, pos, W_other, G, Gb):  # noqa: N803
        """Serial scatter of one side's gradients into its slots:
        ``G[slot(own)] += scale * err * W_other[other]``."""
        n, dim = own.shape[0], G.shape[1]
        for k in range(n):
            if k + AHEAD < n:
                _prefetch_row(W_other, other[k + AHEAD])
                _prefetch_row(G, pos[own[k + AHEAD]])
            s, o = pos[own[k]], other[k]
            e = err[k] * scale
            for d in range(dim):
                G[s, d] += e * W_other[o, d]
            Gb[s, 0] += e

    @njit(parallel=True, cache=True)
    def gradients(ub, ib, err, scale, pos_u, pos_i, P, Q, Gu, Gi, Gbu, Gbi):  # noqa: N803
        for side in prange(2):  # users on one thread, movies on the other
            if side == 0:
                _accumulate(ub, ib, err, scale, pos_u, Q, Gu, Gbu)
            else:
                _accumulate(ib, ub, err, scale, pos_i, P, Gi, Gbi)

    @njit(inline="always")
    def _update_row(W, x, G, s, m, v, t, kind, lr, wd, pw1, pw2, eps, c):  # noqa: N803
        """Row ``x`` of table ``W`` from gradient slot ``s`` (then cleared), in place.

        ``c`` adds the L2 penalty's gradient ``c * W[x]``; ``m``, ``v``, ``t`` are the
        optimiser's state tables (Adagrad keeps its sum in ``m``; SGD uses none);
        ``pw1[k]``, ``pw2[k]`` are Adam's ``b1**k``, ``b2**k`` (a lookup: ``pow`` per row
        took almost half of Adam's update loop).
        """
        one = np.float32(1.0)
        if kind == 2:  # adam: decoupled decay, bias correction by the row's own step count
            tn = t[x, 0] + one
            t[x, 0] = tn
            k = np.int64(tn)
            b1, b2 = pw1[1], pw2[1]
            step = lr / (one - pw1[k])
            ic2 = one / (one - pw2[k])
            keep = one - lr * wd
            for d in range(W.shape[1]):
                g = G[s, d] + c * W[x, d]
                mm = b1 * m[x, d] + (one - b1) * g
                vv = b2 * v[x, d] + (one - b2) * g * g
                m[x, d], v[x, d] = mm, vv
                W[x, d] = W[x, d] * keep - step * mm / (np.sqrt(vv * ic2) + eps)
                G[s, d] = 0.0
        elif kind == 1:  # adagrad, coupled L2
            for d in range(W.shape[1]):
                g = G[s, d] + (c + wd) * W[x, d]
                acc = m[x, d] + g * g
                m[x, d] = acc
                W[x, d] -= lr * g / (np.sqrt(acc) + eps)
                G[s, d] = 0.0
        else:  # sgd, coupled L2
            for d in range(W.shape[1]):
                W[x, d] -= lr * (G[s, d] + (c + wd) * W[x, d])
                G[s, d] = 0.0

    @njit(parallel=True, fastmath=True, cache=True)
    def update(rows, n_rows, pos, W, b, G, Gb, count, mW, vW, tW, mb, vb, tb, pw1, pw2, hyper):  # noqa: N803
        """Update the first ``n_rows`` slots' table and bias rows, then free the slots.

        ``mW, vW, tW`` and ``mb, vb, tb`` are the optimiser's state for ``W`` and ``b``
        (1-row dummies where unused); ``pw1``, ``pw2`` Adam's powers of ``b1``, ``b2``;
        ``hyper`` is ``(kind, lr, wd, eps, penalty)``, the floats in float32.
        """
        kind, lr, wd, eps, penalty = hyper
        for s in prange(n_rows):
            if s + AHEAD < n_rows:
                y = rows[s + AHEAD]
                _prefetch_row(W, y)
                _prefetch(b, y, 0)
                if kind >= 1:
                    _prefetch_row(mW, y)
                    _prefetch(mb, y, 0)
                if kind == 2:
                    _prefetch_row(vW, y)
                    _prefetch(vb, y, 0)
                    _prefetch(tW, y, 0)
                    _prefetch(tb, y, 0)
            x = rows[s]
            c = penalty * count[s]  # d/dw of l2 * count * |w|^2 / n
            _update_row(W, x, G, s, mW, vW, tW, kind, lr, wd, pw1, pw2, eps, c)
            _update_row(b, x, Gb, s, mb, vb, tb, kind, lr, wd, pw1, pw2, eps, c)
            count[s] = 0
            pos[x] = -1

    @njit(inline="always")
    def _mix(x):
        """splitmix64's finaliser: a well-spread uint64 from any uint64."""
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))

    @njit(inline="always")
    def _bucket(seed, k, n_buckets):
        return np.int64(_mix(seed + np.uint64(k) * np.uint64(0x9E3779B97F4A7C15)) % n_buckets)

    @njit(parallel=True, cache=True)
    def shuffle(n, seed, n_chunks, n_buckets, out):
        """A uniform random permutation of ``range(n)`` into ``out``, in parallel.

        Each index draws one of ``n_buckets`` buckets (a hash of seed and index); a
        counting sort by bucket writes the buckets out contiguously (chunks of the range
        in parallel, each with its own offsets), then each bucket, small enough for the
        core's cache, gets a Fisher-Yates shuffle of its own. Random buckets plus uniform
        shuffles within them give a uniform permutation. The result depends only on
        ``(n, seed, n_chunks, n_buckets)``, never on the thread count.
        """
        counts = np.zeros((n_chunks, n_buckets), np.int64)
        for c in prange(n_chunks):
            for k in range(c * n // n_chunks, (c + 1) * n // n_chunks):
                counts[c, _bucket(seed, k, n_buckets)] += 1
        starts = np.zeros(n_buckets + 1, np.int64)
        offsets = np.zeros((n_chunks, n_buckets), np.int64)
        at = 0
        for b in range(n_buckets):  # bucket-major, chunk-minor: the counting sort's offsets
            starts[b] = at
            for c in range(n_chunks):
                offsets[c, b] = at
                at += counts[c, b]
        starts[n_buckets] = at
        for c in prange(n_chunks):
            for k in range(c * n // n_chunks, (c + 1) * n // n_chunks):
                b = _bucket(seed, k, n_buckets)
                out[offsets[c, b]] = k
                offsets[c, b] += 1
        for b in prange(n_buckets):
            lo, hi = starts[b], starts[b + 1]
            state = _mix(seed ^ (np.uint64(b) * np.uint64(0xD1B54A32D192ED03)))
            for j in range(hi - 1, lo, -1):
                state += np.uint64(0x9E3779B97F4A7C15)
                r = lo + np.int64(_mix(state) % np.uint64(j - lo + 1))
                out[j], out[r] = out[r], out[j]
