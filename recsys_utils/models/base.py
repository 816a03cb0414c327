"""The one model contract: ``Recommender``, the base class every model subclasses.

Every model: ``fit(train, valid=None)`` on a tidy ratings table; ``score(queries)``, the
scores of every catalogue movie for a batch of people; ``predict(users, items)`` on raw
MovieLens ids; ``recommend(query, k)``. A query is a known user (``Query.known``) or a
new person with their movies and ratings (``Query.new``, ``Queries.from_matrix``): the
query carries the ratings, and a new person is the ordinary path, scored by the model's
own fold-in (``_score_new``), never by retraining. What a model can do is declared on
its class (``capabilities``) and checked here, in ``require``; nothing probes a model's
attributes.

Unknown users and items are handled here, once: ``predict`` gives such a pair the
fallback ``mu + b_u + b_i`` from damped bias estimates computed at fit, where the side
that is unknown contributes 0 (so an unknown user and unknown movie get the global
mean); ``score`` refuses an unknown user (give them as a new person) and drops the
movies of a new person that the model never saw (its fold-in knows nothing of them).
Predictions are clipped to the rating scale; scores are not.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import ClassVar

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys_utils.constants import ITEM_COL, PREDICTION_COL, RATING_COL, SCORE_COL, USER_COL
from recsys_utils.data.encoding import IdMap
from recsys_utils.metrics import top_k_eligible

FALLBACK_DAMPING = 10.0
# The knobs of a new person's fold-in (see ``recommend.fold_in``); a model uses those
# its fold-in has (the factor models: all; the rest: none) and ignores the others.
FOLD_IN_OPTIONS = ("reg", "bias_reg", "prior", "steps", "lr")
OBJECTIVES = ("val_rmse", "val_ndcg@100")
# The options of the epoch loop (``training.loop``) that a model trained by it takes:
# its epoch budget, early-stopping patience, seed, progress bar and torch threads. A model
# declares which it takes, under which keyword, in ``Recommender.loop_options``.
LOOP_OPTIONS = ("epochs", "patience", "seed", "progress", "num_threads")
# In ``fit``'s ``valid``: for held-out people (users not in ``train``), True marks the
# ratings they give (the query), False the ones scored (the targets).
GIVEN_COL = "given"


@dataclass(frozen=True)
class Capabilities:
    """What a model can do, declared on its class and checked once (``require``).

    Attributes:
        predicts_ratings: ``predict`` is the model's own rating estimate (else it is the
            damped-bias fallback, and the model only ranks).
        scores_new_people: ``score`` of a new person's movies needs no retraining.
        uses_validation: ``fit(valid=...)`` steers training (early stopping or choice).
        objective: what validation optimises: "val_rmse" (minimised) or "val_ndcg@100"
            (maximised); None when the model uses no validation.
        checkpointable: ``models.checkpoints.save`` can store everything the model needs
            (what it was built on besides the ratings travels through
            ``checkpoint_data`` / ``from_checkpoint_data``).
        places_new_movies: ``movie_vectors`` / ``score_movies`` place a movie nobody rated
            in training, from its features (a row of the model's feature table, or one
            described by ``data.features.MovieFeatures.describe``).
    """

    predicts_ratings: bool = False
    scores_new_people: bool = True
    uses_validation: bool = False
    objective: str | None = None
    checkpointable: bool = True
    places_new_movies: bool = False

    def __post_init__(self):
        if self.objective is not None and self.objective not in OBJECTIVES:
            raise ValueError(
                f"objective must be one of {OBJECTIVES} or None, got {self.objective!r}"
            )


class CapabilityError(ValueError):
    """A model was asked for something its class declares it cannot do."""


def require(model, capability: str) -> None:
    """Refuse, with one clear error, what ``model``'s class declares it cannot do.

    ``model`` is a model or a model class. ``capability`` is a ``Capabilities`` field
    (refused when false or None) or an epoch-loop option of ``LOOP_OPTIONS`` (refused
    when the class's ``loop_options`` does not name it: ``"epochs"`` means "trained epoch
    by epoch by ``training.loop``", with a torch module in ``net`` and a ``history_``).

    Raises:
        CapabilityError: the class does not declare ``capability``.
    """
    cls = model if isinstance(model, type) else type(model)
    if capability in LOOP_OPTIONS:
        declared = capability in cls.loop_options
    elif capability in Capabilities.__dataclass_fields__:
        declared = getattr(cls.capabilities, capability)  # a declared field, not a probe
    else:
        raise ValueError(
            f"no capability {capability!r}; known: "
            f"{[*Capabilities.__dataclass_fields__, *LOOP_OPTIONS]}"
        )
    if not declared:
        raise CapabilityError(
            f"{cls.__name__} ({cls.name}) does not declare {capability}: its capabilities "
            f"are {cls.capabilities}, its epoch-loop options {dict(cls.loop_options)}"
        )


@dataclass(frozen=True)
class Query:
    """One person: a known user by raw id, or a new person's ``{movie_id: rating}``.

    ``score`` and ``recommend`` take a Query wherever they take ``Queries`` (``score``
    then returns one row, 1-D).
    """

    user: Hashable | None = None
    ratings: Mapping | None = None

    def __post_init__(self):
        if (self.user is None) == (self.ratings is None):
            raise ValueError("a Query is either a known user or a new person's ratings")

    @classmethod
    def known(cls, user) -> Query:
        """A training user, by raw id."""
        return cls(user=user)

    @classmethod
    def new(cls, ratings) -> Query:
        """A new person: ``{movie_id: rating}`` or (movie_id, rating) pairs, raw ids."""
        return cls(ratings=dict(ratings))

    def queries(self) -> Queries:
        if self.user is not None:
            return Queries.known([self.user])
        return Queries.new([self.ratings])


class Queries:
    """A batch of people to score: known users, or new people each carrying their movies
    with ratings. Build one with ``known``, ``new`` or ``from_matrix``; a model reads new
    people through ``ratings_matrix`` (its own item index), known users through ``users``.
    """

    def __init__(self, users=None, people=None, matrix=None, labels=None):
        given = sum(x is not None for x in (users, people, matrix))
        if given != 1:
            raise ValueError("use Queries.known, Queries.new or Queries.from_matrix")
        self.users = None if users is None else np.asarray(users)
        self.people = None if people is None else [dict(p) for p in people]
        self.matrix = None if matrix is None else sp.csr_matrix(matrix, dtype=np.float64)
        self.labels = labels

    @classmethod
    def known(cls, user_ids) -> Queries:
        """Training users by raw id; ``score`` gives the model's own scorer's rows."""
        return cls(users=list(user_ids))

    @classmethod
    def new(cls, people: Iterable[Mapping]) -> Queries:
        """New people, each ``{movie_id: rating}`` on raw ids."""
        return cls(people=list(people))

    @classmethod
    def from_matrix(cls, R, users=None) -> Queries:
        """New people as a ratings matrix over the MODEL's item index, (n, n_items).

        Implicit 0/1 input means "liked": give values at or above the model's threshold
        (e.g. 5.0). ``users`` optionally labels the rows (kept, not used in scoring)."""
        return cls(matrix=R, labels=None if users is None else np.asarray(users))

    @property
    def is_known(self) -> bool:
        return self.users is not None

    def __len__(self) -> int:
        if self.users is not None:
            return len(self.users)
        if self.people is not None:
            return len(self.people)
        return self.matrix.shape[0]

    def ratings_matrix(self, item_map: IdMap) -> sp.csr_matrix:
        """New people's ratings over ``item_map``'s index, (n, len(item_map)), float64.

        Movies ``item_map`` does not know are dropped. Raises ValueError for known users.
        """
        n_items = len(item_map)
        if self.matrix is not None:
            if self.matrix.shape[1] != n_items:
                raise ValueError(
                    f"ratings matrix has {self.matrix.shape[1]} columns; the model has {n_items} movies"
                )
            return self.matrix
        if self.people is None:
            raise ValueError("known users carry no ratings: score them by id")
        rows, cols, vals = [], [], []
        for r, person in enumerate(self.people):
            ids = np.fromiter((int(m) for m in person), dtype=np.int64, count=len(person))
            v = np.fromiter(
                (float(x) for x in person.values()), dtype=np.float64, count=len(person)
            )
            idx = item_map.encode(ids)
            keep = idx >= 0
            rows.append(np.full(int(keep.sum()), r))
            cols.append(idx[keep])
            vals.append(v[keep])

        def cat(parts, dtype):
            return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)

        return sp.csr_matrix(
            (cat(vals, np.float64), (cat(rows, np.int64), cat(cols, np.int64))),
            shape=(len(self.people), n_items),
        )


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
    """The contract every model honours; id maps, fallback, clipping, seen items, top-N.

    A model declares ``name`` and ``capabilities`` and implements ``_fit(u, i, r, valid)``
    on contiguous indices, ``_predict_idx(u, i)`` for known pairs, ``score_items(u)`` (its
    scorer for known users) and ``_score_new(R, **fold_kw)`` (its fold-in: scores for new
    people given as a ratings matrix over its item index), such that a training user given
    as a new person with their own training ratings gets the known user's row (exactly,
    where the fold-in is the scorer itself; as the fold-in fits, for the factor models).
    """

    name: ClassVar[str] = "base"
    capabilities: ClassVar[Capabilities] = Capabilities()
    # The epoch loop's options (``LOOP_OPTIONS``) this model takes, each mapped to its own
    # keyword, e.g. {"epochs": "max_epochs", ...}; empty for a model without epochs. Read
    # through ``with_loop_options`` and ``require``, never by probing the model.
    loop_options: ClassVar[Mapping[str, str]] = MappingProxyType({})
    _valid_people = None  # (given, targets) ratings of held-out people, during fit only
    net = None  # the torch module of a model that has one (checkpoints save its state)
    history_: pd.DataFrame | None = None  # the per-epoch log (set by fit where kept)
    on_epoch = None  # a callable given each row of the per-epoch log, for models with epochs
    checkpoint_meta_: dict | None = None  # what the checkpoint it was loaded from says

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        if not isinstance(cls.__dict__.get("capabilities", cls.capabilities), Capabilities):
            raise TypeError(f"{cls.__name__}.capabilities must be a Capabilities")
        unknown = set(cls.loop_options) - set(LOOP_OPTIONS)
        if unknown:
            raise TypeError(
                f"{cls.__name__}.loop_options: {sorted(unknown)} are not epoch-loop options "
                f"{LOOP_OPTIONS}"
            )

    @classmethod
    def with_loop_options(cls, params: Mapping, **options) -> dict:
        """``params`` with the epoch loop's ``options`` (``LOOP_OPTIONS``: epochs, patience,
        seed, progress, num_threads) that this model takes, under its own keywords
        (``loop_options``); the options it does not take are left out, so a model without
        epochs gets ``params`` unchanged. What sweeps and benchmarks use to give any model
        their budget and seed without knowing its class.

        Raises:
            TypeError: an option that is not an epoch-loop option.
        """
        unknown = set(options) - set(LOOP_OPTIONS)
        if unknown:
            raise TypeError(f"not epoch-loop options: {sorted(unknown)}; known: {LOOP_OPTIONS}")
        taken = {cls.loop_options[k]: v for k, v in options.items() if k in cls.loop_options}
        return {**params, **taken}

    @classmethod
    def loop_values(cls, params: Mapping) -> dict:
        """The epoch-loop options set in ``params`` (a model's hyperparameters), by their
        ``LOOP_OPTIONS`` names: the inverse of ``with_loop_options``, e.g. the epochs
        validation chose in ``selected_params()``, whatever the model calls them."""
        return {k: params[name] for k, name in cls.loop_options.items() if name in params}

    def __init__(self, rating_scale: tuple[float, float] | None = None, **params):
        self.params = dict(params)
        self.rating_scale = tuple(rating_scale) if rating_scale else None
        self.history_: pd.DataFrame | None = None  # the per-epoch log, where a model keeps one
        self.n_fallback_ = 0

    # --- the contract -------------------------------------------------------------
    def fit(self, train: pd.DataFrame, valid: pd.DataFrame | None = None) -> Recommender:
        """Learn from a tidy ratings table; ``valid`` steers training where the model
        declares ``uses_validation`` (ranking models binarise both at their threshold)."""
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
        valid_enc, self._valid_people = None, None
        if valid is not None and len(valid):
            vu, vi, vr = self._encode(valid)
            if GIVEN_COL in valid:  # held-out people: their query and their targets
                self._valid_people = self._people_pair(valid, vu, vi, vr)
            keep = (vu >= 0) & (vi >= 0)  # cold pairs cannot guide training
            valid_enc = (vu[keep], vi[keep], vr[keep])
        try:
            self._fit(u, i, r, valid_enc)
        finally:
            self._valid_people = None
        return self

    def score(self, queries: Queries | Query, **fold_kw) -> np.ndarray:
        """Scores of every catalogue movie (item_map order), unclipped: (n, n_items), or
        (n_items,) for one ``Query``. Known users get the model's own scorer; new people
        its fold-in (``fold_kw``: see ``FOLD_IN_OPTIONS``; a model uses those it has).

        Raises:
            KeyError: a known user is not in training (give them as a new person).
            CapabilityError: new people, and the model does not declare scores_new_people.
            TypeError: a fold-in option that no model has.
        """
        unknown = set(fold_kw) - set(FOLD_IN_OPTIONS)
        if unknown:
            raise TypeError(f"unknown fold-in options {sorted(unknown)}; known: {FOLD_IN_OPTIONS}")
        single = isinstance(queries, Query)  # the query's type, never the model's
        q = queries.queries() if single else queries
        if q.is_known:
            idx = self._user_indices(q.users)
            out = self.score_items(idx)
        else:
            require(self, "scores_new_people")
            out = self._score_new(q.ratings_matrix(self.item_map), **fold_kw)
        out = np.asarray(out)
        return out[0] if single else out

    def person_parameters(self, queries: Queries | Query, **fold_kw):
        """New people's own parameters as the fold-in fits them: (biases (n,), vectors
        (n, d)), or (float, (d,)) for one ``Query``; a model whose fold-in fits none gives
        zeros and empty vectors. What ``recommend.explain`` reads for a new person."""
        single = isinstance(queries, Query)
        q = queries.queries() if single else queries
        require(self, "scores_new_people")
        b, P = self._fold_parameters(q.ratings_matrix(self.item_map), **fold_kw)
        return (float(b[0]), P[0]) if single else (b, P)

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

    def recommend(
        self,
        query,
        k: int = 10,
        *,
        exclude_given: bool = True,
        min_ratings: int = 0,
        novelty: float = 0.0,
        exclude_seen: bool | None = None,
        **fold_kw,
    ) -> pd.DataFrame:
        """Top-``k`` movies for one person: item_id, score (+ prediction, clipped, where
        the model declares predicts_ratings).

        Args:
            query: a ``Query``, or a raw user id (a known user).
            exclude_given: leave out the movies the person gave (a known user: rated in
                training; a new person: every movie in the query, whatever its rating).
            min_ratings: only movies with at least this many training ratings.
            novelty: >= 0, orders by ``novelty_ranking`` (the values shown stay the model's).
            exclude_seen: the old name of ``exclude_given``.
            **fold_kw: fold-in options for a new person (``score``).

        Raises:
            KeyError: an unknown user id (give the person as ``Query.new(ratings)``).
            ValueError: ``k`` is not positive or exceeds the eligible catalogue.
        """
        if exclude_seen is not None:
            exclude_given = exclude_seen
        q = query if isinstance(query, Query) else Query.known(query)
        scores = np.asarray(self.score(q, **fold_kw), dtype=np.float64)
        mask = np.asarray(self.item_counts_) >= min_ratings
        if exclude_given:
            if q.user is not None:
                mask[self.seen_items(int(self._user_indices([q.user])[0]))] = False
            else:
                given = self.item_map.encode(np.asarray([int(m) for m in q.ratings], np.int64))
                mask[given[given >= 0]] = False
        top = top_k_eligible(novelty_ranking(scores, self.item_counts_, novelty), k, ~mask)
        out = pd.DataFrame({ITEM_COL: self.item_map.decode(top), SCORE_COL: scores[top]})
        if self.capabilities.predicts_ratings:
            out[PREDICTION_COL] = np.clip(scores[top], *self.rating_scale)
        return out

    def build_net(self, n_users: int, n_items: int, mu: float = 0.0):
        """The model's torch module, built empty for a checkpoint to fill; None for a
        model without one (its fitted arrays are all it needs)."""
        return None

    def checkpoint_data(self) -> tuple[dict[str, np.ndarray], dict]:
        """What the model was built on besides the ratings (a movie-feature table), for a
        checkpoint: (numeric arrays for the weights file, a JSON-able dict for the
        sidecar). Nothing by default."""
        return {}, {}

    @classmethod
    def from_checkpoint_data(cls, arrays: dict, data: dict, rating_scale, params: dict):
        """An unfitted model from its parameters and what ``checkpoint_data`` saved
        (a ValueError or TypeError when they do not fit); the checkpoint then sets its
        fitted state."""
        return cls(rating_scale=rating_scale, **params)

    def embedding_tables(self) -> tuple | None:
        """(version, tables) of a model with learned vectors, else None: ``tables`` holds
        numpy ``user`` (n_users, d), ``item`` (n_items, d), ``user_bias``, ``item_bias``
        ((n,) or None) and ``mu`` (float or None); ``version`` changes when they do.
        ``embeddings.extract`` reads this."""
        return None

    def seen_items(self, user_index: int) -> np.ndarray:
        """Item indices the user rated in training."""
        return self.seen_indices_[self.seen_indptr_[user_index] : self.seen_indptr_[user_index + 1]]

    # --- for subclasses -------------------------------------------------------------
    def _adopt_fit(self, other: Recommender) -> None:
        """Take what ``fit`` set on ``other`` here (id maps, rating scale, fallback biases,
        seen movies, counts): for a model built on models fitted on the same table (the
        blends and their members)."""
        self.user_map, self.item_map = other.user_map, other.item_map
        self.rating_scale = other.rating_scale
        self.global_mean_ = other.global_mean_
        self.fallback_user_bias_ = other.fallback_user_bias_
        self.fallback_item_bias_ = other.fallback_item_bias_
        self.seen_indptr_, self.seen_indices_ = other.seen_indptr_, other.seen_indices_
        self.item_counts_ = other.item_counts_

    def score_items(self, user_indices: np.ndarray) -> np.ndarray:
        """Scores of every catalogue item for contiguous user indices: (n, n_items)."""
        raise NotImplementedError

    def _score_new(self, R: sp.csr_matrix, **fold_kw) -> np.ndarray:
        """Scores for new people given as ratings over the item index, (n, n_items)."""
        raise NotImplementedError(f"{type(self).__name__} has no fold-in for new people yet")

    def _fold_parameters(self, R: sp.csr_matrix, **fold_kw):
        """(biases, vectors) of new people; none by default."""
        return np.zeros(R.shape[0]), np.zeros((R.shape[0], 0))

    def _constant_rows(self, R: sp.csr_matrix) -> np.ndarray:
        """For models whose scores do not depend on the person: every row the same."""
        row = np.asarray(self.score_items(np.zeros(1, dtype=np.int64))[0], dtype=np.float64)
        return np.broadcast_to(row, (R.shape[0], row.size)).copy()

    def _people_pair(self, valid, vu, vi, vr):
        """(given, targets) ratings matrices of the held-out people in ``valid`` (users not
        in training), rows in order of first appearance; None when there are none."""
        new = (vu < 0) & (vi >= 0)
        if not new.any():
            return None
        users = valid[USER_COL].to_numpy()[new]
        _, first, rows = np.unique(users, return_index=True, return_inverse=True)
        rows = np.argsort(np.argsort(first))[rows]  # number people by first appearance
        given = valid[GIVEN_COL].to_numpy(dtype=bool)[new]
        shape = (len(first), len(self.item_map))

        def matrix(sel):
            return sp.csr_matrix((vr[new][sel], (rows[sel], vi[new][sel])), shape=shape)

        return matrix(given), matrix(~given)

    def _user_indices(self, users) -> np.ndarray:
        idx = self.user_map.encode(np.asarray(users))
        if (idx < 0).any():
            bad = np.asarray(users)[idx < 0][:5].tolist()
            raise KeyError(
                f"unknown user {bad[0] if len(bad) == 1 else bad}: not in the training data; "
                "give a new person as Query.new({movie_id: rating})"
            )
        return idx

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


def people_table(R, users, items, given: bool | None = None) -> pd.DataFrame:
    """A tidy ratings table (user_id, item_id, rating[, given]) from a ratings matrix whose
    rows are ``users`` and columns ``items`` (raw ids); what ``fit`` reads, e.g. a 0/1
    matrix of liked movies times 5.0, and held-out people with ``given`` True (their
    query) or False (their targets)."""
    R = sp.csr_matrix(R)
    rows = np.repeat(np.arange(R.shape[0]), np.diff(R.indptr))
    out = pd.DataFrame(
        {
            USER_COL: np.asarray(users)[rows],
            ITEM_COL: np.asarray(items)[R.indices],
            RATING_COL: R.data.astype(np.float64),
        }
    )
    if given is not None:
        out[GIVEN_COL] = bool(given)
    return out


def liked_matrix(R: sp.csr_matrix, threshold: float) -> sp.csr_matrix:
    """0/1 float32 rows of the movies rated at or above ``threshold`` ("liked")."""
    R = sp.csr_matrix(R)
    keep = R.data >= threshold
    rows = np.repeat(np.arange(R.shape[0]), np.diff(R.indptr))[keep]
    X = sp.csr_matrix(
        (np.ones(int(keep.sum()), np.float32), (rows, R.indices[keep])), shape=R.shape
    )
    X.sum_duplicates()
    X.data[:] = 1.0
    return X


def novelty_ranking(scores: np.ndarray, item_counts, novelty: float) -> np.ndarray:
    """What a list is ordered by: score - novelty * log(1 + training ratings of the movie).

    ``novelty`` 0 is the model's own order; larger values trade accuracy for less-watched
    movies (``bench personalisation`` measures the trade). A negative or non-finite value
    is a ValueError."""
    novelty = float(novelty)
    if not np.isfinite(novelty) or novelty < 0:
        raise ValueError(f"novelty must be a finite number >= 0, got {novelty}")
    if novelty == 0:
        return scores
    return scores - novelty * np.log1p(np.asarray(item_counts, dtype=np.float64))
