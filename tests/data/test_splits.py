"""Random, temporal and leave-last-k splits: worked cases, determinism, and properties."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recsys_utils.data import splits
from recsys_utils.data.splits import Split


def _pairs(df):
    return sorted(zip(df["user_id"].tolist(), df["item_id"].tolist(), strict=True))


def test_random_split_sizes_and_seed(tiny_ratings):
    split = splits.random_split(tiny_ratings, valid_frac=0.15, test_frac=0.15, seed=42)
    assert split.sizes() == {"n_train": 5, "n_valid": 1, "n_test": 1}
    again = splits.random_split(tiny_ratings.sample(frac=1, random_state=3), 0.15, 0.15, seed=42)
    for part in ("train", "valid", "test"):  # row order of the input does not matter
        pd.testing.assert_frame_equal(getattr(split, part), getattr(again, part))


def test_random_split_is_pinned_across_machines(tiny_ratings):
    # PCG64(42).permutation(7) on the (user, item, timestamp)-sorted table; a change
    # here means the same seed no longer gives the same split
    split = splits.random_split(tiny_ratings, valid_frac=0.15, test_frac=0.15, seed=42)
    assert (_pairs(split.valid), _pairs(split.test)) == PINNED


# PCG64(42).permutation(7) = [3 2 6 4 1 5 0]; sorted rows 0..6 are (1,10) (1,20) (1,30)
# (2,10) (2,20) (3,20) (3,30): test takes row 3, valid row 2
PINNED = ([(1, 30)], [(2, 10)])


def test_different_seeds_differ():
    frame = pd.DataFrame(
        {"user_id": range(200), "item_id": range(200), "rating": 3.0, "timestamp": 0}
    )
    a = splits.random_split(frame, seed=1).test
    b = splits.random_split(frame, seed=2).test
    assert _pairs(a) != _pairs(b)


def test_temporal_split_holds_out_each_users_latest(tiny_ratings):
    split = splits.temporal_split(tiny_ratings, valid_frac=0.4, test_frac=0.5)
    # user 1 (3 ratings): floor(1.5)=1 test, floor(1.2)=1 valid; users 2, 3 (2 ratings): 1 test
    assert _pairs(split.test) == [(1, 30), (2, 20), (3, 30)]
    assert _pairs(split.valid) == [(1, 20)]
    assert _pairs(split.train) == [(1, 10), (2, 10), (3, 20)]


def test_leave_last_k_keeps_one_train_rating(tiny_ratings):
    split = splits.leave_last_k(tiny_ratings, k=1)
    assert _pairs(split.test) == [(1, 30), (2, 20), (3, 30)]
    assert _pairs(split.valid) == [(1, 20)]  # users 2 and 3 have no rating to spare
    assert _pairs(split.train) == [(1, 10), (2, 10), (3, 20)]
    big_k = splits.leave_last_k(tiny_ratings, k=5, valid_k=0)
    assert len(big_k.train) == 3 and big_k.valid.empty


def test_timestamp_ties_broken_by_movie_id():
    frame = pd.DataFrame(
        {"user_id": [1, 1, 1], "item_id": [30, 10, 20], "rating": 4.0, "timestamp": [5, 5, 1]}
    )
    assert _pairs(splits.leave_last_k(frame, k=1, valid_k=0).test) == [(1, 30)]


@pytest.mark.parametrize("kwargs", [{"valid_frac": 0.6, "test_frac": 0.4}, {"valid_frac": -0.1}])
def test_bad_fractions_refused(tiny_ratings, kwargs):
    with pytest.raises(ValueError, match="must be >= 0 and sum to < 1"):
        splits.random_split(tiny_ratings, **kwargs)


def test_count_cold():
    def frame(pairs):
        return pd.DataFrame(pairs, columns=["user_id", "item_id"]).assign(rating=3.0, timestamp=0)

    split = Split(
        train=frame([(1, 10), (2, 20)]),
        valid=frame([(2, 10)]),
        test=frame([(3, 10), (1, 30), (1, 20)]),
    )
    assert splits.count_cold(split) == {"valid": 0, "test": 2}


def test_save_and_load_split(data_home, tiny_ratings):
    split = splits.random_split(tiny_ratings, 0.15, 0.15, seed=0)
    splits.save_split(split, "tiny")
    loaded = splits.load_split("tiny")
    for part in ("train", "valid", "test"):
        pd.testing.assert_frame_equal(getattr(loaded, part), getattr(split, part))
    users, items = splits.load_id_maps("tiny")
    assert users.to_list() == sorted(set(split.train["user_id"]))
    assert items.to_list() == sorted(set(split.train["item_id"]))
    assert not [p for p in (data_home / "processed" / "tiny").iterdir() if p.name.startswith(".")]


def test_load_missing_split_says_what_to_run(data_home):
    with pytest.raises(FileNotFoundError, match="run notebook 01_data_cleaning first"):
        splits.load_split("nothing")


pairs = st.sets(st.tuples(st.integers(1, 8), st.integers(1, 12)), min_size=1, max_size=60)


@settings(max_examples=60, deadline=None)
@given(
    pairs=pairs,
    seed=st.integers(0, 2**32 - 1),
    kind=st.sampled_from(["random", "temporal", "last"]),
    k=st.integers(0, 3),
)
def test_no_rating_lost_or_duplicated(pairs, seed, kind, k):
    rows = sorted(pairs)
    frame = pd.DataFrame(rows, columns=["user_id", "item_id"])
    frame["rating"] = 3.0
    frame["timestamp"] = [(u * 7 + i * 13 + seed) % 17 for u, i in rows]
    if kind == "random":
        split = splits.random_split(frame, 0.2, 0.2, seed=seed)
    elif kind == "temporal":
        split = splits.temporal_split(frame, 0.2, 0.3)
    else:
        split = splits.leave_last_k(frame, k=k)
    parts = [_pairs(split.train), _pairs(split.valid), _pairs(split.test)]
    assert sorted(parts[0] + parts[1] + parts[2]) == rows  # exhaustive, nothing duplicated
    assert not (
        set(parts[0]) & set(parts[1])
        or set(parts[0]) & set(parts[2])
        or set(parts[1]) & set(parts[2])
    )
    if kind != "random":  # per-user splits keep every user in train
        assert set(split.train["user_id"]) == set(frame["user_id"])
