"""The contract of rankers scored from the movies a person liked: ``HistoryRecommender``.

The package contract (``base.Recommender``) for models whose scores are a function of the
set of movies a person liked (ratings >= ``threshold``) and nothing else. A training user
is scored from its own liked movies, so a new user with the same liked movies gets
exactly the same scores and list (``score_new_user``, ``recommend_new_user``;
``score_liked`` is the hook for ``recommend.foldin``). The matrix API (``fit_matrix``,
``score_history``) is what ``bench.ranking`` uses. EASE and our pooled model are both.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys_utils.constants import ITEM_COL, PREDICTION_COL
from recsys_utils.metrics import top_k_eligible
from recsys_utils.models.base import Capabilities, Recommender, liked_matrix


def binary_csr(rows, cols, shape) -> sp.csr_matrix:
    m = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=shape)
    m.sum_duplicates()
    m.data[:] = 1.0
    return m


class HistoryRecommender(Recommender):
    """Base for rankers scored from the liked-movie set; see the module docstring."""

    name = "history_base"
    capabilities = Capabilities(predicts_ratings=False)

    def __init__(self, rating_scale=None, threshold: float = 4.0, **params):
        super().__init__(rating_scale, threshold=float(threshold), **params)

    # --- to implement -------------------------------------------------------------
    def fit_matrix(self, X: sp.csr_matrix, valid_history=None, valid_targets=None):
        raise NotImplementedError

    def score_history(self, H: sp.csr_matrix) -> np.ndarray:
        raise NotImplementedError

    # --- the contract ---------------------------------------------------------------
    def _fit(self, u, i, r, valid) -> None:
        keep = r >= self.params["threshold"]
        shape = (len(self.user_map), len(self.item_map))
        X = binary_csr(u[keep], i[keep], shape)
        self.liked_indptr_ = X.indptr.astype(np.int64)
        self.liked_indices_ = X.indices.astype(np.int64)
        vh = vt = None
        if valid is not None:  # known users' later positives: early stopping only
            vu, vi, vr = valid
            pos = vr >= self.params["threshold"]
            users = np.unique(vu[pos])
            if users.size:
                rows = np.searchsorted(users, vu[pos])
                vt = binary_csr(rows, vi[pos], (users.size, shape[1]))
                vh = X[users]
        self.fit_matrix(X, vh, vt)

    def liked(self) -> sp.csr_matrix:
        """The training users' liked movies, (n_users, n_items) 0/1."""
        data = np.ones(self.liked_indices_.size, np.float32)
        shape = (len(self.user_map), len(self.item_map))
        return sp.csr_matrix((data, self.liked_indices_, self.liked_indptr_), shape=shape)

    def score_items(self, user_indices) -> np.ndarray:
        return self.score_history(self.liked()[np.asarray(user_indices, dtype=np.int64)])

    def _score_new(self, R, **fold_kw) -> np.ndarray:
        """A new person is scored from the movies they liked (rated >= threshold), by the
        same function as a training user: the fold-in is the scorer itself."""
        return np.asarray(self.score_history(liked_matrix(R, self.params["threshold"])))

    def _predict_idx(self, u, i):
        """Ranking models estimate no ratings: ``predict`` gives the damped bias estimate
        mu + b_u + b_i fitted by the base class (so rating code still gets a sane figure);
        rank with ``score_items`` / ``recommend``."""
        return self.global_mean_ + self.fallback_user_bias_[u] + self.fallback_item_bias_[i]

    # --- new users ------------------------------------------------------------------
    def history_row(self, item_indices) -> sp.csr_matrix:
        c = np.unique(np.asarray(item_indices, dtype=np.int64))
        return binary_csr(np.zeros(c.size, int), c, (1, len(self.item_map)))

    def liked_indices(self, history_item_ids=None, ratings=None) -> np.ndarray:
        """Known movie indices a new user likes: raw ids as given, or the movies of a
        ``{movie_id: rating}`` dict rated >= ``threshold`` (lower ratings never count)."""
        if ratings is not None:
            ids = [m for m, v in dict(ratings).items() if float(v) >= self.params["threshold"]]
        else:
            ids = list(history_item_ids)
        idx = self.item_map.encode(np.asarray(ids, dtype=np.int64))
        return np.unique(idx[idx >= 0])

    def score_liked(self, item_indices) -> np.ndarray:
        """Scores over the catalogue for a person who likes these item indices."""
        return self.score_history(self.history_row(item_indices))[0]

    def score_new_user(self, history_item_ids=None, ratings=None) -> np.ndarray:
        return self.score_liked(self.liked_indices(history_item_ids, ratings))

    def recommend_new_user(self, history_item_ids=None, k: int = 10, ratings=None):
        """Top-``k`` for a new user; excluded: the movies they gave (any rating)."""
        idx = self.liked_indices(history_item_ids, ratings)
        scores = self.score_liked(idx).astype(np.float64)
        given = ratings.keys() if ratings is not None else history_item_ids
        seen = self.item_map.encode(np.asarray(list(given), dtype=np.int64))
        top = top_k_eligible(scores, k, seen[seen >= 0])
        return pd.DataFrame({ITEM_COL: self.item_map.decode(top), PREDICTION_COL: scores[top]})
