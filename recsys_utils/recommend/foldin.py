"""Recommendations for people the model has never seen: their ratings, top-N, and why.

A new person arrives with a few (movie, rating) pairs. This module is about the person:
it parses and checks their ratings, asks the model for its scores of them
(``model.score(Query.new(ratings))``, the model's own fold-in: closed form for MF and
ImplicitMF, gradient steps for CollabFNet, the bias for BiasOnly, nothing to fit for the
constant baselines, the pooling of the liked movies for the ranking models; see each
model and ``models._foldin``) and its top-N (``model.recommend``), and keeps what the
explanations read (``FoldedUser``). No retraining happens. The fold-in settings (``reg``,
``bias_reg``, ``prior``, ``steps``, ``lr``) pass through to the model, which uses those its
fold-in has. ``explain`` says why a movie comes up; ``evaluation.foldin_curve`` measures
how the result improves with the number of ratings a held-out person gives.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from recsys_utils.constants import ITEM_COL, PREDICTION_COL, RATING_COL, SCORE_COL
from recsys_utils.embeddings.vectors import with_titles
from recsys_utils.models import (
    FOLD_IN_BIAS_REG,
    FOLD_IN_REG,
    FOLD_IN_REG_GRID,
    CapabilityError,
    Query,
    novelty_ranking,
)

__all__ = ["FOLD_IN_BIAS_REG", "FOLD_IN_REG", "FOLD_IN_REG_GRID", "novelty_ranking"]

FoldInError = CapabilityError  # the model's class declares no fold-in for new people
LIKED_THRESHOLD = 4.0  # "liked" for a model that declares no threshold of its own


@dataclass(frozen=True)
class FoldedUser:
    """A new person as the model sees them.

    Attributes:
        vector: their fitted embedding p (empty where the fold-in fits none).
        bias: their fitted bias b (0.0 where the fold-in fits none).
        item_ids: the raw ids of the movies rated, in input order.
        item_indices: the same as the model's contiguous indices.
        ratings: the ratings given, aligned with ``item_ids``.
        scores: the model's scores of every movie for them (unclipped).
        options: the fold-in settings they were fitted with.
    """

    vector: np.ndarray
    bias: float
    item_ids: np.ndarray
    item_indices: np.ndarray
    ratings: np.ndarray
    scores: np.ndarray = field(repr=False)
    options: dict = field(default_factory=dict)

    def query(self) -> Query:
        return Query.new(zip(self.item_ids.tolist(), self.ratings.tolist(), strict=True))


def parse_ratings(ratings) -> tuple[np.ndarray, np.ndarray]:
    """(movie ids, ratings) from a dict, a list of pairs, or a table with item_id/rating.

    Raises:
        ValueError: no ratings, a non-numeric or non-finite value, a movie rated twice.
    """
    if isinstance(ratings, pd.DataFrame):
        pairs = list(zip(ratings[ITEM_COL], ratings[RATING_COL], strict=True))
    elif isinstance(ratings, dict):
        pairs = list(ratings.items())
    else:
        pairs = list(ratings)
    if not pairs:
        raise ValueError("need at least one (movie id, rating) pair to fold in a new user")
    try:
        raw_ids = np.array([float(m) for m, _ in pairs], dtype=np.float64)
        values = np.array([float(r) for _, r in pairs], dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"ratings must be (integer movie id, number) pairs: {err}") from None
    if not (np.isfinite(raw_ids) & (raw_ids == np.round(raw_ids))).all():
        raise ValueError(f"movie ids must be whole numbers, got {[m for m, _ in pairs][:5]}")
    if (np.abs(raw_ids) >= 2.0**63).any():  # past int64: no movie's id (the cast would wrap)
        raise ValueError(
            f"unknown movie ids {[m for m, _ in pairs if abs(float(m)) >= 2.0**63][:5]}: "
            "not in the model's training data"
        )
    ids = raw_ids.astype(np.int64)
    if not np.isfinite(values).all():
        raise ValueError(f"rating for movie {ids[~np.isfinite(values)][0]} is not a finite number")
    uniq, counts = np.unique(ids, return_counts=True)
    if (counts > 1).any():
        raise ValueError(f"movie {uniq[counts > 1][0]} is rated more than once")
    return ids, values


def _check(model, ids: np.ndarray, values: np.ndarray) -> np.ndarray:
    lo, hi = model.rating_scale
    off = (values < lo) | (values > hi)
    if off.any():
        j = int(np.flatnonzero(off)[0])
        raise ValueError(
            f"rating {values[j]:g} for movie {ids[j]} is off the model's scale [{lo:g}, {hi:g}]"
        )
    idx = model.item_map.encode(ids)
    if (idx < 0).any():
        unknown = ids[idx < 0].tolist()
        raise KeyError(
            f"unknown movie ids {unknown[:10]}{' ...' if len(unknown) > 10 else ''}: "
            "not in the model's training data"
        )
    return idx


def liked_threshold(model) -> float:
    """The rating from which a person's movie counts as liked, for this model."""
    return float(model.params.get("threshold", LIKED_THRESHOLD))


def liked_indices(model, user: FoldedUser) -> np.ndarray:
    """The movies of ``user`` the model counts as liked: rated >= its threshold."""
    return user.item_indices[user.ratings >= liked_threshold(model)]


def fold_in(
    model,
    ratings,
    reg: float = FOLD_IN_REG,
    bias_reg: float | None = None,
    prior: str = "ridge",
    steps: int = 150,
    lr: float = 0.05,
) -> FoldedUser:
    """A new person from their ratings, scored by the model's own fold-in; the model is
    not changed.

    Args:
        model: any fitted model whose class declares ``scores_new_people``.
        ratings: ``{movie_id: rating}``, a list of ``(movie_id, rating)`` pairs, or a
            table with item_id and rating columns.
        reg: weight of the pull of the vector towards the average training user.
        bias_reg: the same for the bias (default ``FOLD_IN_BIAS_REG``; for BiasOnly its
            own ``reg_user``, as in training); see ``FOLD_IN_REG`` for how both were chosen.
        prior: ``"ridge"`` or ``"gaussian"`` (see ``models._foldin``).
        steps, lr: gradient steps and learning rate for nets without a closed form.

    Raises:
        FoldInError: the model's class declares no fold-in for new people.
        ValueError: empty list, non-numeric, duplicated or off-scale ratings.
        KeyError: movie ids the model does not know (the message lists them).
    """
    ids, values = parse_ratings(ratings)
    idx = _check(model, ids, values)
    options = {"reg": reg, "bias_reg": bias_reg, "prior": prior, "steps": steps, "lr": lr}
    query = Query.new(zip(ids.tolist(), values.tolist(), strict=True))
    bias, vector = model.person_parameters(query, **options)
    scores = np.asarray(model.score(query, **options), dtype=np.float64)
    return FoldedUser(vector, bias, ids, idx, values, scores, options)


def _require_liked(model, user: FoldedUser) -> None:
    ranks_only = not model.capabilities.predicts_ratings
    if ranks_only and "threshold" in model.params and not liked_indices(model, user).size:
        raise ValueError(
            f"none of these movies is rated {liked_threshold(model):g} stars or more: the "
            "ranking model learns from the movies you liked, so rate one you liked"
        )


def score_folded(model, user: FoldedUser, item_indices=None) -> np.ndarray:
    """Unclipped scores of a folded person for item indices (default: all): the row the
    model's ``score`` gave for them."""
    _require_liked(model, user)
    sel = slice(None) if item_indices is None else np.asarray(item_indices, dtype=np.int64)
    return user.scores[sel]


def recommend_folded(
    model,
    user: FoldedUser,
    k: int = 10,
    min_ratings: int = 0,
    movies: pd.DataFrame | None = None,
    novelty: float = 0.0,
) -> pd.DataFrame:
    """Top-``k`` movies a folded person has not given (``model.recommend``): item_id,
    prediction (a rating model's clipped rating) or score (a ranking model's, unclipped)
    [, title]. Every movie they gave is left out, whatever its rating. ``novelty`` > 0
    orders by ``novelty_ranking`` (the values shown stay the model's own)."""
    _require_liked(model, user)
    out = model.recommend(user.query(), k, min_ratings=min_ratings, novelty=novelty, **user.options)
    keep = [ITEM_COL, PREDICTION_COL if PREDICTION_COL in out else SCORE_COL]
    return with_titles(out[keep], movies)


def recommend_new_user(
    model,
    ratings,
    k: int = 10,
    min_ratings: int = 0,
    movies: pd.DataFrame | None = None,
    novelty: float = 0.0,
    **fold_kw,
) -> pd.DataFrame:
    """A new person's top-``k`` unseen movies from their ratings.

    Args:
        ratings: as for ``fold_in``, or an already ``FoldedUser``.
        min_ratings: only movies with at least this many training ratings.
        movies: a movies table; when given, a ``title`` column is added.
        novelty: >= 0; orders by ``novelty_ranking`` (0: the model's own order).
        **fold_kw: ``reg``, ``bias_reg``, ``prior``, ``steps``, ``lr`` for ``fold_in``.

    Raises:
        ValueError: bad ratings (see ``fold_in``) or ``k`` beyond the eligible catalogue.
        KeyError: unknown movie ids.
    """
    user = ratings if isinstance(ratings, FoldedUser) else fold_in(model, ratings, **fold_kw)
    return recommend_folded(model, user, k, min_ratings, movies, novelty)
