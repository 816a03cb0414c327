"""Models for the embedding notebooks (04, 05) and the benchmark of the demo's targets.

``load_or_train`` gives the notebooks a model whether or not notebook 02 has saved its
checkpoint; ``mf_from_factors`` builds an MF with chosen vectors (toy examples, tests);
``bench_embeddings`` times fold-in, neighbour queries and UMAP and checks fold-in
against the bias-only baseline, so the closing figures come from one command:

    python -c "from recsys_utils.app.demo import bench_embeddings; print(bench_embeddings())"
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from recsys_utils.constants import DEFAULT_DATASET, checkpoint_dir, shown_path
from recsys_utils.models.fitting import SMALL_MF, fit_early_stopped  # noqa: F401 (re-exported)

# What ``ensure_checkpoint`` trains when a named checkpoint is missing: the ranking model
# (the default of ``recommend``, ``similar`` and the app) and MF. Early stopping on the
# later positives of 10% of the ratings; the bench's settings, fewer epochs at most.
APP_MODELS = {
    "ranking": ("pooled_softmax", {"max_epochs": 100, "patience": 10}),
    "mf": ("mf", SMALL_MF),
}
DEFAULT_CHECKPOINT = "ranking"


def ensure_checkpoint(stem: str = DEFAULT_CHECKPOINT, dataset: str = DEFAULT_DATASET, echo=print):
    """The sidecar of checkpoint ``stem``: a path, or a name in ``data/checkpoints``.

    A missing named checkpoint of ``APP_MODELS`` (``ranking``, ``mf``) is trained here on
    the whole data set and saved, and ``echo`` says so (notebook 03 saves ``ranking``,
    notebook 02 ``mf``, so after ``make report`` nothing is trained).

    Raises:
        FileNotFoundError: ``stem`` is a path that does not exist, or a name that is
            neither saved nor one this function can train.
    """
    from pathlib import Path

    given = Path(stem)
    if given.suffix == ".json" or given.parent != Path("."):
        if not given.is_file():
            raise FileNotFoundError(f"no checkpoint at {given}")
        return given
    path = checkpoint_dir() / f"{stem}.json"
    if path.is_file():
        return path
    if stem not in APP_MODELS:
        raise FileNotFoundError(
            f"no checkpoint {stem!r} in {shown_path(checkpoint_dir())} (saved there: "
            f"{', '.join(sorted(p.stem for p in checkpoint_dir().glob('*.json'))) or 'none'}; "
            f"trained when missing: {', '.join(APP_MODELS)})"
        )
    import time

    from recsys_utils import data
    from recsys_utils.models import checkpoints

    name, params = APP_MODELS[stem]
    echo(
        f"no {stem} checkpoint in {shown_path(checkpoint_dir())}: training {name} on {dataset} first"
    )
    start = time.perf_counter()
    model = fit_early_stopped(name, data.load_dataset(dataset).ratings, **params)
    saved = checkpoints.save(model, checkpoint_dir() / stem, dataset=dataset)
    echo(f"trained and saved {shown_path(saved)} in {time.perf_counter() - start:.0f} s")
    return saved


def mf_from_factors(
    ratings: pd.DataFrame,
    user_vecs,
    item_vecs,
    user_bias=None,
    item_bias=None,
    mu: float | None = None,
    rating_scale: tuple[float, float] | None = None,
):
    """An ``models.MF`` with chosen factors instead of trained ones (toy examples, tests).

    ``ratings`` plays the training table (id maps, seen movies, counts, fallbacks); row
    ``j`` of ``user_vecs``/``item_vecs`` belongs to the ``j``-th smallest user/movie id in
    it. Biases default to 0 and ``mu`` to the mean rating. Nothing is trained.
    """
    import torch

    from recsys_utils.models.torch_models import MF

    user_vecs, item_vecs = np.atleast_2d(user_vecs), np.atleast_2d(item_vecs)
    model = MF(
        n_factors=user_vecs.shape[1],
        rating_scale=rating_scale,
        epochs=1,
        progress=False,
        device="cpu",
    )
    model._fit = lambda u, i, r, valid: model.build_net(
        len(model.user_map), len(model.item_map), float(r.mean())
    )
    model.fit(ratings)
    del model._fit
    net = model.net
    shapes = {"user_vecs": (user_vecs, net.user_emb), "item_vecs": (item_vecs, net.item_emb)}
    for name, (arr, emb) in shapes.items():
        if arr.shape != tuple(emb.weight.shape):
            raise ValueError(
                f"{name} has shape {arr.shape}, the ratings need {tuple(emb.weight.shape)}"
            )
    with torch.no_grad():
        net.user_emb.weight.copy_(torch.as_tensor(user_vecs))
        net.item_emb.weight.copy_(torch.as_tensor(item_vecs))
        if user_bias is not None:
            net.user_bias.weight.copy_(torch.as_tensor(np.reshape(user_bias, (-1, 1))))
        if item_bias is not None:
            net.item_bias.weight.copy_(torch.as_tensor(np.reshape(item_bias, (-1, 1))))
        if mu is not None:
            net.mu.fill_(float(mu))
    net.eval()
    return model


def load_or_train(
    stem: str = "mf",
    dataset: str = DEFAULT_DATASET,
    model: str = "mf",
    ratings: pd.DataFrame | None = None,
    **params,
):
    """The checkpoint ``checkpoint_dir()/<stem>.json`` if present, else a model trained here.

    Args:
        stem: checkpoint name saved by notebook 02 (``mf``, ``collabfnet``).
        dataset: the data set the checkpoint must have been trained on.
        model: registry name of the model to train when there is no checkpoint.
        ratings: what to train on (default: the whole data set), 10% of it held
            back for early stopping (``fit_early_stopped``).
        **params: hyperparameters of that model (MF default: ``SMALL_MF``).

    Returns:
        the model, with ``loaded_from`` set to the checkpoint path or ``"trained here"``.
    """
    from recsys_utils import data
    from recsys_utils.models import checkpoints

    path = checkpoint_dir() / f"{stem}.json"
    if path.is_file():
        fitted = checkpoints.load(path, expect_dataset=dataset)
        fitted.loaded_from = shown_path(path)
        return fitted
    if ratings is None:
        ratings = data.load_dataset(dataset).ratings
    fitted = fit_early_stopped(model, ratings, **params)
    fitted.loaded_from = "trained here"
    return fitted


def median_ms(fn, repeats: int) -> float:
    """Median wall time of ``repeats`` calls of ``fn``, in milliseconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times) * 1e3)


def bench_embeddings(
    model=None,
    dataset: str = DEFAULT_DATASET,
    repeats: int = 20,
    run_umap: bool = True,
    curve_users: int = 60,
    curve_seeds=(3, 4, 5),
    seed: int = 0,
    **mf_params,
) -> dict:
    """Time the demo's operations and compare fold-in with the bias-only baseline.

    Args:
        model: a fitted MF (default: ``load_or_train("mf", dataset)``).
        repeats: timing repetitions (the median is reported).
        run_umap: time a cold UMAP of every movie vector and the cached second call.
        curve_users: held-out users for the RMSE check (for each of ``curve_seeds`` an
            MF is trained without them by ``fit_early_stopped``, ``mf_params``
            overriding ``SMALL_MF``); 0 skips it.

    Returns:
        dict of figures: n_movies, fold_in_top10_ms, neighbour_ms, umap_cold_s,
        umap_cold_cpu_s (CPU seconds: the wall time the run would take on an idle core),
        umap_cached_s; at k=10 ratings, per seed, seed<N>_fold_in_rmse and
        seed<N>_bias_only_rmse, then mean_rmse_gain_over_bias and seeds_beating_bias.
    """
    from recsys_utils import data, embeddings, recommend
    from recsys_utils.embeddings import projection
    from recsys_utils.evaluation import foldin_curve

    ds = data.load_dataset(dataset)
    model = model or load_or_train("mf", dataset)
    emb = embeddings.extract(model)
    rng = np.random.default_rng(seed)
    popular = model.item_map.ids[np.argsort(-model.item_counts_, kind="stable")[:200]]
    pairs = [
        (int(m), float(rng.integers(1, 11) / 2)) for m in rng.choice(popular, 10, replace=False)
    ]
    queries = iter(rng.choice(popular, repeats + 1))
    out = {
        "n_movies": int(len(emb.item_ids)),
        "fold_in_top10_ms": median_ms(
            lambda: recommend.recommend_new_user(model, pairs, 10), repeats
        ),
        "neighbour_ms": median_ms(
            lambda: embeddings.similar_movies(model, next(queries), 10), repeats
        ),
    }
    if run_umap:
        key = f"bench-{time.time_ns()}"  # a key never used before: a guaranteed cold run
        start, cpu = time.perf_counter(), time.process_time()
        embeddings.project(emb.item, "umap", cache_key=key, seed=seed)
        out["umap_cold_s"] = time.perf_counter() - start
        out["umap_cold_cpu_s"] = time.process_time() - cpu  # = wall time on an idle machine
        start = time.perf_counter()
        embeddings.project(emb.item, "umap", cache_key=key, seed=seed)
        out["umap_cached_s"] = time.perf_counter() - start
        params = {**projection.UMAP_DEFAULTS}
        projection.projection_path(
            emb.item.astype(np.float32), "umap", key, params, seed, np.arange(len(emb.item))
        ).unlink(missing_ok=True)
    if curve_users:
        # fresh draws of held-out users (FOLD_IN_REG was chosen on seeds 0-2); the
        # notebook's protocol: scored on the ratings after each user's first 20
        gains = []
        for curve_seed in curve_seeds:
            train, held = foldin_curve.split_heldout_users(ds.ratings, curve_users, 40, curve_seed)
            mf = fit_early_stopped("mf", train, seed=curve_seed, **mf_params)
            curve = foldin_curve.fold_in_curve(mf, train, held, (1, 2, 5, 10, 20), seed=curve_seed)
            at10 = curve[curve["k"] == 10].set_index("method")["rmse"]
            out[f"seed{curve_seed}_fold_in_rmse"] = float(at10["fold_in"])
            out[f"seed{curve_seed}_bias_only_rmse"] = float(at10["bias_only"])
            gains.append(float(at10["bias_only"] - at10["fold_in"]))
        out.update(
            mean_rmse_gain_over_bias=float(np.mean(gains)),
            seeds_beating_bias=int(sum(g > 0 for g in gains)),
            n_seeds=len(gains),
        )
    return out
