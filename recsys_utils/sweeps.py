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

import contextlib
import dataclasses
import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from recsys_utils.constants import DEFAULT_DATASET
from recsys_utils.sweep_results import (
    RESULT_COLUMNS,
    SweepResult,
    load_results,
    results_table,
    save_results,
    trial_summary,
)
from recsys_utils.sweep_storage import (
    DuplicatePoint,
    _repair_journal_tail,
    _worker_tag,  # noqa: F401 (tests reach it as sweeps._worker_tag)
    is_database,
    journal_path,
    make_storage,
    open_study,
    progress,
    repair,
    study_dir,
)
from recsys_utils.sweep_trials import (
    build_model,
    cores,
    load_split,
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
    "load_split",
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

DEFAULT_GRID = {"batch_size": [256, 1024, 4096], "lr": [0.001, 0.003, 0.01, 0.03]}
MAX_ROUNDS = 3  # launches of the workers in one run while points are left to retry


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
        prune_startup, prune_warmup: trials and epochs before pruning may start. Early
            stopping already ends every trial a few epochs after its best, so pruning only
            pays when it may act from the first epoch (warm-up 0) after two finished trials;
            on the default MF grid that keeps the same best point and halves training time.
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
    prune_startup: int = 2
    prune_warmup: int = 0

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
        """The configuration as plain JSON values (tuples become lists), as the study stores it."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    def default_study_name(self) -> str:
        """``<model>-<data set>-<hash of the settings>``: the same settings resume the study."""
        digest = hashlib.sha1(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()
        return f"{self.model}-{Path(self.dataset).stem}-{digest[:8]}"

    @property
    def n_points(self) -> int:
        """The grid's number of points (0 for random/TPE)."""
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
    if not is_database(storage):
        _repair_journal_tail(journal_path(storage, study_name))
    study = open_study(cfg, study_name, make_storage(storage, study_name))
    repair(study, cfg)
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
        print(
            f"{p['done']}/{p['total']} done in {result.seconds:.1f} s; best val RMSE "
            f"{result.best_value} with {result.best_params}; results in {result.folder}"
        )
    return result
