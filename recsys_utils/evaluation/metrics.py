"""Rating and ranking metrics.

Rating error: RMSE and MAE on predicted ratings.

Ranking (the one rule behind every ranking figure of the project):
- candidates: the whole catalogue minus everything the model saw or the user gave
  outside the scored part: the user's training movies (``model.seen_items``) and the
  pairs of every table passed as ``exclude`` (the validation split when the test split
  is scored; the test split is never excluded from itself). A movie the user rated in a
  part that is not scored can neither count as relevant nor take a slot as a sure miss;
- relevant: the scored part's ratings at or above ``relevance_threshold``, by default
  ``constants.RELEVANCE_THRESHOLD`` (4.0 stars); ``None`` counts every rating (then say so
  next to the figure). Users with no relevant scored item are left out of the averages.

For one user with relevant set R and top-k list L (hits h_j = 1 if L_j in R):
    precision@k = sum h / k            recall@k = sum h / |R|
    hit_rate@k  = 1 if any h           DCG@k = sum_j h_j / log2(j + 1), j = 1..k
    NDCG@k      = DCG@k / IDCG@k, IDCG@k the DCG of min(|R|, k) hits at the top
    AP@k        = sum_j h_j * precision@j / min(|R|, k)
Coverage@k is the share of catalogue items appearing in any user's top-k.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from recsys_utils.constants import ITEM_COL, RATING_COL, RELEVANCE_THRESHOLD, USER_COL


def rmse(y_true, y_pred) -> float:
    """Root mean squared error."""
    y_true, y_pred = np.asarray(y_true, dtype=np.float64), np.asarray(y_pred, dtype=np.float64)
    if y_true.shape != y_pred.shape or y_true.size == 0:
        raise ValueError(f"need two equal, non-empty arrays, got {y_true.shape} and {y_pred.shape}")
    return float(np.sqrt(np.mean((y_true - y_pred) ** 2)))


def mae(y_true, y_pred) -> float:
    """Mean absolute error."""
    y_true, y_pred = np.asarray(y_true, dtype=np.float64), np.asarray(y_pred, dtype=np.float64)
    if y_true.shape != y_pred.shape or y_true.size == 0:
        raise ValueError(f"need two equal, non-empty arrays, got {y_true.shape} and {y_pred.shape}")
    return float(np.mean(np.abs(y_true - y_pred)))


def rating_metrics(model, test: pd.DataFrame) -> dict:
    """RMSE, MAE and how many test ratings used the unknown-id fallback."""
    pred = model.predict(test[USER_COL].to_numpy(), test[ITEM_COL].to_numpy())
    truth = test[RATING_COL].to_numpy()
    return {
        "rmse": rmse(truth, pred),
        "mae": mae(truth, pred),
        "n_fallback": int(model.n_fallback_),
    }


def ranking_from_topk(topk: np.ndarray, relevant: list[np.ndarray], n_items: int) -> dict:
    """Ranking metrics from top-k lists and relevant sets, both in item indices.

    Args:
        topk: (n_users, k) item indices, best first.
        relevant: one array of relevant item indices per row of ``topk``.
        n_items: catalogue size, for coverage.

    Returns:
        dict with precision, recall, ndcg, map, hit_rate (means over users with at
        least one relevant item), coverage, and n_users (how many were averaged).
    """
    topk = np.asarray(topk)
    n, k = topk.shape
    if len(relevant) != n:
        raise ValueError(f"{n} top-k rows but {len(relevant)} relevant sets")
    sizes = np.array([len(r) for r in relevant])
    hits = np.zeros((n, k), dtype=bool)
    for row, rel in enumerate(relevant):
        if len(rel):
            hits[row] = np.isin(topk[row], rel)
    keep = sizes > 0
    hits, sizes = hits[keep], sizes[keep]
    if hits.shape[0] == 0:
        raise ValueError("no user has a relevant item to rank")
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = (hits * discounts).sum(1)
    ideal_n = np.minimum(sizes, k)
    idcg = np.cumsum(discounts)[ideal_n - 1]
    prec_at_j = np.cumsum(hits, 1) / np.arange(1, k + 1)
    n_hits = hits.sum(1)
    return {
        "precision": float(np.mean(n_hits / k)),
        "recall": float(np.mean(n_hits / sizes)),
        "ndcg": float(np.mean(dcg / idcg)),
        "map": float(np.mean((prec_at_j * hits).sum(1) / ideal_n)),
        "hit_rate": float(np.mean(n_hits > 0)),
        "coverage": float(np.unique(topk).size / n_items),
        "n_users": int(hits.shape[0]),
    }


def excluded_pairs(model, exclude=None) -> tuple[np.ndarray, np.ndarray]:
    """CSR (indptr, item indices) per model user index of the pairs in ``exclude``.

    ``exclude``: a ratings table, a list of them, or ``None``; pairs with a user or
    movie the model does not know are dropped (they cannot be ranked anyway).
    """
    n_users = len(model.user_map)
    tables = [] if exclude is None else [exclude] if isinstance(exclude, pd.DataFrame) else exclude
    us, its = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    for t in tables:
        u = model.user_map.encode(t[USER_COL].to_numpy())
        i = model.item_map.encode(t[ITEM_COL].to_numpy())
        keep = (u >= 0) & (i >= 0)
        us.append(u[keep].astype(np.int64))
        its.append(i[keep].astype(np.int64))
    u, i = np.concatenate(us), np.concatenate(its)
    order = np.argsort(u, kind="stable")
    indptr = np.concatenate([[0], np.cumsum(np.bincount(u, minlength=n_users))])
    return indptr, i[order]


def candidate_mask(model, user_index: int, extra=None) -> np.ndarray:
    """True for the movies ``user_index`` may be recommended under the rule above: not in
    training (``model.seen_items``) nor among ``extra`` (an ``excluded_pairs`` CSR)."""
    mask = np.ones(len(model.item_map), dtype=bool)
    mask[model.seen_items(user_index)] = False
    if extra is not None:
        indptr, items = extra
        mask[items[indptr[user_index] : indptr[user_index + 1]]] = False
    return mask


def ranking_metrics(
    model,
    train: pd.DataFrame | None,
    test: pd.DataFrame,
    k: int = 10,
    relevance_threshold: float | None = RELEVANCE_THRESHOLD,
    chunk: int = 512,
    exclude=None,
) -> dict:
    """Top-k ranking metrics of a fitted model over the whole catalogue (rule: module doc).

    Each test user known to the model gets the model's top ``k`` items among the
    candidates: not rated in training (``model.seen_items``; ``train``, if given, must be
    the table the model was fitted on and is excluded too) and not in ``exclude``.

    Args:
        relevance_threshold: test ratings at or above it are relevant (default
            ``RELEVANCE_THRESHOLD``, 4.0); ``None``: every test rating.
        exclude: a ratings table or a list of them whose (user, movie) pairs are no
            candidates: pass the validation split when scoring the test split of a
            model fitted on the training split.

    Raises:
        ValueError: ``k`` beyond the catalogue, or a scored pair also in ``exclude``.

    Returns:
        dict of ``ranking_from_topk`` figures.
    """
    tables = [] if exclude is None else [exclude] if isinstance(exclude, pd.DataFrame) else exclude
    tables = [*tables, *([] if train is None else [train])]
    extra = excluded_pairs(model, tables) if tables else None
    if relevance_threshold is not None:
        test = test[test[RATING_COL] >= relevance_threshold]
    u = model.user_map.encode(test[USER_COL].to_numpy())
    i = model.item_map.encode(test[ITEM_COL].to_numpy())
    known = (u >= 0) & (i >= 0)
    u, i = u[known], i[known]
    if exclude is not None and len(u):
        ex_ptr, ex_items = excluded_pairs(model, exclude)
        ex_users = np.repeat(np.arange(len(ex_ptr) - 1), np.diff(ex_ptr))
        n_items = len(model.item_map)
        clash = np.isin(u.astype(np.int64) * n_items + i, ex_users * n_items + ex_items)
        if clash.any():
            raise ValueError(
                f"{int(clash.sum())} scored (user, movie) pairs are also in exclude: the "
                "scored part must not be excluded from its own candidates"
            )
    users = np.unique(u)
    order = np.argsort(u, kind="stable")
    bounds = (
        np.searchsorted(u[order], users, side="left"),
        np.searchsorted(u[order], users, "right"),
    )
    relevant = [i[order][a:b] for a, b in zip(*bounds, strict=True)]
    n_items = len(model.item_map)
    if k > n_items:
        raise ValueError(f"k={k} exceeds the catalogue of {n_items} movies")
    tops = []
    for s in range(0, len(users), chunk):
        block = users[s : s + chunk]
        scores = np.array(model.score_items(block), dtype=np.float64)
        for row, user in enumerate(block):
            scores[row, ~candidate_mask(model, user, extra)] = -np.inf
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        top_scores = np.take_along_axis(scores, top, 1)
        tops.append(np.take_along_axis(top, np.argsort(-top_scores, 1, kind="stable"), 1))
    topk = np.concatenate(tops) if tops else np.zeros((0, k), dtype=np.int64)
    return ranking_from_topk(topk, relevant, n_items)


def novelty(topk: np.ndarray, item_counts: np.ndarray, n_users: int | None = None) -> dict:
    """How unfamiliar the recommended movies are, from their training rating counts.

    Over every slot of every top-k list, with c_i the training ratings of item i:
        mean_log_popularity = mean ln(1 + c_i)         (lower = less mainstream)
        self_information    = mean -log2(max(c_i, 1) / N)   bits; higher = more novel
    where N is ``n_users`` (p_i = share of users who rated i) or, if not given, the
    total number of ratings, sum c.

    Args:
        topk: (n_users, k) item indices.
        item_counts: training ratings per item index.
        n_users: the population for p_i.
    """
    topk = np.asarray(topk, dtype=np.int64)
    counts = np.asarray(item_counts, dtype=np.float64)
    if topk.size == 0:
        raise ValueError("no recommendations to measure")
    total = float(n_users) if n_users is not None else float(counts.sum())
    c = counts[topk]
    return {
        "mean_log_popularity": float(np.mean(np.log1p(c))),
        "self_information": float(np.mean(-np.log2(np.maximum(c, 1.0) / total))),
    }
