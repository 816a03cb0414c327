"""The net of ``models.hybrid.HybridPooled``: ``PooledNet`` whose movie table is built from
each movie's features plus its own id vector.

A movie's output vector and bias are

    o_i = sum_f w_if e_f + m_i o'_i,        c_i = sum_f w_if c_f + m_i c'_i,

over its feature rows f (an ``nn.EmbeddingBag`` with per-sample weights w_if), with its id
row (o'_i, c'_i) where ``use_id``. While training, m_i is an inverted dropout mask drawn
per movie and batch (kept with probability 1 - ``id_dropout``, scaled by its inverse), so
the feature part must score a movie on its own, as it does for a movie nobody has rated;
m_i = 1 otherwise. The user side is ``PooledNet``'s, unchanged.
"""

from __future__ import annotations

import torch
from torch import nn

from recsys_utils.training.ranking_net import PooledNet


class HybridNet(PooledNet):
    """``PooledNet`` with feature-built output rows (module docstring).

    Args:
        n_items, dim, hidden, init_std: as ``PooledNet``.
        n_features: columns of the feature table.
        f_idx, f_off, f_w: each training movie's feature bag (indices, offsets, weights).
        id_dropout: probability of dropping a movie's id row in a training batch.
        use_id: add the id rows at all (``False``: features only).
    """

    def __init__(self, n_items, dim, hidden, n_features, f_idx, f_off, f_w, *,
                 id_dropout=0.5, use_id=True, init_std=0.01):  # fmt: skip
        super().__init__(n_items, dim, hidden, init_std=init_std)
        if not 0.0 <= id_dropout < 1.0:
            raise ValueError(f"id_dropout must be in [0, 1), got {id_dropout}")
        self.feat = nn.EmbeddingBag(n_features, dim, mode="sum")
        nn.init.normal_(self.feat.weight, std=init_std)
        self.feat_bias = nn.Parameter(torch.zeros(n_features, 1))
        self.register_buffer("f_idx", torch.as_tensor(f_idx, dtype=torch.int64))
        self.register_buffer("f_off", torch.as_tensor(f_off, dtype=torch.int64))
        self.register_buffer("f_w", torch.as_tensor(f_w, dtype=torch.float32))
        self.id_dropout, self.use_id = float(id_dropout), bool(use_id)

    def item_tables(self, drop: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """(output table, output bias) of the training movies; ``drop``: the id mask."""
        vec = self.feat(self.f_idx, self.f_off, per_sample_weights=self.f_w)
        bias = nn.functional.embedding_bag(
            self.f_idx, self.feat_bias, self.f_off, mode="sum", per_sample_weights=self.f_w
        )[:, 0]
        if not self.use_id:
            return vec, bias
        w, b = self.out.weight, self.out_bias
        if drop and self.id_dropout > 0:
            keep = (torch.rand(w.shape[0], device=w.device) >= self.id_dropout).to(w.dtype)
            keep = keep / (1.0 - self.id_dropout)
            w, b = w * keep[:, None], b * keep
        return vec + w, bias + b

    def out_weight(self) -> torch.Tensor:
        return self.item_tables(self.training)[0]

    def tables(self):
        w, b = self.item_tables(self.training)
        return self.inp.weight, w, b

    def scores(self, idx, offsets, weights) -> torch.Tensor:
        w, b = self.item_tables(self.training)
        return self.user(idx, offsets, weights) @ w.T + b
