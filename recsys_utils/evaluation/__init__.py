"""Metrics and protocols: rating and ranking metrics, the fold-in curve, probes of the vectors.

Modules:
    foldin_curve: How fold-in improves with the number of ratings a new user gives, on held-out users.
    metrics: Rating and ranking metrics.
    probes: Checks of the seed blog's claims: ranking side by side, linear probes, the RMSE ladder,

Public names below are loaded from their module on first use, so importing
the package imports nothing heavy (torch, numba, umap, optuna).
"""

from recsys_utils import lazy_exports

_EXPORTS = {
    "candidate_mask": "metrics",
    "compare_recommenders": "probes",
    "excluded_pairs": "metrics",
    "fold_in_curve": "foldin_curve",
    "genre_labels": "probes",
    "halve_users": "foldin_curve",
    "jaccard": "probes",
    "ladder": "probes",
    "liked_items": "probes",
    "load_matching": "probes",
    "mae": "metrics",
    "novelty": "metrics",
    "probe_genres": "probes",
    "probe_model": "probes",
    "probe_target": "probes",
    "ranking_from_topk": "metrics",
    "ranking_metrics": "metrics",
    "rating_metrics": "metrics",
    "rmse": "metrics",
    "select_fold_in_reg": "foldin_curve",
    "similar_users_overlap": "probes",
    "split_heldout_users": "foldin_curve",
    "top_k_lists": "probes",
    "untrained": "probes",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
