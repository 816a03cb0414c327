"""Hyperparameter sweeps on Optuna: grids, open searches, pruning, resume and workers.

A sweep is an Optuna study; rerunning the same sweep resumes it. This module holds
what a sweep explores (``SweepConfig``, the command line's ``name=values``) and
``run_sweep``, the entry point. The rest lives in:

- ``sweep_trials``: running trials (the protocol's split, the model, the objective,
  the worker processes);
- ``sweep_storage``: journal/database storage, repair of dead workers' trials,
  exactly-once grid points, progress;
- ``sweep_results``: the tidy results table, its summary, saving and loading.

Their public names are re-exported here, so ``sweeps.X`` is the one API to use.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from recsys_utils.tuning._storage import (
    DuplicatePoint,
    _repair_journal_tail,
    _worker_tag,  # noqa: F401 (tests reach it as sweeps._worker_tag)
    check_study_name,
    is_database,
    journal_path,
    make_storage,
    open_study,
    progress,
    repair,
    storage_error,
    study_dir,
)
from recsys_utils.tuning.config import (  # noqa: F401 (re-exported)
    DEFAULT_GRID,
    SweepConfig,
    parse_space,
    parse_value,
)
from recsys_utils.tuning.results import (
    RESULT_COLUMNS,
    SweepResult,
    load_results,
    results_table,
    save_results,
    trial_summary,
)
from recsys_utils.tuning.trials import (
    build_model,
    cores,
    load_sweep_split,
    objective,
    run_workers,
    work,
)

__all__ = [
    "DEFAULT_GRID",
    "RESULT_COLUMNS",
    "DuplicatePoint",
    "SweepConfig",
    "SweepResult",
    "build_model",
    "cores",
    "load_results",
    "load_sweep_split",
    "make_storage",
    "objective",
    "open_study",
    "parse_space",
    "parse_value",
    "progress",
    "repair",
    "results_table",
    "run_sweep",
    "study_dir",
    "trial_summary",
    "work",
]

MAX_ROUNDS = 3  # launches of the workers in one run while points are left to retry
# parameters that must be a number above 0 wherever a model takes them
POSITIVE = ("lr", "batch_size", "epochs", "max_epochs", "eval_batch_size")


def cap_workers(workers: int, open_points: int, echo=print) -> int:
    """At most one worker per point left to run and per core; says so when it caps."""
    capped = max(1, min(workers, max(open_points, 1), cores()))
    if capped < workers:
        echo(
            f"note: --workers {workers} capped to {capped} ({open_points} point(s) left to run, "
            f"{cores()} core(s))",
            flush=True,
        )
    return capped


def check_config(cfg: SweepConfig) -> None:
    """Refuse (one-line ``ValueError``) a sweep that would fail in every trial, before any:
    non-finite or non-positive numbers, a model that refuses a grid point, a data set
    path that is not a regular file of ratings."""
    import math

    from recsys_utils.constants import DATASETS

    if cfg.epochs < 1:
        raise ValueError(f"--epochs must be at least 1, got {cfg.epochs}")
    for point in cfg.points() or [{}]:
        for name, value in {**cfg.fixed, **point}.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            if not math.isfinite(value):
                raise ValueError(f"{name}={value}: not a finite number")
            if name in POSITIVE and value <= 0:
                raise ValueError(f"{name}={value}: must be above 0")
        try:
            build_model(cfg, point, None, 1)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{cfg.model} refuses {point or cfg.fixed}: {err}") from None
    if cfg.dataset not in DATASETS:
        path = Path(cfg.dataset)
        if not path.exists():
            raise ValueError(
                f"--dataset {path}: no such file (and not one of {', '.join(DATASETS)})"
            )
        if not path.is_file():
            raise ValueError(f"--dataset {path}: not a regular file")
        if path.suffix.lower() not in (".parquet", ".csv"):
            raise ValueError(f"--dataset {path}: expected a .parquet or .csv file of ratings")
        try:
            load_sweep_split(cfg.dataset)
        except Exception as err:  # pandas and the split say many things; one line here
            first = (str(err).splitlines() or [type(err).__name__])[0]
            raise ValueError(
                f"--dataset {path}: not a table of ratings ({type(err).__name__}: {first})"
            ) from None


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

    optuna.logging.set_verbosity(optuna.logging.ERROR)  # failures: our own lines
    from sqlalchemy.exc import SQLAlchemyError

    study_name = check_study_name(study_name or cfg.default_study_name())
    check_config(cfg)
    if not is_database(storage):
        _repair_journal_tail(journal_path(storage, study_name))
    try:
        study = open_study(cfg, study_name, make_storage(storage, study_name))
    except SQLAlchemyError as err:  # a database that cannot be reached or opened
        raise storage_error(storage, err) from None
    repair(study, cfg)
    workers = cap_workers(workers, progress(study, cfg)["open"])
    threads = max(1, cores() // workers)
    if verbose:
        p = progress(study, cfg)
        print(
            f"study {study_name}: {p['done']}/{p['total']} done; {workers} worker(s), "
            f"{threads} torch thread(s) each",
            flush=True,
        )
    start = time.perf_counter()
    try:
        for _ in range(MAX_ROUNDS):
            died = run_workers(cfg, study_name, storage, workers, threads, hook, verbose)
            repair(study, cfg)
            if progress(study, cfg)["open"] == 0 or not died:
                break
    finally:  # also on Ctrl-C: what finished is saved
        result = save_results(study, cfg, study_name, time.perf_counter() - start)
    if verbose:
        p = progress(study, cfg)
        metric = cfg.objective[0]
        label = "val RMSE" if metric == "val_rmse" else metric
        best = "none finished" if result.best_value is None else f"{result.best_value:.4f}"
        print(
            f"{p['done']}/{p['total']} done in {result.seconds:.1f} s; best {label} "
            f"{best} with {result.best_params}; results in {result.folder}"
        )
    return result
