"""``bench embeddings``: the demo's timings and the fold-in check, run small."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys_utils.cli import main


def _movielens(n_users: int = 30, n_movies: int = 40) -> dict[str, bytes]:
    rng = np.random.default_rng(1)
    rows = [
        (u, int(m), float(rng.integers(1, 11) / 2), u * 100 + int(m))
        for u in range(1, n_users + 1)
        for m in rng.choice(np.arange(1, n_movies + 1), 15, replace=False)
    ]
    ratings = pd.DataFrame(rows, columns=["userId", "movieId", "rating", "timestamp"])
    movies = pd.DataFrame({"movieId": range(1, n_movies + 1)})
    movies["title"], movies["genres"] = [f"Movie {m}" for m in movies["movieId"]], "Drama"
    return {
        "ml-latest-small/": b"",
        "ml-latest-small/ratings.csv": ratings.to_csv(index=False).encode(),
        "ml-latest-small/movies.csv": movies.to_csv(index=False).encode(),
    }


def test_bench_embeddings_prints_each_figure(data_home, make_mirror, monkeypatch, capsys):
    monkeypatch.setenv("RECSYS_DATA_MIRROR", str(make_mirror(_movielens())))
    argv = ["bench", "embeddings", "--no-umap", "--curve-users", "0", "--repeats", "3"]
    assert main(argv) == 0
    figures = dict(line.split(None, 1) for line in capsys.readouterr().out.splitlines())
    assert set(figures) == {"n_movies", "fold_in_top10_ms", "neighbour_ms"}
    assert int(figures["n_movies"]) == 40
    assert float(figures["fold_in_top10_ms"]) > 0 and float(figures["neighbour_ms"]) > 0


def test_median_ms_is_the_median_of_the_calls(monkeypatch):
    from recsys_utils.bench import embeddings

    ticks = iter([0.0, 0.001, 1.0, 1.003, 2.0, 2.002])  # calls of 1, 3 and 2 ms
    monkeypatch.setattr(embeddings.time, "perf_counter", lambda: next(ticks))
    assert embeddings.median_ms(lambda: None, 3) == pytest.approx(2.0)
