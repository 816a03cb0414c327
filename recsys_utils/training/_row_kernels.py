"""Compiled row loops for the row-sparse steps: lazy optimiser updates of gathered rows
(``_rowsparse``) and the ranking net's embedding bag and sampled softmax (``ranking_net``).

Each replaces a chain of torch ops that each make a pass over a batch's rows:

- ``update_rows``: the lazy SGD / Adagrad / Adam of ``_rowsparse`` on the rows a batch
  gathered, one pass per row (``_mf_kernels``' row update; torch takes a dozen
  ``index_select`` / arithmetic / ``index_copy_`` passes);
- ``SampledHead``: the sampled softmax loss of a batch and its gradient: the dot
  products ``z[rows_p] . w[cols_p]`` of its (user, movie) target pairs without the two
  gathered (pairs x dim) copies and their scatter-add backward, and the logsumexp over
  the shared negatives in one pass forward and one backward (``softmax_head``);
- ``BagSum``: the weighted embedding bag of the users' input movies and its gradient.

Backward passes group the pairs by output row with a counting sort (``by_key``) and
let each thread write whole rows (``gather_sum``): reads are random, writes are not,
and no two threads write one row.

Without numba, ``numba`` is ``None`` here and callers keep their torch path.
"""

from __future__ import annotations

import numpy as np
import torch

from recsys_utils.training._mf_kernels import numba

if numba is not None:
    from numba import njit, prange

    from recsys_utils.training._mf_kernels import _update_row

    @njit(parallel=True, fastmath=True, cache=True)
    def update_rows(rows, W, G, m, v, t, pw1, pw2, hyper):  # noqa: N803
        """Rows ``rows[s]`` of ``W`` from gradient rows ``G[s]`` (then cleared), in place;
        ``hyper`` is ``(kind, lr, wd, eps)``: kind 0 SGD, 1 Adagrad (sum in ``m``), 2 Adam."""
        kind, lr, wd, eps = hyper
        zero = np.float32(0.0)
        for s in prange(rows.size):
            _update_row(W, rows[s], G, s, m, v, t, kind, lr, wd, pw1, pw2, eps, zero)

    @njit(cache=True)
    def by_key(keys, n_keys):
        """Counting sort: ``order`` lists positions grouped by key, ``starts[k]`` where key
        ``k``'s run begins (``starts[n_keys]`` = len(keys))."""
        starts = np.zeros(n_keys + 1, np.int64)
        for p in range(keys.size):
            starts[keys[p] + 1] += 1
        for k in range(n_keys):
            starts[k + 1] += starts[k]
        fill = starts[:-1].copy()
        order = np.empty(keys.size, np.int64)
        for p in range(keys.size):
            k = keys[p]
            order[fill[k]] = p
            fill[k] += 1
        return order, starts

    @njit(parallel=True, fastmath=True, cache=True)
    def pair_dot(z, w, rows, cols, out):
        """``out[p] = z[rows[p]] . w[cols[p]]``."""
        for p in prange(rows.size):
            r, c = rows[p], cols[p]
            acc = np.float32(0.0)
            for j in range(z.shape[1]):
                acc += z[r, j] * w[c, j]
            out[p] = acc

    @njit(parallel=True, fastmath=True, cache=True)
    def gather_sum(src, partners, vals, order, starts, out):
        """``out[k] = sum of vals[p] * src[partners[p]]`` over the positions ``p`` of run
        ``k`` (``order[starts[k]:starts[k + 1]]``, from ``by_key``), one output row per
        thread at a time, so no two threads write one row."""
        d = out.shape[1]
        for k in prange(out.shape[0]):
            for j in range(d):
                out[k, j] = 0.0
            for q in range(starts[k], starts[k + 1]):
                p = order[q]
                x, g = partners[p], vals[p]
                for j in range(d):
                    out[k, j] += g * src[x, j]

    @njit(parallel=True, fastmath=True, cache=True)
    def softmax_head(negl, pos, starts, lse, loss, sig):
        """Per user ``u``: ``lse[u] = logsumexp(negl[u])``; per positive ``p`` of ``u``:
        ``log(e^lse + e^pos) - pos = softplus(lse - pos)`` summed into ``loss[u]``, and
        ``sig[p] = sigmoid(pos - lse)`` (its share of the softmax, for the gradient)."""
        for u in prange(negl.shape[0]):
            mx = negl[u, 0]
            for j in range(1, negl.shape[1]):
                mx = max(mx, negl[u, j])
            acc = 0.0
            for j in range(negl.shape[1]):
                acc += np.exp(negl[u, j] - mx)
            top = mx + np.log(acc)
            lse[u] = top
            total = 0.0
            for p in range(starts[u], starts[u + 1]):
                d = top - pos[p]
                total += d + np.log1p(np.exp(-d)) if d > 0 else np.log1p(np.exp(d))
                sig[p] = 1.0 / (1.0 + np.exp(d))
            loss[u] = total

    @njit(parallel=True, fastmath=True, cache=True)
    def softmax_head_grad(negl, lse, starts, sig, scale, dnegl, dpos):
        for u in prange(negl.shape[0]):
            c = 0.0
            for p in range(starts[u], starts[u + 1]):
                c += 1.0 - sig[p]
                dpos[p] = scale * (sig[p] - 1.0)
            c *= scale
            for j in range(negl.shape[1]):
                dnegl[u, j] = c * np.exp(negl[u, j] - lse[u])

    @njit(fastmath=True, cache=True)
    def add_rows(dst, idx, src):
        """``dst[idx[k]] += src[k]`` for repeated ``idx`` too (torch's CPU ``index_add_``
        takes hundreds of ms for 2,048 rows of 200)."""
        for k in range(idx.size):
            x = idx[k]
            for j in range(dst.shape[1]):
                dst[x, j] += src[k, j]


def usable(*tensors: torch.Tensor) -> bool:
    """Whether the compiled loops can run on these tensors (CPU, float32, numba)."""
    return numba is not None and all(
        t.device.type == "cpu" and t.dtype == torch.float32 for t in tensors
    )


def _grouped_sum(src, partners, keys, vals, n_out) -> torch.Tensor:
    """Rows ``out[k] = sum_{p: keys[p] = k} vals[p] src[partners[p]]`` for k < n_out."""
    order, starts = by_key(keys, n_out)
    out = torch.empty(n_out, src.shape[1])
    gather_sum(src, partners, vals, order, starts, out.numpy())
    return out


def warm_up() -> None:
    """Load (or compile) every loop here on tiny inputs, so the first batch of a fit does
    not pay for it (numba compiles on first call, then reads its cache)."""
    if numba is None:
        return
    f32, i64 = np.float32, np.int64
    w, g = np.zeros((2, 2), f32), np.zeros(2, f32)
    idx, t = np.zeros(2, i64), np.zeros((2, 1), f32)
    update_rows(idx, w, w.copy(), w.copy(), w.copy(), t, g + 1, g + 1, (2, f32(0), f32(0), f32(1)))
    order, starts = by_key(idx, 2)
    gather_sum(w, idx, g, order, starts, w.copy())
    pair_dot(w, w, idx, idx, g.copy())
    softmax_head(w, g, np.array([0, 1, 2]), g.copy(), np.zeros(2), g.copy())
    softmax_head_grad(w, g, np.array([0, 1, 2]), g, f32(1), w.copy(), g.copy())
    add_rows(w.copy(), idx, w)


class BagSum(torch.autograd.Function):
    """``nn.functional.embedding_bag(idx, w, offsets, mode="sum", per_sample_weights=
    weights)`` (gradient for ``w`` only), compiled: each user's row is a weighted sum of
    its input rows; the backward groups the inputs by row instead of sorting them."""

    @staticmethod
    def forward(ctx, w, idx, offsets, weights):
        w = w.detach().contiguous()
        n = offsets.shape[0]
        users = np.repeat(np.arange(n), np.diff(np.append(offsets.numpy(), idx.shape[0])))
        order, starts = np.arange(idx.shape[0]), np.append(offsets.numpy(), idx.shape[0])
        out = torch.empty(n, w.shape[1])
        gather_sum(w.numpy(), idx.numpy(), weights.numpy(), order, starts, out.numpy())
        ctx.save_for_backward(idx, weights)
        ctx.users, ctx.n_rows = users, w.shape[0]
        return out

    @staticmethod
    def backward(ctx, grad):
        idx, weights = (t.numpy() for t in ctx.saved_tensors)
        dz = grad.contiguous().numpy()
        dw = _grouped_sum(dz, ctx.users, idx, weights, ctx.n_rows)
        return dw, None, None, None


class SampledHead(torch.autograd.Function):
    """The sampled softmax's loss of ``ranking_net.PooledNet.forward``, compiled:
    ``sum_p [log(e^lse_u + e^pos_p) - pos_p] / n_users`` where, for positive ``p`` =
    (user ``u`` = ``rows[p]``, movie ``cols[p]``), ``pos_p = z_u . w_c + b_c - lq_c``,
    and ``lse_u`` is the logsumexp of ``z_u . w_n + b_n - lq_n`` over the shared
    negatives ``neg``. Gradients for ``z``, ``w`` and ``b``: each written once per row
    (``gather_sum``), no dense zero-filled copies; the two matrix products stay BLAS."""

    @staticmethod
    def forward(ctx, z, w, b, batch):
        z, w, b = z.detach().contiguous(), w.detach().contiguous(), b.detach()
        rows, cols, neg = batch.rows, batch.cols, batch.neg
        dots = np.empty(rows.shape[0], np.float32)
        pair_dot(z.numpy(), w.numpy(), rows.numpy(), cols.numpy(), dots)
        pos = torch.from_numpy(dots).add_(b[cols]).sub_(batch.lq_cols)
        w_neg = w.index_select(0, neg)
        negl = torch.addmm(b[neg] - batch.lq_neg, z, w_neg.T)
        starts = np.searchsorted(rows.numpy(), np.arange(z.shape[0] + 1))
        lse = np.empty(z.shape[0], np.float32)
        loss = np.empty(z.shape[0], np.float64)
        sig = np.empty(rows.shape[0], np.float32)
        softmax_head(negl.numpy(), pos.numpy(), starts, lse, loss, sig)
        ctx.save_for_backward(z, w, negl, w_neg)
        ctx.rest = (batch, lse, starts, sig)
        return torch.tensor(loss.sum() / batch.n_users, dtype=z.dtype)

    @staticmethod
    def backward(ctx, grad):
        z, w, negl, w_neg = ctx.saved_tensors
        batch, lse, starts, sig = ctx.rest
        rows, cols, neg = batch.rows, batch.cols, batch.neg
        dnegl, dpos = torch.empty_like(negl), torch.empty(sig.shape[0])
        scale = np.float32(float(grad) / batch.n_users)
        softmax_head_grad(negl.numpy(), lse, starts, sig, scale, dnegl.numpy(), dpos.numpy())
        r, c, g = rows.numpy(), cols.numpy(), dpos.numpy()
        dz = _grouped_sum(w.numpy(), c, r, g, z.shape[0]).addmm_(dnegl, w_neg)
        dw = _grouped_sum(z.numpy(), r, c, g, w.shape[0])
        add_rows(dw.numpy(), neg.numpy(), (dnegl.T @ z).numpy())
        db = torch.zeros(w.shape[0]).index_add_(0, cols, dpos).index_add_(0, neg, dnegl.sum(0))
        return dz, dw, db, None
