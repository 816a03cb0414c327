"""The item cold-start protocol: nothing of a cold movie in training, disjoint shares,
seeded, hand-worked targets, and the scoring of both candidate sets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import ratings_table

from recsys_utils.evaluation import coldstart as cs


def _ratings(extra=()) -> pd.DataFrame:
    """30 users, movies 1..20 each liked (4.5) by 10 users and rated 2.0 by 10 others;
    movie 99 liked by 3 users only (never eligible)."""
    rows = []
    for u in range(1, 31):
        for m in range(1, 21):
            if (u + m) % 3 == 0:
                rows.append((u, m, 4.5))
            elif (u + m) % 3 == 1:
                rows.append((u, m, 2.0))
    rows += [(u, 99, 5.0) for u in (1, 2, 3)]
    return ratings_table(rows + list(extra))


def test_no_rating_of_a_cold_movie_is_in_training():
    ratings = _ratings()
    split = cs.cold_start_split(ratings, seed=0)
    cold = np.union1d(split.test.items, split.valid.items)
    assert split.test.items.size == 2 and split.valid.items.size == 2  # 10% of 20 each
    assert not split.train["item_id"].isin(cold).any()
    # everything else stays: low ratings of cold movies leave too, nothing more
    assert len(split.train) == (~ratings["item_id"].isin(cold)).sum()
    assert split.stats["n_train_ratings"] == len(split.train)


def test_shares_are_disjoint_eligible_and_seeded():
    ratings = _ratings()
    seen = set()
    for seed in range(12):
        split = cs.cold_start_split(ratings, seed=seed)
        assert np.intersect1d(split.test.items, split.valid.items).size == 0
        assert 99 not in split.test.items and 99 not in split.valid.items
        again = cs.cold_start_split(ratings, seed=seed)
        assert again.test.items.tolist() == split.test.items.tolist()
        assert again.valid.items.tolist() == split.valid.items.tolist()
        assert (again.test.targets != split.test.targets).nnz == 0
        seen.add(tuple(split.test.items))
    assert len(seen) > 6  # seeds change the held-out movies


def test_targets_by_hand_and_users_without_training_positives_dropped():
    split = cs.cold_start_split(_ratings(), seed=3)
    for share in (split.test, split.valid):
        for r, u in enumerate(share.users):
            liked = share.items[share.targets[r].indices].tolist()
            assert liked == [m for m in share.items if (u + m) % 3 == 0]  # 2.0 is no target
        # every user who liked one of them is there (all have training positives)
        assert share.users.tolist() == sorted(
            {u for u in range(1, 31) for m in share.items if (u + m) % 3 == 0}
        )
    # user 100 likes one cold test movie and nothing else: cannot be scored, counted
    lone = int(split.test.items[0])
    again = cs.cold_start_split(_ratings([(100, lone, 5.0)]), seed=3)
    assert again.test.items.tolist() == split.test.items.tolist()
    assert 100 not in again.test.users and again.stats["test_dropped_users"] == 1
    assert split.stats["test_dropped_users"] == 0


def test_a_leaked_rating_is_caught():
    split = cs.cold_start_split(_ratings(), seed=0)
    cs.check_no_leak(split)
    leaked = pd.concat(
        [split.train, ratings_table([(1, int(split.test.items[0]), 1.0)])], ignore_index=True
    )
    with pytest.raises(AssertionError, match="cold movies in the training ratings"):
        cs.check_no_leak(cs.ColdStartSplit(leaked, split.test, split.valid, 0))
    with pytest.raises(AssertionError, match="both cold test and cold validation"):
        cs.check_no_leak(cs.ColdStartSplit(split.train, split.test, split.test, 0))


def test_too_few_eligible_movies_refused():
    with pytest.raises(ValueError, match="too few"):
        cs.cold_start_split(_ratings(), test_frac=0.5, valid_frac=0.5)


def _oracle(ratings, split, train_bonus: float):
    """Scores +5 for a movie the user liked anywhere (test knowledge, for checking the
    scoring only) and ``train_bonus`` more for one liked in training."""
    liked = ratings[ratings["rating"] >= 4].groupby("user_id")["item_id"].apply(set)
    train_liked = split.positives().groupby("user_id")["item_id"].apply(set)
    asked = []

    def scorer(users, items):
        asked.append((users.copy(), items.copy()))
        s = np.zeros((users.size, items.size))
        for r, u in enumerate(users):
            s[r] += 5.0 * np.isin(items, list(liked.get(u, ())))
            s[r] += train_bonus * np.isin(items, list(train_liked.get(u, ())))
        return s - 1e-3 * items  # a fixed order among the rest

    return scorer, asked


def test_scoring_by_hand_both_candidate_sets():
    ratings = _ratings()
    split = cs.cold_start_split(ratings, seed=1)
    scorer, asked = _oracle(ratings, split, train_bonus=10.0)
    rows = cs.cold_start_report(split, scorer, part="test", k=1)
    assert list(rows.columns) == [
        "user", "candidates", "n_candidates", "n_targets", "recall@1", "ndcg@1",
    ]  # fmt: skip
    # the oracle puts a target first once the training positives are excluded
    assert (rows["recall@1"] == 1.0).all() and (rows["ndcg@1"] == 1.0).all()
    cold, cat = rows[rows["candidates"] == "cold"], rows[rows["candidates"] == "catalogue"]
    assert cold["user"].tolist() == cat["user"].tolist() == split.test.users.tolist()
    assert (cold["n_candidates"] == 2).all()
    # the catalogue: every movie rated in training plus the test movies, not the validation ones
    catalogue = split.catalogue("test")
    assert (cat["n_candidates"] == catalogue.size).all() and catalogue.size == 21 - 2
    assert not np.isin(split.valid.items, catalogue).any()
    # the scorer is asked about the share's users only
    assert all(np.isin(users, split.test.users).all() for users, _ in asked)


def test_scoring_reverse_oracle_and_unexcluded_history():
    ratings = _ratings()
    split = cs.cold_start_split(ratings, seed=1)
    scorer, _ = _oracle(ratings, split, train_bonus=10.0)
    reverse = lambda u, i: -scorer(u, i)  # noqa: E731
    rows = cs.cold_start_report(split, reverse, part="valid", k=1)
    cold = rows[rows["candidates"] == "cold"]
    # a user with one target among two cold movies: the reverse oracle misses it
    one = cold["n_targets"] == 1
    assert one.any() and (cold.loc[one, "recall@1"] == 0.0).all()
    # training positives ranked first but excluded: the cut-off still sees the target
    up = lambda u, i: scorer(u, i) + 100 * np.isin(i, split.train["item_id"])  # noqa: E731
    cat = cs.cold_start_report(split, up, part="valid", k=1)
    cat = cat[cat["candidates"] == "catalogue"]
    assert (cat["recall@1"] == 0.0).sum() > 0  # warm non-positives now outrank the targets
    assert (cs.cold_start_report(split, scorer, part="valid", k=20)["recall@20"] == 1.0).all()
