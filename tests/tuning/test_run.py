"""Sweeps: parsing, grid completeness, resume after SIGKILL and Ctrl-C, the results table.

The data set is a small synthetic ratings file (no MovieLens needed); trials train MF
with 4 factors for 1-2 epochs. Interruptions run the sweep in a subprocess whose epoch
hook holds trial 1 (it writes its pid to a flag file and sleeps), so the kill lands
mid-trial by construction, not by timing.

Also the test file of ``tuning/config.py``, ``_storage.py``, ``trials.py`` and ``results.py``
(one sweep exercises them together); ``tuning/rules_grid.py`` is tested in
``tests/models/test_rules.py``; PostgreSQL storage in ``test_storage_postgres.py``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import default_sigint

from recsys_utils.cli import main
from recsys_utils.tuning import run as sweeps

GRID = {"batch_size": [16, 64], "lr": [0.01, 0.05]}
POINTS = {(16, 0.01), (16, 0.05), (64, 0.01), (64, 0.05)}


@pytest.fixture
def ratings_file(tmp_path) -> Path:
    """400 draws of (user 1-30, movie 1-20, rating on the 0.5 grid), duplicates dropped."""
    rng = np.random.default_rng(0)
    n = 400
    df = pd.DataFrame(
        {
            "user_id": rng.integers(1, 31, n).astype("int32"),
            "item_id": rng.integers(1, 21, n).astype("int32"),
            "rating": (rng.integers(1, 11, n) / 2).astype("float32"),
            "timestamp": np.arange(n, dtype="int64"),
        }
    ).drop_duplicates(["user_id", "item_id"])
    path = tmp_path / "ratings.parquet"
    df.to_parquet(path)
    return path


def config(ratings_file: Path, **kw) -> sweeps.SweepConfig:
    base = {
        "model": "mf",
        "space": GRID,
        "epochs": 2,
        "patience": None,
        "fixed": {"n_factors": 4},
        "dataset": str(ratings_file),
    }
    return sweeps.SweepConfig(**(base | kw))


def open_study(cfg, name):
    return sweeps.open_study(cfg, name, sweeps.make_storage(None, name))


def points_of(results: pd.DataFrame) -> list[tuple]:
    per_trial = results.drop_duplicates("trial")
    return sorted(zip(per_trial["batch_size"], per_trial["lr"], strict=True))


# --- parsing --------------------------------------------------------------------------
def test_parse_space_lists_and_ranges():
    space = sweeps.parse_space(["batch_size=256,1024", "lr=1e-4:0.1:log", "wd=0:1", "opt=adam"])
    assert space == {
        "batch_size": [256, 1024],
        "lr": (0.0001, 0.1, True),
        "wd": (0, 1, False),
        "opt": ["adam"],
    }
    assert sweeps.parse_value("none") is None
    with pytest.raises(ValueError, match="name=v1,v2"):
        sweeps.parse_space(["batch_size"])


def test_config_checks_and_names():
    with pytest.raises(ValueError, match="value lists"):
        sweeps.SweepConfig(space={"lr": (0.001, 0.1, True)})
    with pytest.raises(ValueError, match="n_trials"):
        sweeps.SweepConfig(sampler="tpe", space={"lr": (0.001, 0.1, True)})
    a, b = sweeps.SweepConfig(), sweeps.SweepConfig(epochs=5)
    assert a.n_points == 12
    assert a.default_study_name() == sweeps.SweepConfig().default_study_name()
    assert a.default_study_name() != b.default_study_name()


# --- a whole grid -----------------------------------------------------------------------
def test_grid_completes_every_point_once_and_rerun_adds_nothing(data_home, ratings_file):
    cfg = config(ratings_file)
    res = sweeps.run_sweep(cfg, study_name="g", verbose=False)
    assert res.complete
    assert points_of(res.results) == sorted(POINTS)
    assert len(res.results) == 4 * 2  # 4 points x 2 epochs (no early stopping)
    again = sweeps.run_sweep(cfg, study_name="g", verbose=False)
    assert len(open_study(cfg, "g").trials) == 4  # nothing rerun
    pd.testing.assert_frame_equal(again.results, res.results)


def test_results_table_schema_and_agreement_with_the_study(data_home, ratings_file):
    cfg = config(ratings_file)
    res = sweeps.run_sweep(cfg, study_name="s", verbose=False)
    assert list(res.results.columns) == [
        "trial",
        "state",
        "batch_size",
        "lr",
        "epoch",
        "train_loss",
        "val_rmse",
        "seconds",
    ]
    assert res.results.dtypes.to_dict() == {
        "trial": np.dtype("int64"),
        "state": res.results["state"].dtype,
        "batch_size": np.dtype("int64"),
        "lr": np.dtype("float64"),
        "epoch": np.dtype("int64"),
        "train_loss": np.dtype("float64"),
        "val_rmse": np.dtype("float64"),
        "seconds": np.dtype("float64"),
    }
    saved = pd.read_parquet(res.folder / "results.parquet")
    pd.testing.assert_frame_equal(saved, res.results, check_dtype=False)
    assert len(pd.read_csv(res.folder / "results.csv")) == len(res.results)
    study = open_study(cfg, "s")
    for t in study.trials:  # the table holds what each trial reported per epoch
        rows = res.results[res.results["trial"] == t.number]
        assert dict(zip(rows["epoch"], rows["val_rmse"], strict=True)) == t.intermediate_values
        assert t.value == rows["val_rmse"].min()
        assert t.user_attrs["best_epoch"] == rows.loc[rows["val_rmse"].idxmin(), "epoch"]
    # the summary: one row per trial, best first
    s = res.summary
    assert len(s) == 4 and s["best_val_rmse"].is_monotonic_increasing
    assert res.best_value == s["best_val_rmse"].iloc[0]
    assert res.best_params == {"batch_size": s["batch_size"].iloc[0], "lr": s["lr"].iloc[0]}


def test_another_configuration_under_the_same_name_is_refused(data_home, ratings_file):
    sweeps.run_sweep(config(ratings_file, space={"lr": [0.01]}), study_name="x", verbose=False)
    with pytest.raises(ValueError, match="created with"):
        sweeps.run_sweep(
            config(ratings_file, epochs=3, space={"lr": [0.01]}), study_name="x", verbose=False
        )


def test_a_failing_point_is_reported_not_retried_forever(data_home, ratings_file):
    cfg = config(ratings_file, space={"n_factors": [4, -1]}, fixed={})
    res = sweeps.run_sweep(cfg, study_name="f", verbose=False)
    study = open_study(cfg, "f")
    assert [t.state.name for t in study.trials].count("FAIL") == 1
    assert "error" in [t for t in study.trials if t.state.name == "FAIL"][0].user_attrs
    assert sweeps.progress(study, cfg) == {
        "done": 1,
        "running": 0,
        "failed": 1,
        "open": 0,
        "total": 2,
    }
    assert set(res.results["n_factors"]) == {4}


def test_random_search_runs_n_trials(data_home, ratings_file):
    cfg = config(
        ratings_file, space={"lr": (0.001, 0.1, True)}, sampler="random", n_trials=3, epochs=1
    )
    res = sweeps.run_sweep(cfg, study_name="r", verbose=False)
    assert res.results["trial"].nunique() == 3
    assert res.results["lr"].between(0.001, 0.1).all()


# --- repair, duplicates ------------------------------------------------------------------------
def dead_pid_tag() -> dict:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return {"host": os.uname().nodename, "pid": proc.pid, "started": 0.0}


def test_repair_fails_a_dead_workers_trial_and_enqueues_its_point(data_home, ratings_file):
    import optuna

    cfg = config(ratings_file)
    study = open_study(cfg, "d")
    trial = study.ask()  # trial 0: GridSampler's first point, left RUNNING
    params = {n: trial.suggest_categorical(n, v) for n, v in GRID.items()}
    trial.set_user_attr("worker", dead_pid_tag())
    assert sweeps.repair(study, cfg) == [0]
    states = {t.number: t.state for t in study.trials}
    assert states == {0: optuna.trial.TrialState.FAIL, 1: optuna.trial.TrialState.WAITING}
    retry = study.trials[1]
    assert retry.params == params and retry.user_attrs["retry_of"] == 0
    assert sweeps.repair(study, cfg) == []  # idempotent: nothing more enqueued
    assert len(study.trials) == 2
    # a live worker's trial (this process) is left alone
    live = study.ask()
    live.set_user_attr("worker", sweeps._worker_tag())
    assert sweeps.repair(study, cfg) == []


def test_a_duplicate_of_a_finished_point_is_skipped(data_home, ratings_file):
    cfg = config(ratings_file, space={"lr": [0.01, 0.05]})
    sweeps.run_sweep(cfg, study_name="dup", verbose=False)
    study = open_study(cfg, "dup")
    study.enqueue_trial({"lr": 0.01})  # as a racing worker would
    assert sweeps.progress(study, cfg)["open"] == 0  # workers leave it; one that pops it:
    study.optimize(lambda t: sweeps.objective(t, cfg, 1), n_trials=1, catch=(Exception,))
    extra = study.trials[2]
    assert extra.state.name == "FAIL" and extra.user_attrs["duplicate_of"] in (0, 1)
    assert "history" not in extra.user_attrs  # skipped before training
    res = sweeps.run_sweep(cfg, study_name="dup", verbose=False)
    assert sorted(res.results.drop_duplicates("trial")["lr"]) == [0.01, 0.05]


def test_a_half_written_journal_line_is_dropped(tmp_path):
    path = tmp_path / "journal.log"
    path.write_bytes(b'{"op_code": 1}\n{"op_code": 2}\n{"op_code": 3, "x"')
    sweeps._repair_journal_tail(path)
    assert path.read_bytes() == b'{"op_code": 1}\n{"op_code": 2}\n'
    sweeps._repair_journal_tail(path)
    assert path.read_bytes() == b'{"op_code": 1}\n{"op_code": 2}\n'


# --- interruptions, in a subprocess ------------------------------------------------------------
HOLDER = """
import json, os, sys, time
from pathlib import Path
from recsys_utils.tuning import run as sweeps

FLAG = Path({flag!r})

def hold(trial, row):
    # the first time trial 1 finishes epoch 1: say who we are, then wait to be stopped
    if trial.number == 1 and row["epoch"] == 1 and not FLAG.exists():
        FLAG.write_text(str(os.getpid()))
        time.sleep(300)

if __name__ == "__main__":
    cfg = sweeps.SweepConfig(**json.loads({cfg!r}))
    try:
        sweeps.run_sweep(cfg, study_name={name!r}, workers={workers}, hook=hold)
    except KeyboardInterrupt:
        sys.exit(130)
"""


def start_holder(tmp_path, cfg, name, workers=1):
    flag = tmp_path / f"{name}.flag"
    script = tmp_path / f"{name}.py"
    script.write_text(
        textwrap.dedent(
            HOLDER.format(flag=str(flag), cfg=json.dumps(cfg.to_dict()), name=name, workers=workers)
        )
    )
    proc = subprocess.Popen(
        [sys.executable, str(script)],
        start_new_session=True,
        preexec_fn=default_sigint,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 240  # a safety net for a loaded machine, not a timing test
    while not flag.exists() or not flag.read_text():
        assert proc.poll() is None, proc.stdout.read()
        assert time.monotonic() < deadline, "the sweep never reached trial 1"
        time.sleep(0.1)
    return proc, int(flag.read_text())


def assert_whole(cfg, name, res):
    assert res.complete
    assert points_of(res.results) == sorted(POINTS)
    assert res.results.groupby("trial")["epoch"].apply(list).map(len).eq(2).all()
    assert not res.results.duplicated(["trial", "epoch"]).any()
    study = open_study(cfg, name)
    assert sweeps.progress(study, cfg) == {
        "done": 4,
        "running": 0,
        "failed": 0,
        "open": 0,
        "total": 4,
    }


def test_sigkill_mid_trial_then_rerun_completes_every_point_once(data_home, ratings_file, tmp_path):
    cfg = config(ratings_file)
    proc, pid = start_holder(tmp_path, cfg, "kill")
    assert pid == proc.pid
    os.kill(pid, signal.SIGKILL)
    proc.wait(timeout=60)
    study = open_study(cfg, "kill")
    assert study.trials[1].state.name == "RUNNING"  # what the killed worker left
    assert len(study.trials[1].intermediate_values) == 1
    partial = sweeps.results_table(study, cfg)
    assert set(partial["trial"]) == {0}

    res = sweeps.run_sweep(cfg, study_name="kill", verbose=False)
    assert_whole(cfg, "kill", res)
    killed = open_study(cfg, "kill").trials[1]
    assert killed.state.name == "FAIL" and killed.user_attrs["died"]
    assert 1 not in set(res.results["trial"])  # its point comes from the retry
    retry = [t for t in open_study(cfg, "kill").trials if t.user_attrs.get("retry_of") == 1]
    assert len(retry) == 1 and retry[0].params == killed.params


def test_sigkill_of_one_of_two_workers_is_repaired_in_the_same_run(
    data_home, ratings_file, tmp_path
):
    cfg = config(ratings_file)
    proc, pid = start_holder(tmp_path, cfg, "kill2", workers=2)
    assert pid != proc.pid  # a spawned worker, not the coordinator
    os.kill(pid, signal.SIGKILL)
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, out
    res = sweeps.run_sweep(cfg, study_name="kill2", verbose=False)  # nothing left to do
    assert_whole(cfg, "kill2", res)
    assert open_study(cfg, "kill2").trials[1].user_attrs["died"]


def test_ctrl_c_of_the_whole_sweep_then_rerun(data_home, ratings_file, tmp_path):
    cfg = config(ratings_file)
    proc, _ = start_holder(tmp_path, cfg, "int", workers=2)
    study = open_study(cfg, "int")
    while sweeps.progress(study, cfg)["done"] < 3:  # the other worker finishes the rest
        assert proc.poll() is None, proc.stdout.read()
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGINT)  # what the terminal sends to the whole group
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, out
    assert "RUNNING" not in {t.state.name for t in study.trials}  # every worker recorded it
    assert study.trials[1].state.name == "FAIL" and study.trials[1].user_attrs["interrupted"]
    saved = sweeps.load_results("int")  # what had finished was saved on the way out
    assert 1 not in set(saved["trial"])

    res = sweeps.run_sweep(cfg, study_name="int", verbose=False)
    assert_whole(cfg, "int", res)


# --- the command line ---------------------------------------------------------------------
def test_cli_runs_then_resumes(data_home, ratings_file, capsys):
    argv = [
        "sweep",
        "--model",
        "mf",
        "--grid",
        "batch_size=16,64",
        "lr=0.01",
        "--epochs",
        "1",
        "--set",
        "n_factors=4",
        "--dataset",
        str(ratings_file),
        "--study",
        "cli",
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "0/2 done" in out and "[2/2] trial" in out and "best val RMSE" in out
    assert main(argv) == 0
    assert "2/2 done" in capsys.readouterr().out
    assert len(sweeps.load_results("cli")) == 2
    assert main([*argv[:-2], "--model", "nope"]) == 2


# --- hostile input: storage, study names, sweeps that only fail ----------------------------
def cli_error(capsys, argv) -> str:
    """Run the CLI, expect exit 2 and exactly one ``error: `` line on stderr; return it."""
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


def tiny_sweep_argv(ratings_file, *extra) -> list[str]:
    return [
        "sweep",
        "--grid",
        "lr=0.01",
        "--epochs",
        "1",
        "--set",
        "n_factors=4",
        "--dataset",
        str(ratings_file),
        "--quiet",
        *extra,
    ]


def test_storage_that_is_not_a_journal_is_refused_untouched(data_home, ratings_file, capsys):
    other = data_home / "model.pt"
    body = b"PK\x03\x04 checkpoint bytes without a newline at the end" * 20
    other.write_bytes(body)
    line = cli_error(capsys, tiny_sweep_argv(ratings_file, "--storage", str(other)))
    assert "not an Optuna journal" in line
    assert other.read_bytes() == body  # not one byte lost
    text = data_home / "notes.txt"
    text.write_bytes(b"line one\nline two, half")
    cli_error(capsys, tiny_sweep_argv(ratings_file, "--storage", str(text)))
    assert text.read_bytes() == b"line one\nline two, half"
    with pytest.raises(ValueError, match="not an Optuna journal"):
        sweeps._repair_journal_tail(text)  # the repair itself refuses, at its depth
    journal = data_home / "ok.log"  # a journal of ours with a half-written last line is fine
    assert main(tiny_sweep_argv(ratings_file, "--storage", str(journal), "--study", "j")) == 0
    journal.write_bytes(journal.read_bytes() + b'{"op_code": 4, "wor')
    assert main(tiny_sweep_argv(ratings_file, "--storage", str(journal), "--study", "j")) == 0
    assert journal.read_bytes().endswith(b"}\n")


def test_study_name_is_a_name_not_a_path(data_home, ratings_file, capsys, tmp_path):
    before = set(tmp_path.rglob("*"))
    for name in ("../../../x", "/tmp/x", ".hidden", "a/b", "x" * 101, "a\nb", "a b"):
        line = cli_error(capsys, tiny_sweep_argv(ratings_file, "--study", name))
        assert "is not a name" in line
    assert set(tmp_path.rglob("*")) == before  # nothing written anywhere
    with pytest.raises(ValueError, match="is not a name"):
        sweeps.study_dir("..")
    weird = sweeps.SweepConfig(dataset="/some where/my ratings (v2).parquet")
    assert sweeps.check_study_name(weird.default_study_name())


def test_a_search_whose_every_trial_fails_stops_and_exits_2(data_home, ratings_file, capsys):
    argv = [
        "sweep",
        "--search",
        "lr=0.001:0.1:log",
        "--sampler",
        "random",
        "--n-trials",
        "1000",
        "--set",
        "n_factors=-1",
        "--dataset",
        str(ratings_file),
        "--study",
        "allfail",
        "--quiet",
    ]
    start = time.perf_counter()
    line = cli_error(capsys, argv)
    assert time.perf_counter() - start < 60
    assert "3 trials in a row failed" in line and "embedding size must be at least 1" in line
    cfg = sweeps.SweepConfig(
        model="mf",
        space={"lr": (0.001, 0.1, True)},
        sampler="random",
        n_trials=1000,
        fixed={"n_factors": -1},
        dataset=str(ratings_file),
    )
    assert len(sweeps.open_study(cfg, "allfail", sweeps.make_storage(None, "allfail")).trials) == 3
    grid = tiny_sweep_argv(ratings_file, "--set", "n_factors=-1", "--study", "gridfail")
    assert "embedding size" in cli_error(capsys, grid)  # a grid of one failing point too


@pytest.mark.parametrize(
    "storage, message",
    [
        ("foo://x", "not a usable database URL"),
        ("://x", "not a usable database URL"),
        ("postgresql://me:s3cret@127.0.0.1:1/db", "cannot open"),
        ("sqlite:////nonexistent-dir/x.db", "cannot open"),
        ("DIR", "is a directory"),
    ],
)
def test_bad_storage_is_one_line(data_home, ratings_file, capsys, storage, message):
    storage = str(data_home) if storage == "DIR" else storage
    line = cli_error(capsys, tiny_sweep_argv(ratings_file, "--storage", storage))
    assert message in line and "s3cret" not in line


def test_a_ranking_model_sweep_maximises_validation_ndcg(data_home, ratings_file, capsys):
    """pooled_softmax's objective (``objective`` class attribute) is validation NDCG@100,
    maximised: the study's direction, each trial's value and the summary's order; the
    last line names that objective, not RMSE."""
    import optuna

    from recsys_utils.tuning.config import objective_of

    assert objective_of("mf") == ("val_rmse", "minimize")
    assert objective_of("pooled_softmax") == ("val_ndcg@100", "maximize")
    cfg = config(
        ratings_file,
        model="pooled_softmax",
        space={"epochs": [2, 4], "batch_size": [8], "lr": [0.001, 0.05]},
        patience=None,
        fixed={"dim": 8, "threshold": 3.0, "device": "cpu"},
    )
    res = sweeps.run_sweep(cfg, study_name="rank", verbose=True)
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert f"best val_ndcg@100 {res.best_value:.4f} with" in last and "RMSE" not in last
    study = open_study(cfg, "rank")
    assert study.direction == optuna.study.StudyDirection.MAXIMIZE
    assert len(res.summary) == 4 and res.complete
    for t in study.trials:
        rows = res.results[res.results["trial"] == t.number]
        assert len(rows) == t.params["epochs"]  # max_epochs came from the grid's epochs
        assert t.value == rows["val_ndcg@100"].max() > 0
        assert rows["val_rmse"].isna().all()  # a ranking model estimates no ratings
    s = res.summary
    assert s["best_val_ndcg@100"].is_monotonic_decreasing and s["best_val_ndcg@100"].nunique() > 1
    assert res.best_value == s["best_val_ndcg@100"].iloc[0] == study.best_value
    # the MF study of the same data minimises
    mf = config(ratings_file, space={"lr": [0.01]})
    assert open_study(mf, "mf-dir").direction == optuna.study.StudyDirection.MINIMIZE
