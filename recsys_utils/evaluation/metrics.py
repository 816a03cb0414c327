"""Rating and ranking metrics of a fitted model on a ratings table (the formulas, the
top-k selection and RMSE/MAE are ``recsys_utils.metrics``; this module applies them).

Rating error: RMSE and MAE on predicted ratings (``rating_metrics``).

Ranking (the one rule behind every ranking figure of the project):
- candidates: the whole catalogue minus everything the model saw or the user gave
  outside the scored part: the user's training movies (``model.seen_items``) and the
  pairs of every table passed as ``exclude`` (the validation split when the test split
  is scored; the test split is never excluded from itself). A movie the user rated in a
  part that is not scored can neither count as relevant nor take a slot as a sure miss;
- relevant: the scored part's ratings at or above ``relevance_threshold``, by default
  ``constants.RELEVANCE_THRESHOLD`` (4.0 stars); ``None`` counts every rating (then say so
  next to the figure). Users with no relevant scored item are left out of the averages.

The figures (``ranking_metrics``' keys, the formulas in ``metrics.ranking``): precision
(``precision@k``), recall (``recall_full@k``: hits / |R|, not the min(k, |R|) of the
ranking protocol's ``recall@k``), ndcg, map, hit_rate (``hr@k``) and coverage.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from recsys_utils.constants import ITEM_COL, RATING_COL, RELEVANCE_THRESHOLD, USER_COL
from recsys_utils.metrics.ranking import per_user_from_top, report_from_top, top_k
from recsys_utils.metrics.rating import mae, rmse

# ranking_metrics' keys and the metric each one is
_FIGURES = {
    "precision": "precision",
    "recall": "recall_full",
    "ndcg": "ndcg",
    "map": "map",
    "hit_rate": "hr",
    "coverage": "coverage",
}


def ranking_from_top(top: np.ndarray, relevant, n_items: int) -> dict:
    """``ranking_metrics``' figures from (n_users, k) top lists and one relevant array per
    row (users without a relevant item left out; ``n_users``: how many were averaged)."""
    k = np.asarray(top).shape[1]
    names = [f"{m}@{k}" for m in _FIGURES.values()]
    out = report_from_top(top, relevant, names, n_items)
    n_users = int(sum(len(r) > 0 for r in relevant))
    return {key: out[name] for key, name in zip(_FIGURES, names, strict=True)} | {
        "n_users": n_users
    }


def rating_metrics(model, test: pd.DataFrame) -> dict:
    """RMSE, MAE and how many test ratings used the unknown-id fallback."""
    pred = model.predict(test[USER_COL].to_numpy(), test[ITEM_COL].to_numpy())
    truth = test[RATING_COL].to_numpy()
    return {
        "rmse": rmse(truth, pred),
        "mae": mae(truth, pred),
        "n_fallback": int(model.n_fallback_),
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
        dict of ``ranking_from_top`` figures.
    """
    _, topk, relevant, n_items = _top_lists(
        model, train, test, k, relevance_threshold, chunk, exclude
    )
    return ranking_from_top(topk, relevant, n_items)


def ranking_rows(
    models,
    train: pd.DataFrame | None,
    test: pd.DataFrame,
    k: int = 10,
    relevance_threshold: float | None = RELEVANCE_THRESHOLD,
    exclude=None,
    seed: int = 0,
) -> pd.DataFrame:
    """The per-user table of ``ranking_metrics`` (same candidates, same relevant items), for
    ``evaluation.stats``: one row per model and test user with a relevant item.

    Returns:
        Columns ``seed``, ``model``, ``user``, ``ndcg@k``, ``recall@k`` (hits / |R|, as
        ``ranking_metrics``' recall); their means over users are ``ranking_metrics``' figures.
    """
    out = []
    for name, model in models.items():
        users, topk, relevant, n_items = _top_lists(
            model, train, test, k, relevance_threshold, 512, exclude
        )
        vals = per_user_from_top(topk, relevant, (f"ndcg@{k}", f"recall_full@{k}"), n_items)
        out.append(pd.DataFrame({
            "seed": seed, "model": name, "user": model.user_map.decode(users),
            f"ndcg@{k}": vals[f"ndcg@{k}"], f"recall@{k}": vals[f"recall_full@{k}"],
        }))  # fmt: skip
    return pd.concat(out, ignore_index=True)


def _top_lists(model, train, test, k, relevance_threshold, chunk, exclude):
    """(user indices, their top-k, their relevant items, catalogue size): the one rule of
    the module docstring, shared by ``ranking_metrics`` and ``ranking_rows``."""
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
        excluded = np.zeros(scores.shape, dtype=bool)
        for row, user in enumerate(block):
            excluded[row] = ~candidate_mask(model, user, extra)
        tops.append(top_k(scores, k, excluded))
    topk = np.concatenate(tops) if tops else np.zeros((0, k), dtype=np.int64)
    return users, topk, relevant, n_items


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
