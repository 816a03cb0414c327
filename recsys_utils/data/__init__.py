"""The data layer: download, parse, validate, clean, encode and split MovieLens; no torch here.

Public API: loading a release (``load_dataset``, ``fetch``, ``Dataset``), checking and
cleaning a ratings table, ``IdMap``, the splits (and the ``splits`` module), tags, movie
features, and synthetic data (the ``synthetic`` module); that is ``__all__``, loaded from
its module on first use so importing the package imports nothing heavy (torch, numba, umap,
optuna). Everything else, the ``_private`` modules and ``_helpers`` included, is internal
and may change without notice.
"""

from recsys_utils import lazy_exports

_EXPORTS = {
    "clean": "cleaning",
    "k_core": "cleaning",
    "fetch": "download",
    "IdMap": "encoding",
    "build_features": "features",
    "KINDS": "features",
    "movie_features": "features",
    "MovieFeatures": "features",
    "year_bucket": "features",
    "Dataset": "movielens",
    "dataset_checksum": "movielens",
    "infer_spec": "movielens",
    "load_dataset": "movielens",
    "load_folder": "movielens",
    "load_ratings_file": "movielens",
    "read_movies": "movielens",
    "read_ratings": "movielens",
    "top_movies": "movielens",
    "count_cold": "splits",
    "leave_last_k": "splits",
    "load_split": "splits",
    "protocol_split": "splits",
    "random_split": "splits",
    "save_split": "splits",
    "Split": "splits",
    "temporal_split": "splits",
    "generate_ratings": "synthetic",
    "SyntheticConfig": "synthetic",
    "write_mirror": "synthetic",
    "load_genome": "tags",
    "load_tags": "tags",
    "DataError": "validation",
    "summarize": "validation",
    "validate_ratings": "validation",
}
_MODULES = ("splits", "synthetic")
__all__ = sorted([*_EXPORTS, *_MODULES])
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, _MODULES)
