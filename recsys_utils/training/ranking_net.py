"""The net of ``models.ranking.PooledSoftmax``: embedding bag in, item table out."""

from __future__ import annotations

import torch
from torch import nn


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

    def user(self, idx, offsets, weights):
        z = self.inp(idx, offsets, per_sample_weights=weights)
        return torch.tanh(z + self.in_bias) if self.hidden == "tanh" else z

    def forward(self, idx, offsets, weights):
        return self.user(idx, offsets, weights) @ self.out_weight().T + self.out_bias
