"""Full-catalogue top-N metrics on dense score matrices, the history excluded.

Every function takes ``scores`` (n_users, n_items), ``targets`` (CSR 0/1, same shape)
and ``exclude`` (CSR of items never to rank, the fold-in history). Binary relevance.

Hand-worked check, one user, 5 items, target {1, 3}, item 0 excluded:

>>> import numpy as np, scipy.sparse as sp
>>> s = np.array([[9., 5., 4., 3., 1.]])
>>> t = sp.csr_matrix(np.array([[0, 1, 0, 1, 0]]))
>>> x = sp.csr_matrix(np.array([[1, 0, 0, 0, 0]]))
>>> top_k(s, x, 3).tolist()          # item 0 excluded -> 1, 2, 3
[[1, 2, 3]]
>>> float(recall_at_k(s, t, x, 1)[0])  # 1 hit / min(1, 2)
1.0
>>> float(recall_at_k(s, t, x, 2)[0])  # 1 hit / min(2, 2)
0.5
>>> round(float(ndcg_at_k(s, t, x, 3)[0]), 4)  # (1 + 1/log2 4) / (1 + 1/log2 3)
0.9197
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def _masked(scores: np.ndarray, exclude: sp.csr_matrix | None) -> np.ndarray:
    s = np.array(scores, dtype=np.float64, copy=True)
    if exclude is not None and exclude.nnz:
        ex = exclude.tocoo()
        s[ex.row, ex.col] = -np.inf
    return s


def top_k(scores: np.ndarray, exclude: sp.csr_matrix | None, k: int) -> np.ndarray:
    """(n_users, k) item indices, best first; ties broken by lower item index."""
    s = _masked(scores, exclude)
    k = min(k, s.shape[1])
    part = np.argpartition(-s, k - 1, axis=1)[:, :k]
    ps = np.take_along_axis(s, part, axis=1)
    order = np.lexsort((part, -ps), axis=1)
    return np.take_along_axis(part, order, axis=1)


def _hits(top: np.ndarray, targets: sp.csr_matrix) -> np.ndarray:
    t = targets.tocsr()
    rows = np.repeat(np.arange(top.shape[0]), top.shape[1])
    return np.asarray(t[rows, top.ravel()]).reshape(top.shape) > 0


def recall_at_k(scores, targets, exclude, k: int) -> np.ndarray:
    """hits in top-k / min(k, n_targets), per user."""
    hits = _hits(top_k(scores, exclude, k), targets).sum(1)
    n = np.diff(targets.tocsr().indptr)
    return hits / np.maximum(np.minimum(k, n), 1)


def ndcg_at_k(scores, targets, exclude, k: int) -> np.ndarray:
    """DCG@k / IDCG@k, IDCG over min(k, n_targets) hits, per user."""
    hits = _hits(top_k(scores, exclude, k), targets)
    disc = 1.0 / np.log2(np.arange(2, hits.shape[1] + 2))
    dcg = (hits * disc).sum(1)
    n = np.minimum(np.diff(targets.tocsr().indptr), hits.shape[1])
    idcg = np.concatenate([[0.0], np.cumsum(disc)])[n]
    return np.where(idcg > 0, dcg / np.where(idcg > 0, idcg, 1.0), 0.0)


def hit_rate_at_k(scores, targets, exclude, k: int) -> np.ndarray:
    """1 if any target is in the top-k, per user."""
    return _hits(top_k(scores, exclude, k), targets).any(1).astype(float)


def coverage_at_k(scores, exclude, k: int) -> float:
    """Share of the catalogue appearing in at least one user's top-k."""
    return np.unique(top_k(scores, exclude, k)).size / scores.shape[1]


def ranking_report(scores, targets, exclude) -> dict:
    """The protocol's metrics, averaged over users."""
    top = top_k(scores, exclude, 100)
    hits = _hits(top, targets)
    n = np.diff(targets.tocsr().indptr)
    disc = 1.0 / np.log2(np.arange(2, top.shape[1] + 2))  # k is capped at the catalogue
    cum = np.concatenate([[0.0], np.cumsum(disc)])
    out = {}
    for k in (20, 50):
        out[f"recall@{k}"] = float((hits[:, :k].sum(1) / np.maximum(np.minimum(k, n), 1)).mean())
    for k in (10, 100):
        dcg = (hits[:, :k] * disc[:k]).sum(1)
        idcg = cum[np.minimum(n, min(k, top.shape[1]))]
        out[f"ndcg@{k}"] = float(np.where(idcg > 0, dcg / np.where(idcg > 0, idcg, 1), 0).mean())
    out["hr@10"] = float(hits[:, :10].any(1).mean())
    out["coverage@10"] = float(np.unique(top[:, :10]).size / scores.shape[1])
    return out
