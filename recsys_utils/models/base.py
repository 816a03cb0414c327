"""The one model contract: ``Recommender``, the base class every model subclasses.

Every model: ``fit(train, valid=None)``, ``predict(users, items)`` on raw MovieLens ids,
``recommend(user, k)``, ``score_items(user_indices)``. Unknown users and items are
handled here, once, in ``Recommender.predict``: such a pair gets the fallback
``mu + b_u + b_i`` from damped bias estimates computed at fit, where the side that is
unknown contributes 0 (so an unknown user and unknown movie get the global mean).
Predictions are clipped to the rating scale. The models themselves and their registry
are in ``models``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from recsys_utils.constants import ITEM_COL, PREDICTION_COL, RATING_COL, USER_COL
from recsys_utils.data.encoding import IdMap

FALLBACK_DAMPING = 10.0


def damped_biases(
    u: np.ndarray,
    i: np.ndarray,
    r: np.ndarray,
    n_users: int,
    n_items: int,
    reg_user: float,
    reg_item: float,
    n_iters: int = 1,
):
    """Alternating ridge estimates of b_u and b_i around the global mean.

    b_i = sum_u (r - mu - b_u) / (reg_item + n_i), then b_u likewise; ``n_iters``
    alternations (one is the classic damped mean). Returns (mu, b_u, b_i).
    """
    mu = float(r.mean())
    b_u, b_i = np.zeros(n_users), np.zeros(n_items)
    n_u = np.bincount(u, minlength=n_users)
    n_i = np.bincount(i, minlength=n_items)
    for _ in range(n_iters):
        b_i = np.bincount(i, r - mu - b_u[u], minlength=n_items) / (reg_item + n_i)
        b_u = np.bincount(u, r - mu - b_i[i], minlength=n_users) / (reg_user + n_u)
    return mu, b_u, b_i


class Recommender:
    """Base class: id maps, fallback, clipping, seen items and top-N live here.

    Subclasses implement ``_fit(u, i, r, valid)`` on contiguous indices and
    ``_predict_idx(u, i)`` / ``score_items(u)`` for known pairs.
    """

    name = "base"

    def __init__(self, rating_scale: tuple[float, float] | None = None, **params):
        self.params = dict(params)
        self.rating_scale = tuple(rating_scale) if rating_scale else None
        self.history_: pd.DataFrame | None = None
        self.n_fallback_ = 0

    # --- the contract -------------------------------------------------------------
    def fit(self, train: pd.DataFrame, valid: pd.DataFrame | None = None) -> Recommender:
        """Learn from a tidy ratings table; ``valid`` drives early stopping where used."""
        if len(train) == 0:
            raise ValueError("cannot fit on an empty ratings table")
        self.user_map = IdMap.from_values(train[USER_COL].to_numpy())
        self.item_map = IdMap.from_values(train[ITEM_COL].to_numpy())
        u, i, r = self._encode(train)
        if self.rating_scale is None:
            self.rating_scale = (float(r.min()), float(r.max()))
        self.global_mean_, self.fallback_user_bias_, self.fallback_item_bias_ = damped_biases(
            u, i, r, len(self.user_map), len(self.item_map), FALLBACK_DAMPING, FALLBACK_DAMPING
        )
        order = np.lexsort((i, u))
        self.seen_indptr_ = np.concatenate(
            [[0], np.cumsum(np.bincount(u, minlength=len(self.user_map)))]
        )
        self.seen_indices_ = i[order].astype(np.int32)
        self.item_counts_ = np.bincount(i, minlength=len(self.item_map))
        valid_enc = None
        if valid is not None and len(valid):
            vu, vi, vr = self._encode(valid)
            keep = (vu >= 0) & (vi >= 0)  # cold pairs cannot guide training
            valid_enc = (vu[keep], vi[keep], vr[keep])
        self._fit(u, i, r, valid_enc)
        return self

    def predict(self, users, items) -> np.ndarray:
        """Predicted ratings for (user, item) pairs of raw ids, clipped to the scale."""
        u = self.user_map.encode(users)
        i = self.item_map.encode(items)
        if u.shape != i.shape:
            raise ValueError(f"users and items differ in length: {u.size} vs {i.size}")
        known = (u >= 0) & (i >= 0)
        out = (
            self.global_mean_
            + np.where(u >= 0, self.fallback_user_bias_[u], 0.0)
            + np.where(i >= 0, self.fallback_item_bias_[i], 0.0)
        )
        if known.any():
            out[known] = self._predict_idx(u[known], i[known])
        self.n_fallback_ = int((~known).sum())
        return np.clip(out, *self.rating_scale)

    def score_items(self, user_indices: np.ndarray) -> np.ndarray:
        """Scores of every catalogue item for contiguous user indices: (n, n_items)."""
        raise NotImplementedError

    def seen_items(self, user_index: int) -> np.ndarray:
        """Item indices the user rated in training."""
        return self.seen_indices_[self.seen_indptr_[user_index] : self.seen_indptr_[user_index + 1]]

    def recommend(
        self, user, k: int = 10, exclude_seen: bool = True, min_ratings: int = 0
    ) -> pd.DataFrame:
        """Top-``k`` items for a known user: columns item_id, prediction (clipped).

        Raises:
            KeyError: the user was not in training (fold them in with
                ``recommend.fold_in`` instead).
            ValueError: ``k`` is not positive or exceeds the eligible catalogue.
        """
        idx = self.user_map.encode([user])[0]
        if idx < 0:
            raise KeyError(
                f"unknown user {user}: not in the training data; "
                "use recsys_utils.recommend.foldin.fold_in for new users"
            )
        scores = self.score_items(np.array([idx]))[0].astype(np.float64)
        mask = self.item_counts_ >= min_ratings
        if exclude_seen:
            mask[self.seen_items(idx)] = False
        top = top_k_indices(scores, mask, k)
        pred = np.clip(self._predict_idx(np.full(top.size, idx), top), *self.rating_scale)
        return pd.DataFrame({ITEM_COL: self.item_map.decode(top), PREDICTION_COL: pred})

    # --- for subclasses -------------------------------------------------------------
    def _encode(self, df: pd.DataFrame):
        return (
            self.user_map.encode(df[USER_COL].to_numpy()),
            self.item_map.encode(df[ITEM_COL].to_numpy()),
            df[RATING_COL].to_numpy(dtype=np.float64),
        )

    def _fit(self, u, i, r, valid) -> None:
        raise NotImplementedError

    def _predict_idx(self, u: np.ndarray, i: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def get_params(self) -> dict:
        return dict(self.params)

    def selected_params(self) -> dict:
        """Hyperparameters that refit this model without validation data, keeping what
        validation chose (epochs for nets, weights for blends); see ``bench.fit_selected``."""
        return self.get_params()

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{type(self).__name__}({args})"


def top_k_indices(scores: np.ndarray, mask: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` best-scored eligible items, best first, ties by index."""
    n_eligible = int(mask.sum())
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if k > n_eligible:
        raise ValueError(f"k={k} exceeds the {n_eligible} eligible movies in the catalogue")
    scores = np.where(mask, scores, -np.inf)
    top = np.argpartition(-scores, k - 1)[:k]
    return top[np.lexsort((top, -scores[top]))]
