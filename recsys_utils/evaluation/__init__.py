"""Protocols: a model's rating and ranking metrics, the experiment, the curves, probes of the vectors.

The formulas and the top-k selection are ``recsys_utils.metrics``. Public API: the
experiment (``Experiment``, ``Grid``, ``Best``, ``BlendOf``, the protocols ``RandomRatings``
and ``StrongGeneralisation``, ``Result``), a fitted model's ``rating_metrics`` and
``ranking_metrics`` (per user: ``ranking_rows``), the curves (``new_user_curve``, per user
``new_user_rows``, its scorers; ``fold_in_curve``), the splits of the
protocols, item cold start, and the ``stats`` and ``probes`` modules; that is ``__all__``,
loaded from its module on first use so importing the package imports nothing heavy (torch,
numba, umap, optuna). Everything else, the ``_private`` modules and ``_helpers`` included,
is internal and may change without notice.
"""

from recsys_utils import lazy_exports

_EXPORTS = {
    "cold_start_report": "coldstart",
    "cold_start_split": "coldstart",
    "ColdStartSplit": "coldstart",
    "CUTOFF": "coldstart",
    "Best": "experiment",
    "BlendOf": "experiment",
    "Experiment": "experiment",
    "Grid": "experiment",
    "grid_points": "experiment",
    "NEW_USER_NS": "experiment",
    "RandomRatings": "experiment",
    "Result": "experiment",
    "StrongGeneralisation": "experiment",
    "fold_in_curve": "foldin_curve",
    "split_heldout_users": "foldin_curve",
    "ranking_metrics": "metrics",
    "ranking_rows": "metrics",
    "rating_metrics": "metrics",
    "new_user_curve": "newuser_curve",
    "new_user_rows": "newuser_curve",
    "popularity_scorer": "newuser_curve",
    "ranking_model_scorer": "newuser_curve",
    "rating_model_scorer": "newuser_curve",
    "training_ratings": "newuser_curve",
    "jaccard": "probes",
    "RankingSplit": "ranking_protocol",
    "strong_generalization_split": "ranking_protocol",
}
_MODULES = ("stats", "probes")
__all__ = sorted([*_EXPORTS, *_MODULES])
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, _MODULES)
