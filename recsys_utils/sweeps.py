"""Hyperparameter sweeps on Optuna: grids, open searches, pruning, resume and workers.

A sweep is an Optuna study. Each trial trains one model on the protocol's train split
and reports validation RMSE after every epoch (``trial.report`` and the ``history`` user
attribute), so one run gives the whole epoch curve and its best epoch. The trial's
value is its best validation RMSE.

Storage is a journal file (``data/sweeps/<study>/journal.log``) unless a database URL
is given, so rerunning the same sweep resumes it. Exactly-once for grids: a trial left
RUNNING by a worker that died (its pid is gone on this host, or its heartbeat stopped
on a database) is marked FAIL and its grid point is enqueued again; a trial that finds
its point already done or claimed by a lower-numbered trial fails at once as a
duplicate; the results table keeps one finished trial per point.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import multiprocessing as mp
import multiprocessing.connection as mp_connection
import os
import socket
import time
import warnings
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from recsys_utils.constants import (
    DATASETS,
    DEFAULT_DATASET,
    ITEM_COL,
    RATING_COL,
    USER_COL,
    sweeps_dir,
)

DEFAULT_GRID = {"batch_size": [256, 1024, 4096], "lr": [0.001, 0.003, 0.01, 0.03]}
RESULT_COLUMNS = ("trial", "state", "epoch", "train_loss", "val_rmse", "seconds")
JOURNAL_NAME = "journal.log"
SPLIT_SEED = 42  # the protocol's split: 10% test, then validation, from seed 42
MAX_RETRIES = 3  # reruns of a grid point whose worker died or was interrupted
MAX_ROUNDS = 3  # launches of the workers in one run while points are left to retry
HEARTBEAT_S, GRACE_S = 10, 60  # database storages: a silent RUNNING trial is stale after GRACE_S
FINISHED = ("COMPLETE", "PRUNED")
POLL_S = 1.0


class DuplicatePoint(RuntimeError):
    """The trial's grid point is done or claimed by a lower-numbered trial."""


@dataclasses.dataclass
class SweepConfig:
    """What a sweep explores; its hash names the default study.

    Attributes:
        model: a ``models.MODELS`` name.
        space: parameter -> list of values (grid or categorical) or ``(low, high, log)``.
        sampler: ``"grid"`` (every combination once), ``"random"`` or ``"tpe"``.
        n_trials: trials to finish for random/TPE (ignored for grids).
        epochs, patience: the training budget per trial (early stopping on validation RMSE).
        fixed: other model keyword arguments, the same in every trial.
        dataset: a MovieLens release name, or a parquet/CSV file of tidy ratings.
        seed: model initialisation and sampler seed.
        prune: stop trials whose curve is worse than the median (``MedianPruner``).
        prune_startup, prune_warmup: trials and epochs before pruning may start.
    """

    model: str = "mf"
    space: dict = dataclasses.field(default_factory=lambda: dict(DEFAULT_GRID))
    sampler: str = "grid"
    n_trials: int | None = None
    epochs: int = 30
    patience: int | None = 3
    fixed: dict = dataclasses.field(default_factory=dict)
    dataset: str = DEFAULT_DATASET
    seed: int = 42
    prune: bool = False
    prune_startup: int = 3
    prune_warmup: int = 2

    def __post_init__(self):
        if self.sampler not in ("grid", "random", "tpe"):
            raise ValueError(f"sampler must be grid, random or tpe, got {self.sampler!r}")
        self.space = {
            k: list(v) if isinstance(v, list) else tuple(v) for k, v in self.space.items()
        }
        if not self.space:
            raise ValueError("the search space is empty: give at least one parameter")
        if self.sampler == "grid" and not all(isinstance(v, list) for v in self.space.values()):
            raise ValueError("a grid needs value lists (name=a,b,c); use --sampler tpe for ranges")
        if self.sampler != "grid" and not self.n_trials:
            raise ValueError(f"sampler {self.sampler!r} needs n_trials")

    def to_dict(self) -> dict:
        return json.loads(json.dumps(dataclasses.asdict(self)))

    def default_study_name(self) -> str:
        digest = hashlib.sha1(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()
        return f"{self.model}-{Path(self.dataset).stem}-{digest[:8]}"

    @property
    def n_points(self) -> int:
        return int(np.prod([len(v) for v in self.space.values()])) if self.sampler == "grid" else 0


# --- parsing the command line's name=values -----------------------------------------
def parse_value(text: str):
    """``"256"`` -> 256, ``"1e-3"`` -> 0.001, ``"none"`` -> None, else the string."""
    low = text.strip().lower()
    if low in ("none", "null"):
        return None
    if low in ("true", "false"):
        return low == "true"
    for kind in (int, float):
        with contextlib.suppress(ValueError):
            return kind(text)
    return text.strip()


def parse_space(items: list[str]) -> dict:
    """``["batch_size=256,1024", "lr=1e-4:1e-1:log"]`` -> lists and (low, high, log) ranges."""
    space: dict = {}
    for item in items:
        name, sep, values = item.partition("=")
        if not sep or not name or not values:
            raise ValueError(f"expected name=v1,v2 or name=low:high[:log], got {item!r}")
        if ":" in values:
            low, high, *log = values.split(":")
            space[name] = (parse_value(low), parse_value(high), log == ["log"])
        else:
            space[name] = [parse_value(v) for v in values.split(",")]
    return space


# --- storage and study --------------------------------------------------------------
def study_dir(study_name: str) -> Path:
    """``data/sweeps/<study>/``: the default journal and the results tables."""
    return sweeps_dir() / study_name


def _repair_journal_tail(path: Path) -> None:
    """Drop a half-written last line (a kill mid-append) so the journal replays."""
    if not path.is_file() or path.stat().st_size == 0:
        return
    with path.open("rb+") as f:
        f.seek(-1, os.SEEK_END)
        if f.read(1) == b"\n":
            return
        f.truncate(path.read_bytes().rfind(b"\n") + 1)


def make_storage(storage: str | Path | None, study_name: str):
    """A journal file (a path, or the default one) or a database URL (``RDBStorage``)."""
    import optuna

    if storage is not None and "://" in str(storage):
        with warnings.catch_warnings():  # heartbeats are "experimental" since optuna 2.9
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(
                str(storage),
                heartbeat_interval=HEARTBEAT_S,
                grace_period=GRACE_S,
                engine_kwargs={"pool_pre_ping": True},
            )
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    path = Path(storage) if storage is not None else study_dir(study_name) / JOURNAL_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    return JournalStorage(JournalFileBackend(str(path)))


def open_study(cfg: SweepConfig, study_name: str, storage, *, worker: int = 0):
    """Create or load the study; refuse one created with a different configuration."""
    import optuna

    if cfg.sampler == "grid":
        sampler = optuna.samplers.GridSampler(cfg.space, seed=cfg.seed)
    elif cfg.sampler == "random":
        sampler = optuna.samplers.RandomSampler(seed=cfg.seed + 1000 * worker)
    else:
        sampler = optuna.samplers.TPESampler(seed=cfg.seed + 1000 * worker)
    pruner = (
        optuna.pruners.MedianPruner(cfg.prune_startup, cfg.prune_warmup)
        if cfg.prune
        else optuna.pruners.NopPruner()
    )
    study = optuna.create_study(
        study_name=study_name,
        storage=storage,
        sampler=sampler,
        pruner=pruner,
        direction="minimize",
        load_if_exists=True,
    )
    stored = study.user_attrs.get("sweep_config")
    if stored is None:
        study.set_user_attr("sweep_config", cfg.to_dict())
    elif stored != cfg.to_dict():
        raise ValueError(
            f"study {study_name!r} was created with {stored}; rerun with those "
            "settings to resume it, or give a new --study name"
        )
    return study


# --- one trial ------------------------------------------------------------------------
@lru_cache(maxsize=2)
def load_split(dataset: str):
    """(``splits.Split``, rating scale): the protocol's random split of ``dataset``.

    10% of the ratings are held out for test and 10% for validation with seed 42;
    trials see only train and validation.
    """
    from recsys_utils import splits

    if dataset in DATASETS:
        from recsys_utils.data import load_dataset

        ratings, scale = load_dataset(dataset).ratings, DATASETS[dataset].rating_scale
    else:
        path = Path(dataset)
        ratings = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
        scale = (float(ratings[RATING_COL].min()), float(ratings[RATING_COL].max()))
    return splits.random_split(ratings, valid_frac=0.1, test_frac=0.1, seed=SPLIT_SEED), scale


def _worker_tag() -> dict:
    import psutil

    return {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "started": psutil.Process().create_time(),
    }


def _is_dead(trial) -> bool:
    """A RUNNING trial whose worker on this host is gone (or, untagged, silent for long)."""
    import psutil

    tag = trial.user_attrs.get("worker")
    if tag is None:  # killed between claiming the trial and tagging it
        started = trial.datetime_start.timestamp() if trial.datetime_start else 0.0
        return time.time() - started > GRACE_S
    if tag["host"] != socket.gethostname():
        return False  # another machine: its heartbeat decides (database storages)
    try:
        proc = psutil.Process(tag["pid"])
        # a killed worker not yet reaped by its parent is a zombie: dead all the same
        reused = abs(proc.create_time() - tag["started"]) > 0.01
        return reused or proc.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _params_of(trial, cfg: SweepConfig, sampler) -> dict | None:
    """The trial's point, also for one killed before it sampled its parameters."""
    names = list(cfg.space)
    if all(n in trial.params for n in names):
        return {n: trial.params[n] for n in names}
    fixed = trial.system_attrs.get("fixed_params", {})
    if all(n in fixed for n in names):
        return {n: fixed[n] for n in names}
    grid_id = trial.system_attrs.get("grid_id")
    grids, order = getattr(sampler, "_all_grids", None), getattr(sampler, "_param_names", None)
    if grid_id is None or grids is None:
        return None
    return dict(zip(order, grids[grid_id], strict=True))


def _key(params: dict | None) -> str | None:
    return None if params is None else json.dumps(params, sort_keys=True)


def _suggest(trial, space: dict) -> dict:
    params = {}
    for name, spec in space.items():
        if isinstance(spec, list):
            params[name] = trial.suggest_categorical(name, spec)
        elif isinstance(spec[0], int) and isinstance(spec[1], int):
            params[name] = trial.suggest_int(name, spec[0], spec[1], log=spec[2])
        else:
            params[name] = trial.suggest_float(name, float(spec[0]), float(spec[1]), log=spec[2])
    return params


def _check_duplicate(trial, cfg: SweepConfig, params: dict) -> None:
    from optuna.trial import TrialState

    live = (TrialState.RUNNING, TrialState.WAITING)
    me = _key(params)
    for other in trial.study.get_trials(deepcopy=False):
        if other.number == trial.number or _key(_params_of(other, cfg, trial.study.sampler)) != me:
            continue
        if other.state.name in FINISHED or (other.state in live and other.number < trial.number):
            trial.set_user_attr("duplicate_of", other.number)
            raise DuplicatePoint(f"grid point {params} is trial {other.number}'s")


def build_model(cfg: SweepConfig, params: dict, scale=None, threads: int | None = None):
    """The model a trial trains: ``cfg.fixed`` plus ``params``, with the sweep's epochs,
    patience and seed (retraining the best point with it reproduces the trial on CPU)."""
    from recsys_utils import models

    kwargs = {**cfg.fixed, **params, "rating_scale": scale}
    if issubclass(models.MODELS[cfg.model], models.TorchRecommender):
        kwargs.update(
            epochs=cfg.epochs,
            patience=cfg.patience,
            seed=cfg.seed,
            progress=False,
            num_threads=threads,
        )
    return models.make_model(cfg.model, **kwargs)


def objective(trial, cfg: SweepConfig, threads: int | None, hook: Callable | None = None) -> float:
    """Train one model; report validation RMSE per epoch; return the best of them."""
    import optuna

    from recsys_utils.metrics import rmse
    from recsys_utils.training import TrainingDiverged

    trial.set_user_attr("worker", _worker_tag())
    params = _suggest(trial, cfg.space)
    if cfg.sampler == "grid":
        _check_duplicate(trial, cfg, params)
    split, scale = load_split(cfg.dataset)
    train, valid = split.train, split.valid
    model = build_model(cfg, params, scale, threads)
    history: list[dict] = []

    def on_epoch(row: dict) -> None:
        history.append(
            {k: float(row[k]) for k in RESULT_COLUMNS[3:]} | {"epoch": int(row["epoch"])}
        )
        best = min(history, key=lambda r: r["val_rmse"])
        trial.set_user_attr("history", history)
        trial.set_user_attr("best_epoch", best["epoch"])
        trial.set_user_attr("best_val_rmse", best["val_rmse"])
        trial.report(row["val_rmse"], row["epoch"])
        if hook is not None:
            hook(trial, row)
        if cfg.prune and trial.should_prune():
            raise optuna.TrialPruned(f"val RMSE {row['val_rmse']:.4f} at epoch {row['epoch']}")

    model.on_epoch = on_epoch
    start = time.perf_counter()
    try:
        model.fit(train, valid)
    except TrainingDiverged as err:
        trial.set_user_attr("diverged", str(err))
    except KeyboardInterrupt:
        trial.set_user_attr("interrupted", True)
        raise
    except optuna.TrialPruned:
        raise
    except Exception as err:
        trial.set_user_attr("error", f"{type(err).__name__}: {err}")
        raise
    if not history:  # a model without epochs (baselines): one row
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
    return min((r["val_rmse"] for r in history), default=float("inf"))


# --- keeping the study whole -------------------------------------------------------------
def repair(study, cfg: SweepConfig) -> list[int]:
    """Fail the RUNNING trials whose worker died; enqueue grid points left without a result.

    A point is retried when it has no finished, running or waiting trial, none of its
    trials failed with an error of its own (those are reported, not retried), and it
    has been retried fewer than ``MAX_RETRIES`` times. Returns the numbers of the
    trials it marked FAIL.
    """
    import optuna
    from optuna.exceptions import UpdateFinishedTrialError
    from optuna.trial import TrialState

    storage = study._storage
    if isinstance(storage, optuna.storages.RDBStorage):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)  # silent heartbeats: other machines
    failed = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if _is_dead(t):
            with contextlib.suppress(UpdateFinishedTrialError):  # another process was first
                storage.set_trial_user_attr(t._trial_id, "died", True)
                if storage.set_trial_state_values(t._trial_id, TrialState.FAIL):
                    failed.append(t.number)
    if cfg.sampler != "grid":
        return failed
    for trials in _by_point(study, cfg).values():
        if trials and _point_state(trials) == "open":  # tried, and its worker died
            last = max(trials, key=lambda t: t.number)
            study.add_trial(
                optuna.trial.create_trial(
                    state=TrialState.WAITING,
                    params=last.params,
                    distributions=last.distributions,
                    user_attrs={"retry_of": last.number},
                    system_attrs={
                        k: v
                        for k, v in last.system_attrs.items()
                        if k in ("grid_id", "search_space", "fixed_params")
                    },
                )
            )
    return failed


def _by_point(study, cfg: SweepConfig) -> dict:
    """Grid point (JSON key) -> its trials, duplicates left out; untried points map to []."""
    import itertools

    points: dict = {
        _key(dict(zip(cfg.space, combo, strict=True))): []
        for combo in itertools.product(*cfg.space.values())
    }
    for t in study.get_trials(deepcopy=False):
        key = _key(_params_of(t, cfg, study.sampler))
        if key in points and "duplicate_of" not in t.user_attrs:
            points[key].append(t)
    return points


def _point_state(trials: list) -> str:
    """done, running, waiting, failed (an error of its own, or retries spent) or open."""
    states = [t.state.name for t in trials]
    for state in ("COMPLETE", "PRUNED", "RUNNING", "WAITING"):
        if state in states:
            return {"COMPLETE": "done", "PRUNED": "done"}.get(state, state.lower())
    if any("error" in t.user_attrs for t in trials) or states.count("FAIL") > MAX_RETRIES:
        return "failed"
    return "open"


def progress(study, cfg: SweepConfig) -> dict:
    """Points (or trials) ``done``, ``running``, ``failed``, ``open`` (left to run) and ``total``."""
    if cfg.sampler != "grid":
        states = [t.state.name for t in study.get_trials(deepcopy=False)]
        done, running = sum(s in FINISHED for s in states), states.count("RUNNING")
        return {
            "done": done,
            "running": running,
            "failed": 0,
            "total": cfg.n_trials,
            "open": max(0, cfg.n_trials - done - running),
        }
    counts = dict.fromkeys(("done", "running", "failed", "open"), 0)
    for trials in _by_point(study, cfg).values():
        state = _point_state(trials)
        counts["open" if state == "waiting" else state] += 1
    return counts | {"total": cfg.n_points}


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

    optuna.logging.set_verbosity(optuna.logging.WARNING)
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
    p = progress(study, cfg)
    params = " ".join(
        f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in trial.params.items()
    )
    a = trial.user_attrs
    if "duplicate_of" in a:
        what = f"skipped: point already taken by trial {a['duplicate_of']}"
    elif "best_val_rmse" in a:
        h = a.get("history", [])
        what = (
            f"best val RMSE {a['best_val_rmse']:.4f} at epoch {a['best_epoch']} "
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
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _run_workers(cfg, study_name, storage_spec, workers, hook, verbose) -> bool:
    """Run ``workers`` spawned processes (or this one); True if any died abnormally."""
    threads = max(1, cores() // workers)
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


@dataclasses.dataclass
class SweepResult:
    """What ``run_sweep`` leaves: the tidy table, one row per trial, the best point."""

    study_name: str
    results: pd.DataFrame
    summary: pd.DataFrame
    best_params: dict | None
    best_value: float | None
    complete: bool
    seconds: float
    folder: Path


def run_sweep(
    cfg: SweepConfig,
    study_name: str | None = None,
    storage: str | Path | None = None,
    workers: int = 1,
    hook: Callable | None = None,
    verbose: bool = True,
) -> SweepResult:
    """Run (or resume) a sweep to the end; save and return its results.

    Args:
        cfg: what to explore.
        study_name: defaults to ``cfg.default_study_name()``; the same name resumes.
        storage: journal file path or database URL; default ``data/sweeps/<study>/journal.log``.
        workers: processes sharing the study on this machine, each with
            ``cores() // workers`` torch threads.
        hook: ``hook(trial, epoch_row)`` after each epoch (tests use it to stop a worker).
        verbose: print a line per trial and the best configuration.
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study_name = study_name or cfg.default_study_name()
    if storage is None or "://" not in str(storage):
        _repair_journal_tail(Path(storage) if storage else study_dir(study_name) / JOURNAL_NAME)
    study = open_study(cfg, study_name, make_storage(storage, study_name))
    repair(study, cfg)
    p = progress(study, cfg)
    if verbose:
        print(
            f"study {study_name}: {p['done']}/{p['total']} done; {workers} worker(s), "
            f"{max(1, cores() // workers)} torch thread(s) each",
            flush=True,
        )
    start = time.perf_counter()
    try:
        for _ in range(MAX_ROUNDS):
            died = _run_workers(cfg, study_name, storage, workers, hook, verbose)
            repair(study, cfg)
            if progress(study, cfg)["open"] == 0 or not died:
                break
    finally:  # also on Ctrl-C: what finished is saved
        result = _finish(study, cfg, study_name, time.perf_counter() - start)
    if verbose:
        p = progress(study, cfg)
        print(
            f"{p['done']}/{p['total']} done in {result.seconds:.1f} s; best val RMSE "
            f"{result.best_value} with {result.best_params}; results in {result.folder}"
        )
    return result


# --- results --------------------------------------------------------------------------------
def results_table(study, cfg: SweepConfig) -> pd.DataFrame:
    """One row per finished trial and epoch: trial, state, params, epoch, train_loss, val_rmse, seconds.

    For grids, one trial per point (the lowest-numbered finished one).
    """
    names = list(cfg.space)
    seen, rows = set(), []
    for t in sorted(study.get_trials(deepcopy=False), key=lambda t: t.number):
        key = _key({n: t.params.get(n) for n in names})
        if t.state.name not in FINISHED or (cfg.sampler == "grid" and key in seen):
            continue
        seen.add(key)
        for r in t.user_attrs.get("history", []):
            rows.append(
                {
                    "trial": t.number,
                    "state": t.state.name,
                    **{n: t.params[n] for n in names},
                    **{c: r[c] for c in RESULT_COLUMNS[2:]},
                }
            )
    columns = [*RESULT_COLUMNS[:2], *names, *RESULT_COLUMNS[2:]]
    table = pd.DataFrame(rows, columns=columns)
    return table.astype(
        {
            "trial": "int64",
            "epoch": "int64",
            "train_loss": "float64",
            "val_rmse": "float64",
            "seconds": "float64",
        }
    )


def trial_summary(results: pd.DataFrame) -> pd.DataFrame:
    """One row per trial: its params, state, epochs run, best epoch and val RMSE, seconds."""
    params = [c for c in results.columns if c not in RESULT_COLUMNS]
    if results.empty:
        return pd.DataFrame(
            columns=["trial", "state", *params, "epochs", "best_epoch", "best_val_rmse", "seconds"]
        )
    best = results.loc[results.groupby("trial")["val_rmse"].idxmin()].set_index("trial")
    agg = results.groupby("trial").agg(epochs=("epoch", "max"), seconds=("seconds", "sum"))
    out = (
        best[["state", *params]]
        .join(agg)
        .assign(best_epoch=best["epoch"], best_val_rmse=best["val_rmse"])
    )
    cols = ["state", *params, "epochs", "best_epoch", "best_val_rmse", "seconds"]
    return out[cols].reset_index().sort_values("best_val_rmse", kind="mergesort", ignore_index=True)


def _finish(study, cfg, study_name, seconds) -> SweepResult:
    results = results_table(study, cfg)
    folder = study_dir(study_name)
    folder.mkdir(parents=True, exist_ok=True)
    results.to_csv(folder / "results.csv", index=False)
    results.to_parquet(folder / "results.parquet", index=False)
    summary = trial_summary(results)
    done = summary[summary["state"] == "COMPLETE"]
    best = done.iloc[0] if len(done) else None
    return SweepResult(
        study_name,
        results,
        summary,
        None
        if best is None
        else {n: best[n].item() if hasattr(best[n], "item") else best[n] for n in cfg.space},
        None if best is None else float(best["best_val_rmse"]),
        progress(study, cfg)["open"] == 0 and progress(study, cfg)["running"] == 0,
        seconds,
        folder,
    )


def load_results(study_name: str) -> pd.DataFrame:
    """The saved tidy table of a study (``data/sweeps/<study>/results.parquet``)."""
    return pd.read_parquet(study_dir(study_name) / "results.parquet")
