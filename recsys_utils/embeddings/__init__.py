"""What the nets learned: vectors, nearest neighbours, 2-D projections and map tables.

Modules:
    maps: The tables behind maps of the embedding space: one row per movie or user.
    projection: 2-D maps of embedding vectors: UMAP (cosine metric) or PCA, cached on disk.
    vectors: What an embedding model learned: vectors, cosine neighbours, 2-D maps, and comparisons.

Public names below are loaded from their module on first use, so importing
the package imports nothing heavy (torch, numba, umap, optuna).
"""

from recsys_utils import lazy_exports

_EXPORTS = {
    "COLOR_LABELS": "maps",
    "EXACT_KNN_MAX": "projection",
    "Embeddings": "vectors",
    "SIMILARITY_COL": "vectors",
    "TOP_GENRES": "maps",
    "UMAP_DEFAULTS": "projection",
    "distinctive_genre": "maps",
    "exact_cosine_knn": "projection",
    "extract": "vectors",
    "label_agreement": "vectors",
    "label_titles": "maps",
    "linear_r2": "vectors",
    "movie_frame": "maps",
    "nearest": "vectors",
    "nearest_users": "vectors",
    "neighbour_lists": "vectors",
    "neighbour_overlap": "vectors",
    "normalize_rows": "vectors",
    "project": "projection",
    "projection_path": "projection",
    "similar_movies": "vectors",
    "user_frame": "maps",
    "vectors_digest": "projection",
    "with_titles": "vectors",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
