"""Where a sweep lives, and keeping it whole: storage, repair, exactly-once grid points.

A study is stored in a journal file (``data/sweeps/<study>/journal.log``) unless a
database URL is given. Exactly-once for grids: a trial left RUNNING by a worker that
died (its pid is gone on this host, or its heartbeat stopped on a database) is marked
FAIL and its grid point is enqueued again; a trial that finds its point already done or
claimed by a lower-numbered trial fails at once as a duplicate (``DuplicatePoint``).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from recsys_utils.constants import sweeps_dir
from recsys_utils.tuning._guards import (  # noqa: F401 (re-exported)
    _repair_journal_tail,
    check_database_url,
    check_journal,
    check_study_name,
    check_study_store,
    storage_error,
)

if TYPE_CHECKING:
    from recsys_utils.tuning.config import SweepConfig

JOURNAL_NAME = "journal.log"
MAX_RETRIES = 3  # reruns of a grid point whose worker died or was interrupted
HEARTBEAT_S, GRACE_S = 10, 60  # database storages: a silent RUNNING trial is stale after GRACE_S
# PostgreSQL: workers take this session advisory lock (any fixed bigint; "recsys" + 1) while
# Optuna creates its tables, waiting at most SCHEMA_LOCK_WAIT_S for one another
SCHEMA_LOCK_KEY, SCHEMA_LOCK_WAIT_S = 0x7265637379730001, 120
FINISHED = ("COMPLETE", "PRUNED")
MAX_FAILURES = 3  # consecutive failed trials (errors of their own) that stop a sweep


class DuplicatePoint(RuntimeError):
    """The trial's grid point is done or claimed by a lower-numbered trial."""


# --- storage and study --------------------------------------------------------------
def study_dir(study_name: str) -> Path:
    """``data/sweeps/<study>/``: the default journal and the results tables."""
    return sweeps_dir() / check_study_name(study_name)


def is_database(storage: str | Path | None) -> bool:
    """True for a database URL, False for a journal path or the default journal."""
    return storage is not None and "://" in str(storage)


def journal_path(storage: str | Path | None, study_name: str) -> Path:
    """The journal file: ``storage`` itself, or ``data/sweeps/<study>/journal.log``."""
    return Path(storage) if storage is not None else study_dir(study_name) / JOURNAL_NAME


@contextlib.contextmanager
def _schema_lock(url: str):
    """On PostgreSQL, hold an advisory lock (on a connection of its own) around the block.

    ``RDBStorage`` creates its tables and enum types on first use, unlocked: workers
    starting together on an empty database race, and all but one fail
    (``UniqueViolation ... pg_type_typname_nsp_index``, ``DuplicateObject: type
    "studydirection" already exists``). Under the lock one creates them; the others then
    find them. Other databases pass through unlocked.
    """
    import sqlalchemy as sa
    from sqlalchemy.pool import NullPool

    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() != "postgresql":
        yield
        return
    engine = sa.create_engine(parsed, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text(f"SET lock_timeout = '{SCHEMA_LOCK_WAIT_S}s'"))
            try:
                conn.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": SCHEMA_LOCK_KEY})
            except sa.exc.OperationalError as err:  # lock_timeout: LockNotAvailable
                raise TimeoutError(
                    f"{parsed.render_as_string(hide_password=True)}: waited "
                    f"{SCHEMA_LOCK_WAIT_S} s for another worker creating Optuna's tables"
                ) from err
            conn.commit()  # the lock is the session's: it outlives the transaction
            try:
                yield
            finally:
                conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": SCHEMA_LOCK_KEY})
                conn.commit()
    finally:
        engine.dispose()


def make_storage(storage: str | Path | None, study_name: str):
    """A journal file (a path, or the default one) or a database URL (``RDBStorage``).

    On PostgreSQL the storage is made under an advisory lock (``_schema_lock``), so
    workers starting together on an empty database do not race to create the tables.
    """
    import optuna

    if is_database(storage):
        check_database_url(storage)
        check_study_store(storage)
        with _schema_lock(str(storage)), warnings.catch_warnings():
            # heartbeats are "experimental" since optuna 2.9
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(
                str(storage),
                heartbeat_interval=HEARTBEAT_S,
                grace_period=GRACE_S,
                engine_kwargs={"pool_pre_ping": True},
            )
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    path = journal_path(storage, study_name)
    check_journal(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ValueError(f"--storage {path}: cannot create its folder: {err.strerror}") from None
    return JournalStorage(JournalFileBackend(str(path)))


def open_study(cfg: SweepConfig, study_name: str, storage, *, worker: int = 0):
    """Create or load the study; refuse one created with a different configuration."""
    import optuna

    check_study_name(study_name)
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
        direction=cfg.objective[1],
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


# --- who runs a trial, and which point it is ---------------------------------------------
def _worker_tag() -> dict:
    """This process, as recorded on each trial it runs (``_is_dead`` checks it)."""
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
    """A point as a comparable JSON string (None for an unknown point)."""
    return None if params is None else json.dumps(params, sort_keys=True)


def _check_duplicate(trial, cfg: SweepConfig, params: dict) -> None:
    """Raise ``DuplicatePoint`` if ``params`` is finished, or claimed by a lower-numbered trial."""
    from optuna.trial import TrialState

    live = (TrialState.RUNNING, TrialState.WAITING)
    me = _key(params)
    for other in trial.study.get_trials(deepcopy=False):
        if other.number == trial.number or _key(_params_of(other, cfg, trial.study.sampler)) != me:
            continue
        if other.state.name in FINISHED or (other.state in live and other.number < trial.number):
            trial.set_user_attr("duplicate_of", other.number)
            raise DuplicatePoint(f"grid point {params} is trial {other.number}'s")


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
    points: dict = {_key(point): [] for point in cfg.points()}
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
            return "done" if state in FINISHED else state.lower()
    if any("error" in t.user_attrs for t in trials) or states.count("FAIL") > MAX_RETRIES:
        return "failed"
    return "open"


def failure_reason(trial) -> str:
    """Why a FAIL trial failed, in one line (never empty)."""
    a = trial.user_attrs
    reason = a.get("error") or a.get("diverged")
    if not reason and trial.values is None and "history" in a:
        reason = "the objective gave no value (NaN validation RMSE)"
    return " ".join(str(reason or "failed, no reason recorded").split())


def _own_failure(trial) -> bool:
    """A FAIL of the point itself: not a duplicate, a dead worker or an interruption."""
    a = trial.user_attrs
    return trial.state.name == "FAIL" and not (
        "duplicate_of" in a or a.get("died") or a.get("interrupted")
    )


def stop_reason(study, cfg: SweepConfig) -> str | None:
    """The first failure's reason once the last ``MAX_FAILURES`` trials (at most the
    sweep's size) all failed of their own, else None: such a sweep stops, not loops."""
    limit = max(1, min(MAX_FAILURES, cfg.n_points if cfg.sampler == "grid" else cfg.n_trials))
    streak = []
    for t in sorted(study.get_trials(deepcopy=False), key=lambda t: t.number, reverse=True):
        if t.state.name in ("RUNNING", "WAITING") or "duplicate_of" in t.user_attrs:
            continue
        if t.state.name == "FAIL" and (t.user_attrs.get("died") or t.user_attrs.get("interrupted")):
            continue  # the worker's fault, retried by repair
        if not _own_failure(t):
            break
        streak.append(t)
    if len(streak) < limit:
        return None
    first = streak[-1]
    return f"{len(streak)} trials in a row failed; the first (trial {first.number}): " + (
        failure_reason(first)
    )


def progress(study, cfg: SweepConfig) -> dict:
    """Points (or trials) ``done``, ``running``, ``failed``, ``open`` (left to run) and ``total``.

    Once ``stop_reason`` gives a reason, nothing is open: the sweep is settled.
    """
    stopped = stop_reason(study, cfg)
    if cfg.sampler != "grid":
        trials = study.get_trials(deepcopy=False)
        states = [t.state.name for t in trials]
        done, running = sum(s in FINISHED for s in states), states.count("RUNNING")
        return {
            "done": done,
            "running": running,
            "failed": sum(_own_failure(t) for t in trials),
            "total": cfg.n_trials,
            "open": 0 if stopped else max(0, cfg.n_trials - done - running),
        }
    counts = dict.fromkeys(("done", "running", "failed", "open"), 0)
    for trials in _by_point(study, cfg).values():
        state = _point_state(trials)
        counts["open" if state == "waiting" else state] += 1
    if stopped:
        counts["open"] = 0
    return counts | {"total": cfg.n_points}
