"""Strong-generalisation split on tiny hand-worked cases (its metrics: tests/metrics)."""

import numpy as np
import pandas as pd

from recsys_utils.evaluation.ranking_protocol import (
    new_user_histories,
    strong_generalization_split,
)


def toy_ratings(n_users=60, n_items=40, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        for i in rng.choice(n_items, rng.integers(6, 20), replace=False):
            rows.append((u + 1, 1000 + int(i), float(rng.choice([2.0, 4.0, 5.0])), 0))
    return pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"])


def test_no_held_out_user_in_training_and_same_seed_same_split():
    r = toy_ratings()
    a = strong_generalization_split(r, n_test=10, n_valid=10, seed=3)
    b = strong_generalization_split(r, n_test=10, n_valid=10, seed=3)
    c = strong_generalization_split(r, n_test=10, n_valid=10, seed=4)
    train = set(a.train_users)
    assert not set(a.test.users) & train and not set(a.valid.users) & train
    assert not set(a.valid.users) & set(a.test.users)
    assert (a.test.users == b.test.users).all()
    assert (a.test.history != b.test.history).nnz == 0
    assert (a.test.targets != b.test.targets).nnz == 0
    assert set(a.test.users) != set(c.test.users)
    assert a.test.history.multiply(a.test.targets).nnz == 0  # history and targets disjoint
    pos = r[(r.rating >= 4) & r.user_id.isin(train)]
    assert a.train.nnz == len(pos) and set(pos.item_id) == set(a.items)


def test_unseen_items_dropped_and_counted():
    r = toy_ratings()
    a = strong_generalization_split(r, n_test=10, n_valid=10, seed=0)
    pos = r[(r.rating >= 4) & r.user_id.isin(a.test.users)]
    unseen = int((~pos.item_id.isin(a.items)).sum())
    assert a.stats["test_dropped_unseen_items"] == unseen
    assert a.test.history.nnz + a.test.targets.nnz == len(pos) - unseen


def test_new_user_histories_nested_from_the_history():
    a = strong_generalization_split(toy_ratings(), n_test=10, n_valid=10, seed=1)
    hs = new_user_histories(a.test, (1, 2, 5), seed=0)
    for small, big in ((1, 2), (2, 5)):
        assert hs[small].multiply(hs[big]).nnz == hs[small].nnz  # a prefix
    assert (hs[5] - hs[5].multiply(a.test.history)).nnz == 0
    assert (np.diff(hs[1].indptr) == 1).all()
