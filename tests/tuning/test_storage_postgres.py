"""Worker processes share one sweep on a real PostgreSQL server, from an empty database.

The server: ``$RECSYS_TEST_PG_URL`` if set (CI sets it); else the local Debian cluster,
started here with ``pg_ctlcluster`` (and stopped again if this test started it), with
role ``recsys`` (password ``recsys``, allowed to create databases) and database
``recsys`` created when missing. Without a PostgreSQL the tests skip and say how to get
one; under ``CI=true`` they fail instead. Every wait is bounded: a worker that fails
stops the others at once, so a failure shows in seconds.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

from recsys_utils.tuning import run as sweeps

pytestmark = pytest.mark.postgres

URL_ENV = "RECSYS_TEST_PG_URL"
LOCAL_URL = "postgresql://recsys:recsys@127.0.0.1:5432/recsys"
# the workers' sessions give up on any lock held for 10 s (a race blocked a worker until the
# other's barrier ended); the storage's advisory lock sets its own, longer, limit
BOUNDED = "options=-c%20lock_timeout%3D10s"
HOW = (
    "no PostgreSQL: `apt-get install postgresql` (and `pip install 'psycopg[binary]'`) "
    f"or set {URL_ENV}=postgresql://user:pw@host:port/db"
)


def _unavailable(reason: str):
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true but {reason}; the PostgreSQL sweep test must run in CI")
    pytest.skip(f"{reason}. {HOW}")


def _psql(sql: str) -> str:
    out = subprocess.run(
        ["runuser", "-u", "postgres", "--", "psql", "-tAc", sql],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


@pytest.fixture(scope="module")
def pg_url():
    """A PostgreSQL URL for the tests, with the server started here if need be."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _unavailable("the psycopg (v3) driver is not installed")
    if os.environ.get(URL_ENV):
        yield os.environ[URL_ENV]
        return
    if not shutil.which("pg_ctlcluster"):
        _unavailable(f"{URL_ENV} is not set and pg_ctlcluster is not installed")
    clusters = subprocess.run(
        ["pg_lsclusters", "--no-header"], capture_output=True, text=True
    ).stdout.split()
    if len(clusters) < 4:
        _unavailable("pg_lsclusters lists no cluster")
    version, name, status = clusters[0], clusters[1], clusters[3]
    started = status != "online"
    try:
        if started:
            subprocess.run(["pg_ctlcluster", version, name, "start"], check=True)
        if _psql("SELECT 1 FROM pg_roles WHERE rolname = 'recsys'") != "1":
            _psql("CREATE USER recsys PASSWORD 'recsys' CREATEDB")
        _psql("ALTER USER recsys CREATEDB")  # the race test makes empty databases
        if _psql("SELECT 1 FROM pg_database WHERE datname = 'recsys'") != "1":
            _psql("CREATE DATABASE recsys OWNER recsys")
    except (subprocess.CalledProcessError, FileNotFoundError) as err:
        if started:
            subprocess.run(["pg_ctlcluster", version, name, "stop"], check=False)
        _unavailable(f"could not start or prepare the local cluster {version}/{name}: {err}")
    yield LOCAL_URL
    if started:
        subprocess.run(["pg_ctlcluster", version, name, "stop"], check=False)


WORKER = """
import json, os, time
from recsys_utils.tuning import run as sweeps

waited = False

def barrier(trial, row):
    # each process's first epoch waits until both processes hold a trial, so the test
    # shows two workers sharing the study whatever the machine's load
    global waited
    if waited:
        return
    waited = True
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        pids = {{t.user_attrs.get("worker", {{}}).get("pid")
                for t in trial.study.get_trials(deepcopy=False)}} - {{None}}
        if len(pids) >= 2:
            return
        time.sleep(0.2)

if __name__ == "__main__":
    cfg = sweeps.SweepConfig(**json.loads({cfg!r}))
    sweeps.run_sweep(cfg, study_name={name!r}, storage={url!r}, hook=barrier)
"""


def _bounded(url: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}{BOUNDED}"


def _start(args: list[str], log: Path) -> subprocess.Popen:
    with log.open("w") as out:  # a file, not a pipe: nothing blocks while we poll
        return subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, text=True)


def _wait_all(procs: list[subprocess.Popen], logs: list[Path], timeout_s: float) -> list[str]:
    """Wait for every process; the first failure (or the deadline) kills the rest at once."""
    deadline = time.monotonic() + timeout_s
    while any(p.poll() is None for p in procs):
        failed = any(p.returncode not in (None, 0) for p in procs)
        if failed or time.monotonic() > deadline:
            for p in procs:
                if p.poll() is None:
                    p.kill()
            break
        time.sleep(0.1)
    for p in procs:
        p.wait(timeout=10)
    return [log.read_text() for log in logs]


def test_two_processes_share_one_study_on_postgresql(pg_url, data_home, tmp_path):
    import numpy as np
    import optuna
    import pandas as pd

    rng = np.random.default_rng(1)
    n = 300
    pd.DataFrame(
        {
            "user_id": rng.integers(1, 21, n).astype("int32"),
            "item_id": rng.integers(1, 16, n).astype("int32"),
            "rating": (rng.integers(1, 11, n) / 2).astype("float32"),
            "timestamp": np.arange(n, dtype="int64"),
        }
    ).drop_duplicates(["user_id", "item_id"]).to_parquet(tmp_path / "r.parquet")
    cfg = sweeps.SweepConfig(
        model="mf",
        space={"batch_size": [16, 64], "lr": [0.01, 0.05]},
        epochs=2,
        patience=None,
        fixed={"n_factors": 4},
        dataset=str(tmp_path / "r.parquet"),
    )
    name = f"test-pg-{uuid.uuid4().hex[:10]}"
    script = tmp_path / "worker.py"
    script.write_text(
        textwrap.dedent(
            WORKER.format(cfg=json.dumps(cfg.to_dict()), name=name, url=_bounded(pg_url))
        )
    )
    try:
        logs = [tmp_path / f"worker-{i}.log" for i in range(2)]
        procs = [_start([sys.executable, str(script)], log) for log in logs]
        outs = _wait_all(procs, logs, timeout_s=180)
        assert [p.returncode for p in procs] == [0, 0], outs
        storage = sweeps.make_storage(pg_url, name)
        study = sweeps.open_study(cfg, name, storage)
        trials = study.get_trials()
        assert sweeps.progress(study, cfg) == {
            "done": 4,
            "running": 0,
            "failed": 0,
            "open": 0,
            "total": 4,
        }
        # two workers can draw the same point at once; the later trial then fails at once
        # as its duplicate (by design: see sweep_storage), so only those may be extra
        real = [t for t in trials if "duplicate_of" not in t.user_attrs]
        extra = [t for t in trials if "duplicate_of" in t.user_attrs]
        assert len(real) == 4 and {t.state.name for t in real} == {"COMPLETE"}
        assert all(t.state.name == "FAIL" and "history" not in t.user_attrs for t in extra)
        points = {(t.params["batch_size"], t.params["lr"]) for t in real}
        assert points == {(16, 0.01), (16, 0.05), (64, 0.01), (64, 0.05)}
        assert {t.user_attrs["worker"]["pid"] for t in trials} == {p.pid for p in procs}
        table = sweeps.results_table(study, cfg)
        assert len(table) == 4 * 2 and not table.duplicated(["trial", "epoch"]).any()
    finally:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        try:
            optuna.delete_study(study_name=name, storage=sweeps.make_storage(pg_url, name))
        except KeyError:
            pass


CREATOR = """
import sys, time
from pathlib import Path

from recsys_utils.tuning import run as sweeps

me, n, url, ready = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], Path(sys.argv[4])
(ready / str(me)).touch()
deadline = time.monotonic() + 60  # all imported: start together, as a sweep's workers do
while len(list(ready.iterdir())) < n and time.monotonic() < deadline:
    time.sleep(0.005)
sweeps.make_storage(url, "first-run")
"""


@pytest.fixture
def empty_database(pg_url):
    """The URL of a database created empty for the test (dropped afterwards)."""
    import psycopg
    import sqlalchemy as sa

    name = f"recsys_fresh_{uuid.uuid4().hex[:10]}"
    try:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
    except psycopg.errors.InsufficientPrivilege:
        _unavailable(f"the role of {URL_ENV} may not create databases (ALTER USER ... CREATEDB)")
    yield sa.engine.make_url(pg_url).set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_workers_starting_together_on_an_empty_database_all_get_the_storage(
    empty_database, tmp_path
):
    # the first run of a sweep: four workers make the storage at once on an empty database.
    # Unlocked, Optuna's table creation raced (10 of 10 runs, 30 of 40 workers failing with
    # UniqueViolation on pg_type_typname_nsp_index or DuplicateObject "studydirection")
    import optuna

    n = 4
    script, ready = tmp_path / "creator.py", tmp_path / "ready"
    script.write_text(textwrap.dedent(CREATOR))
    ready.mkdir()
    logs = [tmp_path / f"creator-{i}.log" for i in range(n)]
    procs = [
        _start(
            [sys.executable, str(script), str(i), str(n), _bounded(empty_database), str(ready)], log
        )
        for i, log in enumerate(logs)
    ]
    outs = _wait_all(procs, logs, timeout_s=120)
    assert [p.returncode for p in procs] == [0] * n, outs
    storage = sweeps.make_storage(empty_database, "first-run")
    assert optuna.get_all_study_summaries(storage) == []  # tables there, and usable
