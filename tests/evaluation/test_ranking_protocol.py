"""Strong-generalisation split and ranking metrics, on tiny hand-worked cases."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from recsys_utils.evaluation.ranking_metrics import (
    ndcg_at_k,
    ranking_report,
    recall_at_k,
    top_k,
)
from recsys_utils.evaluation.ranking_protocol import (
    new_user_histories,
    strong_generalization_split,
)


def csr(a):
    return sp.csr_matrix(np.asarray(a, dtype=np.float32))


def toy_ratings(n_users=60, n_items=40, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        for i in rng.choice(n_items, rng.integers(6, 20), replace=False):
            rows.append((u + 1, 1000 + int(i), float(rng.choice([2.0, 4.0, 5.0])), 0))
    return pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"])


def test_recall_normalised_by_min_k_n():
    s = np.array([[5.0, 4, 3, 2, 1]])
    t = csr([[1, 0, 0, 1, 1]])  # 3 targets, at ranks 1, 4, 5
    assert recall_at_k(s, t, None, 1)[0] == 1.0  # 1 / min(1, 3)
    assert recall_at_k(s, t, None, 2)[0] == 0.5  # 1 / min(2, 3)
    assert recall_at_k(s, t, None, 5)[0] == 1.0  # 3 / min(5, 3)


def test_ndcg_hand_worked():
    s = np.array([[5.0, 4, 3, 2, 1]])
    t = csr([[0, 1, 0, 1, 0]])  # hits at ranks 2 and 4
    dcg = 1 / np.log2(3) + 1 / np.log2(5)
    idcg = 1 + 1 / np.log2(3)  # two targets: IDCG over min(k, 2) positions
    assert ndcg_at_k(s, t, None, 5)[0] == pytest.approx(dcg / idcg)
    assert ndcg_at_k(s, t, None, 2)[0] == pytest.approx((1 / np.log2(3)) / idcg)
    r = ranking_report(s, t, None)
    assert r["ndcg@10"] == pytest.approx(dcg / idcg) and r["hr@10"] == 1.0
    assert r["recall@20"] == 1.0 and r["coverage@10"] == 1.0


def test_history_excluded_from_ranking():
    s = np.array([[9.0, 8, 1, 0]])
    x = csr([[1, 1, 0, 0]])
    assert top_k(s, x, 2).tolist() == [[2, 3]]
    assert recall_at_k(s, csr([[1, 0, 0, 0]]), x, 2)[0] == 0.0  # an excluded item never hits


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
