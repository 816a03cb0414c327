"""A rules-based recommender: a user's favourite genres, then the best-rated movies in them.

The blog this workbench grew from says "rules-based systems are limited by the rules";
this is the baseline that claim is measured against, behind the same contract as the
learned models (``fit``, ``predict``, ``recommend``, ``score_items``). For user u and
movie i, with mu the mean training rating:

    q_i      = (sum_u r_ui + damping * mu) / (n_i + damping)       damped mean rating
    pref_u,g = sum over u's rated movies of genre g of (r_ui - mu)  genre liking
    F_u      = the ``n_genres`` genres with the largest positive pref_u,g
    s_u,g    = pref_u,g / sum_{h in F_u} pref_u,h  for g in F_u, else 0
    score    = q_i + match_weight * sum_{g in G_i} s_u,g
               + tag_weight * cos(t_u, t_i) - _PENALTY * [n_i < min_count]

where G_i are the movie's genres. The optional tag rule uses ``tags.csv``: t_i is the
movie's tf-idf vector of whole tags (lower-cased), t_u the sum of t_i over the movies u
rated above mu, weighted by r_ui - mu. Only tags whose (user, movie) pair is in the
training ratings are used, so a tag never reveals a held-out viewing. ``predict`` gives
the damped baseline mu + b_u + b_i (the rules rank; they do not predict ratings).

Every fitted quantity is a numeric array, so ``checkpoints.save``/``load`` round-trip
the model; only ``genre_names_`` (used by ``favourite_genres``) is not stored.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from recsys_utils.constants import GENRES_COL, ITEM_COL, TAG_COL, USER_COL
from recsys_utils.models.base import Capabilities, Recommender
from recsys_utils.models.registry import register

_PENALTY = 100.0  # larger than any rating-scale score: rare movies rank after all others


@register
class GenreRules(Recommender):
    """Favourite genres weighted by the user's ratings, then the best damped-mean movies.

    See the module docstring for the formula. ``movies`` (the tidy movies table) is
    needed to fit; ``tags`` (``load_tags``) only when ``tag_weight > 0``.

    Args:
        movies: item_id and genres (list of str) per movie.
        tags: user_id, item_id, tag rows.
        n_genres: how many favourite genres a user gets.
        min_count: movies with fewer training ratings rank after every other movie.
        damping: pseudo-ratings at the global mean added to each movie's mean.
        match_weight: the bonus for fully matching a user's favourite genres.
        tag_weight: weight of the tag cosine (0 switches tags off).
    """

    name = "rules"
    capabilities = Capabilities(predicts_ratings=False)  # the rules rank; predict() is the fallback
    genre_names_: list | None = None  # set by fit; not stored in checkpoints

    def __init__(
        self,
        movies: pd.DataFrame | None = None,
        tags: pd.DataFrame | None = None,
        n_genres: int = 3,
        min_count: int = 20,
        damping: float = 10.0,
        match_weight: float = 1.0,
        tag_weight: float = 0.0,
        **kw,
    ):
        if n_genres < 1 or min_count < 0 or damping < 0 or tag_weight < 0:
            raise ValueError("n_genres must be >= 1 and min_count, damping, tag_weight >= 0")
        super().__init__(
            n_genres=n_genres,
            min_count=min_count,
            damping=damping,
            match_weight=match_weight,
            tag_weight=tag_weight,
            **kw,
        )
        self.movies, self.tags = movies, tags  # data, not hyperparameters: never saved

    # --- fitting --------------------------------------------------------------------
    def _fit(self, u, i, r, valid):
        p = self.params
        if self.movies is None:
            raise ValueError(
                "GenreRules needs the movies table to fit: GenreRules(movies=dataset.movies)"
            )
        if p["tag_weight"] > 0 and self.tags is None:
            raise ValueError(
                "tag_weight > 0 needs the tags table: GenreRules(tags=load_tags(name))"
            )
        n_users, n_items = len(self.user_map), len(self.item_map)
        mu = float(r.mean())
        self.mu_ = mu
        sums = np.bincount(i, r, minlength=n_items)
        self.quality_ = (sums + p["damping"] * mu) / (self.item_counts_ + p["damping"])
        self.item_genres_, self.genre_names_ = self._genre_matrix()
        pref = np.zeros((n_users, self.item_genres_.shape[1]))
        np.add.at(pref, u, (r - mu)[:, None] * self.item_genres_[i])
        self.user_genre_share_ = self._top_shares(pref, p["n_genres"])
        order = np.lexsort((i, u))  # the order of the base class's seen_indices_
        self.liked_weights_ = np.clip(r - mu, 0, None)[order]
        if p["tag_weight"] > 0:
            self._fit_tags(u, i)

    def _genre_matrix(self) -> tuple[np.ndarray, list[str]]:
        genres = self.movies.set_index(ITEM_COL)[GENRES_COL]
        lists = genres.reindex(self.item_map.ids).map(lambda g: g if isinstance(g, list) else [])
        names = sorted({g for gs in lists for g in gs})
        col = {g: c for c, g in enumerate(names)}
        mat = np.zeros((len(self.item_map), len(names)), dtype=np.float32)
        for row, gs in enumerate(lists):
            mat[row, [col[g] for g in gs]] = 1.0
        return mat, names

    @staticmethod
    def _top_shares(pref: np.ndarray, n_genres: int) -> np.ndarray:
        """Keep each row's ``n_genres`` largest positive entries, scaled to sum to 1."""
        share = np.zeros_like(pref)
        if pref.shape[1] == 0:
            return share
        n = min(n_genres, pref.shape[1])
        top = np.argsort(-pref, axis=1, kind="stable")[:, :n]
        vals = np.clip(np.take_along_axis(pref, top, 1), 0, None)
        totals = vals.sum(1, keepdims=True)
        np.put_along_axis(
            share, top, np.divide(vals, totals, out=np.zeros_like(vals), where=totals > 0), 1
        )
        return share

    def _fit_tags(self, u, i) -> None:
        from scipy import sparse

        tags = self.tags
        tu = self.user_map.encode(tags[USER_COL].to_numpy())
        ti = self.item_map.encode(tags[ITEM_COL].to_numpy())
        pairs = set(zip(u.tolist(), i.tolist(), strict=True))
        keep = np.array(
            [(a, b) in pairs for a, b in zip(tu.tolist(), ti.tolist(), strict=True)], dtype=bool
        )
        terms = tags[TAG_COL].astype(str).str.strip().str.lower().to_numpy()[keep]
        vocab, term_idx = np.unique(terms, return_inverse=True)
        tf = sparse.csr_matrix(
            (np.ones(term_idx.size), (ti[keep], term_idx)), shape=(len(self.item_map), vocab.size)
        )
        df = np.asarray((tf > 0).sum(0)).ravel()
        n_tagged = max(int((tf.getnnz(axis=1) > 0).sum()), 1)
        tfidf = sparse.csr_matrix(tf.multiply(np.log((1 + n_tagged) / (1 + df)) + 1.0))
        norms = np.sqrt(np.asarray(tfidf.multiply(tfidf).sum(1)).ravel())
        tfidf = sparse.csr_matrix(
            sparse.diags(np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)) @ tfidf
        )
        self.item_terms_indptr_ = tfidf.indptr.astype(np.int64)
        self.item_terms_indices_ = tfidf.indices.astype(np.int64)
        self.item_terms_data_ = tfidf.data.astype(np.float64)
        self.n_terms_ = int(vocab.size)

    # --- scoring --------------------------------------------------------------------
    def _predict_idx(self, u, i):
        return self.global_mean_ + self.fallback_user_bias_[u] + self.fallback_item_bias_[i]

    def score_items(self, user_indices: np.ndarray) -> np.ndarray:
        """The rule score of every movie for contiguous user indices: (n, n_items)."""
        users = np.asarray(user_indices, dtype=np.int64)
        liked = None
        if self.params["tag_weight"] > 0:
            from scipy import sparse

            starts, ends = self.seen_indptr_[users], self.seen_indptr_[users + 1]
            rows = np.repeat(np.arange(users.size), ends - starts)
            spans = [np.arange(a, b) for a, b in zip(starts, ends, strict=True)]
            cols = np.concatenate(spans or [[]]).astype(np.int64)
            liked = sparse.csr_matrix(
                (self.liked_weights_[cols], (rows, self.seen_indices_[cols])),
                shape=(users.size, len(self.item_map)),
            )
        return self._rule_scores(self.user_genre_share_[users], liked)

    def _score_new(self, R, **fold_kw):
        """A new person by the same rules: genre liking sum (r - mu) over their rated
        movies, the tag profile from those rated above mu (movies the model never saw
        were dropped from ``R``)."""
        from scipy import sparse

        R = sparse.csr_matrix(R)
        rows = np.repeat(np.arange(R.shape[0]), np.diff(R.indptr))
        centred = R.data - self.mu_
        pref = np.zeros((R.shape[0], self.item_genres_.shape[1]))
        np.add.at(pref, rows, centred[:, None] * self.item_genres_[R.indices])
        liked = sparse.csr_matrix((np.clip(centred, 0, None), R.indices, R.indptr), shape=R.shape)
        return self._rule_scores(self._top_shares(pref, self.params["n_genres"]), liked)

    def _rule_scores(self, share: np.ndarray, liked) -> np.ndarray:
        """quality + match_weight * genre match [+ tag_weight * tag cosine] - penalty."""
        p = self.params
        scores = self.quality_[None, :] + p["match_weight"] * (share @ self.item_genres_.T)
        if p["tag_weight"] > 0:
            scores = scores + p["tag_weight"] * self._tag_cosines(liked)
        return scores - _PENALTY * (self.item_counts_ < p["min_count"])[None, :]

    def _tag_cosines(self, liked) -> np.ndarray:
        """Cosine of each movie's tags with the profile of ``liked`` (rows: people,
        weights r - mu of the movies they rated above mu)."""
        from scipy import sparse

        items = sparse.csr_matrix(
            (self.item_terms_data_, self.item_terms_indices_, self.item_terms_indptr_),
            shape=(len(self.item_map), self.n_terms_),
        )
        profile = (liked @ items).toarray()
        norms = np.linalg.norm(profile, axis=1, keepdims=True)
        profile = np.divide(profile, norms, out=np.zeros_like(profile), where=norms > 0)
        return np.asarray(items @ profile.T).T

    def favourite_genres(self, user) -> list[tuple[str, float]]:
        """A known user's favourite genres and their shares, largest first.

        Raises:
            KeyError: the user was not in training.
            ValueError: the model was loaded from a checkpoint (genre names are not stored).
        """
        idx = self.user_map.encode([user])[0]
        if idx < 0:
            raise KeyError(f"unknown user {user}: not in the training data")
        if self.genre_names_ is None:
            raise ValueError("genre names are not stored in checkpoints; refit with movies")
        share = self.user_genre_share_[idx]
        order = [int(g) for g in np.argsort(-share, kind="stable") if share[g] > 0]
        return [(self.genre_names_[g], float(share[g])) for g in order]
