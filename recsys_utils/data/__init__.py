"""The data layer: download, parse, validate, clean, encode and split MovieLens; no torch here.

Modules:
    archive: Unzip a MovieLens release safely: every entry checked before anything is written.
    cleaning: Cleaning a tidy ratings table: duplicates out, optional k-core, a before/after report.
    download: Fetch a MovieLens zip from GroupLens (or a mirror), check its md5, unzip it safely, cache it.
    encoding: Raw MovieLens ids <-> contiguous indices, the form embedding tables need.
    movielens: Each MovieLens format -> one tidy ratings table and one movies table, with a parquet cache.
    splits: Train / validation / test splits: random, per-user temporal, leave-last-k; save and load.
    synthetic: Synthetic MovieLens-format ratings at any size, for scale tests and benchmarks.
    tags: The tags of a MovieLens release (``tags.csv``), fetched with the raw folder when missing.
    validation: What counts as a bad ratings table, and the one-line error that says so.

Public names below are loaded from their module on first use, so importing
the package imports nothing heavy (torch, numba, umap, optuna).
"""

from recsys_utils import lazy_exports

_EXPORTS = {
    "BLOCK_RATINGS": "synthetic",
    "CHUNK_ROWS": "movielens",
    "COMPACT_DTYPES": "movielens",
    "DEADLINE_S": "download",
    "DataError": "validation",
    "Dataset": "movielens",
    "EXTRACT_PREFIX": "archive",
    "GENRES": "synthetic",
    "IdMap": "encoding",
    "MAX_DOWNLOAD_BYTES": "download",
    "MAX_MD5_BYTES": "download",
    "MAX_RATIO": "archive",
    "MAX_TOTAL_BYTES": "archive",
    "PROTOCOL_SEED": "splits",
    "RATINGS_HEADER": "synthetic",
    "RATIO_FLOOR": "archive",
    "SUPPORTED_METHODS": "archive",
    "Split": "splits",
    "SyntheticConfig": "synthetic",
    "UNKNOWN": "encoding",
    "check_head": "validation",
    "check_movie_ids": "validation",
    "clean": "cleaning",
    "cold_mask": "splits",
    "count_cold": "splits",
    "drop_duplicates": "cleaning",
    "fail": "validation",
    "fetch": "download",
    "generate_ratings": "synthetic",
    "infer_spec": "movielens",
    "iter_ratings": "synthetic",
    "k_core": "cleaning",
    "leave_last_k": "splits",
    "load_dataset": "movielens",
    "load_folder": "movielens",
    "load_id_maps": "splits",
    "load_ratings_file": "movielens",
    "load_split": "splits",
    "load_tags": "tags",
    "md5sum": "download",
    "movies_table": "synthetic",
    "parse_md5": "download",
    "protocol_split": "splits",
    "random_split": "splits",
    "read_movies": "movielens",
    "read_movies_parquet": "movielens",
    "read_ratings": "movielens",
    "safe_extract": "archive",
    "save_split": "splits",
    "scan_ratings": "validation",
    "show": "validation",
    "summarize": "validation",
    "temporal_split": "splits",
    "top_movies": "movielens",
    "user_counts": "synthetic",
    "validate_ratings": "validation",
    "write_mirror": "synthetic",
    "write_parquet": "movielens",
    "write_zip": "synthetic",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
