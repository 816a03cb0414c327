"""What an embedding model learned: vectors, cosine neighbours, 2-D maps, and comparisons.

``extract`` reads the user and movie tables (and biases, where the net has them) of any
torch model whose module exposes ``user_emb`` and ``item_emb``; rows follow the model's
contiguous indices (``model.user_map`` / ``model.item_map``). Neighbours use cosine
similarity, cos(a, b) = a.b / (|a| |b|), with zero vectors given similarity 0.
2-D coordinates by UMAP or PCA, cached on disk, are ``projection.project``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from recsys_utils.constants import ITEM_COL, TITLE_COL, USER_COL
from recsys_utils.metrics import top_k, top_k_eligible

SIMILARITY_COL = "similarity"


@dataclass(frozen=True)
class Embeddings:
    """The learned tables of one model, as numpy arrays (row ``i`` is index ``i``).

    Attributes:
        user, item: (n_users, d) and (n_items, d) embedding matrices.
        user_bias, item_bias: (n,) bias vectors, or ``None`` for nets without biases.
        user_ids, item_ids: the raw MovieLens id of each row.
        mu: the net's global offset where it has one (MF), else ``None``.
    """

    user: np.ndarray
    item: np.ndarray
    user_bias: np.ndarray | None
    item_bias: np.ndarray | None
    user_ids: np.ndarray
    item_ids: np.ndarray
    mu: float | None = None


def extract(model) -> Embeddings:
    """The embeddings and biases of a fitted model with learned vectors (MF, CollabFNet,
    ImplicitMF, the pooled ranking model: whatever its ``embedding_tables`` gives).

    Raises:
        ValueError: the model has no embedding tables (a baseline, a blend, the rules, or
            a model not fitted yet).

    The arrays are read-only and cached on the model until its tables change.
    """
    got = model.embedding_tables()
    if got is None:
        raise ValueError(
            f"{type(model).__name__} has no embedding tables: need a fitted model with "
            "learned vectors (MF, CollabFNet, ImplicitMF, the ranking model)"
        )
    version, tables = got
    cached = model.__dict__.get("_emb_cache")
    if (
        cached is not None
        and cached[0] == version
        and cached[1].item_ids.size == len(model.item_map)
    ):
        return cached[1]
    emb = Embeddings(
        **tables, user_ids=model.user_map.ids.copy(), item_ids=model.item_map.ids.copy()
    )
    for arr in (emb.user, emb.item, emb.user_bias, emb.item_bias, emb.user_ids, emb.item_ids):
        if arr is not None:
            arr.setflags(write=False)  # shared through the cache: read-only
    model._emb_cache = (version, emb)
    return emb


def normalize_rows(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length; zero rows stay zero."""
    vectors = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1.0)


def nearest(
    vectors: np.ndarray,
    query_index: int,
    k: int = 10,
    exclude=None,
    min_count: int | None = None,
    counts=None,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` rows most cosine-similar to row ``query_index`` (itself left out).

    Args:
        vectors: (n, d) matrix.
        query_index: the row to find neighbours of.
        k: how many neighbours.
        exclude: row indices never returned (besides the query).
        min_count, counts: keep only rows with ``counts[row] >= min_count``.

    Returns:
        (indices, cosine similarities), best first; ties broken by lower index.

    Raises:
        ValueError: ``k`` is not positive or exceeds the eligible rows; ``min_count``
            without ``counts``. ``IndexError``: ``query_index`` out of range.
    """
    vectors = np.asarray(vectors, dtype=np.float64)
    n = vectors.shape[0]
    if not -n <= query_index < n:
        raise IndexError(f"query_index {query_index} out of range for {n} rows")
    norms = np.linalg.norm(vectors, axis=1)
    q = vectors[query_index]
    denom = norms * norms[query_index]
    dots = np.einsum("ij,j->i", vectors, q)  # single-threaded: see recommend.score_folded
    sims = np.divide(dots, denom, out=np.zeros(n), where=denom > 0)
    mask = np.ones(n, dtype=bool)
    mask[query_index] = False
    if exclude is not None:
        mask[np.asarray(exclude, dtype=np.int64)] = False
    if min_count is not None:
        if counts is None:
            raise ValueError("min_count needs counts (one per row)")
        mask &= np.asarray(counts) >= min_count
    top = top_k_eligible(sims, k, ~mask)
    return top, sims[top]


def similar_movies(
    model, movie_id: int, k: int = 10, min_ratings: int = 0, movies: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Movies "more like this" one: for a model that only ranks (it declares no
    ``predicts_ratings``), what it would recommend to a person who liked only ``movie_id``
    (people who liked it also liked, in the model's own terms; ``similarity`` is that
    score); for the rating models, the closest embeddings by cosine.

    Args:
        min_ratings: only movies with at least this many training ratings.
        movies: a movies table; when given, a ``title`` column is added.

    Returns:
        DataFrame item_id, similarity (and title), best first.
    """
    idx = model.item_map.index(movie_id, "movie")
    if not model.capabilities.predicts_ratings:
        from recsys_utils.models.base import Query

        liked_only = Query.new({movie_id: float(model.rating_scale[1])})
        scores = np.asarray(model.score(liked_only), dtype=np.float64)
        mask = np.asarray(model.item_counts_) >= min_ratings
        mask[idx] = False
        if k > int(mask.sum()):
            raise ValueError(f"k={k} but only {int(mask.sum())} movies are eligible")
        top = top_k_eligible(scores, k, ~mask)
        out = pd.DataFrame({ITEM_COL: model.item_map.decode(top), SIMILARITY_COL: scores[top]})
        return with_titles(out, movies)
    emb = extract(model)
    top, sims = nearest(emb.item, idx, k, min_count=min_ratings or None, counts=model.item_counts_)
    out = pd.DataFrame({ITEM_COL: emb.item_ids[top], SIMILARITY_COL: sims})
    return with_titles(out, movies)


def nearest_users(model, user_id: int, k: int = 10) -> pd.DataFrame:
    """Users whose embeddings are closest (cosine) to ``user_id``'s: DataFrame user_id, similarity."""
    emb = extract(model)
    idx = model.user_map.index(user_id, "user")
    top, sims = nearest(emb.user, idx, k)
    return pd.DataFrame({USER_COL: emb.user_ids[top], SIMILARITY_COL: sims})


def with_titles(frame: pd.DataFrame, movies: pd.DataFrame | None) -> pd.DataFrame:
    """``frame`` with the movies table's title column joined on item_id (order kept)."""
    if movies is None:
        return frame
    titles = movies.set_index(ITEM_COL)[TITLE_COL]
    return frame.assign(**{TITLE_COL: frame[ITEM_COL].map(titles).to_numpy()})


def neighbour_lists(vectors: np.ndarray, rows: np.ndarray, k: int, chunk: int = 1024) -> np.ndarray:
    """(len(rows), k) cosine top-k neighbours of each of ``rows`` among all rows, self excluded."""
    unit = normalize_rows(vectors).astype(np.float32)
    out = np.empty((len(rows), k), dtype=np.int64)
    for s in range(0, len(rows), chunk):
        block = np.asarray(rows[s : s + chunk])
        sims = unit[block] @ unit.T
        itself = np.zeros(sims.shape, dtype=bool)
        itself[np.arange(len(block)), block] = True
        out[s : s + len(block)] = top_k(sims, k, itself)
    return out


def neighbour_overlap(model_a, model_b, k: int = 10, items=None) -> float:
    """Mean Jaccard overlap of two models' top-``k`` movie neighbour lists.

    Both models rank the same candidates: the movies they both know. For each query
    movie the overlap is |A & B| / |A | B|; 1 means identical neighbourhoods, and two
    unrelated random spaces score about k / n.

    Args:
        items: raw movie ids to query (default: every shared movie).
    """
    ea, eb = extract(model_a), extract(model_b)
    shared = np.intersect1d(ea.item_ids, eb.item_ids)
    if items is not None:
        items = np.asarray(items, dtype=np.int64)
        unknown = np.setdiff1d(items, shared)
        if unknown.size:
            raise KeyError(f"movies not known to both models: {unknown[:5].tolist()}")
    else:
        items = shared
    if k >= len(shared):
        raise ValueError(f"k={k} needs more than {len(shared)} shared movies")
    va = ea.item[np.searchsorted(ea.item_ids, shared)]
    vb = eb.item[np.searchsorted(eb.item_ids, shared)]
    rows = np.searchsorted(shared, items)
    la, lb = neighbour_lists(va, rows, k), neighbour_lists(vb, rows, k)
    inter = np.array([np.intersect1d(a, b).size for a, b in zip(la, lb, strict=True)])
    return float(np.mean(inter / (2 * k - inter)))


def label_agreement(vectors: np.ndarray, labels, k: int = 10, rows=None) -> tuple[float, float]:
    """How often a row's k nearest neighbours share its label, and the chance rate.

    Observed: mean over ``rows`` (default all) of the share of their top-``k`` cosine
    neighbours, among ``rows``, with the same label. Chance: the probability that
    two different random rows of ``rows`` share a label, sum_g n_g (n_g - 1) / (n (n - 1)).
    """
    labels = np.asarray(labels)
    rows = np.arange(len(labels)) if rows is None else np.asarray(rows)
    sub = labels[rows]
    near = neighbour_lists(np.asarray(vectors)[rows], np.arange(len(rows)), k)
    observed = float(np.mean(sub[near] == sub[:, None]))
    _, n_g = np.unique(sub, return_counts=True)
    chance = float(np.sum(n_g * (n_g - 1)) / (len(sub) * (len(sub) - 1)))
    return observed, chance


def linear_r2(vectors: np.ndarray, target, folds: int = 5, seed: int = 0) -> float:
    """Cross-validated R^2 of a ridge regression of ``target`` on the vectors: how much
    of, say, log popularity lies along a linear direction of the embedding space."""
    from sklearn.linear_model import RidgeCV
    from sklearn.model_selection import KFold, cross_val_score

    cv = KFold(folds, shuffle=True, random_state=seed)
    scores = cross_val_score(
        RidgeCV(alphas=np.logspace(-3, 3, 7)), vectors, target, cv=cv, scoring="r2"
    )
    return float(np.mean(scores))
