"""Metrics: top-k selection, the top-N ranking metrics and the rating errors, each once.

numpy and scipy only, below ``models`` and ``training`` so a model can stop early on the
same NDCG the reports give. Public API: ``top_k``, ``top_k_eligible``, every ranking metric
(``ndcg_at_k``, ``recall_at_k``, ``recall_full_at_k``, ``hit_rate_at_k``,
``precision_at_k``, ``mrr_at_k``, ``map_at_k``, ``coverage_at_k``), the per-user tables and
``report`` of several at once, ``rmse`` and ``mae``; that is ``__all__``, loaded from its
module on first use so importing the package imports nothing heavy (torch, numba, umap,
optuna). Everything else, the ``_private`` modules and ``_helpers`` included, is internal
and may change without notice.
"""

from recsys_utils import lazy_exports

_EXPORTS = {
    "coverage_at_k": "ranking",
    "hit_rate_at_k": "ranking",
    "map_at_k": "ranking",
    "mrr_at_k": "ranking",
    "ndcg_at_k": "ranking",
    "parse_metric": "ranking",
    "per_user": "ranking",
    "per_user_from_top": "ranking",
    "precision_at_k": "ranking",
    "recall_at_k": "ranking",
    "recall_full_at_k": "ranking",
    "report": "ranking",
    "report_from_top": "ranking",
    "REPORT_METRICS": "ranking",
    "top_k": "ranking",
    "top_k_eligible": "ranking",
    "mae": "rating",
    "rmse": "rating",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
