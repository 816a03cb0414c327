"""Scale benchmark: MF throughput and memory on synthetic ratings, Surprise for reference,
and neighbour search / UMAP at a large catalogue.

``python -m recsys_utils bench scale`` calls ``run_scale``. Figures, never assertions:
timings depend on the machine and on what else it runs.
"""

from __future__ import annotations

import resource
import sys
import time

import numpy as np
import pandas as pd

from recsys_utils.data import synthetic

# ml-25m's shape: 25M ratings, 160k users, 60k movies
ML25M_RATINGS, ML25M_USERS, ML25M_ITEMS = 25_000_000, 160_000, 60_000


def peak_rss_gb() -> float:
    """Peak resident memory of this process so far, in GiB (``ru_maxrss``)."""
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 2**30 if sys.platform == "darwin" else kb / 2**20  # macOS reports bytes


def synthetic_config(
    n_ratings: int, n_users: int | None = None, n_items: int | None = None, seed: int = 0
) -> synthetic.SyntheticConfig:
    """A config of ml-25m's proportions scaled to ``n_ratings`` (floors keep tiny runs valid)."""
    frac = n_ratings / ML25M_RATINGS
    n_items = n_items or max(200, round(ML25M_ITEMS * frac))
    n_users = n_users or max(round(ML25M_USERS * frac), -(-4 * n_ratings // n_items))
    return synthetic.SyntheticConfig(
        n_ratings=n_ratings, n_users=n_users, n_items=n_items, seed=seed
    )


def bench_mf(
    ratings: pd.DataFrame,
    dim: int = 64,
    batch_size: int = 65_536,
    epochs: int = 1,
    optimizer: str = "sparse_adam",
    lr: float = 0.005,
    device: str = "auto",
    num_threads: int | None = None,
    fused: bool = True,
    seed: int = 42,
) -> dict:
    """Fit MF (the model contract's ``fit``) and time each epoch.

    ``fused`` lets a row-sparse optimiser on the CPU take the compiled step of
    ``training._fused_mf``; ``False`` times the generic torch step.

    Returns:
        dict with ``ratings_per_s`` (list, one per epoch), ``train_loss`` (list),
        ``device``, ``fused`` (whether the compiled step ran) and ``fit_seconds``
        (whole fit, including id maps and tensors).
    """
    from recsys_utils.models.torch_models import MF

    model = MF(
        n_factors=dim,
        batch_size=batch_size,
        epochs=epochs,
        optimizer=optimizer,
        lr=lr,
        patience=None,
        progress=False,
        device=device,
        num_threads=num_threads,
        fused=fused,
        seed=seed,
    )
    start = time.perf_counter()
    model.fit(ratings)
    history = model.history_
    return {
        "ratings_per_s": (len(ratings) / history["seconds"]).tolist(),
        "train_loss": history["train_loss"].tolist(),
        "device": str(model.device),
        "fused": bool(history.attrs.get("fused", False)),
        "fit_seconds": time.perf_counter() - start,
    }


def bench_surprise(
    ratings: pd.DataFrame, n: int = 1_000_000, dim: int = 64, epochs: int = 1, seed: int = 0
) -> dict | None:
    """Surprise SVD on a seeded ``n``-rating sample: ratings per second of its ``fit``.

    Returns ``None`` when scikit-surprise is not installed (the ``bench`` extra).
    """
    try:
        import surprise
    except ImportError:
        return None
    sample = ratings.sample(n=min(n, len(ratings)), random_state=seed)
    reader = surprise.Reader(rating_scale=(synthetic.RATING_MIN, synthetic.RATING_MAX))
    frame = sample[["user_id", "item_id", "rating"]]
    trainset = surprise.Dataset.load_from_df(frame, reader).build_full_trainset()
    algo = surprise.SVD(n_factors=dim, n_epochs=epochs, random_state=seed)
    start = time.perf_counter()
    algo.fit(trainset)
    seconds = time.perf_counter() - start
    return {"n_ratings": len(sample), "ratings_per_s": len(sample) * epochs / seconds}


def bench_catalogue(
    n_items: int = 60_000, dim: int = 64, k: int = 10, umap_points: int = 20_000, seed: int = 0
) -> dict:
    """Neighbour search and UMAP timings on ``n_items`` clustered vectors.

    Neighbours: approximate (pynndescent, cosine) for all items, plus the exact chunked
    search (``embeddings.neighbour_lists``) for 1,000 queries with the recall of the
    approximate lists against it. UMAP: ``embeddings.project`` on a ``umap_points``
    subsample (the plots' setting), cache off.
    """
    from pynndescent import NNDescent

    from recsys_utils import embeddings

    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(50, dim))
    vectors = centres[rng.integers(0, 50, n_items)] + 0.5 * rng.normal(size=(n_items, dim))
    vectors = vectors.astype(np.float32)
    out: dict = {"n_items": n_items}
    start = time.perf_counter()
    index = NNDescent(vectors, metric="cosine", n_neighbors=k + 1, random_state=seed)
    approx, _ = index.neighbor_graph
    out["ann_seconds"] = time.perf_counter() - start
    queries = rng.choice(n_items, min(1000, n_items), replace=False)
    start = time.perf_counter()
    exact = embeddings.neighbour_lists(vectors, queries, k)
    out["exact_1000_seconds"] = time.perf_counter() - start
    hits = [
        np.intersect1d(approx[q][approx[q] != q][:k], exact[j]).size for j, q in enumerate(queries)
    ]
    out["ann_recall"] = float(np.mean(hits) / k)
    start = time.perf_counter()
    embeddings.project(vectors, "umap", max_points=umap_points, use_cache=False)
    out["umap_points"] = min(umap_points, n_items)
    out["umap_seconds"] = time.perf_counter() - start
    return out


def run_scale(
    n_ratings: int = ML25M_RATINGS,
    dim: int = 64,
    batch_size: int = 65_536,
    epochs: int = 1,
    optimizer: str = "sparse_adam",
    fused: bool = True,
    surprise_ratings: int = 1_000_000,
    catalogue: int = 0,
    device: str = "auto",
    num_threads: int | None = None,
    seed: int = 0,
    echo=print,
) -> dict:
    """Generate, train, compare; print each figure as it comes and return them all."""
    cfg = synthetic_config(n_ratings, seed=seed)
    start = time.perf_counter()
    ratings = synthetic.generate_ratings(cfg)
    figures: dict = {
        "n_ratings": len(ratings),
        "n_users": cfg.n_users,
        "n_items": cfg.n_items,
        "generate_seconds": time.perf_counter() - start,
    }
    echo(
        f"synthetic ratings: {len(ratings):,} ({cfg.n_users:,} users x {cfg.n_items:,} movies) "
        f"in {figures['generate_seconds']:.1f} s"
    )
    mf = bench_mf(
        ratings,
        dim,
        batch_size,
        epochs,
        optimizer,
        device=device,
        num_threads=num_threads,
        fused=fused,
    )
    figures.update({f"mf_{k}": v for k, v in mf.items()})
    step = " (fused step)" if mf["fused"] else ""
    for e, (rate, loss) in enumerate(zip(mf["ratings_per_s"], mf["train_loss"], strict=True), 1):
        echo(
            f"MF {optimizer} dim {dim} batch {batch_size:,} on {mf['device']}{step}: epoch {e} "
            f"{rate / 1e6:.2f}M ratings/s (train MSE {loss:.3f})"
        )
    figures["mf_best_ratings_per_s"] = max(mf["ratings_per_s"])
    if surprise_ratings:
        sp = bench_surprise(ratings, surprise_ratings, dim, epochs=1, seed=seed)
        if sp is None:
            echo("Surprise: not installed (pip install 'recsys-utils[bench]'); ratio skipped")
        else:
            figures["surprise_ratings_per_s"] = sp["ratings_per_s"]
            figures["ratio_vs_surprise"] = figures["mf_best_ratings_per_s"] / sp["ratings_per_s"]
            echo(
                f"Surprise SVD dim {dim} on {sp['n_ratings']:,} ratings: "
                f"{sp['ratings_per_s'] / 1e6:.2f}M ratings/s; MF/Surprise = "
                f"{figures['ratio_vs_surprise']:.1f}x"
            )
    del ratings
    if catalogue:
        cat = bench_catalogue(catalogue, dim, seed=seed)
        figures.update({f"catalogue_{k}": v for k, v in cat.items()})
        echo(
            f"{catalogue:,} movies: approximate 10-NN (pynndescent) {cat['ann_seconds']:.1f} s, "
            f"recall {cat['ann_recall']:.3f} vs exact; exact 10-NN for 1,000 queries "
            f"{cat['exact_1000_seconds']:.2f} s; UMAP of {cat['umap_points']:,} points "
            f"{cat['umap_seconds']:.1f} s"
        )
    figures["peak_rss_gb"] = peak_rss_gb()
    echo(f"peak RSS {figures['peak_rss_gb']:.2f} GB")
    return figures


# --- ours (pooled_softmax) at ml-25m's shape ---------------------------------------------
def synthetic_positives(cfg: synthetic.SyntheticConfig, threshold: float = 4.0):
    """Users x movies 0/1 CSR of the synthetic ratings >= ``threshold``, built block by
    block (the whole ratings table is never held)."""
    import scipy.sparse as sps

    rows, cols = [], []
    for block in synthetic.iter_ratings(cfg):
        keep = block["rating"].to_numpy() >= threshold
        rows.append(block["user_id"].to_numpy()[keep] - 1)
        cols.append(block["item_id"].to_numpy()[keep])
    rows, cols = np.concatenate(rows), np.concatenate(cols)
    items, cols = np.unique(cols, return_inverse=True)
    X = sps.csr_matrix(
        (np.ones(rows.size, np.float32), (rows, cols.astype(np.int32))),
        shape=(cfg.n_users, items.size),
    )
    X.sum_duplicates()
    return X


def bench_pooled_softmax(
    n_ratings: int = ML25M_RATINGS,
    dim: int = 200,
    batch_size: int = 1024,
    n_negatives: int = 2048,
    n_batches: int | None = 20,
    optimizer: str = "sparse_adam",
    device: str = "auto",
    num_threads: int | None = None,
    seed: int = 0,
    echo=print,
) -> dict:
    """One epoch of ``PooledSoftmax`` (sampled softmax, log-Q corrected) on synthetic
    positives of ml-25m's shape (ratings >= 4): positives per second and peak RSS.

    ``n_batches``: time that many batches of randomly drawn users (the whole catalogue
    stays in the tables) and extrapolate the epoch; ``None`` trains the whole epoch.
    ``optimizer``: ``"sparse_adam"`` updates the rows a batch touches (``training._rowsparse``),
    ``"adamw"`` every row of both tables each batch (the model's default).
    ``positives_per_s`` is over the epoch's training (the history's seconds);
    ``fit_positives_per_s`` over the whole fit, setup included (tables initialised,
    optimiser built, the compiled loops loaded: a fixed second or two that 20 batches
    do not amortise).
    """
    from recsys_utils.models.base import people_table
    from recsys_utils.models.ranking import PooledSoftmax

    cfg = synthetic_config(n_ratings, seed=seed)
    start = time.perf_counter()
    X = synthetic_positives(cfg)
    gen_s = time.perf_counter() - start
    echo(
        f"synthetic positives (ratings >= 4): {X.nnz:,} of {n_ratings:,} ratings "
        f"({X.shape[0]:,} users x {X.shape[1]:,} movies) in {gen_s:.1f} s"
    )
    sub = X
    if n_batches is not None and n_batches * batch_size < X.shape[0]:
        rng = np.random.default_rng(seed)
        sub = X[np.sort(rng.choice(X.shape[0], n_batches * batch_size, replace=False))]
    model = PooledSoftmax(
        dim=dim,
        loss="sampled",
        n_negatives=n_negatives,
        batch_size=batch_size,
        optimizer=optimizer,
        max_epochs=1,
        seed=seed,
        device=device,
        num_threads=num_threads or 0,
    ).fit(people_table(sub * 5.0, np.arange(sub.shape[0]), np.arange(sub.shape[1])))
    epoch_s = float(model.history_["seconds"].iloc[-1])
    rate = sub.nnz / epoch_s
    out = {
        "n_users": int(X.shape[0]),
        "n_items": int(X.shape[1]),
        "n_positives": int(X.nnz),
        "timed_positives": int(sub.nnz),
        "timed_seconds": epoch_s,
        "positives_per_s": rate,
        "fit_seconds": model.fit_seconds_,
        "fit_positives_per_s": sub.nnz / model.fit_seconds_,
        "epoch_seconds": X.nnz / rate,
        "optimizer": optimizer,
        "device": model.device_,
        "train_loss": float(model.history_["loss"].iloc[-1]),
        "generate_seconds": gen_s,
        "peak_rss_gb": peak_rss_gb(),
    }
    echo(
        f"pooled_softmax dim {dim} batch {batch_size:,} sampled softmax ({n_negatives} "
        f"negatives) {optimizer} on {out['device']}: {rate:,.0f} positives/s over "
        f"{sub.nnz:,} positives ({out['fit_positives_per_s']:,.0f} with the setup); one epoch "
        f"of {X.nnz:,} ~ {out['epoch_seconds'] / 60:.1f} min (loss {out['train_loss']:.3f})"
    )
    echo(f"peak RSS {out['peak_rss_gb']:.2f} GB")
    return out
