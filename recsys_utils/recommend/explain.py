"""Why a user gets a movie: the prediction split into its parts, and the movies they
liked that sit closest to it in the embedding space.

Works for known users (by raw id) and for new ones folded in with ``recommend.fold_in``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys_utils.constants import ITEM_COL, RATING_COL, TITLE_COL, USER_COL
from recsys_utils.embeddings.vectors import extract, normalize_rows, with_titles
from recsys_utils.models import Queries
from recsys_utils.recommend.foldin import FoldedUser, score_folded


def _rated_by(model, user, ratings: pd.DataFrame | None):
    """(item indices, ratings or NaN) of a known user id, or of a FoldedUser."""
    if isinstance(user, FoldedUser):
        return user.item_indices, user.ratings
    u = int(model.user_map.encode([user])[0])
    if u < 0:
        raise KeyError(f"unknown user {user}: not in the training data; fold them in first")
    if ratings is None:
        seen = model.seen_items(u)
        return seen, np.full(len(seen), np.nan)
    mine = ratings[ratings[USER_COL] == user]
    idx = model.item_map.encode(mine[ITEM_COL].to_numpy())
    keep = idx >= 0
    return idx[keep], mine[RATING_COL].to_numpy(dtype=np.float64)[keep]


def explain(
    model,
    user,
    movie_id: int,
    movies: pd.DataFrame | None = None,
    ratings: pd.DataFrame | None = None,
    k: int = 5,
) -> dict:
    """Why ``user`` gets ``movie_id``: the prediction's parts and the closest movies they liked.

    Args:
        user: a known raw user id, or a ``FoldedUser``.
        movies: adds titles to the neighbours.
        ratings: the training ratings (needed to know a known user's rating values;
            without it the neighbours come from the movies they rated, ratings NaN).
        k: how many neighbours to list.

    Returns:
        dict with ``prediction`` (clipped), ``parts`` (mu, user_bias, item_bias,
        interaction: what the embeddings add; they sum to the unclipped score) and
        ``neighbours``: a DataFrame item_id, rating, similarity (and title) of the
        movies the user rated at or above their own mean (``movie_id`` itself left
        out), most similar to ``movie_id`` first.
    """
    emb = extract(model)
    i = model.item_map.index(movie_id, "movie")
    if isinstance(user, FoldedUser):
        score, b_u = float(score_folded(model, user, [i])[0]), user.bias
    else:
        u = model.user_map.index(user, "user")
        score = float(model._predict_idx(np.array([u]), np.array([i]))[0])
        b_u = float(emb.user_bias[u]) if emb.user_bias is not None else 0.0
    mu = emb.mu if emb.mu is not None else float(model.global_mean_)
    b_i = float(emb.item_bias[i]) if emb.item_bias is not None else 0.0
    parts = {"mu": mu, "user_bias": b_u, "item_bias": b_i, "interaction": score - mu - b_u - b_i}
    seen, values = _rated_by(model, user, ratings)
    keep = seen != i  # the movie itself, if they rated it, explains nothing
    if not np.isnan(values).all():
        keep &= values >= np.nanmean(values)
    liked, liked_values = seen[keep], values[keep]
    unit = normalize_rows(emb.item)
    sims = unit[liked] @ unit[i]
    order = np.lexsort((liked, -sims))[:k]
    neighbours = pd.DataFrame(
        {
            ITEM_COL: emb.item_ids[liked[order]],
            RATING_COL: liked_values[order],
            "similarity": sims[order],
        }
    )
    title = None
    if movies is not None:
        neighbours = with_titles(neighbours, movies)
        match = movies.loc[movies[ITEM_COL] == movie_id, TITLE_COL]
        title = str(match.iloc[0]) if len(match) else None
    return {
        "item_id": int(movie_id),
        "title": title,
        "prediction": float(np.clip(score, *model.rating_scale)),
        "parts": parts,
        "neighbours": neighbours,
    }


def liked_contributions(model, liked: np.ndarray, items: np.ndarray) -> np.ndarray:
    """How much each liked movie adds to each item's score, in a ranking model's own terms.

    For a model that ranks from the movies a person liked: contribution(h, j) =
    score_j(H) - score_j(H without h), leave one out. For EASE, score_j(H) = sum_h B_hj,
    so this is B_hj exactly; for the pooled-embedding model it is the share of the score
    that movie h's vector brings (exact up to the pooling's normalisation).

    Args:
        liked: item indices of the movies the person liked.
        items: item indices to explain.

    Returns:
        (len(liked), len(items)) contributions.
    """
    liked = np.asarray(liked, dtype=np.int64)
    items = np.asarray(items, dtype=np.int64)
    # row 0: all liked movies; row 1 + h: all but h (a person scored by the model's fold-in)
    n, top = len(liked), float(model.rating_scale[1])
    rows = np.concatenate([np.zeros(n, np.int64), np.repeat(np.arange(1, n + 1), n - 1)])
    cols = np.concatenate([liked, *(np.delete(liked, h) for h in range(n))])
    R = sp.csr_matrix((np.full(cols.size, top), (rows, cols)), shape=(n + 1, len(model.item_map)))
    scores = np.asarray(model.score(Queries.from_matrix(R)), dtype=np.float64)[:, items]
    without = np.where(np.diff(R.indptr)[1:, None] > 0, scores[1:], 0.0)
    return scores[0][None, :] - without


def because_you_liked(
    model, liked, items, titles=None, top: int = 2, min_share: float = 0.1
) -> list[str]:
    """ "Because you liked X (55%) and Y (30%)", one phrase per item to explain.

    The liked movies contributing most to each item's score, with their share of the
    positive contributions (``liked_contributions``); those under ``min_share`` are left
    out. ``titles`` maps raw movie ids to titles (default: the ids).
    """
    liked = np.asarray(liked, dtype=np.int64)
    contrib = liked_contributions(model, liked, items)
    phrases = []
    for col in range(contrib.shape[1]):
        positive = np.clip(contrib[:, col], 0, None)
        total = positive.sum()
        if total <= 0:
            phrases.append("")
            continue
        share = positive / total
        order = [h for h in np.argsort(-share, kind="stable")[:top] if share[h] >= min_share]
        ids = model.item_map.decode(liked[order])
        names = [str(titles.get(i, i)) if titles is not None else str(i) for i in ids]
        parts = [f"{name} ({share[h]:.0%})" for name, h in zip(names, order, strict=True)]
        phrases.append(" and ".join(parts))
    return phrases
