"""What the nets learned: vectors, nearest neighbours, 2-D projections and map tables.

Public API: ``extract`` and ``Embeddings``, neighbours (``similar_movies``, ``nearest``,
``nearest_users``, ``with_titles``), the comparisons (``label_agreement``, ``linear_r2``,
``neighbour_overlap``, ``neighbour_lists``), ``project`` and its cache, and the ``maps``
tables (``thin_movies``: which movies a map draws apart); that is ``__all__``, loaded from
its module on first use so importing the package imports nothing heavy (torch, numba, umap,
optuna). Everything else, the ``_private`` modules and ``_helpers`` included, is internal and
may change without notice.
"""

from recsys_utils import lazy_exports

_EXPORTS = {
    "COLOR_LABELS": "maps",
    "label_titles": "maps",
    "movie_frame": "maps",
    "thin_movies": "maps",
    "user_frame": "maps",
    "project": "projection",
    "projection_path": "projection",
    "UMAP_DEFAULTS": "projection",
    "Embeddings": "vectors",
    "extract": "vectors",
    "label_agreement": "vectors",
    "linear_r2": "vectors",
    "nearest": "vectors",
    "nearest_users": "vectors",
    "neighbour_lists": "vectors",
    "neighbour_overlap": "vectors",
    "normalize_rows": "vectors",
    "similar_movies": "vectors",
    "SIMILARITY_COL": "vectors",
    "with_titles": "vectors",
}
_MODULES = ("maps",)
__all__ = sorted([*_EXPORTS, *_MODULES])
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, _MODULES)
