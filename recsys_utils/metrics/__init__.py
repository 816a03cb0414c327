"""Metrics: top-k selection, the top-N ranking metrics and the rating errors, each once.

numpy and scipy only, below ``models`` and ``training`` so a model can stop early on
the same NDCG the reports give. Stable: the names below.

Modules:
    ranking: Top-k selection and the top-N ranking metrics, each written once, vectorised over users.
    rating: Rating error: RMSE and MAE of predicted ratings.
"""

from recsys_utils import lazy_exports

_EXPORTS = {
    "CATALOGUE": "ranking",
    "PER_USER": "ranking",
    "REPORT_METRICS": "ranking",
    "coverage_at_k": "ranking",
    "hit_rate_at_k": "ranking",
    "hits_of": "ranking",
    "mae": "rating",
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
    "rmse": "rating",
    "top_k": "ranking",
    "top_k_eligible": "ranking",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
