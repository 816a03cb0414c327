"""Ours (PooledSoftmax): seeded, early-stopped, new users scored as training users."""

import numpy as np
import pandas as pd
import pytest

from recsys_utils.models import checkpoints
from recsys_utils.models.ranking import PooledSoftmax, ndcg_at_100
from recsys_utils.models.registry import MODELS


def toy(n_users=50, n_items=30, seed=0):
    rng = np.random.default_rng(seed)
    rows = [
        (u + 1, 100 + int(i), float(rng.choice([2.0, 4.0, 5.0])), 0)
        for u in range(n_users)
        for i in rng.choice(n_items, rng.integers(5, 15), replace=False)
    ]
    return pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"])


FAST = dict(dim=8, max_epochs=3, batch_size=16, num_threads=1)


@pytest.mark.parametrize("kw", [{}, {"hidden": "tanh", "freq_beta": 0.5, "pool": "mean"}])
def test_new_user_list_equals_training_user_with_same_history(kw):
    r = toy()
    m = PooledSoftmax(**FAST, **kw).fit(r)
    assert MODELS["pooled_softmax"] is PooledSoftmax
    user = int(m.user_map.ids[5])
    mine = r[r.user_id == user]
    liked = mine[mine.rating >= 4].item_id.tolist()
    np.testing.assert_allclose(m.score_new_user(liked), m.score_items([5])[0], rtol=1e-6)
    given = dict(zip(mine.item_id, mine.rating, strict=True))  # low ratings never count
    np.testing.assert_allclose(m.score_new_user(ratings=given), m.score_items([5])[0], rtol=1e-6)
    new = m.recommend_new_user(ratings=given, k=5).item_id.tolist()
    assert new == m.recommend(user, k=5).item_id.tolist()
    assert not set(new) & set(mine.item_id)


def test_seeded_and_early_stopping_history():
    r = toy()
    valid = r.groupby("user_id").head(2)
    train = r.drop(valid.index)
    a = PooledSoftmax(**FAST, seed=1).fit(train, valid)
    b = PooledSoftmax(**FAST, seed=1).fit(train, valid)
    np.testing.assert_array_equal(a.W_out_, b.W_out_)
    assert list(a.history_["loss"]) == list(b.history_["loss"])
    assert {"epoch", "loss", "val_ndcg@100"} <= set(a.history_.columns)
    assert a.selected_params()["max_epochs"] == a.best_epoch_


def test_sampled_softmax_trains():
    m = PooledSoftmax(**FAST, loss="sampled", n_negatives=8).fit(toy())
    assert np.isfinite(m.history_["loss"]).all()


def test_ndcg_at_100_agrees_with_the_report():
    import scipy.sparse as sp

    from recsys_utils.evaluation.ranking_metrics import ranking_report

    rng = np.random.default_rng(0)
    s = rng.normal(size=(6, 150))
    h = sp.csr_matrix((rng.random((6, 150)) < 0.05).astype(np.float32))
    t = sp.csr_matrix(((rng.random((6, 150)) < 0.1) & (h.toarray() == 0)).astype(np.float32))
    assert ndcg_at_100(s, h, t) == pytest.approx(ranking_report(s, t, h)["ndcg@100"])


def test_checkpoint_round_trip(tmp_path):
    r = toy()
    m = PooledSoftmax(**FAST).fit(r)
    checkpoints.save(m, tmp_path / "ours")
    back = checkpoints.load(tmp_path / "ours")
    np.testing.assert_allclose(back.score_items([0, 3]), m.score_items([0, 3]), rtol=1e-6)
    assert back.recommend(int(m.user_map.ids[3]), k=5).equals(
        m.recommend(int(m.user_map.ids[3]), k=5)
    )
