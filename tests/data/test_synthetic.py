"""The synthetic MovieLens generator: sizes, grid, power law, signal, determinism, format."""

from __future__ import annotations

import zipfile

import numpy as np
import pandas as pd
import pytest

from recsys_utils import data
from recsys_utils.constants import ITEM_COL, MIRROR_ENV, RATING_COL, USER_COL
from recsys_utils.data import synthetic
from recsys_utils.data.synthetic import SyntheticConfig

SMALL = SyntheticConfig(n_ratings=20_000, n_users=400, n_items=200, seed=3)


@pytest.fixture(scope="module")
def small() -> pd.DataFrame:
    return synthetic.generate_ratings(SMALL)


def test_exact_sizes_distinct_pairs_and_dtypes(small):
    assert len(small) == 20_000
    assert small[USER_COL].nunique() == 400  # every user rates at least the floor
    assert small[USER_COL].min() == 1 and small[USER_COL].max() == 400
    assert small[ITEM_COL].nunique() <= 200
    assert not small.duplicated([USER_COL, ITEM_COL]).any()
    assert list(small.dtypes.astype(str)) == ["int32", "int32", "float32", "int64"]
    # sorted by user, then movie, like ml-25m's ratings.csv
    assert small.sort_values([USER_COL, ITEM_COL]).index.equals(small.index)


def test_ratings_on_the_half_star_grid(small):
    r = small[RATING_COL].to_numpy()
    assert r.min() >= 0.5 and r.max() <= 5.0
    assert np.array_equal(r * 2, np.round(r * 2))
    assert len(np.unique(r)) == 10  # the whole grid is used


def test_user_counts_floor_cap_and_exact_total():
    counts = synthetic.user_counts(SMALL)
    assert counts.sum() == 20_000
    assert counts.min() >= 20  # min_user_ratings
    assert counts.max() <= SMALL.max_per_user == 100


def test_activity_is_heavy_tailed():
    cfg = SyntheticConfig(n_ratings=200_000, n_users=2_000, n_items=2_000, seed=1)
    df = synthetic.generate_ratings(cfg)
    for col in (USER_COL, ITEM_COL):
        counts = np.sort(df[col].value_counts().to_numpy())[::-1]
        top_decile_share = counts[: counts.size // 10].sum() / counts.sum()
        # uniform activity would give 10%; ml-25m's top 10% of users give about 45%
        assert top_decile_share > 0.3, (col, top_decile_share)
        assert counts[0] / np.median(counts) > 10


def test_ratings_carry_the_generating_biases(small):
    lat = synthetic._latent(SMALL)
    user_mean = small.groupby(USER_COL)[RATING_COL].mean().to_numpy()  # users 1..400 in order
    assert np.corrcoef(user_mean, lat["b_u"])[0, 1] > 0.5


def test_same_seed_same_zip_bytes_other_seed_differs(tmp_path):
    cfg = SyntheticConfig(n_ratings=3_000, n_users=100, n_items=80, seed=7)
    a = synthetic.write_zip(tmp_path / "a.zip", cfg).read_bytes()
    b = synthetic.write_zip(tmp_path / "b.zip", cfg).read_bytes()
    c = synthetic.write_zip(
        tmp_path / "c.zip", SyntheticConfig(n_ratings=3_000, n_users=100, n_items=80, seed=8)
    ).read_bytes()
    assert a == b and a != c


def test_zip_layout_parses_with_the_data_layer_and_matches_memory(tmp_path, small):
    path = synthetic.write_zip(tmp_path / "syn.zip", SMALL, name="ml-25m")
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        head = zf.read("ml-25m/ratings.csv")[:60].decode()
    assert names == ["ml-25m/", "ml-25m/ratings.csv", "ml-25m/movies.csv"]
    assert head.startswith("userId,movieId,rating,timestamp\n1,")
    assert head.splitlines()[1].split(",")[2] in {f"{x / 2:.1f}" for x in range(1, 11)}
    zipfile.ZipFile(path).extractall(tmp_path)
    ds = data.load_folder(tmp_path / "ml-25m", "ml-25m")
    pd.testing.assert_frame_equal(ds.ratings, small)
    assert len(ds.movies) == 200 and ds.movies["year"].notna().all()
    assert set(ds.ratings[ITEM_COL]) <= set(ds.movies[ITEM_COL])


def test_mirror_feeds_load_dataset(tmp_path, data_home, monkeypatch, small):
    mirror = synthetic.write_mirror(tmp_path / "mirror", SMALL, name="ml-25m")
    monkeypatch.setenv(MIRROR_ENV, str(mirror))
    ds = data.load_dataset("ml-25m")
    pd.testing.assert_frame_equal(ds.ratings, small)
    assert (data_home / "processed" / "ml-25m" / "ratings.parquet").is_file()


def test_impossible_sizes_are_refused():
    with pytest.raises(ValueError, match="do not fit"):
        SyntheticConfig(n_ratings=1_000, n_users=10, n_items=20)  # at most 10 x 10
    with pytest.raises(ValueError, match="positive"):
        SyntheticConfig(n_ratings=0)
