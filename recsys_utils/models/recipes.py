"""Recipes: the models the app and commands serve, their settings, how each is trained or loaded.

- ``TUNED``: the settings chosen on the validation split for the rating nets (the
  benchmark, notebook 02 and the default blend use them).
- ``APP_MODELS`` / ``ensure_checkpoint``: the checkpoints ``recommend``, ``similar``, the
  widget app and notebooks 05-06 load (``ranking``, the default, ``mf``, and ``hybrid``,
  the model that places movies nobody rated); a missing one is trained once, under a file
  lock, so two commands started together train it once.
- ``load_or_train``: a checkpoint if saved, else a model trained here (notebooks 05, 06).
- ``load_matching``: a checkpoint only if it was fitted on exactly a given table (07).
- ``untrained`` / ``mf_from_factors``: a torch model with its id maps and a fresh or chosen
  net, nothing learned (the blog post's untrained rung, toy examples, tests).
"""

from __future__ import annotations

import contextlib
import fcntl
import time
from pathlib import Path

import numpy as np
import pandas as pd

from recsys_utils.constants import (
    DEFAULT_DATASET,
    ITEM_COL,
    RATING_COL,
    USER_COL,
    checkpoint_dir,
    shown_path,
)
from recsys_utils.models.fitting import SMALL_MF, fit_early_stopped

# --- tuned settings ---------------------------------------------------------------------
# Chosen on the validation split of ml-latest-small (the bench protocol; the test split
# played no part); used by ``bench peers``, notebook 02 and ``models.blend.DEFAULT_BLEND``.
# MF: l2=0.1 on the batch rows stops the overfitting that early stopping otherwise catches
# after ~6 epochs, and big batches with a cosine decay of a high rate get there in 6 epochs
# (val RMSE 0.830; 14 constant-rate epochs at batch 16384 give 0.829, lr 0.005 at batch
# 1024 0.832 in ~10x the time: the fit time counts in the benchmark). ImplicitMF: its
# implicit tables overfit within 2 epochs at lr 0.01, so a lower rate, cosine decay and
# l2=0.2; 128 factors beat 64 (val RMSE 0.818 vs 0.823). CollabFNet keeps the blog post's
# published settings. The class defaults stay plain and unregularised (a model can then
# fit a table exactly).
TUNED: dict[str, dict] = {
    "mf": {"batch_size": 8192, "lr": 0.03, "l2": 0.1, "epochs": 6, "schedule": "cosine"},
    "implicit_mf": {
        "n_factors": 128,
        "batch_size": 4096,
        "lr": 0.003,
        "l2": 0.2,
        "epochs": 12,
        "schedule": "cosine",
    },
    "collabfnet": {},
}

# --- the checkpoints the app and the commands serve ----------------------------------------
# What ``ensure_checkpoint`` trains when a named checkpoint is missing: the ranking model
# (the default of ``recommend``, ``similar`` and the app) and MF. Early stopping on the
# later positives of 10% of the ratings; the bench's settings, fewer epochs at most.
# The hybrid: ``bench coldstart``'s training budget at a smaller width, fewer epochs, id
# dropout 0.5 (ml-latest-small: best epoch 26 of 31, validation NDCG@100 0.249, 222 s at
# load 11-18 on the 2-core machine).
HYBRID_APP = {
    "dim": 128,
    "lr": 3e-3,
    "batch_size": 128,
    "max_epochs": 40,
    "min_epochs": 5,
    "patience": 5,
    "id_dropout": 0.5,
}
APP_MODELS: dict[str, tuple[str, dict]] = {
    "ranking": ("pooled_softmax", {"max_epochs": 100, "patience": 10}),
    "mf": ("mf", SMALL_MF),
    "hybrid": ("hybrid_pooled", HYBRID_APP),
}
# the app models built on the data set's movie-feature table as well as its ratings
BUILT_ON_FEATURES = frozenset({"hybrid"})
DEFAULT_CHECKPOINT = "ranking"
_LOCK_SUFFIX = ".lock"


def ensure_checkpoint(
    stem: str = DEFAULT_CHECKPOINT, dataset: str = DEFAULT_DATASET, echo=print
) -> Path:
    """The sidecar of checkpoint ``stem``: a path, or a name in ``data/checkpoints``.

    A missing named checkpoint of ``APP_MODELS`` (``ranking``, ``mf``, ``hybrid``) is
    trained here on the whole data set (the hybrid on its movie features too) and saved,
    and ``echo`` says so (notebook 03 saves ``ranking``, notebook 02 ``mf``). The training holds
    an exclusive lock on ``<stem>.json.lock`` beside the checkpoint: a second process
    asking for the same checkpoint meanwhile waits for it, then loads what the first
    saved instead of training again, and ``echo`` says that too.

    Raises:
        FileNotFoundError: ``stem`` is a path that does not exist, or a name that is
            neither saved nor one this function can train.
    """
    given = Path(stem)
    if given.suffix == ".json" or given.parent != Path("."):
        if not given.is_file():
            raise FileNotFoundError(f"no checkpoint at {given}")
        return given
    folder = checkpoint_dir()
    path = folder / f"{stem}.json"
    if path.is_file():
        return path
    if stem not in APP_MODELS:
        raise FileNotFoundError(
            f"no checkpoint {stem!r} in {shown_path(folder)} (saved there: "
            f"{', '.join(sorted(p.stem for p in folder.glob('*.json'))) or 'none'}; "
            f"trained when missing: {', '.join(APP_MODELS)})"
        )
    folder.mkdir(parents=True, exist_ok=True)
    with _exclusive(path.with_name(path.name + _LOCK_SUFFIX)) as waited:
        if path.is_file():  # another process trained it while this one waited
            echo(
                f"waited {waited:.0f} s while another process trained {shown_path(path)}; "
                "loading that checkpoint"
            )
            return path
        return _train_app_model(stem, dataset, path, echo)


def _train_app_model(stem: str, dataset: str, path: Path, echo) -> Path:
    from recsys_utils import data
    from recsys_utils.models import checkpoints

    name, params = APP_MODELS[stem]
    echo(f"no {stem} checkpoint in {shown_path(path.parent)}: training {name} on {dataset} first")
    start = time.perf_counter()
    if stem in BUILT_ON_FEATURES:
        params = {**params, "features": data.movie_features(dataset)}
    model = fit_early_stopped(name, data.load_dataset(dataset).ratings, **params)
    saved = checkpoints.save(model, path.with_suffix(""), dataset=dataset)
    echo(f"trained and saved {shown_path(saved)} in {time.perf_counter() - start:.0f} s")
    return saved


@contextlib.contextmanager
def _exclusive(path: Path):
    """Hold an exclusive ``flock`` on ``path`` (created if missing and left in place:
    removing it would let a third process lock a new file while a second holds the old);
    yields the seconds spent waiting for another holder. The lock goes with the process,
    so a killed trainer never leaves it held."""
    with open(path, "a") as handle:
        start = time.perf_counter()
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield time.perf_counter() - start
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


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


def load_matching(stem: str, train: pd.DataFrame, dataset: str, folder=None):
    """The checkpoint ``<folder>/<stem>.json`` if it was fitted on ``train``, else ``None``.

    "Fitted on ``train``" is checked as: same data set, and user and movie id maps equal
    to the ids of ``train`` (a model trained on another split would have seen our test).
    """
    from recsys_utils.models import checkpoints

    path = Path(folder or checkpoint_dir()) / f"{stem}.json"
    if not path.is_file():
        return None
    if checkpoints.read_meta(path).get("dataset") != dataset:
        return None
    model = checkpoints.load(path, expect_dataset=dataset)  # a damaged file still raises
    same = np.array_equal(
        model.user_map.ids, np.unique(train[USER_COL].to_numpy())
    ) and np.array_equal(model.item_map.ids, np.unique(train[ITEM_COL].to_numpy()))
    return model if same else None


# --- models with nothing learned -----------------------------------------------------------
def untrained(model, train: pd.DataFrame, mu: float | None = None):
    """A torch ``model`` given its id maps and a freshly initialised net, nothing learned.

    The contract's bookkeeping (id maps, fallbacks, seen movies, counts) comes from a
    one-epoch fit of a copy of ``model`` on ``train``; its net is then built afresh from the
    model's seed (``build_net``), so the weights are exactly those training would start from.

    Args:
        model: an unfitted ``TorchRecommender`` (its hyperparameters are kept).
        mu: the net's starting offset (MF's mu, CollabFNet's output bias); default the
            training mean, 0.0 reproduces a net that starts from zero like the blog post's.

    Returns:
        a new model of ``model``'s class, with ``history_`` ``None`` (it was never trained).
    """
    params = {**model.get_params(), "epochs": 1, "patience": None, "progress": False}
    fresh = type(model)(rating_scale=model.rating_scale, **params).fit(train)
    offset = float(train[RATING_COL].mean()) if mu is None else float(mu)
    fresh.build_net(len(fresh.user_map), len(fresh.item_map), offset)
    fresh.net.eval()
    fresh.history_ = None
    return fresh


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
    base = MF(n_factors=user_vecs.shape[1], rating_scale=rating_scale, device="cpu")
    model = untrained(base, ratings, mu=mu)
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
    return model
