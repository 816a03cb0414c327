"""Benchmarks that print figures: peers side by side, and scale.

Modules:
    coldstart: ``bench coldstart``: ranking movies nobody rated in training, from their features alone.
    embeddings: The demo's targets timed: fold-in, neighbour queries, UMAP; fold-in vs bias-only.
    peers: Benchmarks. ``bench_peers``: our models against Surprise on one fixed protocol.
    personalisation: Do two different new users get different lists? ``bench personalisation``.
    ranking: Ranking bench: the table's entries for ``evaluation.experiment``, and its report.
    scale: Scale benchmark: MF throughput and memory on synthetic ratings, Surprise for reference,

Public names below are loaded from their module on first use, so importing
the package imports nothing heavy (torch, numba, umap, optuna).
"""

from recsys_utils import lazy_exports

_EXPORTS = {
    "ALS_GRID": "ranking",
    "BENCH_COLUMNS": "peers",
    "BLEND_STEP": "ranking",
    "BPR_FOLD_GRID": "ranking",
    "BPR_GRID": "ranking",
    "CONVENTIONS": "ranking",
    "DEFAULT_MODELS": "personalisation",
    "EASE_EXACT_MAX_USERS": "ranking",
    "EASE_GRID": "ranking",
    "GRIDS": "coldstart",
    "HYBRID_TRAIN": "coldstart",
    "LIGHTFM_MISSING": "coldstart",
    "LightFMScorer": "coldstart",
    "NEW_USER_NS": "ranking",
    "NOVELTIES": "personalisation",
    "OURS": "peers",
    "OURS_EASE_INIT": "ranking",
    "OURS_TRAIN": "ranking",
    "OURS_VARIANTS": "ranking",
    "PROTOCOL": "ranking",
    "PROTOCOL_NOTE": "peers",
    "SLOW_PEERS": "peers",
    "SurprisePeer": "peers",
    "bench_catalogue": "scale",
    "bench_embeddings": "embeddings",
    "bench_mf": "scale",
    "bench_peers": "peers",
    "bench_pooled_softmax": "scale",
    "bench_surprise": "scale",
    "conventions_table": "ranking",
    "cornac_agreement": "ranking",
    "draw_users": "personalisation",
    "entries": "ranking",
    "fit_selected": "peers",
    "grids_text": "ranking",
    "lightfm_available": "coldstart",
    "mean_pairwise_jaccard": "personalisation",
    "median_ms": "embeddings",
    "mf_throughput": "peers",
    "peak_rss_gb": "scale",
    "peer_entries": "peers",
    "personalisation": "personalisation",
    "rows": "ranking",
    "run": "personalisation",
    "run_scale": "scale",
    "summarise": "ranking",
    "surprise_peers": "peers",
    "synthetic_config": "scale",
    "synthetic_positives": "scale",
    "targets": "peers",
    "to_markdown": "peers",
    "write_bench": "peers",
    "write_report": "ranking",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
