"""Rankers scored from the movies a person liked: ``LikedRecommender``.

The package contract (``base.Recommender``) for models whose scores are a function of the
set of movies a person liked (ratings >= ``threshold``) and nothing else: EASE, our pooled
model and the ``implicit`` peers. A training user is scored from their own liked movies
by the same function as a new person (``_score_liked``), so a new person with the same
liked movies gets exactly the same row. A subclass implements two hooks on 0/1 matrices
over its item index: ``_fit_liked(X, valid_liked, valid_targets)`` and ``_score_liked(H)``.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recsys_utils.models.base import Capabilities, Recommender, liked_matrix


def binary_csr(rows, cols, shape) -> sp.csr_matrix:
    m = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=shape)
    m.sum_duplicates()
    m.data[:] = 1.0
    return m


class LikedRecommender(Recommender):
    """Base for rankers scored from the liked-movie set; see the module docstring.

    Validation (``fit(train, valid)``) comes two ways: later positives of training users
    (their training likes are the input), or held-out people: rows of ``valid`` whose user
    is not in ``train``, with the ``given`` column saying which ratings are their input
    (True) and which are the targets scored (False), as ``base.people_table`` writes them.
    """

    name = "liked_base"
    capabilities = Capabilities(predicts_ratings=False)

    def __init__(self, rating_scale=None, threshold: float = 4.0, **params):
        super().__init__(rating_scale, threshold=float(threshold), **params)

    # --- to implement -------------------------------------------------------------
    def _fit_liked(self, X: sp.csr_matrix, valid_liked=None, valid_targets=None) -> None:
        """Learn from the training users' 0/1 liked rows; the validation pair (0/1 input
        rows and their targets), where given, steers training."""
        raise NotImplementedError

    def _score_liked(self, H: sp.csr_matrix) -> np.ndarray:
        """Scores (n, n_items) for 0/1 rows of liked movies."""
        raise NotImplementedError

    # --- the contract ---------------------------------------------------------------
    def _fit(self, u, i, r, valid) -> None:
        threshold = self.params["threshold"]
        keep = r >= threshold
        shape = (len(self.user_map), len(self.item_map))
        X = binary_csr(u[keep], i[keep], shape)
        self.liked_indptr_ = X.indptr.astype(np.int64)
        self.liked_indices_ = X.indices.astype(np.int64)
        vh = vt = None
        if self._valid_people is not None:  # held-out people: input and targets
            given, targets = self._valid_people
            vh, vt = liked_matrix(given, threshold), liked_matrix(targets, threshold)
            has = np.diff(vt.indptr) > 0
            vh, vt = vh[has], vt[has]
        elif valid is not None:  # known users' later positives
            vu, vi, vr = valid
            pos = vr >= threshold
            users = np.unique(vu[pos])
            if users.size:
                rows = np.searchsorted(users, vu[pos])
                vt = binary_csr(rows, vi[pos], (users.size, shape[1]))
                vh = X[users]
        self._fit_liked(X, vh, vt)

    def liked(self) -> sp.csr_matrix:
        """The training users' liked movies, (n_users, n_items) 0/1."""
        data = np.ones(self.liked_indices_.size, np.float32)
        shape = (len(self.user_map), len(self.item_map))
        return sp.csr_matrix((data, self.liked_indices_, self.liked_indptr_), shape=shape)

    def score_items(self, user_indices) -> np.ndarray:
        return self._score_liked(self.liked()[np.asarray(user_indices, dtype=np.int64)])

    def _score_new(self, R, **fold_kw) -> np.ndarray:
        """A new person is scored from the movies they liked (rated >= threshold), by the
        same function as a training user: the fold-in is the scorer itself."""
        return np.asarray(self._score_liked(liked_matrix(R, self.params["threshold"])))

    def _predict_idx(self, u, i):
        """Ranking models estimate no ratings: ``predict`` gives the damped bias estimate
        mu + b_u + b_i fitted by the base class (so rating code still gets a sane figure);
        rank with ``score`` / ``recommend``."""
        return self.global_mean_ + self.fallback_user_bias_[u] + self.fallback_item_bias_[i]
