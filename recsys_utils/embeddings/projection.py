"""2-D maps of embedding vectors: UMAP (cosine metric) or PCA, cached on disk.

``project`` keeps the coordinates in ``constants.cache_dir()/projections``, keyed by a
hash of the vectors and the method's parameters, so the same map is computed once.
``embeddings`` re-exports the public names (``embeddings.project``).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile

import numpy as np

from recsys_utils.constants import cache_dir

_EXACT_KNN_MAX = 20_000  # above this, UMAP's own approximate neighbour search
# UMAP would run 500 epochs below 10,000 points; 200 (its choice above that) draws the
# same clusters in well under half the time on two cores
UMAP_DEFAULTS = {"n_neighbors": 15, "min_dist": 0.1, "metric": "cosine", "n_epochs": 200}


def _vectors_digest(vectors: np.ndarray) -> str:
    """A SHA-256 of the array's shape, dtype and bytes (the default cache key)."""
    arr = np.ascontiguousarray(vectors)
    h = hashlib.sha256(f"{arr.shape}{arr.dtype}".encode())
    h.update(arr.tobytes())
    return h.hexdigest()


def _select(n: int, max_points: int | None, priority) -> np.ndarray:
    if max_points is None or max_points >= n:
        return np.arange(n)
    if priority is None:
        return np.sort(np.random.default_rng(0).choice(n, max_points, replace=False))
    order = np.lexsort((np.arange(n), -np.asarray(priority, dtype=np.float64)))
    return np.sort(order[:max_points])


def _compute_projection(vectors: np.ndarray, method: str, seed: int, params: dict) -> np.ndarray:
    """The projection itself (tests count calls to this to prove cache hits)."""
    if method == "pca":
        centred = vectors - vectors.mean(0)
        _, _, vt = np.linalg.svd(centred, full_matrices=False)
        big = np.abs(vt[:2]).argmax(1)
        comps = vt[:2] * np.sign(vt[:2][[0, 1], big])[:, None]  # largest loading positive
        return centred @ comps.T
    import warnings

    import umap

    kw = dict(params)
    if kw.get("metric") == "cosine" and len(vectors) <= _EXACT_KNN_MAX:
        kw["precomputed_knn"] = exact_cosine_knn(vectors, kw.get("n_neighbors", 15))
    reducer = umap.UMAP(n_components=2, random_state=seed, n_jobs=1, **kw)  # seeded: serial
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*knn_search_index.*")  # no .transform needed
        return reducer.fit_transform(vectors)


def exact_cosine_knn(vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, None]:
    """UMAP's ``precomputed_knn``: each row's k nearest rows (itself first), cosine distances.

    Exact and computed by blocks of matrix products. Up to ``_EXACT_KNN_MAX`` rows this
    replaces UMAP's approximate search, whose numba compilation alone took about 55 of
    the 77 CPU-seconds of a first UMAP call on 9,375 movies.
    """
    from recsys_utils.embeddings.vectors import neighbour_lists, normalize_rows

    n = len(vectors)
    k = min(k, n)
    near = neighbour_lists(vectors, np.arange(n), k - 1)
    indices = np.column_stack([np.arange(n), near])
    unit = normalize_rows(vectors)
    dist = np.maximum(1.0 - np.einsum("ij,ikj->ik", unit, unit[indices]), 0.0)
    dist[:, 0] = 0.0
    return indices, dist.astype(np.float32), None


def projection_path(
    vectors: np.ndarray,
    method: str,
    cache_key: str | None,
    params: dict,
    seed: int,
    rows: np.ndarray,
):
    """Where ``project`` keeps the coordinates for these inputs."""
    key = json.dumps(
        {
            "vectors": cache_key or _vectors_digest(vectors),
            "method": method,
            "params": params,
            "seed": seed,
            "rows": _vectors_digest(rows),
        },
        sort_keys=True,
        default=str,
    )
    return (
        cache_dir()
        / "projections"
        / f"{method}-{hashlib.sha256(key.encode()).hexdigest()[:20]}.npy"
    )


def project(
    vectors: np.ndarray,
    method: str = "umap",
    cache_key: str | None = None,
    max_points: int | None = None,
    priority=None,
    seed: int = 42,
    use_cache: bool = True,
    **umap_params,
) -> np.ndarray:
    """2-D coordinates of the rows of ``vectors``, cached on disk.

    Args:
        vectors: (n, d) embeddings.
        method: ``"umap"`` (cosine metric by default) or ``"pca"`` (fast, linear).
        cache_key: names the vectors in the cache (e.g. a checkpoint's SHA-256);
            default: a hash of the vectors themselves.
        max_points: project at most this many rows (large catalogues); the others
            get NaN coordinates.
        priority: with ``max_points``, keep the rows with the highest priority (e.g.
            rating counts); default a seeded random sample.
        seed: UMAP's random_state (same seed, same map).
        use_cache: read and write ``cache_dir()/projections``.
        **umap_params: UMAP keyword arguments (``n_neighbors``, ``min_dist``, ``metric``).

    Returns:
        (n, 2) float array aligned with the rows of ``vectors``.
    """
    if method not in ("umap", "pca"):
        raise ValueError(f"method must be 'umap' or 'pca', got {method!r}")
    vectors = np.asarray(vectors, dtype=np.float32)
    n = vectors.shape[0]
    if n < 3:
        raise ValueError(f"need at least 3 vectors to project, got {n}")
    params = {**UMAP_DEFAULTS, **umap_params} if method == "umap" else {}
    rows = _select(n, max_points, priority)
    path = projection_path(vectors, method, cache_key, params, seed, rows)
    if use_cache and path.is_file():
        return np.load(path)
    coords = np.full((n, 2), np.nan)
    coords[rows] = _compute_projection(vectors[rows], method, seed, params)
    if use_cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npy.tmp")
        with os.fdopen(fd, "wb") as fh:
            np.save(fh, coords)
        os.replace(tmp, path)
    return coords
