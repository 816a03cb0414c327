"""bench coldstart on a small synthetic release: rows, choices made on the validation
movies only, the report files, and LightFM left out (and said so) when missing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys_utils.bench import coldstart as bench
from recsys_utils.data import movielens, synthetic
from recsys_utils.data.features import build_features
from recsys_utils.data.synthetic import SyntheticConfig
from recsys_utils.evaluation.coldstart import cold_start_split

CFG = SyntheticConfig(n_ratings=20_000, n_users=300, n_items=500, seed=2)
GRIDS = {
    "content_knn": [{"k": None}, {"k": 3}],
    "genre_popularity": [{"alpha": 1.0}, {"alpha": 50.0}],
}


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    path = tmp_path_factory.mktemp("cold") / "movies.csv"
    synthetic.movies_table(CFG).to_csv(path, index=False)
    features = build_features(movielens.read_movies(path, "ml-latest-small"))
    return synthetic.generate_ratings(CFG), features


def test_rows_and_choices(release):
    ratings, features = release
    rows, choices, stats = bench.run(ratings, features, seeds=(0, 1), grids=GRIDS)
    assert set(rows["model"]) == {"content_knn", "genre_popularity"}
    assert set(rows["candidates"]) == {"cold", "catalogue"} and set(rows["seed"]) == {0, 1}
    assert rows["recall@20"].between(0, 1).all() and rows["ndcg@20"].between(0, 1).all()
    assert [(c["model"], c["seed"]) for c in choices] == [
        ("content_knn", 0), ("genre_popularity", 0), ("content_knn", 1), ("genre_popularity", 1),
    ]  # fmt: skip
    assert all(c["params"] in GRIDS[c["model"]] for c in choices)
    assert [s["seed"] for s in stats] == [0, 1] and stats[0]["n_test_items"] >= 1
    table = bench.summarise(rows)
    assert set(table["model"]) == {"content_knn", "genre_popularity"}
    assert table.loc[table["model"] == "content_knn", "diff_vs_content_knn"].isna().all()


def test_choices_ignore_the_test_movies(release):
    """Who liked the test movies is redrawn (each movie keeps its count of ratings, so the
    split is the same): every choice and validation score must stay as it was."""
    ratings, features = release
    split = cold_start_split(ratings, seed=0)
    _, before = bench.run_seed(split, features, GRIDS)
    test = ratings["item_id"].isin(split.test.items).to_numpy()
    rng = np.random.default_rng(9)
    planted = ratings.copy()
    users = np.unique(ratings["user_id"])
    planted.loc[test, "user_id"] = rng.choice(users, int(test.sum())).astype(np.int32)
    planted = planted.drop_duplicates(["user_id", "item_id"])
    again = cold_start_split(planted, seed=0)
    assert again.test.items.tolist() == split.test.items.tolist()
    assert again.valid.items.tolist() == split.valid.items.tolist()
    rows_after, after = bench.run_seed(again, features, GRIDS)
    assert [c["params"] for c in after] == [c["params"] for c in before]
    assert [c["valid_recall@20"] for c in after] == [c["valid_recall@20"] for c in before]


def test_report_files_and_lightfm_missing(release, tmp_path, monkeypatch):
    ratings, features = release
    monkeypatch.setattr(bench, "lightfm_available", lambda: False)
    grids = {**GRIDS, "lightfm": [{"no_components": 4, "epochs": 1}]}
    rows, choices, stats = bench.run(ratings, features, seeds=(0,), grids=grids)
    assert "lightfm" not in set(rows["model"])
    path = bench.write_report(rows, choices, stats, tmp_path, "synthetic", (0,), 1.0)
    text = path.read_text()
    assert "pip install --no-build-isolation lightfm==1.17" in text
    assert "| cold | recall@20 | content_knn |" in text
    back = pd.read_csv(tmp_path / "bench_coldstart.csv")
    assert len(back) == len(rows)


def test_lightfm_when_installed(release):
    pytest.importorskip("lightfm")
    ratings, features = release
    split = cold_start_split(ratings, seed=0)
    grids = {"lightfm": [{"no_components": 8, "epochs": 3}]}
    rows, choices = bench.run_seed(split, features, grids)
    again, _ = bench.run_seed(split, features, grids)
    assert set(rows["model"]) == {"lightfm"}
    pd.testing.assert_frame_equal(rows, again)  # one thread, seeded: the same figures
