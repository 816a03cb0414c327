"""The torch modules behind the embedding models: forward(users, items) -> ratings.

Each module takes contiguous user and item indices (see ``encoding.IdMap``), returns
one predicted rating per pair, scores every item for a few users with ``score_all``,
and gives the L2 term of the rows a batch used with ``penalty``.
"""

from __future__ import annotations

import torch
from torch import nn


def _embedding(n: int, dim: int, std: float) -> nn.Embedding:
    emb = nn.Embedding(n, dim)
    nn.init.normal_(emb.weight, std=std)
    return emb


def _zeros(n: int) -> nn.Embedding:
    emb = nn.Embedding(n, 1)
    nn.init.zeros_(emb.weight)
    return emb


class MFNet(nn.Module):
    """Biased matrix factorisation: r(u,i) = mu + b_u + b_i + p_u . q_i."""

    def __init__(self, n_users: int, n_items: int, n_factors: int = 64, mu: float = 0.0,
                 init_std: float = 0.05):
        super().__init__()
        self.user_emb = _embedding(n_users, n_factors, init_std)
        self.item_emb = _embedding(n_items, n_factors, init_std)
        self.user_bias = _zeros(n_users)
        self.item_bias = _zeros(n_items)
        self.mu = nn.Parameter(torch.tensor(float(mu)))

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        p, q = self.user_emb(users), self.item_emb(items)
        return (self.mu + self.user_bias(users).squeeze(-1) + self.item_bias(items).squeeze(-1)
                + (p * q).sum(-1))

    def penalty(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        return (self.user_emb(users).pow(2).sum() + self.item_emb(items).pow(2).sum()
                + self.user_bias(users).pow(2).sum() + self.item_bias(items).pow(2).sum())

    @torch.no_grad()
    def score_all(self, users: torch.Tensor) -> torch.Tensor:
        return (self.mu + self.user_bias(users) + self.item_bias.weight.T
                + self.user_emb(users) @ self.item_emb.weight.T)


class CollabFNet(nn.Module):
    """The seed's network: Linear(ReLU(Linear(dropout(concat(p_u, q_i))))).

    r(u,i) = w2 . relu(W1 [p_u; q_i] + b1) + b2, with dropout on the concatenation.
    The published code applied ``F.relu`` to a Python list and never called
    ``backward``; this is the architecture it describes, trained for real. The output
    bias starts at the global mean so training begins from the mean predictor.
    """

    def __init__(self, n_users: int, n_items: int, emb_size: int = 100, n_hidden: int = 10,
                 dropout: float = 0.1, mu: float = 0.0, init_std: float = 0.05):
        super().__init__()
        self.user_emb = _embedding(n_users, emb_size, init_std)
        self.item_emb = _embedding(n_items, emb_size, init_std)
        self.drop = nn.Dropout(dropout)
        self.lin1 = nn.Linear(2 * emb_size, n_hidden)
        self.lin2 = nn.Linear(n_hidden, 1)
        nn.init.constant_(self.lin2.bias, float(mu))

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        x = torch.cat([self.user_emb(users), self.item_emb(items)], dim=-1)
        x = torch.relu(self.lin1(self.drop(x)))
        return self.lin2(x).squeeze(-1)

    def penalty(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        return self.user_emb(users).pow(2).sum() + self.item_emb(items).pow(2).sum()

    @torch.no_grad()
    def score_all(self, users: torch.Tensor) -> torch.Tensor:
        # W1 [p; q] = W1_u p + W1_i q: the item half is computed once for all items.
        e = self.user_emb.weight.shape[1]
        w_u, w_i = self.lin1.weight[:, :e], self.lin1.weight[:, e:]
        hu = self.user_emb(users) @ w_u.T  # (n_users, hidden)
        hi = self.item_emb.weight @ w_i.T + self.lin1.bias  # (n_items, hidden)
        h = torch.relu(hu[:, None, :] + hi[None, :, :])
        return (h @ self.lin2.weight.T).squeeze(-1) + self.lin2.bias
