"""The net of ``models.ranking.PooledSoftmax``: embedding bag in, item table out, and
its loss on a batch of users (full softmax, or sampled softmax with the log-Q correction).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class PooledBatch:
    """One batch of users, as row indices into the tables ``PooledNet.forward`` is given.

    Attributes:
        idx, offsets, weights: the input bag: the movies each user keeps after dropout
            (rows of the input table), where each user's run starts, their weights.
        rows, cols: the target pairs: user (position in the batch), movie (row of the
            output table).
        n_users: users in the batch (the loss is a sum over them divided by this).
        neg: rows of the output table every user of the batch shares as sampled
            negatives; ``None``: the full softmax over every row of the output table.
        lq_cols, lq_neg: log-Q (log sampling probability) of ``cols`` and ``neg``.
    """

    idx: torch.Tensor
    offsets: torch.Tensor
    weights: torch.Tensor
    rows: torch.Tensor
    cols: torch.Tensor
    n_users: int
    neg: torch.Tensor | None = None
    lq_cols: torch.Tensor | None = None
    lq_neg: torch.Tensor | None = None


class PooledNet(nn.Module):
    """user = sum_j w_j e_j over liked movies (optionally tanh(. + b)); logits = user . o_i + c_i.

    ``tie``: the output table is the input table (one ``dim`` vector per movie)."""

    def __init__(
        self,
        n_items: int,
        dim: int,
        hidden: str = "linear",
        init_std: float = 0.01,
        tie: bool = False,
    ):
        super().__init__()
        if hidden not in ("linear", "tanh"):
            raise ValueError(f"hidden must be 'linear' or 'tanh', got {hidden!r}")
        self.hidden = hidden
        self.tie = bool(tie)
        self.inp = nn.EmbeddingBag(n_items, dim, mode="sum")
        self.out = None if self.tie else nn.Embedding(n_items, dim)
        self.in_bias = nn.Parameter(torch.zeros(dim))
        self.out_bias = nn.Parameter(torch.zeros(n_items))
        nn.init.normal_(self.inp.weight, std=init_std)
        if self.out is not None:
            nn.init.normal_(self.out.weight, std=init_std)

    def out_weight(self) -> torch.Tensor:
        return self.inp.weight if self.tie else self.out.weight

    def tables(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(input table, output table, output bias): what ``forward`` reads by default."""
        return self.inp.weight, self.out_weight(), self.out_bias

    def user(self, idx, offsets, weights, table: torch.Tensor | None = None):
        """User vectors: the weighted sum of ``table``'s rows ``idx`` (default the input
        table), through tanh for ``hidden="tanh"``."""
        from recsys_utils.training import _row_kernels  # numba, imported where it may be used

        w = self.inp.weight if table is None else table
        if _row_kernels.usable(w, weights) and w.requires_grad:  # the same sum, compiled
            z = _row_kernels.BagSum.apply(w, idx, offsets, weights)
        else:
            z = nn.functional.embedding_bag(idx, w, offsets, mode="sum", per_sample_weights=weights)
        return torch.tanh(z + self.in_bias) if self.hidden == "tanh" else z

    def scores(self, idx, offsets, weights) -> torch.Tensor:
        """Logits over every movie for the users of an input bag."""
        return self.user(idx, offsets, weights) @ self.out_weight().T + self.out_bias

    def forward(self, batch: PooledBatch, tables=None) -> torch.Tensor:
        """The batch's loss: the sum over its target pairs of -log softmax, per user.

        Full softmax (``batch.neg is None``): over every row of the output table.
        Sampled: each target competes with the shared negatives, logits less log-Q,
        ``log(e^pos + sum_neg e^neg) - pos``. ``tables`` (input rows, output rows, output
        bias), default ``self.tables()``, may be a batch's gathered rows (the row-sparse
        optimisers), with the batch's indices into them.
        """
        w_in, w_out, b_out = self.tables() if tables is None else tables
        z = self.user(batch.idx, batch.offsets, batch.weights, w_in)
        rows, cols = batch.rows, batch.cols
        if batch.neg is None:
            lsm = torch.log_softmax(z @ w_out.T + b_out, 1)
            return -lsm[rows, cols].sum() / batch.n_users
        from recsys_utils.training import _row_kernels  # numba, imported where it may be used

        if _row_kernels.usable(z, w_out, b_out):  # the same loss, compiled, on the CPU
            return _row_kernels.SampledHead.apply(z, w_out, b_out, batch)
        pos = (z[rows] * w_out[cols]).sum(1) + b_out[cols] - batch.lq_cols
        negl = z @ w_out[batch.neg].T + b_out[batch.neg] - batch.lq_neg
        # log(sum_neg e^l + e^pos) per positive, from one logsumexp per user
        lse = torch.logaddexp(torch.logsumexp(negl, 1)[rows], pos)
        return (lse - pos).sum() / batch.n_users
