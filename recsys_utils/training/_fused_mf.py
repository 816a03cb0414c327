"""A fused CPU step for matrix factorisation with the row-sparse optimisers.

The generic row-sparse step (``_rowsparse``) runs MF as a dozen torch ops per batch:
``unique``, gathers, the dot product, autograd's scatter-adds, then the optimiser's
gathers and copies. On a 2-core CPU at ml-25m's shape each op is a pass over 16 MB of
batch rows, which caps an epoch near 0.6M ratings/s. ``MFStep`` runs the same batch as
five compiled loops (``_mf_kernels``) that touch each row about once, over tables in
huge-page memory, and ``shuffle`` replaces ``torch.randperm`` (2.3 s a 25M epoch).

It computes what ``training.train`` computes for ``MFNet`` with a ``sparse_*``
optimiser (loss ``mse + l2 * penalty / n``; ``mu`` still goes through the optimiser's
dense torch step), up to float rounding; the tests compare the two step by step.
``training.train`` uses it when ``supports(net, opt)`` (an ``MFNet`` on the CPU in
float32, numba importable) unless ``TrainConfig(fused=False)``.
"""

from __future__ import annotations

import mmap

import numpy as np
import torch

from recsys_utils.training import _mf_kernels as K
from recsys_utils.training._mf_kernels import numba

_KINDS = {"sgd": 0, "adagrad": 1, "adam": 2}


def set_threads(n: int) -> None:
    """Use ``n`` threads in the compiled loops (capped at numba's pool size)."""
    if numba is not None:
        numba.set_num_threads(max(1, min(n, numba.config.NUMBA_NUM_THREADS)))


def supports(net: torch.nn.Module, opt) -> bool:
    """Whether ``MFStep`` can run this net and optimiser (else use the generic step)."""
    from recsys_utils.training._rowsparse import RowSparseOptimizer
    from recsys_utils.training.nets import MFNet

    return (
        numba is not None
        and type(net) is MFNet
        and isinstance(opt, RowSparseOptimizer)
        and all(
            p.device.type == "cpu" and p.dtype == torch.float32 and p.is_contiguous()
            for p in net.parameters()
        )
    )


def shuffle(n: int, seed: int) -> torch.Tensor:
    """A random permutation of ``range(n)`` (int64), like ``torch.randperm`` but parallel
    and cache-friendly: 0.45-0.65 s instead of 2.3 s for 25M on 2 cores. Same ``seed``,
    same permutation, whatever the thread count."""
    out = np.empty(n, np.int64)
    if n:
        n_buckets = int(min(4096, max(1, n // 50_000)))  # ~50k indices: one core's cache
        K.shuffle(n, np.uint64(seed % 2**64), 64, n_buckets, out)
    return torch.from_numpy(out)


def hugepage_copy(t: torch.Tensor) -> torch.Tensor:
    """``t`` copied into memory advised for transparent huge pages (Linux), else ``t``.

    Random row reads into tables of tens of MB miss the TLB on every row with 4 KB pages;
    at ml-25m's shape the error pass took 16 ms a batch with them and 10 ms with 2 MB
    pages. Needs THP set to ``always`` or ``madvise``
    (``/sys/kernel/mm/transparent_hugepage/enabled``); elsewhere the copy is harmless.
    """
    nbytes = t.numel() * t.element_size()
    if nbytes < 2**21 or not hasattr(mmap, "MADV_HUGEPAGE") or not hasattr(mmap, "MAP_PRIVATE"):
        return t
    # private and anonymous (a shared mapping is shmem, which THP leaves alone), zero-filled;
    # the tensor keeps it alive
    buf = mmap.mmap(-1, nbytes, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    buf.madvise(mmap.MADV_HUGEPAGE)
    out = torch.frombuffer(buf, dtype=t.dtype, count=t.numel()).view(t.shape)
    return out.copy_(t)


class MFStep:
    """Fused minibatch steps for ``MFNet`` trained by a ``RowSparseOptimizer``.

    ``step(order, users, items, ratings, l2)`` does what one batch of ``training.train``
    does (forward, loss, backward, ``opt.step()``) for the ratings ``order`` indexes, and
    returns the batch's sum of squared errors. The optimiser's state (``m``, ``v``, ``t``
    or ``sum`` per table, the dense optimiser for ``mu``) is shared, so steps can mix
    with the generic ones. The net's tables move to huge-page memory (same values, same
    parameters).
    """

    def __init__(self, net, opt, max_batch: int):
        if not supports(net, opt):
            raise ValueError(
                "MFStep needs an MFNet on the CPU in float32, a RowSparseOptimizer and numba"
            )
        self.net, self.opt, self.kind = net, opt, _KINDS[opt.kind]
        self.sides = {
            "user": (net.user_emb.weight, net.user_bias.weight),
            "item": (net.item_emb.weight, net.item_bias.weight),
        }
        dim = net.user_emb.weight.shape[1]
        self.ub, self.ib = np.empty(max_batch, np.int64), np.empty(max_batch, np.int64)
        self.rb, self.err = np.empty(max_batch, np.float32), np.empty(max_batch, np.float32)
        self.n_slots = np.zeros(2, np.int64)
        self.pw = (np.empty(0, np.float32), np.empty(0, np.float32))
        self.buf = {}
        for side, (W, b) in self.sides.items():
            W.data, b.data = hugepage_copy(W.data), hugepage_copy(b.data)
            n = min(max_batch, W.shape[0])  # at most this many distinct rows per batch
            self.buf[side] = {
                "pos": np.full(W.shape[0], -1, np.int64),
                "rows": np.empty(n, np.int64),
                "G": np.zeros((n, dim), np.float32),
                "Gb": np.zeros((n, 1), np.float32),
                "count": np.zeros(n, np.int64),
            }
        # the optimiser's state for each side's table and bias, as numpy views (made once)
        self.state = {
            side: (*self._state(W), *self._state(b)) for side, (W, b) in self.sides.items()
        }
        # rows may carry step counts from earlier generic steps: Adam's power tables
        # must reach past the largest
        counts = [st["t"] for st in opt.state.values() if "t" in st]
        self.steps = int(max((float(t.max()) for t in counts), default=0.0))

    def _state(self, weight: torch.Tensor) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The optimiser's state arrays for one table, created as ``_rowsparse`` does."""
        state = self.opt.state[weight]
        dummy, t_dummy = np.zeros((1, weight.shape[1]), np.float32), np.zeros((1, 1), np.float32)
        if self.kind == 2:
            if "m" not in state:
                state["m"] = hugepage_copy(torch.zeros_like(weight))
                state["v"] = hugepage_copy(torch.zeros_like(weight))
                state["t"] = torch.zeros(weight.shape[0], 1)
            return state["m"].numpy(), state["v"].numpy(), state["t"].numpy()
        if self.kind == 1:
            if "sum" not in state:
                state["sum"] = hugepage_copy(torch.zeros_like(weight))
            return state["sum"].numpy(), dummy, t_dummy
        return dummy, dummy, t_dummy

    def _powers(self) -> tuple[np.ndarray, np.ndarray]:
        """``b1**k`` and ``b2**k`` (float32) for every step count a row can reach next."""
        self.steps += 1
        if self.steps >= len(self.pw[0]):
            k = np.arange(2 * self.steps + 2, dtype=np.float32)
            self.pw = tuple(np.float32(b) ** k for b in self.opt.betas)
        return self.pw

    def prepare(self, users: torch.Tensor, items: torch.Tensor, ratings: torch.Tensor):
        """The training arrays as ``step`` reads them fastest: int32 indices, float32
        ratings, in huge-page memory (a copy: 10 bytes a rating).

        Raises:
            IndexError: an index outside the net's tables (the compiled loops do not
                check bounds, so this checks them once, here).
        """
        for name, idx, (W, _) in (
            ("user", users, self.sides["user"]),
            ("item", items, self.sides["item"]),
        ):
            if len(idx) and (int(idx.min()) < 0 or int(idx.max()) >= W.shape[0]):
                raise IndexError(
                    f"{name} indices must lie in [0, {W.shape[0]}), the net's table; "
                    f"got {int(idx.min())}..{int(idx.max())}"
                )
        return (
            hugepage_copy(users.to(torch.int32)),
            hugepage_copy(items.to(torch.int32)),
            hugepage_copy(ratings.to(torch.float32)),
        )

    @torch.no_grad()
    def step(self, order, users, items, ratings, l2: float = 0.0) -> float:
        """One batch: ``order`` (int64) indexes ``users``, ``items`` (int32 or int64) and
        ``ratings`` (float32), all CPU tensors."""
        n = len(order)
        if n > len(self.rb):
            raise ValueError(f"batch of {n} ratings, but MFStep was built for {len(self.rb)}")
        net, opt = self.net, self.opt
        (P, bu), (Q, bi) = (
            (W.detach().numpy(), b.detach().numpy()) for W, b in self.sides.values()
        )
        ub, ib, rb, err = self.ub[:n], self.ib[:n], self.rb[:n], self.err[:n]
        # Sorted, the batch reads the ratings in file order: files grouped by user (as
        # MovieLens's are) then give runs of one user, whose rows stay in cache. A sum of
        # gradients does not depend on the order: about 20% off the step for a 1 ms sort.
        K.gather(np.sort(order.numpy()), users.numpy(), items.numpy(), ratings.numpy(), ub, ib, rb)
        su, si = self.buf["user"], self.buf["item"]
        K.slots(
            ub,
            ib,
            su["pos"],
            su["rows"],
            su["count"],
            si["pos"],
            si["rows"],
            si["count"],
            self.n_slots,
        )
        n_u, n_i = self.n_slots
        sse = K.errors(ub, ib, rb, P, Q, bu, bi, np.float32(net.mu.item()), err)
        K.gradients(
            ub,
            ib,
            err,
            np.float32(2.0 / n),
            su["pos"],
            si["pos"],
            P,
            Q,
            su["G"],
            si["G"],
            su["Gb"],
            si["Gb"],
        )
        group = opt.param_groups[0]
        lr, wd = group["lr"], group["weight_decay"]
        hyper = (self.kind, *np.float32([lr, wd, opt.eps, 2.0 * l2 / n]))
        pw1, pw2 = self._powers()
        for side, (W, b), n_rows in zip(self.sides, self.sides.values(), (n_u, n_i), strict=True):
            buf = self.buf[side]
            K.update(
                buf["rows"],
                n_rows,
                buf["pos"],
                W.detach().numpy(),
                b.detach().numpy(),
                buf["G"],
                buf["Gb"],
                buf["count"],
                *self.state[side],
                pw1,
                pw2,
                hyper,
            )
        if opt.dense is not None:  # mu: d(mse)/d(mu) = (2/n) sum e, through torch's optimiser
            net.mu.grad = torch.tensor(float(err.sum(dtype=np.float64)) * 2.0 / n)
            for g in opt.dense.param_groups:
                g["lr"] = lr
            opt.dense.step()
            net.mu.grad = None
        return float(sse)
