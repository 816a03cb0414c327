"""Top-k selection and the top-N ranking metrics, each written once, vectorised over users.

Inputs: ``scores`` (n_users, n_items), dense; ``targets``, a (n_users, n_items) sparse
0/1 matrix of the items that count as hits (binary relevance); ``exclude``, a sparse
matrix (or boolean array, True = excluded) of items never to rank, e.g. the history a
user gave. An excluded item takes no slot and never counts as a hit.

For one user with targets T and top-k list L (h_j = 1 if L_j in T, j = 1..k):

    ndcg@k        = DCG@k / IDCG@k, DCG@k = sum_j h_j / log2(j + 1),
                    IDCG@k the DCG of min(|T|, k) hits at the top
    recall@k      = sum h / min(k, |T|)    (Liang et al. 2018; reaches 1 when |T| > k)
    recall_full@k = sum h / |T|            (the textbook recall)
    hr@k          = 1 if any h             (hit rate)
    precision@k   = sum h / k
    mrr@k         = 1 / (rank of the first hit), 0 without one
    map@k         = sum_j h_j * precision@j / min(|T|, k)
    coverage@k    = share of the catalogue in at least one user's top-k (not per user)

A user without targets has no value (NaN in ``per_user``) and is left out of the
means of ``report``. Metric names are ``name@k``; one top-k selection at the largest k
serves every metric of a call.

Hand-worked check, one user, 5 items, targets {1, 3}, item 0 excluded:

>>> import numpy as np, scipy.sparse as sp
>>> s = np.array([[9., 5., 4., 3., 1.]])
>>> t = sp.csr_matrix(np.array([[0, 1, 0, 1, 0]]))
>>> x = sp.csr_matrix(np.array([[1, 0, 0, 0, 0]]))
>>> top_k(s, 3, x).tolist()          # item 0 excluded -> 1, 2, 3
[[1, 2, 3]]
>>> float(recall_at_k(s, t, x, 1)[0])  # 1 hit / min(1, 2)
1.0
>>> round(float(ndcg_at_k(s, t, x, 3)[0]), 4)  # (1 + 1/log2 4) / (1 + 1/log2 3)
0.9197
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

REPORT_METRICS = ("recall@20", "recall@50", "ndcg@10", "ndcg@100", "hr@10", "coverage@10")


# --- top-k selection -------------------------------------------------------------------
def _excluded_mask(exclude, shape: tuple[int, int]) -> np.ndarray | None:
    """Dense boolean (n_users, n_items), True = never ranked; ``None`` if nothing is."""
    if exclude is None:
        return None
    if sp.issparse(exclude):
        if exclude.shape != shape:
            raise ValueError(f"exclude has shape {exclude.shape}, scores {shape}")
        ex = sp.coo_matrix(exclude)
        mask = np.zeros(shape, dtype=bool)
        mask[ex.row, ex.col] = ex.data != 0
        return mask
    ex = np.asarray(exclude)
    if ex.dtype == bool:
        if ex.shape != shape and not (shape[0] == 1 and ex.shape == shape[1:]):
            raise ValueError(f"exclude has shape {ex.shape}, scores {shape}")
        return ex.reshape(shape)
    if shape[0] == 1 and ex.ndim == 1 and np.issubdtype(ex.dtype, np.integer):  # indices
        mask = np.zeros(shape, dtype=bool)
        mask[0, ex] = True
        return mask
    raise TypeError("exclude: a sparse matrix, a boolean array shaped like the scores, or None")


def top_k(scores, k: int, exclude=None) -> np.ndarray:
    """The ``k`` best-scored items of each row, best first, ties broken by lower item index.

    Args:
        scores: (n_users, n_items), or one row (n_items,).
        k: list length (>= 1).
        exclude: items never to rank: a sparse matrix, a boolean array of the scores'
            shape (True = excluded), or for one row also an array of item indices.

    Returns:
        int64 (n_users, k) item indices (or (k,) for one row). A row with fewer than ``k``
        eligible items ends in -1 (an empty slot: no item, no hit, no coverage).
        A NaN score counts as -inf.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    s = np.asarray(scores)
    one_row = s.ndim == 1
    s = np.array(s[None] if one_row else s, dtype=np.float64)  # a copy, masked below
    if s.ndim != 2:
        raise ValueError(f"scores must be one row or a matrix, got shape {s.shape}")
    excl = _excluded_mask(exclude, s.shape)
    n_users, n_items = s.shape
    s[np.isnan(s)] = -np.inf
    if excl is not None:
        s[excl] = -np.inf
        n_eligible = n_items - excl.sum(1)
    else:
        n_eligible = np.full(n_users, n_items)
    width = min(k, n_items)
    out = np.full((n_users, k), -1, dtype=np.int64)
    if n_users == 0 or n_items == 0:
        return out[0] if one_row else out
    part = np.argpartition(-s, width - 1, axis=1)[:, :width]
    ps = np.take_along_axis(s, part, 1)
    top = np.take_along_axis(part, np.lexsort((part, -ps), axis=1), 1)
    # where items tied with the k-th straddle the cut, argpartition chose among them
    # arbitrarily: those rows (and rows short of eligible items) get a full stable sort
    kth = ps.min(1, keepdims=True)
    redo = ((s == kth).sum(1) != (ps == kth).sum(1)) | (n_eligible < width)
    if redo.any():
        sr = s[redo]
        keys = (np.broadcast_to(np.arange(n_items), sr.shape), -sr)
        if excl is not None:
            keys = (*keys, excl[redo])
        top[redo] = np.lexsort(keys, axis=1)[:, :width]
    out[:, :width] = top
    out[np.arange(k)[None, :] >= n_eligible[:, None]] = -1
    return out[0] if one_row else out


def top_k_eligible(scores, k: int, exclude=None) -> np.ndarray:
    """``top_k`` of one row when ``k`` items must be found: (k,) item indices.

    Raises:
        ValueError: ``k`` is below 1 or exceeds the eligible items.
    """
    top = top_k(np.asarray(scores).ravel(), k, exclude)
    if top[-1] < 0:
        n_eligible = int((top >= 0).sum())
        raise ValueError(f"k={k} exceeds the {n_eligible} eligible movies in the catalogue")
    return top


# --- the metrics, each from the hits of the top-k lists ---------------------------------
def _discounts(k: int) -> np.ndarray:
    return 1.0 / np.log2(np.arange(2, k + 2))


def _ndcg(hits, n, k):
    disc = _discounts(k)
    ideal = np.concatenate([[0.0], np.cumsum(disc)])[np.minimum(n, k)]
    return (hits @ disc) / np.where(ideal > 0, ideal, 1.0)


def _recall(hits, n, k):
    return hits.sum(1) / np.maximum(np.minimum(n, k), 1)


def _recall_full(hits, n, k):
    return hits.sum(1) / np.maximum(n, 1)


def _hr(hits, n, k):
    return hits.any(1).astype(np.float64)


def _precision(hits, n, k):
    return hits.sum(1) / k


def _mrr(hits, n, k):
    first = hits.argmax(1)
    return np.where(hits.any(1), 1.0 / (first + 1), 0.0)


def _map(hits, n, k):
    prec_at_j = np.cumsum(hits, 1) / np.arange(1, k + 1)
    return (prec_at_j * hits).sum(1) / np.maximum(np.minimum(n, k), 1)


PER_USER = {
    "ndcg": _ndcg,
    "recall": _recall,
    "recall_full": _recall_full,
    "hr": _hr,
    "precision": _precision,
    "mrr": _mrr,
    "map": _map,
}
_CATALOGUE = ("coverage",)  # metrics of the set of lists, not of one user


def parse_metric(name: str) -> tuple[str, int]:
    """``"ndcg@100"`` -> ``("ndcg", 100)``; refuses an unknown name or a bad cut-off."""
    base, sep, cut = name.partition("@")
    if base not in PER_USER and base not in _CATALOGUE:
        known = ", ".join([*PER_USER, *_CATALOGUE])
        raise ValueError(f"unknown metric {name!r}; known: {known} (as name@k)")
    if not sep or not cut.isdigit() or int(cut) < 1:
        raise ValueError(f"metric {name!r} needs a cut-off, e.g. {base}@10")
    return base, int(cut)


def _as_targets(targets, n_rows: int, n_items: int) -> sp.csr_matrix:
    """A sparse target matrix, or one array of item indices per row, as 0/1 CSR."""
    if sp.issparse(targets):
        t = sp.csr_matrix(targets, copy=True)
    else:
        rows = np.repeat(np.arange(len(targets)), [len(r) for r in targets])
        cols = np.concatenate([np.asarray(r, dtype=np.int64) for r in targets] or [[]])
        t = sp.csr_matrix((np.ones(rows.size), (rows, cols)), shape=(len(targets), n_items))
    if t.shape[0] != n_rows:
        raise ValueError(f"{n_rows} top-k rows but {t.shape[0]} relevant (target) rows")
    t.sum_duplicates()
    t.eliminate_zeros()
    return t


def _hits_of(top: np.ndarray, targets) -> np.ndarray:
    """Boolean (n_users, k): slot j of user u holds one of u's targets."""
    top = np.asarray(top, dtype=np.int64)
    t = _as_targets(targets, top.shape[0], 0)
    if top.size == 0:
        return np.zeros(top.shape, dtype=bool)
    rows = np.repeat(np.arange(top.shape[0]), top.shape[1])
    found = np.asarray(t[rows, np.maximum(top, 0).ravel()]).reshape(top.shape) != 0
    return found & (top >= 0)


def per_user_from_top(top, targets, metrics: Sequence[str], n_items: int | None = None) -> dict:
    """Per-user values of ``metrics`` (coverage excluded) from given top-k lists.

    Args:
        top: (n_users, K) item indices, best first (-1: an empty slot), K >= every k.
        targets: sparse (n_users, n_items) or one array of target indices per user.
        n_items: the catalogue size, needed only when ``targets`` is a list.

    Returns:
        metric name -> float array (n_users,), NaN for a user without targets.
    """
    top = np.asarray(top, dtype=np.int64)
    parsed = [parse_metric(m) for m in metrics]
    width = max((k for _, k in parsed), default=0)
    if width > top.shape[1]:
        raise ValueError(f"lists of {top.shape[1]} items cannot give a metric at k={width}")
    if not sp.issparse(targets):
        if n_items is None:
            most = max([top.max(initial=-1), *(np.max(r, initial=-1) for r in targets)])
            n_items = int(most) + 1
    targets = _as_targets(targets, top.shape[0], n_items or 0)
    n = np.diff(targets.indptr)  # targets a user (stored non-zeros, duplicates summed)
    hits = _hits_of(top[:, :width], targets)
    out = {}
    for name, (base, k) in zip(metrics, parsed, strict=True):
        if base in _CATALOGUE:
            raise ValueError(f"{name} is a property of all the lists, not of one user: use report")
        out[name] = np.where(n > 0, PER_USER[base](hits[:, :k], n, k), np.nan)
    return out


def report_from_top(top, targets, metrics: Sequence[str], n_items: int) -> dict:
    """Means over users with at least one target of ``metrics``, from given top-k lists.

    Raises:
        ValueError: no user has a target.
    """
    top = np.asarray(top, dtype=np.int64)
    users = [m for m in metrics if parse_metric(m)[0] not in _CATALOGUE]
    if users:
        values = per_user_from_top(top, targets, users, n_items)
        has = ~np.isnan(values[users[0]])
        if not has.any():
            raise ValueError("no user has a relevant item (a target) to rank")
    out = {}
    for name in metrics:
        base, k = parse_metric(name)
        if base == "coverage":
            out[name] = _coverage(top[:, :k], n_items)
        else:
            out[name] = float(values[name][has].mean())
    return out


def _coverage(top: np.ndarray, n_items: int) -> float:
    return float(np.unique(top[top >= 0]).size / n_items)


def _top_for(scores, exclude, metrics) -> np.ndarray:
    width = max(parse_metric(m)[1] for m in metrics)
    return top_k(np.asarray(scores), width, exclude)


def per_user(scores, targets, exclude=None, metrics: Sequence[str] = ("ndcg@100",)) -> dict:
    """One value per user of each of ``metrics`` (module docstring), one top-k for all.

    Returns:
        metric name -> float array (n_users,), NaN for a user without targets.
    """
    return per_user_from_top(_top_for(scores, exclude, metrics), targets, metrics)


def report(scores, targets, exclude=None, metrics: Sequence[str] = REPORT_METRICS) -> dict:
    """Means over users with at least one target of ``metrics`` (module docstring); the
    default is the protocol's table: recall@20, recall@50, ndcg@10, ndcg@100, hr@10,
    coverage@10."""
    scores = np.asarray(scores)
    top = _top_for(scores, exclude, metrics)
    return report_from_top(top, targets, metrics, scores.shape[1])


# --- one metric at one cut-off, per user ------------------------------------------------
def ndcg_at_k(scores, targets, exclude, k: int) -> np.ndarray:
    """Binary NDCG@k per user (NaN without targets)."""
    return per_user(scores, targets, exclude, (f"ndcg@{k}",))[f"ndcg@{k}"]


def recall_at_k(scores, targets, exclude, k: int) -> np.ndarray:
    """Hits in the top-k / min(k, |targets|) per user (NaN without targets)."""
    return per_user(scores, targets, exclude, (f"recall@{k}",))[f"recall@{k}"]


def recall_full_at_k(scores, targets, exclude, k: int) -> np.ndarray:
    """Hits in the top-k / |targets| per user (NaN without targets)."""
    return per_user(scores, targets, exclude, (f"recall_full@{k}",))[f"recall_full@{k}"]


def hit_rate_at_k(scores, targets, exclude, k: int) -> np.ndarray:
    """1 if any target is in the top-k, per user (NaN without targets)."""
    return per_user(scores, targets, exclude, (f"hr@{k}",))[f"hr@{k}"]


def precision_at_k(scores, targets, exclude, k: int) -> np.ndarray:
    """Hits in the top-k / k per user (NaN without targets)."""
    return per_user(scores, targets, exclude, (f"precision@{k}",))[f"precision@{k}"]


def mrr_at_k(scores, targets, exclude, k: int) -> np.ndarray:
    """1 / rank of the first hit in the top-k (0 without one) per user."""
    return per_user(scores, targets, exclude, (f"mrr@{k}",))[f"mrr@{k}"]


def map_at_k(scores, targets, exclude, k: int) -> np.ndarray:
    """Average precision at k, over min(k, |targets|), per user."""
    return per_user(scores, targets, exclude, (f"map@{k}",))[f"map@{k}"]


def coverage_at_k(scores, exclude, k: int) -> float:
    """Share of the catalogue in at least one user's top-k."""
    scores = np.asarray(scores)
    return _coverage(top_k(scores, k, exclude), scores.shape[1])
