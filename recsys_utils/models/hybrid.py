"""The hybrid embedding model: our pooled-softmax ranker whose movie vectors come from what
a movie is (``data.features``) plus, where it has training positives, its own id vector.

LightFM's idea written on our model: the user side is ``PooledSoftmax``'s (a person is the
pooled input vectors of the movies they liked; no gradient step for a new person); a
movie's output vector is the weighted sum of its feature vectors (genres, tags, year
bucket, genome: ``MovieFeatures.normalised``, each kind to unit norm, only the ``kinds``
asked for) plus its id vector (``training.hybrid_net``, with id dropout while training).
Loss, loop and early stopping are ``PooledSoftmax``'s (``training.loop.fit``).

A movie nobody rated in training is placed from its features alone, no retraining:
``movie_vectors`` / ``score_movies`` take raw movie ids (any movie of the feature table)
or feature rows of movies described by hand (``MovieFeatures.describe``), and
``vector_from`` says where each vector comes from: ``"ratings+features"`` (a training
movie: its id vector plus its features'), ``"features only"``, ``"ratings only"`` (a
training movie without features) or ``"none"`` (neither: it cannot be placed; a movie
flagged ``no_features`` has no features).
``neighbours`` lists the movies closest to one, ``audience`` the users who would like it,
``unlearned_features`` the features of a described movie that training never shaped.
The feature table travels in the checkpoint (``checkpoint_data``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys_utils.constants import ITEM_COL, SCORE_COL, USER_COL
from recsys_utils.data.features import KINDS, MovieFeatures
from recsys_utils.metrics import top_k_eligible
from recsys_utils.models.base import (
    Capabilities,
    Queries,
    Query,
    liked_matrix,
    novelty_ranking,
)
from recsys_utils.models.ranking import PooledSoftmax
from recsys_utils.models.registry import register

VECTOR_FROM_COL = "vector_from"
SIMILARITY_COL = "similarity"
RANK_COL = "rank"
FROM_BOTH, FROM_FEATURES, FROM_RATINGS, FROM_NOTHING = (
    "ratings+features",
    "features only",
    "ratings only",
    "none",
)
_USER_CHUNK = 1024  # users scored at once by ``audience``


@register
class HybridPooled(PooledSoftmax):
    """``PooledSoftmax`` with feature-built movie vectors (module docstring).

    Extra parameters: ``id_dropout`` (probability of hiding a movie's id vector in a
    training batch), ``use_id`` (``False``: features only), ``kinds`` (feature kinds
    used; all by default). The optimiser is dense (``adamw``/``adam``/``sgd``): the
    feature table is shared by every movie. ``features`` is data, not a parameter.
    """

    name = "hybrid_pooled"
    capabilities = Capabilities(
        uses_validation=True, objective="val_ndcg@100", places_new_movies=True
    )
    DEFAULTS = {**PooledSoftmax.DEFAULTS, "id_dropout": 0.5, "use_id": True, "kinds": None}

    def __init__(self, features: MovieFeatures, rating_scale=None, threshold: float = 4.0,
                 **params):  # fmt: skip
        if params.get("kinds") is not None:
            params["kinds"] = tuple(params["kinds"])
            unknown = set(params["kinds"]) - set(KINDS)
            if unknown:
                raise ValueError(f"unknown feature kinds {sorted(unknown)}; known: {KINDS}")
        if str(params.get("optimizer", "adamw")).startswith("sparse"):
            raise ValueError("hybrid_pooled trains with a dense optimiser (adamw, adam, sgd)")
        super().__init__(rating_scale, threshold, **params)
        self.features = features
        # the weighted table: each kind to unit norm, only the kinds used
        self._keep = np.ones(features.n_features, np.float32)
        if self.params["kinds"] is not None:
            self._keep = np.isin(features.kinds, self.params["kinds"]).astype(np.float32)
        self.table_ = self._weigh(features.normalised())

    # --- the checkpoint carries the feature table ------------------------------------------
    def checkpoint_data(self) -> tuple[dict[str, np.ndarray], dict]:
        arrays, vocab = self.features.to_state()
        return {f"features.{k}": v for k, v in arrays.items()}, {"features": vocab}

    @classmethod
    def from_checkpoint_data(cls, arrays: dict, data: dict, rating_scale, params: dict):
        if "features" not in data:
            raise ValueError("the checkpoint carries no feature table")
        prefix = "features."
        state = {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}
        return cls(MovieFeatures.from_state(state, data["features"]), rating_scale, **params)

    # --- training ----------------------------------------------------------------------------
    def _weigh(self, normalised: sp.csr_matrix) -> sp.csr_matrix:
        """Only the kinds used (all by default: nothing to do)."""
        if self.params["kinds"] is None:
            return normalised
        m = normalised
        out = sp.csr_matrix((m.data * self._keep[m.indices], m.indices, m.indptr), m.shape)
        out.eliminate_zeros()
        return out

    def _feature_rows(self, item_ids) -> sp.csr_matrix:
        """The weighted feature rows of raw movie ids (an empty row for an unknown id)."""
        rows = self.features.rows(np.asarray(item_ids))
        F = self.table_[np.maximum(rows, 0)]
        return sp.csr_matrix(sp.diags((rows >= 0).astype(np.float32)) @ F)

    def _net(self, n_items: int):
        from recsys_utils.training.hybrid_net import HybridNet

        F = self.table_
        B = self._feature_rows(self.item_map.decode(np.arange(n_items)))
        p = self.params
        return HybridNet(n_items, p["dim"], p["hidden"], F.shape[1], B.indices,
                         B.indptr[:-1], B.data, id_dropout=p["id_dropout"],
                         use_id=p["use_id"])  # fmt: skip

    def _export(self, net):
        import torch

        super()._export(net)
        with torch.no_grad():
            w, b = net.item_tables(drop=False)
        self.W_out_ = w.cpu().numpy().copy()
        self.b_out_ = b.cpu().numpy().copy()
        self.F_out_ = net.feat.weight.detach().cpu().numpy().copy()
        self.F_bias_ = net.feat_bias.detach().cpu().numpy()[:, 0].copy()

    # --- movies nobody rated ---------------------------------------------------------------
    def _movies(self, movies):
        """(feature rows, item index or -1, has features) of ``movies``: raw ids, or a
        sparse matrix of described rows over the table's columns (a movie flagged
        ``no_features`` has none). ``feature rows`` is a function of a mask that gives the
        weighted rows of those movies: only the movies that need them pay for them."""
        if sp.issparse(movies):  # the argument's type, never the model's
            if movies.shape[1] != self.features.n_features:
                raise ValueError(
                    f"described rows have {movies.shape[1]} columns; this model's feature "
                    f"table has {self.features.n_features} (describe them with its features)"
                )
            n = movies.shape[0]
            weighted = self._weigh(self.features.normalised(movies))
            rows_of = lambda mask: weighted if mask.all() else weighted[mask]  # noqa: E731
            return rows_of, np.full(n, -1), np.ones(n, bool)
        ids = np.asarray(movies).reshape(-1)
        rows = self.features.rows(ids)
        described = rows >= 0
        described[described] = ~self.features.no_features[rows[described]]
        return (lambda mask: self._feature_rows(ids[mask])), self.item_map.encode(ids), described

    def movie_vectors(self, movies) -> tuple[np.ndarray, np.ndarray]:
        """(vectors (n, dim), biases (n,)) of ``movies``: raw ids, or described rows
        (``MovieFeatures.describe``; several stacked with ``scipy.sparse.vstack``).

        A training movie's vector is its own (id plus features); any other movie's comes
        from its features alone (zero for an id the feature table lacks: see
        ``vector_from``).
        """
        rows_of, idx, _ = self._movies(movies)
        if self.F_out_.shape[0] != self.table_.shape[1]:
            raise ValueError(
                f"the feature vectors ({self.F_out_.shape[0]}) do not fit the feature "
                f"table ({self.table_.shape[1]} columns)"
            )
        warm = idx >= 0
        vec = np.empty((idx.size, self.W_out_.shape[1]), self.W_out_.dtype)
        bias = np.empty(idx.size, self.b_out_.dtype)
        vec[warm], bias[warm] = self.W_out_[idx[warm]], self.b_out_[idx[warm]]
        if not warm.all():  # the rest from their features alone
            F = rows_of(~warm)
            vec[~warm], bias[~warm] = np.asarray(F @ self.F_out_), np.asarray(F @ self.F_bias_)
        return vec, bias

    def vector_from(self, movies) -> np.ndarray:
        """Where each movie's vector comes from: ``"ratings+features"``, ``"features
        only"``, ``"ratings only"`` or ``"none"`` (the module docstring)."""
        _, idx, has = self._movies(movies)
        out = np.full(idx.size, FROM_NOTHING, dtype=object)
        out[has] = FROM_FEATURES
        if self.params["use_id"]:  # else a training movie's vector is its features' too
            out[idx >= 0] = FROM_RATINGS
            out[(idx >= 0) & has] = FROM_BOTH
        return out

    def score_movies(self, queries: Queries | Query, movies) -> np.ndarray:
        """Scores of ``movies`` (raw ids, rated in training or not, or described rows):
        (n, len(movies)), or (len(movies),) for one ``Query``. A movie the feature table
        lacks and training never saw scores -inf."""
        single = isinstance(queries, Query)
        q = queries.queries() if single else queries
        if q.is_known:
            H = self.liked()[self._user_indices(q.users)]
        else:
            H = liked_matrix(q.ratings_matrix(self.item_map), self.params["threshold"])
        vec, bias = self.movie_vectors(movies)
        out = self.fold_in(H) @ vec.T + bias
        out[:, self.vector_from(movies) == FROM_NOTHING] = -np.inf
        return out[0] if single else out

    def unlearned_features(self, row) -> list[str]:
        """The features of one described row (``MovieFeatures.describe``) that no training
        movie carries: their vectors never left their random start, so they add nothing
        learned (a year bucket after the release's last movie, say)."""
        rows = self.features.rows(self.item_map.ids)
        carried = np.zeros(self.features.n_features, bool)
        carried[self.features.matrix[rows[rows >= 0]].indices] = True
        cols = sp.csr_matrix(row).indices
        return [str(self.features.names[c]) for c in cols if not carried[c]]

    def unrated_movies(self) -> np.ndarray:
        """Raw ids of the feature table's movies with no training rating that have
        features (a movie flagged ``no_features`` has nothing to place it by)."""
        f = self.features
        return f.item_ids[(self.item_map.encode(f.item_ids) < 0) & ~f.no_features]

    def recommend_with_unrated(self, query, k: int = 10, *, min_ratings: int = 0,
                               novelty: float = 0.0) -> pd.DataFrame:  # fmt: skip
        """``recommend`` over the training movies and the unrated ones of the feature table.

        Args:
            query: a ``Query`` or a known user's raw id; the movies it gave are left out.
            min_ratings: training movies with fewer ratings are left out (unrated movies,
                with none, are the point: they stay in).
            novelty: as ``recommend`` (an unrated movie counts 0 ratings).

        Returns:
            DataFrame item_id, score, vector_from; best first.
        """
        q = query if isinstance(query, Query) else Query.known(query)
        warm = np.asarray(self.score(q), dtype=np.float64)
        eligible = np.asarray(self.item_counts_) >= min_ratings
        cold = self.unrated_movies()
        if q.user is not None:
            eligible[self.seen_items(int(self._user_indices([q.user])[0]))] = False
        else:
            given = np.asarray([int(m) for m in q.ratings], np.int64)
            idx = self.item_map.encode(given)
            eligible[idx[idx >= 0]] = False
            cold = cold[~np.isin(cold, given)]
        ids = np.concatenate([self.item_map.ids, cold])
        scores = np.concatenate([warm, self.score_movies(q, cold)])
        counts = np.concatenate([np.asarray(self.item_counts_, np.float64), np.zeros(cold.size)])
        eligible = np.concatenate([eligible, np.ones(cold.size, bool)])
        top = top_k_eligible(novelty_ranking(scores, counts, novelty), k, ~eligible)
        return pd.DataFrame(
            {
                ITEM_COL: ids[top],
                SCORE_COL: scores[top],
                VECTOR_FROM_COL: self.vector_from(ids[top]),
            }
        )

    def neighbours(self, movie, k: int = 10, min_ratings: int = 0,
                   include_unrated: bool = False) -> pd.DataFrame:  # fmt: skip
        """The ``k`` movies whose vectors are closest (cosine) to one movie's.

        Args:
            movie: a raw id (rated in training or not) or one described row.
            min_ratings: only training movies with at least this many ratings.
            include_unrated: also list the feature table's movies nobody rated.

        Returns:
            DataFrame item_id, similarity, vector_from; best first, the movie itself left out.

        Raises:
            ValueError: the movie cannot be placed (no ratings and no features), or ``k``
                exceeds the eligible movies (``metrics.top_k_eligible``).
        """
        self._placeable(movie)
        query = self.movie_vectors(movie)[0][0]
        cand = self.item_map.ids[np.asarray(self.item_counts_) >= min_ratings]
        if include_unrated:
            cand = np.concatenate([cand, self.unrated_movies()])
        if not sp.issparse(movie):
            cand = cand[cand != int(np.asarray(movie).reshape(-1)[0])]
        vec = self.movie_vectors(cand)[0]
        norms = np.linalg.norm(vec, axis=1) * np.linalg.norm(query)
        sims = np.divide(vec @ query, norms, out=np.zeros(cand.size), where=norms > 0)
        top = top_k_eligible(sims, k, np.zeros(cand.size, bool))
        return pd.DataFrame(
            {
                ITEM_COL: cand[top],
                SIMILARITY_COL: sims[top],
                VECTOR_FROM_COL: self.vector_from(cand[top]),
            }
        )

    def audience(self, movie, k: int = 10) -> pd.DataFrame:
        """The training users who would like one movie most: those whose own ranking
        (over the training movies they have not rated) puts it highest.

        Args:
            movie: a raw id (rated in training or not) or one described row. For a
                training movie, the users who rated it are left out.

        Returns:
            DataFrame user_id, rank (where the movie would come in their list, 1 = first),
            score; best first (rank, then score).
        """
        self._placeable(movie)
        vec, bias = self.movie_vectors(movie)
        seen = sp.csr_matrix(
            (np.ones(self.seen_indices_.size, bool), self.seen_indices_, self.seen_indptr_),
            shape=(len(self.user_map), len(self.item_map)),
        )
        users = np.arange(len(self.user_map))
        if not sp.issparse(movie):
            idx = self.item_map.encode(np.asarray(movie).reshape(-1))[0]
            if idx >= 0:
                users = users[~np.asarray(seen[:, idx].toarray()).ravel()]
        ranks, scores, liked = [], [], self.liked()
        for s in range(0, users.size, _USER_CHUNK):
            chunk = users[s : s + _USER_CHUNK]
            z = self.fold_in(liked[chunk])
            mine = z @ vec[0] + bias[0]
            above = (z @ self.W_out_.T + self.b_out_) > mine[:, None]
            above[seen[chunk].nonzero()] = False
            ranks.append(above.sum(1) + 1)
            scores.append(mine)
        rank, score = np.concatenate(ranks), np.concatenate(scores)
        order = np.lexsort((-score, rank))[:k]
        return pd.DataFrame(
            {
                USER_COL: self.user_map.decode(users[order]),
                RANK_COL: rank[order],
                SCORE_COL: score[order],
            }
        )

    def _placeable(self, movie) -> None:
        if sp.issparse(movie):
            if movie.shape[0] != 1:
                raise ValueError(f"give one movie, not {movie.shape[0]} rows")
            return
        ids = np.asarray(movie).reshape(-1)
        if ids.size != 1:
            raise ValueError(f"give one movie, not {ids.size}")
        if self.vector_from(ids)[0] == FROM_NOTHING:
            known = self.features.rows(ids)[0] >= 0
            raise ValueError(
                f"movie {int(ids[0])} has no ratings in training and "
                + (
                    "no features (no genre, tag or year)"
                    if known
                    else "is not in the feature table"
                )
                + ": nothing places it"
            )
