"""``bench coldstart --timing``: how long placing one new movie takes (figures printed,
never asserted: the numbers depend on the machine and its load)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import genre_world

from recsys_utils.bench import coldstart
from recsys_utils.cli import main
from recsys_utils.models import checkpoints
from recsys_utils.models.hybrid import HybridPooled

FAST = dict(dim=8, max_epochs=5, lr=0.05, batch_size=20, device="cpu", num_threads=1, seed=0)


@pytest.fixture(scope="module")
def model():
    features, train = genre_world()
    return HybridPooled(features, **FAST).fit(train)


def test_random_descriptions_are_valid_and_seeded(model):
    a = coldstart.random_descriptions(model.features, 30, seed=3)
    assert a == coldstart.random_descriptions(model.features, 30, seed=3)
    assert a != coldstart.random_descriptions(model.features, 30, seed=4)
    for kw in a:  # each one is a movie describe accepts
        assert 1 <= len(kw["genres"]) <= 2 and kw["tags"] == [] and 1920 <= kw["year"] <= 2030
        assert model.features.describe(**kw).nnz >= 2


def test_placement_timing_times_each_new_movie_and_says_if_the_target_is_met(model):
    t = coldstart.placement_timing(model, n=7, k=3)
    assert t["n"] == 7 and t["k"] == 3 and t["dim"] == 8 and t["n_movies"] == 20
    assert 0 < t["place_median_ms"] <= t["place_p95_ms"] <= t["place_max_ms"]
    assert t["met"] == (t["place_p95_ms"] < t["target_ms"])
    lines = coldstart.timing_lines({**t, "met": False, "place_p95_ms": 9.0}, cpus=2)
    assert "MISSES the 5 ms target" in lines[1] and "p95 9.000 ms" in lines[1]
    assert "on 2 CPUs" in lines[3] and "its 3 neighbours among the 20" in lines[2]
    assert "meets the 5 ms target" in coldstart.timing_lines({**t, "met": True})[1]


def test_the_timing_command_prints_the_figures(data_home, model, capsys):
    checkpoints.save(model, data_home / "checkpoints" / "hybrid", dataset="ml-latest-small")
    assert main(["bench", "coldstart", "--timing", "--n", "5"]) == 0
    out = capsys.readouterr().out
    assert "5 random new movies" in out and "target" in out and "load average" in out
    assert main(["bench", "coldstart", "--timing", "--n", "0"]) == 2
    assert np.any(
        ["--n must be 1 or more" in line for line in capsys.readouterr().err.splitlines()]
    )
