"""The baselines: the global mean, bias-only ridge, and popularity.

Every model follows ``base.Recommender``; these three need no training loop.
"""

from __future__ import annotations

import numpy as np

from recsys_utils.models.base import Capabilities, Recommender, damped_biases
from recsys_utils.models.registry import register


@register
class GlobalMean(Recommender):
    """r(u,i) = mu, the mean training rating."""

    name = "global_mean"
    capabilities = Capabilities(predicts_ratings=True)

    def _fit(self, u, i, r, valid):
        self.mu_ = float(r.mean())

    def _predict_idx(self, u, i):
        return np.full(len(u), self.mu_)

    def score_items(self, user_indices):
        return np.full((len(user_indices), len(self.item_map)), self.mu_)


@register
class BiasOnly(Recommender):
    """Regularised baseline r(u,i) = mu + b_u + b_i, fitted by alternating ridge steps.

    Minimises sum (r - mu - b_u - b_i)^2 + reg_user sum b_u^2 + reg_item sum b_i^2.
    """

    name = "bias"
    capabilities = Capabilities(predicts_ratings=True)

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


@register
class Popularity(Recommender):
    """Ranks by number of training ratings; predicts the damped item mean mu + b_i."""

    name = "popularity"
    capabilities = Capabilities(predicts_ratings=False)  # predict() is the fallback

    def _fit(self, u, i, r, valid):
        pass

    def _predict_idx(self, u, i):
        return self.global_mean_ + self.fallback_item_bias_[i]

    def score_items(self, user_indices):
        counts = self.item_counts_.astype(np.float64)
        return np.broadcast_to(counts, (len(user_indices), counts.size)).copy()
