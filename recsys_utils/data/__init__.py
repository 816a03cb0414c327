"""The data layer: download, parse, validate, clean, encode and split MovieLens; no torch here.

Modules:
    archive: Unzip a MovieLens release safely: every entry checked before anything is written.
    cleaning: Cleaning a tidy ratings table: duplicates out, optional k-core, a before/after report.
    download: Fetch a MovieLens zip from GroupLens (or a mirror), check its md5, unzip it safely, cache it.
    encoding: Raw MovieLens ids <-> contiguous indices, the form embedding tables need.
    features: Movie features from what a movie is: genres, cleaned user tags, release year, tag genome.
    movielens: Each MovieLens format -> one tidy ratings table and one movies table, with a parquet cache.
    splits: Train / validation / test splits: random, per-user temporal, leave-last-k; save and load.
    synthetic: Synthetic MovieLens-format ratings at any size, for scale tests and benchmarks.
    tags: The tags of a MovieLens release (``tags.csv``) and its tag genome, fetched with the raw folder.
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
    "GENOME_NAMES": "synthetic",
    "GENOME_SCORES_FILE": "tags",
    "GENOME_TAGS_FILE": "tags",
    "GENRES": "synthetic",
    "IdMap": "encoding",
    "KINDS": "features",
    "MAX_DOWNLOAD_BYTES": "download",
    "MAX_MD5_BYTES": "download",
    "MD5_DEADLINE_S": "download",
    "MAX_RATIO": "archive",
    "MAX_TOTAL_BYTES": "archive",
    "MIN_TAG_USERS": "features",
    "MovieFeatures": "features",
    "PROTOCOL_SEED": "splits",
    "RATINGS_HEADER": "synthetic",
    "RATIO_FLOOR": "archive",
    "SUPPORTED_METHODS": "archive",
    "Split": "splits",
    "SyntheticConfig": "synthetic",
    "UNKNOWN": "encoding",
    "YEAR_EDGES": "features",
    "YEAR_RANGE": "features",
    "build_features": "features",
    "check_head": "validation",
    "check_movie_ids": "validation",
    "clean": "cleaning",
    "clean_tag": "features",
    "cold_mask": "splits",
    "count_cold": "splits",
    "dataset_checksum": "movielens",
    "drop_duplicates": "cleaning",
    "fail": "validation",
    "features_path": "features",
    "fetch": "download",
    "generate_ratings": "synthetic",
    "genome_tables": "synthetic",
    "infer_spec": "movielens",
    "iter_ratings": "synthetic",
    "k_core": "cleaning",
    "leave_last_k": "splits",
    "load_dataset": "movielens",
    "load_folder": "movielens",
    "load_genome": "tags",
    "load_id_maps": "splits",
    "load_ratings_file": "movielens",
    "load_split": "splits",
    "load_tags": "tags",
    "md5sum": "download",
    "movie_features": "features",
    "movies_table": "synthetic",
    "parse_md5": "download",
    "protocol_split": "splits",
    "random_split": "splits",
    "ratings_checksum": "movielens",
    "read_movies": "movielens",
    "read_movies_parquet": "movielens",
    "read_ratings": "movielens",
    "release_file": "tags",
    "safe_extract": "archive",
    "save_split": "splits",
    "scan_ratings": "validation",
    "show": "validation",
    "summarize": "validation",
    "tag_key": "features",
    "temporal_split": "splits",
    "top_movies": "movielens",
    "user_counts": "synthetic",
    "validate_ratings": "validation",
    "write_mirror": "synthetic",
    "write_parquet": "movielens",
    "write_zip": "synthetic",
    "year_bucket": "features",
    "year_labels": "features",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
