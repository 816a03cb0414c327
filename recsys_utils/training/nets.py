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


def _rows(emb: nn.Module, idx: torch.Tensor) -> torch.Tensor:
    """``emb(idx)`` by ``index_select``, whose backward (one ``index_add_``) is cheaper on
    CPU than ``nn.Embedding``'s; about 25% off an MF epoch."""
    return emb.weight.index_select(0, idx.reshape(-1)).reshape(*idx.shape, -1)


def _zeros(n: int) -> nn.Embedding:
    emb = nn.Embedding(n, 1)
    nn.init.zeros_(emb.weight)
    return emb


def _add_biased_tables(
    net: nn.Module, n_users: int, n_items: int, n_factors: int, mu: float, init_std: float
) -> None:
    """Biased MF's parameters on ``net``: ``user_emb``, ``item_emb``, ``user_bias``,
    ``item_bias`` (zeros) and ``mu``, in that order (the state dict's)."""
    net.user_emb = _embedding(n_users, n_factors, init_std)
    net.item_emb = _embedding(n_items, n_factors, init_std)
    net.user_bias = _zeros(n_users)
    net.item_bias = _zeros(n_items)
    net.mu = nn.Parameter(torch.tensor(float(mu)))


class MFNet(nn.Module):
    """Biased matrix factorisation: r(u,i) = mu + b_u + b_i + p_u . q_i."""

    def __init__(
        self,
        n_users: int,
        n_items: int,
        n_factors: int = 64,
        mu: float = 0.0,
        init_std: float = 0.05,
    ):
        super().__init__()
        _add_biased_tables(self, n_users, n_items, n_factors, mu, init_std)
        self._batch = None  # the last training batch's rows, for ``penalty``

    def _lookup(self, users: torch.Tensor, items: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return (
            _rows(self.user_emb, users),
            _rows(self.item_emb, items),
            _rows(self.user_bias, users).squeeze(-1),
            _rows(self.item_bias, items).squeeze(-1),
        )

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        rows = self._lookup(users, items)
        # kept for the ``penalty`` call on the same batch that follows in training, which
        # then skips gathering (and back-propagating through) the four tables again
        self._batch = (users, items, rows) if self.training and torch.is_grad_enabled() else None
        p, q, b_u, b_i = rows
        return self.mu + b_u + b_i + (p * q).sum(-1)

    def penalty(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        cached, self._batch = self._batch, None
        same = cached is not None and cached[0] is users and cached[1] is items
        p, q, b_u, b_i = cached[2] if same else self._lookup(users, items)
        return p.pow(2).sum() + q.pow(2).sum() + b_u.pow(2).sum() + b_i.pow(2).sum()

    @torch.no_grad()
    def score_all(self, users: torch.Tensor) -> torch.Tensor:
        return (
            self.mu
            + self.user_bias(users)
            + self.item_bias.weight.T
            + self.user_emb(users) @ self.item_emb.weight.T
        )


class CollabFNetModule(nn.Module):
    """The blog post's network: Linear(ReLU(Linear(dropout(concat(p_u, q_i))))).

    r(u,i) = w2 . relu(W1 [p_u; q_i] + b1) + b2, with dropout on the concatenation.
    The published code applied ``F.relu`` to a Python list and never called
    ``backward``; this is the architecture it describes, trained for real. The output
    bias starts at the global mean so training begins from the mean predictor.
    """

    def __init__(
        self,
        n_users: int,
        n_items: int,
        emb_size: int = 100,
        n_hidden: int = 10,
        dropout: float = 0.1,
        mu: float = 0.0,
        init_std: float = 0.05,
    ):
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


def _csr_bag(indptr: torch.Tensor, indices: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    """Row r of the result: |N(r)|^-1/2 * sum of ``table`` rows listed in CSR row r."""
    counts = (indptr[1:] - indptr[:-1]).clamp(min=1).to(table.dtype)
    bag = nn.functional.embedding_bag(indices, table, indptr[:-1], mode="sum")
    return bag * counts.rsqrt()[:, None]


class ImplicitMFNet(nn.Module):
    """Biased MF with implicit-feedback terms on both sides (SVD++, made symmetric).

    r(u,i) = mu + b_u + b_i + (p_u + |N(u)|^-1/2 sum_{j in N(u)} y_j)
                             . (q_i + |N(i)|^-1/2 sum_{v in N(i)} z_v)
    where N(u) are the movies u rated in training and N(i) the users who rated i.
    Which movies a user chose to rate says something about taste even where the
    rating itself is noisy; the item side does the same for a movie's audience.
    The interaction lists come in as CSR arrays (``user_items``, ``item_users``:
    indptr, indices); they are rebuilt from the model's fitted attributes, so they
    are buffers outside the state dict.
    """

    def __init__(
        self,
        n_users: int,
        n_items: int,
        n_factors: int = 64,
        mu: float = 0.0,
        init_std: float = 0.05,
        user_items=None,
        item_users=None,
        implicit_std: float = 0.01,
    ):
        super().__init__()
        _add_biased_tables(self, n_users, n_items, n_factors, mu, init_std)
        self.y_item = _embedding(n_items, n_factors, implicit_std)
        self.z_user = _embedding(n_users, n_factors, implicit_std)
        empty = (torch.zeros(n_users + 1, dtype=torch.long), torch.zeros(0, dtype=torch.long))
        for name, csr in (("ui", user_items), ("iu", item_users)):
            indptr, indices = csr if csr is not None else empty
            self.register_buffer(
                f"{name}_indptr", torch.as_tensor(indptr, dtype=torch.long), persistent=False
            )
            self.register_buffer(
                f"{name}_indices", torch.as_tensor(indices, dtype=torch.long), persistent=False
            )

    def user_vectors(self) -> torch.Tensor:
        return self.user_emb.weight + _csr_bag(self.ui_indptr, self.ui_indices, self.y_item.weight)

    def item_vectors(self) -> torch.Tensor:
        return self.item_emb.weight + _csr_bag(self.iu_indptr, self.iu_indices, self.z_user.weight)

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        p, q = self.user_vectors()[users], self.item_vectors()[items]
        return (
            self.mu
            + self.user_bias(users).squeeze(-1)
            + self.item_bias(items).squeeze(-1)
            + (p * q).sum(-1)
        )

    def penalty(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        return (
            self.user_emb(users).pow(2).sum()
            + self.item_emb(items).pow(2).sum()
            + self.user_bias(users).pow(2).sum()
            + self.item_bias(items).pow(2).sum()
            + self.y_item(items).pow(2).sum()
            + self.z_user(users).pow(2).sum()
        )

    @torch.no_grad()
    def score_all(self, users: torch.Tensor) -> torch.Tensor:
        return (
            self.mu
            + self.user_bias(users)
            + self.item_bias.weight.T
            + self.user_vectors()[users] @ self.item_vectors().T
        )
