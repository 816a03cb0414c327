"""Cases found by probing past the issue's list: numbers from the command line that
allocated without bound, wrapped, or started a server on a data set that does not exist."""

from __future__ import annotations

import pytest
from helpers import FAST

from recsys_utils.app import serve
from recsys_utils.cli import main
from recsys_utils.models import make_model
from recsys_utils.models.checkpoints import save


@pytest.fixture
def mf_checkpoint(tiny_ratings, tmp_path):
    model = make_model("mf", n_factors=4, **FAST).fit(tiny_ratings)
    return save(model, tmp_path / "mf")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["recommend", "--ratings", "10:5", "--k", str(10**12)],
            "k=1000000000000 exceeds the 2 eligible",
        ),
        (["similar", "--movie", "10", "--k", str(10**12)], "k=1000000000000 exceeds the"),
        (["recommend", "--ratings", f"{10**23}:5", "--k", "1"], f"unknown movie ids [{10**23}]"),
        (
            ["similar", "--movie", "10", "--min-ratings", "-5", "--k", "1"],
            "--min-ratings must be 0",
        ),
    ],
)
def test_numbers_past_their_bounds_are_one_line(mf_checkpoint, capsys, argv, message):
    code = main([*argv, "--checkpoint", str(mf_checkpoint)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err[-1].startswith("error: ") and message in err[-1], err
    assert not [line for line in err if "Traceback" in line or "Warning" in line]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--port", "70000"], "--port must be 1 to 65535, got 70000"),
        (["--port", "0"], "--port must be 1 to 65535, got 0"),
        (["--dataset", "ml-nope"], "unknown data set 'ml-nope'"),
        (["--idle-timeout", "nan"], "--idle-timeout must be at least 1 second"),
        (["--max-sessions", "0"], "--max-sessions must be at least 1"),
    ],
)
def test_the_app_server_refuses_bad_settings_before_starting(data_home, capsys, argv, message):
    assert serve.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err
