"""Recommendations for new people: fold-in from a few ratings, top-N, and explanations.

Public API: ``fold_in`` and ``FoldedUser``, ``score_folded``, ``recommend_folded``,
``recommend_new_user``, the liked set (``liked_threshold``, ``liked_indices``),
``FoldInError``, the fold-in defaults, and the explanations (``explain``,
``because_you_liked``); that is ``__all__``, loaded from its module on first use so
importing the package imports nothing heavy (torch, numba, umap, optuna). Everything else,
the ``_private`` modules and ``_helpers`` included, is internal and may change without
notice.
"""

from recsys_utils import lazy_exports

_EXPORTS = {
    "because_you_liked": "explain",
    "explain": "explain",
    "fold_in": "foldin",
    "FOLD_IN_REG": "foldin",
    "FOLD_IN_REG_GRID": "foldin",
    "FoldedUser": "foldin",
    "FoldInError": "foldin",
    "liked_indices": "foldin",
    "liked_threshold": "foldin",
    "novelty_ranking": "foldin",
    "parse_ratings": "foldin",
    "recommend_folded": "foldin",
    "recommend_new_user": "foldin",
    "score_folded": "foldin",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
