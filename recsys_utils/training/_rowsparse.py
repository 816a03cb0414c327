"""Row-sparse optimisation: each step reads and writes only the embedding rows a batch uses.

A dense optimiser touches every row of every table each step (a gradient the size of the
table, then the moment updates), which caps MF near 0.3-0.9M ratings/s on a CPU with
160k users x 60k movies x 64 dims. Here a step

1. finds the distinct users and movies of the batch (``torch.unique``),
2. gathers their rows into small leaf tensors and runs the net on them (its tables
   swapped for the gathered rows, the indices remapped), so autograd sums the gradient
   of repeated rows,
3. updates just those rows, lazily: SGD, Adagrad, or Adam with decoupled weight decay
   and bias correction by each row's own update count,

    m <- b1 m + (1 - b1) g,   v <- b2 v + (1 - b2) g^2,
    w <- w (1 - lr wd) - lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps).

Parameters outside the embedding tables (MF's ``mu``, CollabFNet's layers) get the
matching dense torch optimiser. Tables are the net's ``nn.Embedding`` modules; those
named ``user...`` are indexed by users, ``item...`` by items (``nets`` follows this);
the net's own ``forward`` and ``penalty`` run unchanged on the gathered rows.

``training.train`` uses this for ``TrainConfig(optimizer="sparse_adam" | "sparse_adagrad"
| "sparse_sgd")``; for ``MFNet`` on the CPU it runs the same update compiled
(``_fused_mf``), on this optimiser's state. Rows a batch does not use are left alone (no
decay, no momentum), the usual lazy semantics; on the first step it equals the dense
optimiser exactly.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

SPARSE_OPTIMIZERS = ("sparse_adam", "sparse_adagrad", "sparse_sgd")


class _Rows(nn.Module):
    """Stands in for an ``nn.Embedding`` during one batch: looks up gathered rows."""

    def __init__(self, rows: torch.Tensor):
        super().__init__()
        self.weight = rows

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        # index_select's backward is one index_add_, far cheaper on CPU than embedding's
        return self.weight.index_select(0, idx.reshape(-1)).reshape(*idx.shape, -1)


class BatchView:
    """The net evaluated on a batch's gathered rows: ``view(u, i)`` and ``view.penalty(u, i)``.

    ``u`` and ``i`` are the remapped indices returned with the view by
    ``RowSparseOptimizer.gather`` (positions in the gathered rows). While a call runs,
    the net's tables are swapped for the gathered rows, then put back.
    """

    def __init__(self, net: nn.Module, rows: dict[str, torch.Tensor]):
        self.net, self.rows = net, rows

    def _run(self, method: str, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        saved = []
        try:
            for name, leaf in self.rows.items():
                parent, _, attr = name.removesuffix(".weight").rpartition(".")
                owner = self.net.get_submodule(parent)
                saved.append((owner, attr, getattr(owner, attr)))
                setattr(owner, attr, _Rows(leaf))
            return getattr(self.net, method)(users, items)
        finally:
            for owner, attr, module in reversed(saved):
                setattr(owner, attr, module)

    def __call__(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        return self._run("forward", users, items)

    def penalty(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        return self._run("penalty", users, items)


class RowSparseOptimizer(torch.optim.Optimizer):
    """Lazy row-wise SGD / Adagrad / Adam for a net's embedding tables.

    Use per batch: ``view, u2, i2 = opt.gather(u, i)``; build the loss from
    ``view(u2, i2)`` (and ``view.penalty(u2, i2)``); ``opt.zero_grad()``;
    ``loss.backward()``; ``opt.step()``. Learning-rate schedulers work on it as on any
    torch optimiser (one param group).

    Args:
        net: the module; its ``nn.Embedding`` tables are updated row-sparsely.
        kind: ``"adam"``, ``"adagrad"`` or ``"sgd"`` (names with a ``sparse_`` prefix too).
        lr: learning rate.
        weight_decay: decoupled decay (Adam) or coupled L2 (SGD, Adagrad) on the rows used.
        betas, eps: Adam's and Adagrad's constants.
        tables: names of the parameters updated row by row (any shape; rows are the first
            dimension), gathered with ``gather_rows``; default: the ``nn.Embedding``
            tables, named ``user...`` or ``item...``, gathered with ``gather``.
    """

    def __init__(
        self,
        net: nn.Module,
        kind: str = "adam",
        lr: float = 0.005,
        weight_decay: float = 0.0,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        tables: tuple[str, ...] | None = None,
    ):
        kind = kind.removeprefix("sparse_")
        if kind not in ("adam", "adagrad", "sgd"):
            raise ValueError(f"row-sparse optimiser must be adam, adagrad or sgd, got {kind!r}")
        super().__init__(list(net.parameters()), {"lr": lr, "weight_decay": weight_decay})
        self.net, self.kind, self.betas, self.eps = net, kind, betas, eps
        self.sides: dict[str, str] = {}
        self.tables: dict[str, nn.Parameter] = {}
        params = dict(net.named_parameters())
        for name in tables or ():
            self.tables[name] = params[name]
        for name, module in () if tables else net.named_modules():
            if isinstance(module, nn.Embedding):
                side = (
                    "user"
                    if name.startswith("user")
                    else "item"
                    if name.startswith("item")
                    else None
                )
                if side is None:
                    raise ValueError(
                        f"embedding {name!r}: row-sparse training needs tables "
                        "named user... or item..."
                    )
                self.sides[f"{name}.weight"] = side
                self.tables[f"{name}.weight"] = module.weight
        if not self.tables:
            raise ValueError(f"{type(net).__name__} has no nn.Embedding tables")
        table_ids = {id(p) for p in self.tables.values()}
        dense = [p for p in net.parameters() if id(p) not in table_ids and p.requires_grad]
        self.dense = None
        if dense:
            if kind == "adam":
                self.dense = torch.optim.AdamW(
                    dense, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay
                )
            elif kind == "adagrad":
                self.dense = torch.optim.Adagrad(dense, lr=lr, eps=eps, weight_decay=weight_decay)
            else:
                self.dense = torch.optim.SGD(dense, lr=lr, weight_decay=weight_decay)
        self._rows: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        self._powers = (np.ones(1, np.float32), np.ones(1, np.float32))  # Adam's b**k

    def gather(self, users: torch.Tensor, items: torch.Tensor):
        """Gather the batch's rows; return ``(view, user positions, item positions)``."""
        uu, u_pos = torch.unique(users, return_inverse=True)
        ii, i_pos = torch.unique(items, return_inverse=True)
        rows, self._rows = {}, {}
        for name, weight in self.tables.items():
            idx = uu if self.sides[name] == "user" else ii
            leaf = weight.detach().index_select(0, idx).requires_grad_(True)
            rows[name] = leaf
            self._rows[name] = (idx, leaf)
        return BatchView(self.net, rows), u_pos, i_pos

    def gather_rows(self, rows: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Leaf copies of the rows ``rows[name]`` (distinct indices) of each table named;
        the net runs on them in place of its tables, and ``step`` writes them back."""
        leaves, self._rows = {}, {}
        for name, idx in rows.items():
            leaf = self.tables[name].detach().index_select(0, idx).requires_grad_(True)
            leaves[name] = leaf
            self._rows[name] = (idx, leaf)
        return leaves

    @torch.no_grad()
    def step(self, closure=None):
        """Apply the update to the gathered rows (after ``backward``) and the dense params."""
        group = self.param_groups[0]
        lr, wd = group["lr"], group["weight_decay"]
        for name, (idx, leaf) in self._rows.items():
            if leaf.grad is not None:
                self._update(name, self.tables[name], idx, leaf.detach(), leaf.grad, lr, wd)
        self._rows = {}
        if self.dense is not None:
            for g in self.dense.param_groups:
                g["lr"] = lr
            self.dense.step()
        return None

    def _update(self, name, weight, idx, rows, grad, lr, wd):
        from recsys_utils.training import _row_kernels  # numba: imported where it may be used

        state = self.state[weight]
        if _row_kernels.usable(weight, grad) and weight.is_contiguous():
            self._update_compiled(state, weight, idx, grad, lr, wd)
            return
        if self.kind == "sgd":
            if wd:
                grad = grad + wd * rows
            weight.index_add_(0, idx, grad, alpha=-lr)
            return
        if self.kind == "adagrad":
            if "sum" not in state:
                state["sum"] = torch.zeros_like(weight)
            if wd:
                grad = grad + wd * rows
            acc = state["sum"].index_select(0, idx).addcmul_(grad, grad)
            state["sum"].index_copy_(0, idx, acc)
            weight.index_copy_(0, idx, rows - lr * grad / (acc.sqrt() + self.eps))
            return
        if "m" not in state:
            state["m"] = torch.zeros_like(weight)
            state["v"] = torch.zeros_like(weight)
            state["t"] = torch.zeros(
                weight.shape[0], *[1] * (weight.dim() - 1), device=weight.device
            )
        b1, b2 = self.betas
        m = state["m"].index_select(0, idx).lerp_(grad, 1 - b1)  # b1 m + (1 - b1) g
        v = state["v"].index_select(0, idx).mul_(b2).addcmul_(grad, grad, value=1 - b2)
        t = state["t"].index_select(0, idx).add_(1)
        state["m"].index_copy_(0, idx, m)
        state["v"].index_copy_(0, idx, v)
        state["t"].index_copy_(0, idx, t)
        # w - lr m_hat / (sqrt(v_hat) + eps), with few passes over the rows
        denom = v.div_(1 - b2**t).sqrt_().add_(self.eps).mul_((1 - b1**t) / lr)
        if wd:
            rows.mul_(1 - lr * wd)
        weight.index_copy_(0, idx, rows.addcdiv_(m, denom, value=-1.0))

    def _update_compiled(self, state, weight, idx, grad, lr, wd):
        """The same update as the torch path above, one compiled pass per row
        (``_row_kernels.update_rows``)."""
        n = weight.shape[0]
        if self.kind == "adam" and "m" not in state:
            state["m"], state["v"] = torch.zeros_like(weight), torch.zeros_like(weight)
            state["t"] = torch.zeros(n, *[1] * (weight.dim() - 1))
        if self.kind == "adagrad" and "sum" not in state:
            state["sum"] = torch.zeros_like(weight)
        dummy = np.zeros((1, 1), np.float32)
        m = state.get("m", state.get("sum"))
        m = dummy if m is None else m.numpy().reshape(n, -1)
        v = state["v"].numpy().reshape(n, -1) if "v" in state else dummy
        t = state["t"].numpy().reshape(n, 1) if "t" in state else dummy
        if self.kind == "adam":
            top = int(t.max()) + 2  # b**k for every step count a row can reach now
            if top > len(self._powers[0]):
                k = np.arange(2 * top, dtype=np.float32)
                self._powers = tuple(np.float32(b) ** k for b in self.betas)
        kind = {"sgd": 0, "adagrad": 1, "adam": 2}[self.kind]
        hyper = (kind, np.float32(lr), np.float32(wd), np.float32(self.eps))
        from recsys_utils.training import _row_kernels

        _row_kernels.update_rows(
            idx.numpy(),
            weight.detach().numpy().reshape(n, -1),
            grad.contiguous().numpy().reshape(len(idx), -1),
            m,
            v,
            t,
            *self._powers,
            hyper,
        )
