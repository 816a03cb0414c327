"""The baselines and the registry of every model (``MODELS``, ``make_model``).

The contract every model follows is ``contract.Recommender`` (re-exported here with its
helpers). The torch embedding models live in ``embedding_models``, the blend in
``blend`` and the rules baseline in ``rules``; all are re-exported or registered here,
so ``from recsys_utils.models import MF, TUNED, make_model`` is the one import a
notebook needs.
"""

from __future__ import annotations

import numpy as np

from recsys_utils.blend import Blend
from recsys_utils.contract import (  # noqa: F401 (re-exported)
    FALLBACK_DAMPING,
    Recommender,
    damped_biases,
    top_k_indices,
)
from recsys_utils.embedding_models import (  # noqa: F401 (re-exported)
    MF,
    TUNED,
    CollabFNet,
    ImplicitMF,
    TorchRecommender,
)
from recsys_utils.rules import GenreRules


class GlobalMean(Recommender):
    """r(u,i) = mu, the mean training rating."""

    name = "global_mean"

    def _fit(self, u, i, r, valid):
        self.mu_ = float(r.mean())

    def _predict_idx(self, u, i):
        return np.full(len(u), self.mu_)

    def score_items(self, user_indices):
        return np.full((len(user_indices), len(self.item_map)), self.mu_)


class BiasOnly(Recommender):
    """Regularised baseline r(u,i) = mu + b_u + b_i, fitted by alternating ridge steps.

    Minimises sum (r - mu - b_u - b_i)^2 + reg_user sum b_u^2 + reg_item sum b_i^2.
    """

    name = "bias"

    def __init__(self, reg_user: float = 5.0, reg_item: float = 5.0, n_iters: int = 10, **kw):
        super().__init__(reg_user=reg_user, reg_item=reg_item, n_iters=n_iters, **kw)

    def _fit(self, u, i, r, valid):
        p = self.params
        self.mu_, self.b_u_, self.b_i_ = damped_biases(
            u,
            i,
            r,
            len(self.user_map),
            len(self.item_map),
            p["reg_user"],
            p["reg_item"],
            p["n_iters"],
        )

    def _predict_idx(self, u, i):
        return self.mu_ + self.b_u_[u] + self.b_i_[i]

    def score_items(self, user_indices):
        return self.mu_ + self.b_u_[user_indices][:, None] + self.b_i_[None, :]


class Popularity(Recommender):
    """Ranks by number of training ratings; predicts the damped item mean mu + b_i."""

    name = "popularity"

    def _fit(self, u, i, r, valid):
        pass

    def _predict_idx(self, u, i):
        return self.global_mean_ + self.fallback_item_bias_[i]

    def score_items(self, user_indices):
        counts = self.item_counts_.astype(np.float64)
        return np.broadcast_to(counts, (len(user_indices), counts.size)).copy()


MODELS: dict[str, type[Recommender]] = {
    cls.name: cls
    for cls in (GlobalMean, BiasOnly, Popularity, MF, CollabFNet, ImplicitMF, Blend, GenreRules)
}


def make_model(name: str, **params) -> Recommender:
    """A model by registry name (``MODELS``) with keyword hyperparameters."""
    try:
        cls = MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; known: {', '.join(MODELS)}") from None
    return cls(**params)
