"""Recommendations for new users: fold-in from a few ratings, top-N, and explanations.

Modules:
    explain: Why a user gets a movie: the prediction split into its parts, and the movies they
    foldin: Recommendations for people the model has never seen: their ratings, top-N, and why.

Public names below are loaded from their module on first use, so importing
the package imports nothing heavy (torch, numba, umap, optuna).
"""

from recsys_utils import lazy_exports

_EXPORTS = {
    "FOLD_IN_BIAS_REG": "foldin",
    "FOLD_IN_REG": "foldin",
    "FOLD_IN_REG_GRID": "foldin",
    "FoldInError": "foldin",
    "FoldedUser": "foldin",
    "because_you_liked": "explain",
    "explain": "explain",
    "fold_in": "foldin",
    "liked_threshold": "foldin",
    "liked_contributions": "explain",
    "liked_indices": "foldin",
    "parse_ratings": "foldin",
    "recommend_folded": "foldin",
    "novelty_ranking": "foldin",
    "recommend_new_user": "foldin",
    "score_folded": "foldin",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
