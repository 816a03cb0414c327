"""Protocols: a model's rating and ranking metrics, the fold-in curve, probes of the vectors.

The formulas and the top-k selection are ``recsys_utils.metrics``.

Modules:
    coldstart: Item cold start: movies held out of training entirely, then ranked for the users who liked them.
    experiment: One experiment: a protocol, models with their grids, metrics and seeds in; a Result out.
    foldin_curve: How fold-in improves with the number of ratings a new user gives, on held-out users.
    metrics: Rating and ranking metrics of a fitted model on a ratings table (the formulas, the
    newuser_curve: 'The more movies you rate, the better it knows you', on the ranking protocol.
    probes: Checks of the seed blog's claims: ranking side by side, linear probes, the RMSE ladder,
    ranking_protocol: Strong-generalisation split for top-N ranking (Liang et al. 2018, "VAE for CF").
    stats: How sure a figure is: intervals over users, paired tests, Holm, and the verdict words.

Public names below are loaded from their module on first use, so importing
the package imports nothing heavy (torch, numba, umap, optuna).
"""

from recsys_utils import lazy_exports

_EXPORTS = {
    "ALPHA": "stats",
    "Best": "experiment",
    "BlendOf": "experiment",
    "CONFIDENCE": "stats",
    "ColdItems": "coldstart",
    "ColdStartSplit": "coldstart",
    "Comparison": "stats",
    "Context": "experiment",
    "Experiment": "experiment",
    "Fitted": "experiment",
    "Grid": "experiment",
    "HeldOut": "ranking_protocol",
    "Interval": "stats",
    "LOWER_IS_BETTER": "stats",
    "METRICS": "experiment",
    "NEW_USER_NS": "experiment",
    "OBJECTIVE": "experiment",
    "Paired": "stats",
    "RankingSplit": "ranking_protocol",
    "Result": "experiment",
    "StrongGeneralisation": "experiment",
    "CURVE_METRICS": "newuser_curve",
    "UNKNOWN": "newuser_curve",
    "VERDICT_CLASS": "stats",
    "ZBlend": "experiment",
    "candidate_mask": "metrics",
    "check_no_leak": "coldstart",
    "cold_start_report": "coldstart",
    "cold_start_split": "coldstart",
    "compare_recommenders": "probes",
    "compare_table": "stats",
    "excluded_pairs": "metrics",
    "fold_in_curve": "foldin_curve",
    "fold_table": "probes",
    "genre_labels": "probes",
    "grid_points": "experiment",
    "halve_users": "foldin_curve",
    "held_out_report": "probes",
    "held_out_rest": "probes",
    "held_out_scores": "probes",
    "holm": "stats",
    "interval": "stats",
    "jaccard": "probes",
    "ladder": "probes",
    "liked_items": "probes",
    "lower_is_better": "stats",
    "model_training_rows": "foldin_curve",
    "new_user_curve": "newuser_curve",
    "new_user_histories": "ranking_protocol",
    "novelty": "metrics",
    "paired": "stats",
    "per_user_metrics": "experiment",
    "popularity_scorer": "newuser_curve",
    "probe_genres": "probes",
    "probe_model": "probes",
    "probe_target": "probes",
    "ranking_from_top": "metrics",
    "ranking_metrics": "metrics",
    "rating_metrics": "metrics",
    "rating_model_scorer": "newuser_curve",
    "rating_rows": "stats",
    "select_fold_in_reg": "foldin_curve",
    "similar_users_overlap": "probes",
    "simplex": "experiment",
    "split_heldout_users": "foldin_curve",
    "strong_generalization_split": "ranking_protocol",
    "top_k_lists": "probes",
    "training_ratings": "newuser_curve",
    "user_differences": "stats",
    "user_values": "stats",
    "validation_score": "experiment",
    "verdict": "stats",
    "verdict_word": "stats",
    "zscore": "experiment",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
