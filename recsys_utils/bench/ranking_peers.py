"""The ranking bench's peers on the history API (``fit_matrix`` / ``score_history``):
popularity, implicit's iALS (fold-in by ``recalculate_user``) and BPR (a fold-in of ours).
"""

from __future__ import annotations

import numpy as np
from threadpoolctl import threadpool_limits

# --- baselines on the history API (fit_matrix / score_history) -----------------------
# Baselines: popularity, implicit's iALS (fold-in = recalculate_user) and BPR.
#
# BPR has no fold-in of its own. Ours is the honest closed form: the new user's vector
# solves the iALS-style weighted least squares on BPR's frozen item factors,
# min_u sum_i c_i (p_i - b_i - u.v_i)^2 + reg |u|^2, p_i = 1 on the history, c_i =
# 1 + alpha there, 1 elsewhere (``fold="ls"``); ``fold="mean"`` pools the history's
# item factors instead. Both are tuned on validation users only.


class Popularity:
    name = "popularity"

    def fit_matrix(self, X, valid_history=None, valid_targets=None):
        self.counts_ = np.asarray(X.sum(0)).ravel().astype(np.float32)
        return self

    def score_history(self, H):
        return np.broadcast_to(self.counts_, (H.shape[0], self.counts_.size)).copy()


def _fit_implicit(estimator, kw: dict, X):
    """An ``implicit`` estimator fitted on users x items CSR, its BLAS on one thread (as
    ``implicit`` asks, else it warns and slows down)."""
    with threadpool_limits(1, "blas"):
        model = estimator(**kw)
        model.fit(X.tocsr().astype(np.float32), show_progress=False)
    return model


class ALS:
    """implicit.cpu.als.AlternatingLeastSquares; users x items CSR (implicit >= 0.5)."""

    name = "ials"

    def __init__(
        self, factors=128, regularization=10.0, alpha=20.0, iterations=15, seed=0, num_threads=2
    ):
        self.kw = dict(
            factors=factors,
            regularization=regularization,
            alpha=alpha,
            iterations=iterations,
            random_state=seed,
            num_threads=num_threads,
        )

    def fit_matrix(self, X, valid_history=None, valid_targets=None):
        from implicit.cpu.als import AlternatingLeastSquares

        self.model_ = _fit_implicit(AlternatingLeastSquares, self.kw, X)
        return self

    def fold_in(self, H):
        H = H.tocsr().astype(np.float32)
        with threadpool_limits(1, "blas"):
            U = self.model_.recalculate_user(np.arange(H.shape[0]), H)
        return np.atleast_2d(U)

    def score_history(self, H):
        return self.fold_in(H) @ self.model_.item_factors.T


class BPR:
    """implicit BPR; new users by least-squares fold-in on the frozen item factors."""

    name = "bpr"

    def __init__(
        self,
        factors=128,
        learning_rate=0.05,
        regularization=0.01,
        iterations=100,
        seed=0,
        num_threads=2,
        fold="ls",
        fold_reg=10.0,
        fold_alpha=20.0,
    ):
        self.kw = dict(
            factors=factors,
            learning_rate=learning_rate,
            regularization=regularization,
            iterations=iterations,
            random_state=seed,
            num_threads=num_threads,
        )
        self.fold, self.fold_reg, self.fold_alpha = fold, fold_reg, fold_alpha

    def fit_matrix(self, X, valid_history=None, valid_targets=None):
        from implicit.cpu.bpr import BayesianPersonalizedRanking

        self.model_ = _fit_implicit(BayesianPersonalizedRanking, self.kw, X)
        F = np.asarray(self.model_.item_factors, dtype=np.float64)
        # implicit stores the item bias as the last item column (user column fixed at 1)
        self.V_, self.b_ = F[:, :-1], F[:, -1]
        self.VtV_ = self.V_.T @ self.V_
        return self

    def fold_in(self, H):
        H = H.tocsr()
        if self.fold == "mean":
            n = np.maximum(np.diff(H.indptr), 1)[:, None]
            return np.asarray(H @ self.V_) / n
        U = np.zeros((H.shape[0], self.V_.shape[1]))
        # weighted LS: (V'V + a V_h'V_h + reg I) u = V'(-b) + (1+a) V_h'(1 - b_h) ... exactly:
        # rhs = sum_i c_i (p_i - b_i) v_i = -V'b + sum_h [(1+a)(1-b_h) + b_h] v_h
        base_rhs = -self.V_.T @ self.b_
        eye = self.fold_reg * np.eye(self.V_.shape[1])
        a = self.fold_alpha
        for r in range(H.shape[0]):
            h = H.indices[H.indptr[r] : H.indptr[r + 1]]
            Vh = self.V_[h]
            A = self.VtV_ + a * Vh.T @ Vh + eye
            rhs = base_rhs + Vh.T @ ((1 + a) * (1 - self.b_[h]) + self.b_[h])
            U[r] = np.linalg.solve(A, rhs)
        return U

    def score_history(self, H):
        return self.fold_in(H) @ self.V_.T + self.b_[None, :]
