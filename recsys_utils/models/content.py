"""Rankers from what a movie is (``data.features``): content kNN and popularity within genre.

Both score a person from the movies they liked (ratings >= ``threshold``) and a movie
from its feature row alone, so they rank movies nobody rated in training: ``score`` covers
the training catalogue (the contract), ``score_movies(queries, item_ids)`` any movie of
the feature table (the item cold-start protocol, ``evaluation.coldstart``). A movie
flagged ``no_features`` gets no content score (0 in kNN, its genres' nothing in popularity).

Content kNN (cosine on the feature vectors):
    s(u, i) = sum of the ``k`` largest cos(x_i, x_j) over the movies j that u liked
    (all of them when ``k`` is None), x = the feature row with each kind of feature scaled
    to unit norm (``MovieFeatures.normalised``), only the ``kinds`` asked for (all by
    default), then to unit norm as a whole.

Popularity within genre:
    s(u, i) = pop(i) * mean over the genres g of i of lift_u(g),
    pop(i) = the movie's training positives where it has training ratings, else the mean
    count of the training movies of its genres (of all training movies for a genre without
    one, or for a movie without genre);
    lift_u(g) = ((n_u(g) + alpha * share(g)) / (n_u + alpha)) / share(g), n_u(g) the movies
    of genre g u liked out of n_u, share(g) the share of all training positives on genre g
    (a person with no likes has lift 1 everywhere: plain popularity).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recsys_utils.data.features import KINDS, MovieFeatures
from recsys_utils.models.base import (
    Capabilities,
    Queries,
    Query,
    Recommender,
    liked_matrix,
)
from recsys_utils.models.registry import register

_DENSE_LIMIT = 50_000_000  # feature table cells held dense for content kNN (200 MB float32)


class FeatureRanker(Recommender):
    """Base of the rankers on a ``MovieFeatures`` table; subclasses give ``_rank``."""

    name = "feature_base"
    capabilities = Capabilities(
        predicts_ratings=False, scores_new_people=True, checkpointable=False
    )

    def __init__(
        self, features: MovieFeatures, threshold: float = 4.0, rating_scale=None, **params
    ):
        super().__init__(rating_scale, threshold=float(threshold), **params)
        self.features = features  # data, not a hyperparameter: kept out of ``params``

    # --- the contract -------------------------------------------------------------
    def _fit(self, u, i, r, valid) -> None:
        self.rows_ = self.features.rows(self.item_map.decode(np.arange(len(self.item_map))))
        keep = r >= self.params["threshold"]
        self.liked_ = self._to_rows(
            sp.csr_matrix(
                (np.ones(int(keep.sum()), np.float32), (u[keep], i[keep])),
                shape=(len(self.user_map), len(self.item_map)),
            )
        )
        self.counts_ = np.asarray(self.liked_.sum(0)).ravel()
        self.warm_ = np.zeros(self.features.n_movies, bool)
        self.warm_[self.rows_[self.rows_ >= 0]] = True
        self._fit_features()

    def score_items(self, user_indices) -> np.ndarray:
        return self._scores(self.liked_[np.asarray(user_indices, np.int64)], self.rows_)

    def _score_new(self, R, **fold_kw) -> np.ndarray:
        return self._scores(self._to_rows(liked_matrix(R, self.params["threshold"])), self.rows_)

    def _predict_idx(self, u, i):
        """No rating estimate: the damped bias fallback of the base class."""
        return self.global_mean_ + self.fallback_user_bias_[u] + self.fallback_item_bias_[i]

    # --- any movie of the feature table ---------------------------------------------
    def score_movies(self, queries: Queries | Query, item_ids) -> np.ndarray:
        """Scores of the given raw movie ids, rated in training or not: (n, len(item_ids)),
        or (len(item_ids),) for one ``Query``. A movie the feature table lacks scores -inf."""
        single = isinstance(queries, Query)
        q = queries.queries() if single else queries
        if q.is_known:
            liked = self.liked_[self._user_indices(q.users)]
        else:
            liked = self._to_rows(
                liked_matrix(q.ratings_matrix(self.item_map), self.params["threshold"])
            )
        out = self._scores(liked, self.features.rows(np.asarray(item_ids)))
        return out[0] if single else out

    # --- helpers --------------------------------------------------------------------
    def _to_rows(self, X: sp.csr_matrix) -> sp.csr_matrix:
        """(n, n_items) over the item index -> (n, n_movies) over feature rows."""
        X = X.tocoo()
        rows = self.rows_[X.col]
        keep = rows >= 0
        out = sp.csr_matrix(
            (np.ones(int(keep.sum()), np.float32), (X.row[keep], rows[keep])),
            shape=(X.shape[0], self.features.n_movies),
        )
        out.sum_duplicates()
        out.data[:] = 1.0
        return out

    def _scores(self, liked: sp.csr_matrix, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows)
        out = np.full((liked.shape[0], rows.size), -np.inf)
        found = rows >= 0
        out[:, found] = self._rank(liked, rows[found])
        return out

    def _fit_features(self) -> None:
        raise NotImplementedError

    def _rank(self, liked: sp.csr_matrix, rows: np.ndarray) -> np.ndarray:
        """Scores (n, len(rows)) of feature rows for people given by their liked rows."""
        raise NotImplementedError


@register
class ContentKNN(FeatureRanker):
    """Cosine k-nearest neighbours on the movie features (see the module docstring)."""

    name = "content_knn"

    def __init__(
        self,
        features: MovieFeatures,
        k: int | None = None,
        kinds: tuple[str, ...] | None = None,
        threshold: float = 4.0,
        rating_scale=None,
    ):
        if kinds is not None:
            kinds = tuple(kinds)
            unknown = set(kinds) - set(KINDS)
            if unknown:
                raise ValueError(f"unknown feature kinds {sorted(unknown)}; known: {KINDS}")
        super().__init__(features, threshold, rating_scale, k=k, kinds=kinds)

    def _fit_features(self) -> None:
        X = self.features.normalised().astype(np.float64)
        if self.params["kinds"] is not None:  # only these kinds enter the cosine
            X = X[:, np.flatnonzero(np.isin(self.features.kinds, self.params["kinds"]))]
        norms = np.sqrt(np.asarray(X.multiply(X).sum(1)).ravel())
        norms[self.features.no_features | (norms == 0)] = np.inf  # no description: no score
        unit = sp.csr_matrix(sp.diags(1.0 / norms) @ X, dtype=np.float32)
        # dense where it fits: the per-user products are then BLAS calls
        self.unit_ = unit.toarray() if unit.shape[0] * unit.shape[1] <= _DENSE_LIMIT else unit

    def _rank(self, liked, rows) -> np.ndarray:
        cand = self.unit_[rows]
        k = self.params["k"]
        if k is None:  # the sum over every liked movie: one product
            return _dense((liked @ self.unit_) @ cand.T)
        out = np.zeros((liked.shape[0], rows.size))
        for r in range(liked.shape[0]):
            mine = liked.indices[liked.indptr[r] : liked.indptr[r + 1]]
            if mine.size == 0:
                continue
            sims = _dense(self.unit_[mine] @ cand.T)
            if mine.size > k:
                sims = np.partition(sims, mine.size - k, axis=0)[mine.size - k :]
            out[r] = sims.sum(0)
        return out


def _dense(x) -> np.ndarray:
    return x.toarray() if sp.issparse(x) else np.asarray(x)


@register
class GenrePopularity(FeatureRanker):
    """Popularity within the genres a person likes (see the module docstring)."""

    name = "genre_popularity"

    def __init__(
        self,
        features: MovieFeatures,
        alpha: float = 5.0,
        threshold: float = 4.0,
        rating_scale=None,
    ):
        super().__init__(features, threshold, rating_scale, alpha=float(alpha))

    def _fit_features(self) -> None:
        G = self.features.matrix[:, self.features.columns("genre")].tocsr()
        self.genres_ = sp.csr_matrix(
            (np.ones_like(G.data, dtype=np.float64), G.indices, G.indptr), G.shape
        )
        warm_g = self.genres_[self.warm_]
        n_warm = np.maximum(np.asarray(warm_g.sum(0)).ravel(), 1)
        overall = self.counts_[self.warm_].mean() if self.warm_.any() else 0.0
        genre_mean = (warm_g.T @ self.counts_[self.warm_]) / n_warm
        genre_mean[np.asarray(warm_g.sum(0)).ravel() == 0] = overall  # no warm movie of g
        n_g = np.diff(self.genres_.indptr)
        from_genres = np.where(n_g > 0, (self.genres_ @ genre_mean) / np.maximum(n_g, 1), overall)
        self.pop_ = np.where(self.warm_, self.counts_, from_genres)
        self.pop_[self.features.no_features & ~self.warm_] = 0.0
        on_genre = self.genres_.T @ self.counts_
        self.share_ = np.maximum(on_genre / max(self.counts_.sum(), 1.0), 1e-12)

    def _rank(self, liked, rows) -> np.ndarray:
        a = self.params["alpha"]
        n_u = np.asarray(liked.sum(1)).ravel()[:, None]
        per_genre = (liked @ self.genres_).toarray()
        lift = (per_genre + a * self.share_) / (n_u + a) / self.share_
        G = self.genres_[rows]
        n_g = np.diff(G.indptr)
        mean_lift = np.asarray((G @ lift.T).T) / np.maximum(n_g, 1)
        mean_lift[:, n_g == 0] = 1.0
        return self.pop_[rows][None, :] * mean_lift
