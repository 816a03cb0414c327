"""Running sweep trials: the protocol's split, the model of a point, the objective, workers.

Each trial trains one model on the protocol's train split and reports its validation
objective after every epoch (``trial.report`` and the ``history`` user attribute), so
one run gives the whole epoch curve and its best epoch. The objective and its direction
come from the model (``config.objective_of``): validation RMSE, minimised, by default;
validation NDCG@100, maximised, for ``pooled_softmax``. The trial's value is the best. Workers are processes that run trials until the study is settled;
``run_workers`` starts them for ``sweeps.run_sweep``.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import multiprocessing.connection as mp_connection
import os
import time
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from recsys_utils.constants import DATASETS, ITEM_COL, RATING_COL, USER_COL
from recsys_utils.tuning._storage import (
    _check_duplicate,
    _worker_tag,
    make_storage,
    open_study,
    progress,
    repair,
)
from recsys_utils.tuning.results import RESULT_COLUMNS

if TYPE_CHECKING:
    from recsys_utils.tuning.config import SweepConfig

POLL_S = 1.0


@lru_cache(maxsize=2)
def load_sweep_split(dataset: str):
    """(``splits.Split``, rating scale): the protocol's random split of ``dataset``.

    ``splits.protocol_split``: 10% of the ratings held out for test and 10% for validation;
    trials see only train and validation. Made afresh from the ratings (cached), unlike
    ``data.splits.load_split``, which reads the split notebook 01 saved.
    """
    from recsys_utils.data import splits

    if dataset in DATASETS:
        from recsys_utils.data.movielens import load_dataset

        ratings, scale = load_dataset(dataset).ratings, DATASETS[dataset].rating_scale
    else:
        path = Path(dataset)
        ratings = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
        scale = (float(ratings[RATING_COL].min()), float(ratings[RATING_COL].max()))
    return splits.protocol_split(ratings), scale


def build_model(cfg: SweepConfig, params: dict, scale=None, threads: int | None = None):
    """The model a trial trains: ``cfg.fixed`` plus ``params``, with the sweep's epochs,
    patience and seed (retraining the best point with it reproduces the trial on CPU).

    The epoch budget is ``params["epochs"]`` where the space sweeps it, else
    ``cfg.epochs``; each option goes under the keyword the model's class declares
    (``Recommender.with_loop_options``), and a model without epochs takes none.
    """
    from recsys_utils import models

    cls = models.MODELS[cfg.model]
    kwargs = {**cfg.fixed, **params, "rating_scale": scale}
    if "epochs" in kwargs:  # a swept or fixed budget: refused for a model without epochs
        models.require(cls, "epochs")
    options = {
        "epochs": kwargs.pop("epochs", cfg.epochs),
        "patience": cfg.patience,
        "seed": cfg.seed,
        "progress": False,
    }
    if threads:
        options["num_threads"] = threads
    return models.make_model(cfg.model, **cls.with_loop_options(kwargs, **options))


def _suggest(trial, space: dict) -> dict:
    """Sample the trial's point: lists are categorical, ``(low, high, log)`` int or float."""
    params = {}
    for name, spec in space.items():
        if isinstance(spec, list):
            params[name] = trial.suggest_categorical(name, spec)
        elif isinstance(spec[0], int) and isinstance(spec[1], int):
            params[name] = trial.suggest_int(name, spec[0], spec[1], log=spec[2])
        else:
            params[name] = trial.suggest_float(name, float(spec[0]), float(spec[1]), log=spec[2])
    return params


def objective(trial, cfg: SweepConfig, threads: int | None, hook: Callable | None = None) -> float:
    """Train one model; report its validation objective per epoch; return the best of them.

    The objective is the model's (``cfg.objective``): validation RMSE, minimised, for the
    rating models; validation NDCG@100, maximised, for ``pooled_softmax``. History rows
    keep ``val_rmse`` (NaN where a model has none) and add the objective's own column."""
    import optuna

    from recsys_utils.metrics import rmse
    from recsys_utils.training.loop import TrainingDiverged

    metric, direction = cfg.objective
    better = max if direction == "maximize" else min
    trial.set_user_attr("worker", _worker_tag())
    params = _suggest(trial, cfg.space)
    if cfg.sampler == "grid":
        _check_duplicate(trial, cfg, params)
    try:  # set-up errors (the data, the model's parameters) keep their reason too
        split, scale = load_sweep_split(cfg.dataset)
        train, valid = split.train, split.valid
        model = build_model(cfg, params, scale, threads)
    except Exception as err:
        trial.set_user_attr("error", f"{type(err).__name__}: {err}")
        raise
    history: list[dict] = []

    def on_epoch(row: dict) -> None:
        row = {"train_loss": row.get("loss", float("nan")), **row}
        if metric not in row:  # not a validation epoch (eval_every > 1)
            return
        history.append(
            {k: float(row.get(k, float("nan"))) for k in RESULT_COLUMNS[3:]}
            | {metric: float(row[metric]), "epoch": int(row["epoch"])}
        )
        best = better(history, key=lambda r: r[metric])
        trial.set_user_attr("history", history)
        trial.set_user_attr("best_epoch", best["epoch"])
        trial.set_user_attr(f"best_{metric}", best[metric])
        trial.report(row[metric], row["epoch"])
        if hook is not None:
            hook(trial, row)
        if cfg.prune and trial.should_prune():
            raise optuna.TrialPruned(f"{metric} {row[metric]:.4f} at epoch {row['epoch']}")

    model.on_epoch = on_epoch
    start = time.perf_counter()
    try:
        model.fit(train, valid)
    except TrainingDiverged as err:
        trial.set_user_attr("diverged", str(err))
    except KeyboardInterrupt:
        trial.set_user_attr("interrupted", True)
        raise
    except optuna.TrialPruned:  # an Exception too, but not an error of the point
        raise
    except Exception as err:
        trial.set_user_attr("error", f"{type(err).__name__}: {err}")
        raise
    if not history:  # a model without epochs (baselines): one row
        if metric != "val_rmse":
            raise ValueError(f"{cfg.model} reported no {metric}: give it validation data")
        history.append(
            {
                "epoch": 1,
                "train_loss": float("nan"),
                "seconds": time.perf_counter() - start,
                "val_rmse": rmse(
                    valid[RATING_COL].to_numpy(),
                    model.predict(valid[USER_COL].to_numpy(), valid[ITEM_COL].to_numpy()),
                ),
            }
        )
        trial.set_user_attr("history", history)
    return better(r[metric] for r in history)


# --- workers -----------------------------------------------------------------------------
def work(
    cfg: SweepConfig,
    study_name: str,
    storage_spec,
    threads: int | None = None,
    hook: Callable | None = None,
    worker: int = 0,
    verbose: bool = True,
) -> None:
    """One worker: run trials until every point (or ``n_trials``) is finished or settled.

    While the last points run in other workers it waits, polling every ``POLL_S``
    seconds, so it can retry a point whose worker dies.
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)  # failures: our own lines
    if threads:
        import torch

        torch.set_num_threads(threads)
    study = open_study(cfg, study_name, make_storage(storage_spec, study_name), worker=worker)
    while True:
        repair(study, cfg)
        left = progress(study, cfg)
        if not left["open"]:
            if not left["running"]:
                return
            time.sleep(POLL_S)  # stay to take over a point whose worker dies
            continue
        study.optimize(
            lambda t: objective(t, cfg, threads, hook),
            n_trials=1,
            catch=(Exception,),
            callbacks=[lambda s, t: _print_trial(s, cfg, t)] if verbose else None,
        )


def _print_trial(study, cfg: SweepConfig, trial) -> None:
    """The line a verbose worker prints after each trial."""
    p = progress(study, cfg)
    params = " ".join(
        f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in trial.params.items()
    )
    a = trial.user_attrs
    if "duplicate_of" in a:
        what = f"skipped: point already taken by trial {a['duplicate_of']}"
    elif f"best_{cfg.objective[0]}" in a:
        h = a.get("history", [])
        label = "val RMSE" if cfg.objective[0] == "val_rmse" else cfg.objective[0]
        what = (
            f"best {label} {a[f'best_{cfg.objective[0]}']:.4f} at epoch {a['best_epoch']} "
            f"({len(h)} epochs, {sum(r['seconds'] for r in h):.1f} s)"
        )
    else:
        what = a.get("error", a.get("diverged", ""))
    print(
        f"[{p['done']}/{p['total']}] trial {trial.number} {trial.state.name.lower()} "
        f"{params}: {what}",
        flush=True,
    )


def _worker_main(*args, **kwargs) -> None:
    with contextlib.suppress(KeyboardInterrupt):  # the parent reports the interruption
        work(*args, **kwargs)


def cores() -> int:
    """CPU cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def run_workers(cfg, study_name, storage_spec, workers, threads, hook, verbose) -> bool:
    """Run ``workers`` spawned processes (or this one); True if any died abnormally."""
    if workers == 1:
        work(cfg, study_name, storage_spec, threads, hook, 0, verbose)
        return False
    ctx = mp.get_context("spawn")
    procs = [
        ctx.Process(
            target=_worker_main,
            args=(cfg, study_name, storage_spec, threads, hook, w, verbose),
            daemon=False,
        )
        for w in range(workers)
    ]
    for p in procs:
        p.start()
    try:
        pending = list(procs)
        while pending:  # reap each as it ends, so a killed one is not left a zombie
            ended = set(mp_connection.wait([p.sentinel for p in pending]))
            for p in pending:
                if p.sentinel in ended:
                    p.join()
            pending = [p for p in pending if p.sentinel not in ended]
    except KeyboardInterrupt:
        for p in procs:  # they got the terminal's SIGINT too; give them time to record it
            p.join(timeout=30)
            if p.is_alive():
                p.kill()
        raise
    return any(p.exitcode != 0 for p in procs)
