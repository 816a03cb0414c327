"""Benchmarks that print figures: peers side by side, and scale.

Modules:
    peers: Benchmarks. ``bench_peers``: our models against Surprise on one fixed protocol.
    scale: Scale benchmark: MF throughput and memory on synthetic ratings, Surprise for reference,

Public names below are loaded from their module on first use, so importing
the package imports nothing heavy (torch, numba, umap, optuna).
"""

from recsys_utils import lazy_exports

_EXPORTS = {
    "BENCH_COLUMNS": "peers",
    "OURS": "peers",
    "PROTOCOL_NOTE": "peers",
    "SLOW_PEERS": "peers",
    "bench_catalogue": "scale",
    "bench_mf": "scale",
    "bench_peers": "peers",
    "bench_surprise": "scale",
    "fit_selected": "peers",
    "mf_throughput": "peers",
    "peak_rss_gb": "scale",
    "run_scale": "scale",
    "surprise_peers": "peers",
    "synthetic_config": "scale",
    "targets": "peers",
    "to_markdown": "peers",
    "write_bench": "peers",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
