"""The ranking model's step for ``loop.fit``: batches of users, their loss, validation.

``PooledStep`` is what ``models.ranking.PooledSoftmax`` trains through ``loop.fit``:
each epoch visits the users in a random order, ``batch_size`` at a time; each user's
positive set is the input (input dropout: each movie kept with probability
``1 - dropout``, the kept weights scaled by ``1 / (1 - dropout)``) and the target
(``target="full"``: every positive; ``"dropped"``: only those dropped from the input).
The loss is ``PooledNet.forward``'s: the full softmax over the catalogue, or the sampled
softmax with ``n_negatives`` negatives drawn per batch in proportion to the movies'
popularity and shared by its users, log-Q corrected.

With a row-sparse optimiser (``optimizer="sparse_adam"``, see ``_rowsparse``) a batch
reads and updates only the rows it touches: its input movies' rows of the input table,
and its targets' and negatives' rows of the output table and bias. Dense AdamW writes
every row of both 60,000 x 200 tables each batch at ml-25m's shape; the lazy Adam leaves
a row's moments alone while no batch touches it (the usual lazy semantics, not the same
optimisation: ``bench scale --model pooled_softmax`` and the note of issue 22 give the
speed and the NDCG both ways).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
import torch

from recsys_utils.training import _row_kernels
from recsys_utils.training._rowsparse import RowSparseOptimizer
from recsys_utils.training.loop import NDCG100, Step, TrainConfig, make_optimizer
from recsys_utils.training.ranking_net import PooledBatch, PooledNet


def log_q(counts: np.ndarray) -> np.ndarray:
    """log of each movie's share of the positives (count 0 counted as 1): the sampling
    log-probability the sampled softmax subtracts."""
    c = np.maximum(np.asarray(counts, dtype=np.float64), 1.0)
    return np.log(c / max(c.sum(), 1.0))


def distinct_rows(n: int, *arrays: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """The sorted distinct values of ``arrays`` (indices below ``n``) and each array
    rewritten as positions in them: ``np.unique(..., return_inverse=True)`` by a
    mark table, linear in ``n`` plus the arrays' length instead of a sort."""
    mark = np.zeros(n, bool)
    for a in arrays:
        mark[a] = True
    rows = np.flatnonzero(mark)
    pos = np.empty(n, np.int64)
    pos[rows] = np.arange(rows.size)
    return rows, [pos[a] for a in arrays]


class PooledStep(Step):
    """Batches of users of a 0/1 users x movies matrix and the loss ``PooledNet`` gives.

    Args:
        X: users x movies positives (CSR).
        row_weights: ``(indptr, indices, keep) -> weights`` of the input movies (the
            model's pooling, dropout scaling included).
        batch_size: users per batch.
        dropout: probability of dropping each input movie.
        target: ``"full"`` or ``"dropped"``.
        loss: ``"full"`` or ``"sampled"``.
        n_negatives: shared negatives per batch (sampled softmax; ``None``: 2048).
        device: where the batches' tensors go (the net's device).
        validate: ``net -> {"val_ndcg@100": ...}``, or ``None`` without validation.
        validate_at_start: also validate the starting weights (epoch 0).
    """

    objective = NDCG100
    columns = (NDCG100.column,)
    loss_column = "loss"

    def __init__(
        self,
        X: sp.csr_matrix,
        row_weights: Callable,
        *,
        batch_size: int,
        dropout: float,
        target: str = "full",
        loss: str = "full",
        n_negatives: int | None = None,
        device: torch.device | str = "cpu",
        validate: Callable[[torch.nn.Module], dict] | None = None,
        validate_at_start: bool = False,
    ):
        self.X = X.tocsr()
        self.row_weights, self.batch_size, self.dropout = row_weights, batch_size, dropout
        self.target, self.sampled = target, loss == "sampled"
        self.n_negatives = n_negatives or 2048
        self.device = torch.device(device)
        self._validate = validate
        self.has_validation = validate is not None
        self.columns = self.columns if self.has_validation else ()  # no NaN-only column
        self.validate_at_start = validate_at_start
        logq = log_q(np.asarray(self.X.sum(0)).ravel())
        self.q = np.exp(logq) / np.exp(logq).sum()
        self.lq = self._tensor(logq, np.float32)
        self.sparse = False

    def _tensor(self, a, dtype) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(a, dtype=dtype)).to(self.device)

    def make_rng(self, seed: int) -> np.random.Generator:
        return np.random.default_rng(seed)

    def configure(self, net: PooledNet, cfg: TrainConfig):
        names = ("inp.weight", "out_bias") + (() if net.tie else ("out.weight",))
        self.opt = make_optimizer(net, cfg, tables=names)
        self.sparse = isinstance(self.opt, RowSparseOptimizer)
        self.tie = net.tie
        if _row_kernels.usable(*net.parameters()):  # load the compiled loops before epoch 1
            _row_kernels.warm_up()
        return self.opt

    def batches(self, rng: np.random.Generator):
        """One epoch: ``(PooledBatch, rows)`` per batch of users, ``rows`` the table rows
        to gather (row-sparse optimiser) or ``None``. Batches of users without positives
        are skipped."""
        X, n_items = self.X, self.X.shape[1]
        order = rng.permutation(X.shape[0])
        for s in range(0, X.shape[0], self.batch_size):
            B = X[order[s : s + self.batch_size]]
            if B.nnz == 0:
                continue
            keep = (rng.random(B.nnz) >= self.dropout).astype(np.float64)
            wts = self.row_weights(B.indptr, B.indices, keep)
            seg = np.repeat(np.arange(B.shape[0]), np.diff(B.indptr))
            inp = keep > 0
            offs = np.concatenate(
                [[0], np.cumsum(np.bincount(seg[inp], minlength=B.shape[0]))[:-1]]
            )
            tmask = ~inp if self.target == "dropped" else np.ones(B.nnz, bool)
            idx, rows, cols = B.indices[inp], seg[tmask], B.indices[tmask]
            neg = rng.choice(n_items, self.n_negatives, p=self.q) if self.sampled else None
            lq_cols = self.lq[self._tensor(cols, np.int64)] if self.sampled else None
            lq_neg = self.lq[self._tensor(neg, np.int64)] if self.sampled else None
            gather = None
            if self.sparse:
                idx, cols, neg, gather = self._remap(idx, cols, neg, n_items)
            yield (
                PooledBatch(
                    idx=self._tensor(idx, np.int64),
                    offsets=self._tensor(offs, np.int64),
                    weights=self._tensor(wts[inp], np.float32),
                    rows=self._tensor(rows, np.int64),
                    cols=self._tensor(cols, np.int64),
                    n_users=B.shape[0],
                    neg=None if neg is None else self._tensor(neg, np.int64),
                    lq_cols=lq_cols,
                    lq_neg=lq_neg,
                ),
                gather,
            )

    def _remap(self, idx, cols, neg, n_items):
        """Indices into the batch's gathered rows, and the rows to gather per table."""
        if neg is None:  # the full softmax reads every output row
            out_rows = np.arange(n_items)
            if self.tie:
                in_rows = out_rows
            else:
                in_rows, (idx,) = distinct_rows(n_items, idx)
        else:
            out_ids = np.concatenate([cols, neg])
            if self.tie:  # one table: the input and output rows together
                in_rows, (idx, out_ids) = distinct_rows(n_items, idx, out_ids)
                out_rows = in_rows
            else:
                in_rows, (idx,) = distinct_rows(n_items, idx)
                out_rows, (out_ids,) = distinct_rows(n_items, out_ids)
            cols, neg = out_ids[: cols.size], out_ids[cols.size :]
        gather = {"inp.weight": in_rows, "out_bias": out_rows}
        if not self.tie:
            gather["out.weight"] = out_rows
        return idx, cols, neg, {k: self._tensor(v, np.int64) for k, v in gather.items()}

    def loss(self, net: PooledNet, item):
        batch, gather = item
        if gather is None:
            loss = net(batch)
        else:
            leaves = self.opt.gather_rows(gather)
            w_in = leaves["inp.weight"]
            w_out = w_in if self.tie else leaves["out.weight"]
            loss = net(batch, (w_in, w_out, leaves["out_bias"]))
        return loss, loss.detach(), 1

    def validate(self, net) -> dict:
        return self._validate(net)
