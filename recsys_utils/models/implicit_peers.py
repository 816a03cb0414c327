"""The ``implicit`` library's iALS and BPR on the contract, as rankers of liked movies.

``ials`` (``implicit.cpu.als.AlternatingLeastSquares``): a new person's vector is
implicit's own ``recalculate_user`` on their liked movies. ``bpr``
(``BayesianPersonalizedRanking``) has no fold-in of its own; ours is the honest closed
form: the person's vector solves the iALS-style weighted least squares on BPR's frozen
item factors, min_u sum_i c_i (p_i - b_i - u.v_i)^2 + fold_reg |u|^2, p_i = 1 on the
liked movies, c_i = 1 + fold_alpha there, 1 elsewhere (``fold="ls"``); ``fold="mean"``
pools the liked movies' item factors instead. BPR trains on one thread: implicit's BPR
with several threads gives different figures at the same seed (its Hogwild updates race).
"""

from __future__ import annotations

import numpy as np

from recsys_utils.models._liked import LikedRecommender
from recsys_utils.models.registry import register


def _fit_implicit(estimator, kw: dict, X):
    """An ``implicit`` estimator fitted on users x items CSR, its BLAS on one thread (as
    ``implicit`` asks, else it warns and slows down)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, "blas"):
        model = estimator(**kw)
        model.fit(X.tocsr().astype(np.float32), show_progress=False)
    return model


@register
class ALS(LikedRecommender):
    """implicit's iALS (implicit >= 0.5); users x items CSR of liked movies."""

    name = "ials"
    _als = None  # implicit's fitted model; only its item factors are kept in checkpoints

    def __init__(
        self,
        rating_scale=None,
        threshold: float = 4.0,
        factors: int = 128,
        regularization: float = 10.0,
        alpha: float = 20.0,
        iterations: int = 15,
        seed: int = 0,
        num_threads: int = 2,  # each user's solve is its own: threads change no figure
    ):
        super().__init__(
            rating_scale,
            threshold,
            factors=factors,
            regularization=regularization,
            alpha=alpha,
            iterations=iterations,
            seed=seed,
            num_threads=num_threads,
        )

    def _fit_liked(self, X, valid_liked=None, valid_targets=None):
        from implicit.cpu.als import AlternatingLeastSquares

        p = self.params
        kw = {k: p[k] for k in ("factors", "regularization", "alpha", "iterations", "num_threads")}
        self._als = _fit_implicit(AlternatingLeastSquares, {**kw, "random_state": p["seed"]}, X)
        self.item_factors_ = np.asarray(self._als.item_factors, dtype=np.float32)

    def _implicit(self):
        """implicit's model holding the item factors (rebuilt after a checkpoint load)."""
        if self._als is None:
            from implicit.cpu.als import AlternatingLeastSquares

            p = self.params
            kw = {k: p[k] for k in ("factors", "regularization", "alpha", "num_threads")}
            self._als = AlternatingLeastSquares(**kw, random_state=p["seed"])
            self._als.item_factors = self.item_factors_
        return self._als

    def fold_in(self, H):
        """User vectors for 0/1 rows of liked movies (implicit's ``recalculate_user``)."""
        from threadpoolctl import threadpool_limits

        H = H.tocsr().astype(np.float32)
        with threadpool_limits(1, "blas"):
            U = self._implicit().recalculate_user(np.arange(H.shape[0]), H)
        return np.atleast_2d(U)

    def _score_liked(self, H):
        return self.fold_in(H) @ self.item_factors_.T


@register
class BPR(LikedRecommender):
    """implicit's BPR on one thread; new people by the fold-in of the module docstring."""

    name = "bpr"

    def __init__(
        self,
        rating_scale=None,
        threshold: float = 4.0,
        factors: int = 128,
        learning_rate: float = 0.05,
        regularization: float = 0.01,
        iterations: int = 100,
        seed: int = 0,
        fold: str = "ls",
        fold_reg: float = 10.0,
        fold_alpha: float = 20.0,
        num_threads: int = 1,
    ):
        if num_threads != 1:  # Hogwild updates race: another thread count, other figures
            raise ValueError(
                f"BPR trains on one thread (reproducible at a seed), got {num_threads}"
            )
        if fold not in ("ls", "mean"):
            raise ValueError(f"fold must be 'ls' or 'mean', got {fold!r}")
        super().__init__(
            rating_scale,
            threshold,
            factors=factors,
            learning_rate=learning_rate,
            regularization=regularization,
            iterations=iterations,
            seed=seed,
            fold=fold,
            fold_reg=fold_reg,
            fold_alpha=fold_alpha,
            num_threads=num_threads,
        )

    def _fit_liked(self, X, valid_liked=None, valid_targets=None):
        from implicit.cpu.bpr import BayesianPersonalizedRanking

        p = self.params
        kw = {k: p[k] for k in ("factors", "learning_rate", "regularization", "iterations")}
        kw.update(random_state=p["seed"], num_threads=1)  # more threads: not reproducible
        F = np.asarray(_fit_implicit(BayesianPersonalizedRanking, kw, X).item_factors, np.float64)
        # implicit stores the item bias as the last item column (user column fixed at 1)
        self.V_, self.b_ = F[:, :-1], F[:, -1]
        self.VtV_ = self.V_.T @ self.V_

    def fold_in(self, H):
        """User vectors for 0/1 rows of liked movies (``fold``: "ls" or "mean")."""
        H = H.tocsr()
        p = self.params
        if p["fold"] == "mean":
            n = np.maximum(np.diff(H.indptr), 1)[:, None]
            return np.asarray(H @ self.V_) / n
        U = np.zeros((H.shape[0], self.V_.shape[1]))
        # rhs = sum_i c_i (p_i - b_i) v_i = -V'b + sum_h [(1+a)(1-b_h) + b_h] v_h
        base_rhs = -self.V_.T @ self.b_
        eye = p["fold_reg"] * np.eye(self.V_.shape[1])
        a = p["fold_alpha"]
        for r in range(H.shape[0]):
            h = H.indices[H.indptr[r] : H.indptr[r + 1]]
            Vh = self.V_[h]
            A = self.VtV_ + a * Vh.T @ Vh + eye
            rhs = base_rhs + Vh.T @ ((1 + a) * (1 - self.b_[h]) + self.b_[h])
            U[r] = np.linalg.solve(A, rhs)
        return U

    def _score_liked(self, H):
        return self.fold_in(H) @ self.V_.T + self.b_[None, :]
