"""Sweeps bounded and honest: workers capped, bad settings refused before the first trial,
set-up errors keep their reason, and a database that is not a study store is refused
before anything is written to it."""

from __future__ import annotations

import sqlite3

import optuna
import pytest
import test_run

from recsys_utils.cli import main
from recsys_utils.tuning import run as sweeps
from recsys_utils.tuning import trials

ratings_file = test_run.ratings_file  # the fixture: a small synthetic ratings file


def config(ratings_file, **kw):
    base = {
        "model": "bias",
        "space": {"reg_item": [5.0]},
        "epochs": 1,
        "patience": None,
        "dataset": str(ratings_file),
    }
    return sweeps.SweepConfig(**(base | kw))


def test_workers_are_capped_by_the_grid_points_and_the_cores(data_home, ratings_file, capsys):
    result = sweeps.run_sweep(config(ratings_file), workers=8)  # a one-point grid
    out = capsys.readouterr().out
    assert "note: --workers 8 capped to 1 (1 point(s) left to run" in out
    assert "1 worker(s)" in out and result.complete
    notes = []

    def echo(line, **_):
        notes.append(line)

    assert sweeps.cap_workers(64, 1000, echo=echo) == sweeps.cores()
    assert sweeps.cap_workers(2, 0, echo=echo) == 1
    assert sweeps.cap_workers(1, 5, echo=echo) == 1 and len(notes) == 2


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--model", "mf", "--grid", "lr=nan"], "lr=nan: not a finite number"),
        (["--model", "mf", "--grid", "lr=-0.01,0.01"], "lr=-0.01: must be above 0"),
        (["--model", "mf", "--grid", "batch_size=0"], "batch_size=0: must be above 0"),
        (["--model", "mf", "--grid", "lr=0.01", "--epochs", "0"], "--epochs must be at least 1"),
        (["--model", "mf", "--grid", "lr=0.01", "--set", "weight_decay=inf"], "not a finite"),
        (["--model", "mf", "--grid", "nope=1,2"], "mf refuses {'nope': 1}"),
    ],
)
def test_bad_settings_are_refused_before_the_first_trial(
    data_home, ratings_file, capsys, argv, message
):
    code = main(["sweep", *argv, "--dataset", str(ratings_file), "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and message in err, err
    assert not (data_home / "sweeps").exists() or not any((data_home / "sweeps").rglob("*.log"))


@pytest.mark.parametrize(
    ("dataset", "message"),
    [
        ("/dev/zero", "--dataset /dev/zero: not a regular file"),
        ("/etc/hostname", "expected a .parquet or .csv file of ratings"),
        ("/no/such/ratings.csv", "no such file"),
        ("garbage.csv", "not a table of ratings"),
    ],
)
def test_a_dataset_that_is_not_a_ratings_file_is_refused_unread(
    data_home, tmp_path, capsys, dataset, message
):
    if dataset == "garbage.csv":
        dataset = str(tmp_path / dataset)
        (tmp_path / "garbage.csv").write_text("hello\nworld\n")
    code = main(["sweep", "--model", "bias", "--grid", "reg_item=5", "--dataset", dataset])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and message in err, err


def test_set_up_errors_keep_their_reason(data_home, ratings_file, monkeypatch):
    cfg = config(ratings_file)

    def broken(*_a, **_k):
        raise ValueError("the model could not be built")

    monkeypatch.setattr(trials, "build_model", broken)
    study = optuna.create_study()
    with pytest.raises(ValueError):
        trials.objective(study.ask(), cfg, threads=1)
    (trial,) = study.get_trials()
    from recsys_utils.tuning._storage import failure_reason

    assert trial.user_attrs["error"] == "ValueError: the model could not be built"
    assert "no reason recorded" not in failure_reason(trial)


def _sqlite(path, *tables):
    with sqlite3.connect(path) as db:
        for table in tables:
            db.execute(f"CREATE TABLE {table} (id INTEGER)")


@pytest.mark.parametrize("tables", [("users", "orders"), ("alembic_version",)])
def test_a_database_of_another_app_is_refused_before_writing(
    data_home, ratings_file, tmp_path, capsys, tables
):
    db = tmp_path / "another-apps.db"
    _sqlite(db, *tables)
    before = db.read_bytes()
    code = main(
        ["sweep", "--model", "bias", "--grid", "reg_item=5", "--dataset", str(ratings_file),
         "--storage", f"sqlite:///{db}"]
    )  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1, err
    assert "not a study store" in err and tables[0] in err
    assert db.read_bytes() == before  # not one table added


def test_a_new_or_optuna_database_is_a_study_store(data_home, ratings_file, tmp_path):
    url = f"sqlite:///{tmp_path / 'sweeps.db'}"
    sweeps.run_sweep(config(ratings_file), storage=url, verbose=False)  # new: created
    from recsys_utils.tuning._guards import check_study_store

    check_study_store(url)  # Optuna's own tables only: accepted again
    result = sweeps.run_sweep(config(ratings_file), storage=url, verbose=False)
    assert result.complete


def test_a_results_folder_that_cannot_be_written_is_one_line(
    data_home, ratings_file, tmp_path, capsys
):
    (data_home / "sweeps").write_text("a file where the sweeps folder should be")
    code = main(
        ["sweep", "--model", "bias", "--grid", "reg_item=5", "--dataset", str(ratings_file),
         "--storage", f"sqlite:///{tmp_path / 'store.db'}", "--quiet"]
    )  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1, err
    assert "cannot write the sweep's results" in err and "sweeps" in err
