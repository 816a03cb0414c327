"""Ours (PooledSoftmax): seeded, early-stopped, new users scored as training users."""

import numpy as np
import pandas as pd
import pytest

from recsys_utils.models import checkpoints
from recsys_utils.models.base import Query
from recsys_utils.models.ranking import PooledSoftmax
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
    only_liked = Query.new(dict.fromkeys(liked, 5.0))
    np.testing.assert_allclose(m.score(only_liked), m.score_items([5])[0], rtol=1e-6)
    given = dict(zip(mine.item_id, mine.rating, strict=True))  # low ratings never count
    np.testing.assert_allclose(m.score(Query.new(given)), m.score_items([5])[0], rtol=1e-6)
    new = m.recommend(Query.new(given), k=5).item_id.tolist()
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


def test_checkpoint_round_trip(tmp_path):
    r = toy()
    m = PooledSoftmax(**FAST).fit(r)
    checkpoints.save(m, tmp_path / "ours")
    back = checkpoints.load(tmp_path / "ours")
    np.testing.assert_allclose(back.score_items([0, 3]), m.score_items([0, 3]), rtol=1e-6)
    assert back.recommend(int(m.user_map.ids[3]), k=5).equals(
        m.recommend(int(m.user_map.ids[3]), k=5)
    )


def test_training_habits_on_epoch_progress_eval_every_and_device(capsys):
    r = toy()
    valid = r.groupby("user_id").head(2)
    train = r.drop(valid.index)
    m = PooledSoftmax(**{**FAST, "max_epochs": 4}, eval_every=2, patience=None, device="cpu")
    seen = []
    m.on_epoch = seen.append
    m.fit(train, valid)
    assert [row["epoch"] for row in seen] == [1, 2, 3, 4] == list(m.history_["epoch"])
    # validation every 2 epochs only; the best of those is kept
    assert m.history_["val_ndcg@100"].isna().tolist() == [True, False, True, False]
    assert m.best_epoch_ in (2, 4) and m.device_ == "cpu"
    assert m.best_val_ndcg100_ == m.history_["val_ndcg@100"].max()
    assert "PooledSoftmax" not in capsys.readouterr().err  # progress=False: no bar
    PooledSoftmax(**{**FAST, "max_epochs": 2}, progress=True).fit(train)
    assert "PooledSoftmax" in capsys.readouterr().err
    with pytest.raises(ValueError, match="not available"):
        PooledSoftmax(**FAST, device="cuda:7").fit(train)


def test_early_stopping_waits_for_min_epochs_and_seconds_are_per_epoch(monkeypatch):
    """Validation that peaks at epoch 1 and then falls (as NDCG does for the first epochs,
    before the tables leave popularity): patience 2 alone stops at epoch 3 (3 - 1 >= 2);
    with min_epochs 6 training goes on to epoch 6, and the best epoch is still 1."""
    import recsys_utils.models.ranking as ranking

    r = toy()
    valid = r.groupby("user_id").head(2)
    train = r.drop(valid.index)
    falling = iter(np.linspace(0.9, 0.1, 20))
    monkeypatch.setattr(ranking, "report", lambda *a: {"ndcg@100": float(next(falling))})
    short = PooledSoftmax(**{**FAST, "max_epochs": 10}, patience=2, min_epochs=0).fit(train, valid)
    assert len(short.history_) == 3 and short.best_epoch_ == 1
    falling = iter(np.linspace(0.9, 0.1, 20))
    waits = PooledSoftmax(**{**FAST, "max_epochs": 10}, patience=2, min_epochs=6).fit(train, valid)
    assert len(waits.history_) == 6 and waits.best_epoch_ == 1
    # per-epoch seconds (training.loop's convention): they add up to less than the fit
    assert 0 < waits.history_["seconds"].sum() <= waits.fit_seconds_
    with pytest.raises(ValueError, match="min_epochs"):
        PooledSoftmax(min_epochs=-1)


def test_randomized_svd_matches_the_exact_one():
    from recsys_utils.models.ranking import randomized_svd

    rng = np.random.default_rng(0)
    A = rng.normal(size=(200, 8)) @ rng.normal(size=(8, 150)) + 1e-3 * rng.normal(size=(200, 150))
    U, S, Vt = randomized_svd(A, 8)
    np.testing.assert_allclose(S, np.linalg.svd(A, compute_uv=False)[:8], rtol=1e-4)
    np.testing.assert_allclose(U * S @ Vt, A, atol=1e-2)


def test_ease_init_at_epoch_zero_is_the_low_rank_ease_ranking():
    """init="ease" with rank >= the catalogue: the tables reproduce EASE's scores up to the
    per-user pooling norm, so the lists are EASE's; epoch 0 is a candidate on validation."""
    from recsys_utils.models.ease import EASE

    r = toy(n_items=20)
    valid = r.groupby("user_id").head(2)
    train = r.drop(valid.index)
    m = PooledSoftmax(**{**FAST, "dim": 20, "max_epochs": 0}, init="ease", ease_lam=5.0).fit(train)
    e = EASE(lam=5.0).fit(train)
    users = np.arange(len(m.user_map))
    norm = np.sqrt(np.diff(m.liked().indptr))[:, None]
    np.testing.assert_allclose(m.score_items(users) * norm, e.score_items(users), atol=1e-4)
    f = PooledSoftmax(**FAST, init="ease", lr=1e-4).fit(train, valid)
    assert f.history_["epoch"].iloc[0] == 0 and f.best_epoch_ >= 0
    assert f.best_val_ndcg100_ == f.history_["val_ndcg@100"].max()


def test_ease_dual_init_at_epoch_zero_is_exactly_ease_off_the_history():
    """init="ease_dual": EASE's dual tables (one dimension per training user, here 50 of
    dim 64). Off each user's liked movies, the scores are EASE's times the pooling's
    1 / sqrt(|liked|) (init_scale 1), so every new user's list is EASE's; a dim below the
    training users is refused."""
    from recsys_utils.models.ease import EASE

    r = toy(n_items=20)
    kw = {**FAST, "dim": 64, "max_epochs": 0}
    m = PooledSoftmax(**kw, init="ease_dual", ease_lam=5.0, init_scale=1.0).fit(r)
    e = EASE(lam=5.0).fit(r)
    users = np.arange(len(m.user_map))
    liked = m.liked().toarray() > 0
    norm = np.sqrt(liked.sum(1))[:, None]
    ours, theirs = m.score_items(users) * norm, e.score_items(users)
    np.testing.assert_allclose(ours[~liked], theirs[~liked], atol=1e-5)
    assert np.abs(ours[liked] - theirs[liked]).max() > 1e-3  # the history is not EASE's
    with pytest.raises(ValueError, match="needs dim >= the 50 training users"):
        PooledSoftmax(**{**kw, "dim": 8}, init="ease_dual").fit(r)


def test_tied_tables_share_one_embedding():
    m = PooledSoftmax(**FAST, tie=True).fit(toy())
    np.testing.assert_array_equal(m.W_in_, m.W_out_)
