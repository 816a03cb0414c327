"""The tables behind maps of the embedding space: one row per movie or user.

``movie_frame``/``user_frame`` gather 2-D coordinates (from ``projection.project``) plus
what to colour by; ``label_titles`` picks well-known titles spread over a map;
``thin_movies`` says which movies had too few training rows to place (drawn apart). The
figures drawn from them are in ``app.map_plots``.

For a model whose movie vectors come from features (``models.hybrid``), ``feature_map``
projects every movie of the feature table, rated in training or not, together with extra
points in the same space (the vector of each genre, a movie described by hand), so they
share one map; ``trained`` in its movie table says which movies had a training positive.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from recsys_utils.constants import GENRES_COL, ITEM_COL, RATING_COL, TITLE_COL, USER_COL

COLOR_LABELS = {
    "genre": "most distinctive genre",
    "log_popularity": "log10(ratings)",
    "mean_rating": "mean rating",
    "bias": "learned bias",
    "favourite_genre": "favourite genre",
}
TOP_GENRES = 8


def distinctive_genre(genres, frequency: dict[str, int]) -> str:
    """The movie's rarest genre in the catalogue (ties: alphabetical), ``(none)`` without one.

    MovieLens lists genres alphabetically, so the first is no choice at all (Toy Story
    would be "Adventure"); the rarest of a movie's genres says most about it (Toy Story:
    "Animation", Alien: "Sci-Fi" rather than "Horror" only if Sci-Fi is the rarer).
    """
    if genres is None or len(genres) == 0:
        return "(none)"
    return min(genres, key=lambda g: (frequency.get(g, 0), g))


def _points(coords: np.ndarray, id_col: str, ids, bias, vectors: np.ndarray) -> pd.DataFrame:
    """x, y, the ids, bias (NaN for a model without one) and vector norm, one row a point."""
    return pd.DataFrame(
        {
            "x": coords[:, 0],
            "y": coords[:, 1],
            id_col: ids,
            "bias": bias if bias is not None else np.nan,
            "norm": np.linalg.norm(vectors, axis=1),
        }
    )


def movie_frame(
    model, coords: np.ndarray, movies: pd.DataFrame, ratings: pd.DataFrame
) -> pd.DataFrame:
    """One row per movie the model knows: x, y, item_id, title, genre, n_ratings,
    log_popularity, mean_rating, bias (NaN without one) and norm of its embedding.

    ``genre`` is the movie's most distinctive genre (``distinctive_genre``: the rarest of
    its genres among the model's movies); the ``TOP_GENRES`` most common such labels are
    kept and the rest become "other"."""
    from recsys_utils.embeddings.vectors import extract

    emb = extract(model)
    return _movie_rows(coords, emb.item_ids, emb.item_bias, emb.item, movies, ratings)


def _movie_rows(coords, item_ids, bias, vectors, movies, ratings) -> pd.DataFrame:
    stats = ratings.groupby(ITEM_COL)[RATING_COL].agg(n_ratings="size", mean_rating="mean")
    frame = _points(coords, ITEM_COL, item_ids, bias, vectors)
    frame = frame.join(stats, on=ITEM_COL).merge(
        movies[[ITEM_COL, TITLE_COL, GENRES_COL]], on=ITEM_COL, how="left"
    )
    frame["n_ratings"] = frame["n_ratings"].fillna(0).astype(int)
    frame["log_popularity"] = np.log10(frame["n_ratings"].clip(lower=1))
    lists = frame[GENRES_COL].map(lambda g: list(g) if isinstance(g, (list, np.ndarray)) else [])
    frequency = lists.explode().value_counts().to_dict()
    label = lists.map(lambda g: distinctive_genre(g, frequency))
    keep = set(label.value_counts().index[:TOP_GENRES]) - {"(none)"}
    frame["genre"] = label.where(label.isin(keep) | (label == "(none)"), "other")
    return frame.drop(columns=GENRES_COL)


def user_frame(
    model, coords: np.ndarray, movies: pd.DataFrame, ratings: pd.DataFrame
) -> pd.DataFrame:
    """One row per user: x, y, user_id, n_ratings, log_popularity (of their activity),
    mean_rating, bias and favourite_genre (the genre of most of their ratings >= 4)."""
    from recsys_utils.embeddings.vectors import extract

    emb = extract(model)
    stats = ratings.groupby(USER_COL)[RATING_COL].agg(n_ratings="size", mean_rating="mean")
    liked = ratings[ratings[RATING_COL] >= 4].merge(movies[[ITEM_COL, GENRES_COL]], on=ITEM_COL)
    liked = liked.explode(GENRES_COL).dropna(subset=[GENRES_COL])
    fav = liked.groupby(USER_COL)[GENRES_COL].agg(lambda g: g.value_counts().index[0])
    frame = _points(coords, USER_COL, emb.user_ids, emb.user_bias, emb.user)
    frame = frame.join(stats, on=USER_COL).join(fav.rename("favourite_genre"), on=USER_COL)
    frame["log_popularity"] = np.log10(frame["n_ratings"].fillna(1).clip(lower=1))
    frame["favourite_genre"] = frame["favourite_genre"].fillna("(none)")
    return frame


def label_titles(
    frame: pd.DataFrame, n: int = 12, min_gap: float = 0.08, pool: int = 300
) -> list[str]:
    """Up to ``n`` well-known titles to label, spread over the map.

    Walks the ``pool`` most-rated movies, most-rated first, keeping a title only when it
    lies at least ``min_gap`` (a fraction of the map's diagonal) from those kept, so the
    labels do not pile up where the popular movies crowd together.
    """
    data = frame.dropna(subset=["x", "y"])
    data = data.sort_values(["n_ratings", TITLE_COL], ascending=[False, True], kind="stable")
    xy = data[["x", "y"]].to_numpy(dtype=float)
    gap = min_gap * float(np.linalg.norm(xy.max(0) - xy.min(0))) if len(xy) else 0.0
    kept: list[int] = []
    for j in range(min(pool, len(data))):
        if len(kept) == n:
            break
        if all(np.linalg.norm(xy[j] - xy[i]) >= gap for i in kept):
            kept.append(j)
    return data[TITLE_COL].astype(str).iloc[kept].tolist()


def thin_movies(model, frame: pd.DataFrame, min_training: int = 2) -> np.ndarray:
    """Which of the map's movies had fewer than ``min_training`` training rows: the mask a
    map's ``untrained=`` takes (``app.map_plots``) to draw them apart.

    The rows are what the model was fitted on (``model.item_counts_``): ratings for a rating
    model, positives for a ranking model fitted on liked movies only. A movie the model does
    not know had none. With one or two examples a vector barely left its random start, so
    where it lands says nothing about taste.

    Args:
        model: a fitted model with ``item_map`` and ``item_counts_``.
        frame: the map's table, one row per movie (``movie_frame``), with the movie id column.
        min_training: fewer training rows than this is thin.

    Returns:
        A boolean array, one per row of ``frame``.
    """
    idx = model.item_map.encode(frame[ITEM_COL].to_numpy())
    counts = np.asarray(model.item_counts_)
    known = idx >= 0
    n = np.zeros(len(idx), dtype=counts.dtype)
    n[known] = counts[idx[known]]
    return n < min_training


@dataclass
class FeatureMap:
    """``feature_map``'s answer: the movies' table and the extra points, on one map.

    Attributes:
        movies: one row per movie, as ``movie_frame``'s, plus ``trained`` (the movie had a
            positive in the model's training ratings) and ``vector_from`` (the model's
            ``vector_from``: ``"ratings+features"``, ``"features only"``...).
        points: one row per extra point: x, y, label, group (the key it came in under).
    """

    movies: pd.DataFrame
    points: pd.DataFrame


def feature_map(
    model,
    movies: pd.DataFrame,
    ratings: pd.DataFrame,
    extra: dict[str, tuple[list[str], np.ndarray]] | None = None,
    *,
    method: str = "umap",
    seed: int = 42,
    **params,
) -> FeatureMap:
    """Every movie of a feature model's table and ``extra`` points projected together.

    Args:
        model: a fitted model that declares ``places_new_movies`` (``HybridPooled``:
            ``features``, ``item_map``, ``liked()``, ``movie_vectors``, ``vector_from``).
        movies: the movies table (titles and genres for the rows).
        ratings: the model's training ratings (counts and mean ratings for the rows).
        extra: group name -> (labels, vectors) drawn in the same space, e.g. each genre's
            learned vector or a movie typed in by hand.
        method, seed, params: as in ``embeddings.project``.

    Returns:
        A ``FeatureMap``. A movie with no training positive has a vector all the same
        (from its features, plus its id vector where it had ratings), and is marked
        ``trained = False`` so a map can draw it apart.
    """
    from recsys_utils.embeddings.projection import project
    from recsys_utils.models import require

    require(model, "places_new_movies")
    ids = np.asarray(model.features.item_ids)
    vectors, bias = model.movie_vectors(ids)
    groups = list((extra or {}).items())
    stacked = np.vstack([vectors, *[np.asarray(v, np.float32) for _, (_, v) in groups]])
    coords = project(stacked, method, seed=seed, **params)
    frame = _movie_rows(coords[: len(ids)], ids, bias, vectors, movies, ratings)
    liked = np.asarray(model.liked().sum(0)).ravel() > 0
    idx = model.item_map.encode(ids)
    frame["trained"] = (idx >= 0) & liked[np.maximum(idx, 0)]
    frame["vector_from"] = model.vector_from(ids)
    rows, start = [], len(ids)
    for group, (labels, _) in groups:
        xy = coords[start : start + len(labels)]
        rows.append(pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1], "label": list(labels),
                                  "group": group}))  # fmt: skip
        start += len(labels)
    points = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(
        columns=["x", "y", "label", "group"])  # fmt: skip
    return FeatureMap(frame, points)


def place_near(
    coords: np.ndarray, vectors: np.ndarray, new_vectors: np.ndarray, k: int = 10
) -> tuple[np.ndarray, np.ndarray]:
    """Where new vectors land on an existing map: each at the mean position of its ``k``
    nearest mapped vectors (cosine), so a point added later needs no new projection.

    Args:
        coords: (n, 2) map positions of ``vectors``' rows (NaN rows are skipped).
        vectors: (n, d) the mapped vectors.
        new_vectors: (m, d) the vectors to place.
        k: neighbours averaged.

    Returns:
        ((m, 2) positions, (m, k) row indices of the neighbours used, nearest first).
    """
    from recsys_utils.embeddings.vectors import normalize_rows

    coords = np.asarray(coords, dtype=np.float64)
    mapped = np.flatnonzero(np.isfinite(coords).all(axis=1))
    if mapped.size == 0:
        raise ValueError("no row of the map has a position")
    k = min(k, mapped.size)
    sims = normalize_rows(np.atleast_2d(new_vectors)) @ normalize_rows(vectors[mapped]).T
    top = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    near = mapped[top]
    return coords[near].mean(axis=1), near
