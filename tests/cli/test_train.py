"""``train``: every flag reaches the model's hyperparameter of that meaning, a flag the model
does not take is one line and exit 2, and a ranking model prints ranking figures."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from recsys_utils.cli import build_parser, main
from recsys_utils.cli.train import FLAG_PARAMS, LOOP_FLAGS, model_params
from recsys_utils.models import MODELS


def _args(*argv):
    return build_parser().parse_args(["train", *argv])


# --- flags to hyperparameters, one table --------------------------------------------------------
@pytest.mark.parametrize(
    ("model", "argv", "expected"),
    [
        ("mf", ["--epochs", "3", "--dim", "8", "--l2", "0.1"], {"epochs": 3, "n_factors": 8, "l2": 0.1}),
        ("collabfnet", ["--dim", "8", "--lr", "0.01"], {"emb_size": 8, "lr": 0.01}),
        ("pooled_softmax", ["--epochs", "2", "--dim", "16"], {"max_epochs": 2, "dim": 16}),
        ("pooled_softmax", ["--patience", "3"], {"patience": 3}),
        ("pooled_softmax", ["--param", "hidden=tanh", "--param", "dropout=0.25"], {"hidden": "tanh", "dropout": 0.25}),
        ("pooled_softmax", ["--param", "tie=True"], {"tie": True}),
        ("ease", ["--param", "lam=100"], {"lam": 100}),
        ("bias", [], {}),
    ],
)  # fmt: skip
def test_each_flag_sets_the_parameter_the_model_declares(model, argv, expected):
    cls = MODELS[model]
    params = model_params(_args("--model", model, "--seed", "7", *argv), cls)
    seeded = "seed" in cls.loop_options or "seed" in cls().get_params()
    assert params == {**expected, **({"seed": 7} if seeded else {})}
    cls(**params)  # and the model takes them


def test_a_param_value_is_a_literal_or_else_text_never_run():
    argv = ["--model", "ease", "--param", "lam=__import__('os')", "--param", "threshold=[1.5][0]"]
    params = model_params(_args(*argv), MODELS["ease"])
    assert params == {"lam": "__import__('os')", "threshold": "[1.5][0]"}


def test_the_loop_flags_go_under_the_keywords_the_class_declares():
    """--epochs/--patience/--seed reach a model by its declared loop_options, whatever it
    calls them: a class declaring epochs under another keyword gets it there."""
    from types import MappingProxyType

    cls = MODELS["pooled_softmax"]
    renamed = type("Renamed", (cls,), {"loop_options": MappingProxyType({"epochs": "max_epochs"})})
    params = model_params(_args("--model", "x", "--epochs", "4", "--seed", "3"), renamed)
    assert params["max_epochs"] == 4 and "epochs" not in params
    with pytest.raises(ValueError, match="x does not take --patience; it takes --epochs, "):
        model_params(_args("--model", "x", "--patience", "2"), renamed)  # not declared: refused


def test_every_flag_reaches_some_model():
    declared = set().union(*(MODELS[m]().get_params() for m in ("mf", "pooled_softmax")))
    for dest, names in FLAG_PARAMS.items():
        assert set(names) & declared, dest
        assert dest in vars(_args()), dest  # and the parser has it
    for dest in LOOP_FLAGS:
        assert dest in MODELS["mf"].loop_options and dest in vars(_args()), dest


@pytest.mark.parametrize(
    ("model", "argv", "refused"),
    [
        ("pooled_softmax", ["--l2", "0.1", "--schedule", "cosine"], "--l2, --schedule"),
        ("ease", ["--epochs", "3"], "--epochs"),
        ("bias", ["--dim", "8"], "--dim"),
        ("mf", ["--param", "hidden=tanh"], "--param hidden"),
    ],
)
def test_a_flag_the_model_does_not_take_is_one_line_and_exit_2(
    model, argv, refused, data_home, capsys, monkeypatch
):
    from recsys_utils.data import movielens

    def no_data(*a, **k):
        raise AssertionError("read the data before refusing the flag")

    monkeypatch.setattr(movielens, "load_dataset", no_data)
    assert main(["train", "--model", model, *argv]) == 2
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert out == "" and len(lines) == 1, lines
    assert lines[0].startswith(f"error: {model} does not take {refused}; it takes ")
    declared = MODELS[model]().get_params()
    takes = [d for d in LOOP_FLAGS if d in MODELS[model].loop_options]
    takes += [d for d, names in FLAG_PARAMS.items() if set(names) & set(declared)]
    assert f"it takes {', '.join('--' + d.replace('_', '-') for d in takes) or 'no'}" in lines[0]
    if model == "pooled_softmax":  # names the flags it does take
        assert {"--epochs", "--dim", "--lr", "--batch-size"} <= set(
            lines[0].replace(",", "").split()
        )


def test_a_model_built_from_more_than_ratings_is_refused_in_one_line(capsys):
    assert main(["train", "--model", "content_knn"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: content_knn cannot be trained by this")


def test_a_malformed_param_is_one_line(capsys):
    assert main(["train", "--model", "mf", "--param", "epochs"]) == 2
    assert capsys.readouterr().err.strip() == (
        "error: bad --param 'epochs': expected NAME=VALUE, e.g. --param hidden='tanh'"
    )


# --- whole runs on a small fixture ---------------------------------------------------------------
def _movielens(n_users: int = 240, n_movies: int = 60, per_user: int = 15) -> dict[str, bytes]:
    """A zip's entries: enough users for 100 + 100 held out, each liking most of a taste group."""
    rng = np.random.default_rng(0)
    rows = []
    for u in range(1, n_users + 1):
        group = u % 3  # three tastes: movies 1-20, 21-40, 41-60 are liked by their group
        for m in rng.choice(np.arange(1, n_movies + 1), per_user, replace=False):
            liked = (m - 1) // 20 == group
            rows.append(
                (u, int(m), 5.0 if liked else float(rng.choice([1.0, 2.0, 4.0])), u * 100 + m)
            )
    ratings = pd.DataFrame(rows, columns=["userId", "movieId", "rating", "timestamp"])
    movies = pd.DataFrame({"movieId": range(1, n_movies + 1)})
    movies["title"], movies["genres"] = [f"Movie {m}" for m in movies["movieId"]], "Drama"
    return {
        "ml-latest-small/": b"",
        "ml-latest-small/ratings.csv": ratings.to_csv(index=False).encode(),
        "ml-latest-small/movies.csv": movies.to_csv(index=False).encode(),
    }  # fmt: skip


@pytest.fixture
def small_data(data_home, make_mirror, monkeypatch):
    monkeypatch.setenv("RECSYS_DATA_MIRROR", str(make_mirror(_movielens())))
    return data_home


def test_train_a_ranking_model_applies_every_flag_and_prints_ranking_figures(
    small_data, tmp_path, capsys
):
    out = tmp_path / "ps"
    argv = ["--model", "pooled_softmax", "--epochs", "2", "--dim", "16", "--batch-size", "64"]
    assert main(["train", *argv, "--param", "eval_every=1", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "RMSE" not in printed
    valid = next(line for line in printed.splitlines() if line.startswith("valid "))
    test = next(line for line in printed.splitlines() if line.startswith("test "))
    for line in (valid, test):
        assert "NDCG@100" in line and "Recall@20" in line
    meta = json.loads(out.with_suffix(".json").read_text())
    params, metrics, log = meta["params"], meta["metrics"], pd.DataFrame(meta["history"])
    assert (params["dim"], params["max_epochs"], params["batch_size"]) == (16, 2, 64)
    assert params["seed"] == 42 and len(log) == 2  # exactly two epochs
    # the printed validation figure is the best epoch's (its weights were restored)
    assert metrics["valid_ndcg@100"] == pytest.approx(log["val_ndcg@100"].max())
    assert f"NDCG@100 {metrics['test_ndcg@100']:.4f}" in test
    assert 0 < metrics["test_recall@20"] <= 1 and metrics["protocol"] == "strong_generalisation"
    # the checkpoint serves a new person
    argv = ["recommend", "--checkpoint", str(out.with_suffix(".json")), "--ratings", "1:5,2:5"]
    assert main([*argv, "--k", "3"]) == 0
    heading, *rows = capsys.readouterr().out.splitlines()
    assert "liked 2 of your 2 movies" in heading and len(rows) == 3


def test_train_a_rating_model_applies_every_flag_and_prints_rmse(small_data, tmp_path, capsys):
    out = tmp_path / "mf"
    argv = ["--model", "mf", "--epochs", "2", "--dim", "4", "--lr", "0.02", "--l2", "0.05"]
    assert main(["train", *argv, "--patience", "5", "--out", str(out)]) == 0
    assert "test RMSE" in capsys.readouterr().out
    meta = json.loads(out.with_suffix(".json").read_text())
    got = {k: meta["params"][k] for k in ("epochs", "n_factors", "lr", "l2", "patience", "seed")}
    assert got == {"epochs": 2, "n_factors": 4, "lr": 0.02, "l2": 0.05, "patience": 5, "seed": 42}
    assert len(meta["history"]["epoch"]) == 2
