"""The baselines: the global mean, bias-only ridge, and popularity.

Every model follows ``base.Recommender``; these three need no training loop.
"""

from __future__ import annotations

import numpy as np

from recsys_utils.models._foldin import check_regs, person_rows
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

    def _score_new(self, R, **fold_kw):
        """Nothing to fit: the mean, whoever asks."""
        return self._constant_rows(R)


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

    def _fold_parameters(self, R, bias_reg=None, reg=0.0, **fold_kw):
        """b = sum_j (r_j - mu - b_j) / (bias_reg + n), bias_reg its own reg_user by default."""
        bias_reg = self.params["reg_user"] if bias_reg is None else bias_reg
        check_regs(reg, bias_reg)
        b = np.array(
            [
                np.sum(v - self.mu_ - self.b_i_[idx]) / (bias_reg + len(idx)) if len(idx) else 0.0
                for idx, v in person_rows(R)
            ]
        )
        return b, np.zeros((R.shape[0], 0))

    def _score_new(self, R, **fold_kw):
        b, _ = self._fold_parameters(R, **fold_kw)
        return self.mu_ + b[:, None] + self.b_i_[None, :]


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

    def _score_new(self, R, **fold_kw):
        """Nothing to fit: the training counts, whoever asks."""
        return self._constant_rows(R)
