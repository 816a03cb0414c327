"""``bench_peers`` run end to end on a small synthetic table, and its protocol checked.

The protocol says the test split is used once, for the scores. So a signal planted in
the test ratings only (here: every test rating moved to 5 or 0.5 by movie parity) must
change nothing that was chosen or fitted: not the epochs early stopping picks, not the
blend's weights, not a single test prediction of ours or of the Surprise peer. And every
final model must have been fitted on train + validation (the refit), nothing more.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import table

from recsys_utils.bench import peers as bench
from recsys_utils.constants import ITEM_COL, RATING_COL, USER_COL
from recsys_utils.data import splits

NET = {
    "n_factors": 2,
    "epochs": 12,
    "patience": 2,
    "batch_size": 64,
    "lr": 0.05,
    "device": "cpu",
    "num_threads": 1,
}
OURS = {
    "ours.bias": ("bias", {}),
    "ours.mf": ("mf", NET),
    "ours.blend": ("blend", {"members": [["mf", NET], ["mf", {**NET, "n_factors": 3}]]}),
}


@pytest.fixture(scope="module")
def synthetic():
    rng = np.random.default_rng(7)
    n_users, n_items = 40, 30
    p, q = rng.normal(0, 0.8, (n_users, 2)), rng.normal(0, 0.8, (n_items, 2))
    users, items = np.meshgrid(np.arange(n_users), np.arange(n_items), indexing="ij")
    keep = rng.random(users.shape) < 0.5
    u, i = users[keep], items[keep]
    r = 3.2 + (p[u] * q[i]).sum(1) + rng.normal(0, 0.3, u.size)
    return table(u + 1, i + 1, np.clip(np.round(r * 2) / 2, 0.5, 5.0)).assign(timestamp=0)


def _run(ratings):
    seen = {}
    df = bench.bench_peers(
        out_dir=None,
        ratings=ratings,
        ours=OURS,
        peers=["surprise.BaselineOnly"],
        throughput=False,
        echo=None,
        record=lambda name, info: seen.__setitem__(name, info),
    )
    return df, seen


def _planted(ratings, seed=42):
    test = splits.protocol_split(ratings, seed).test[[USER_COL, ITEM_COL]]
    marked = ratings.merge(test.assign(_t=True), on=[USER_COL, ITEM_COL], how="left")
    is_test = marked["_t"].fillna(False).to_numpy(bool)
    signal = np.where(ratings[ITEM_COL].to_numpy() % 2 == 0, 5.0, 0.5)
    out = ratings.copy()
    out[RATING_COL] = np.where(is_test, signal, ratings[RATING_COL]).astype(np.float32)
    return out, int(is_test.sum())


@pytest.fixture(scope="module")
def runs(synthetic):
    planted, n_test = _planted(synthetic)
    assert n_test == round(0.1 * len(synthetic))
    return _run(synthetic), _run(planted), synthetic


def test_bench_peers_runs_on_a_small_table(runs):
    (df, seen), _, ratings = runs
    assert df["model"].tolist() == ["surprise.BaselineOnly", *OURS]
    assert df["rmse"].between(0.1, 2.0).all()
    assert df.attrs["n_test"] == round(0.1 * len(ratings)) == df.attrs["n_valid"]


def test_every_final_model_is_fitted_on_train_plus_validation(runs):
    (df, seen), _, _ = runs
    n_full = df.attrs["n_train"] + df.attrs["n_valid"]
    for name, info in seen.items():
        assert info["n_fit"] == n_full, name


def test_a_test_only_signal_changes_no_choice_and_no_prediction(runs):
    (df_a, a), (df_b, b), _ = runs
    assert set(a) == set(b)
    for name in a:
        assert a[name]["params"] == b[name]["params"], name  # epochs, blend weights
        np.testing.assert_array_equal(a[name]["predictions"], b[name]["predictions"], name)
    # the planted signal did change the test ratings, so the scores moved
    assert not np.allclose(df_a["rmse"], df_b["rmse"])
    assert not pd.isna(df_a.set_index("model").loc["ours.mf", "epochs"])


def test_protocol_split_sizes_are_rounded_not_truncated():
    # 17 ratings: 10% is 1.7, so 2 go to test and 2 to validation (int() would give 1)
    ratings = table(np.arange(17), np.zeros(17), np.full(17, 3.0)).assign(timestamp=0)
    split = splits.protocol_split(ratings, seed=0)
    assert split.sizes() == {"n_train": 13, "n_valid": 2, "n_test": 2}


def test_the_surprise_peer_counts_the_pairs_it_falls_back_on():
    from recsys_utils.bench.peers import SurprisePeer, surprise_peers
    from recsys_utils.evaluation.metrics import rating_metrics

    train = pd.DataFrame(
        {"user_id": [1, 1, 2, 3], "item_id": [10, 11, 10, 12], "rating": [4.0, 3.0, 5.0, 2.0]}
    )
    peer = SurprisePeer(surprise_peers(0)["surprise.BaselineOnly"], (0.5, 5.0)).fit(train)
    # an unknown user, an unknown movie, both known
    test = pd.DataFrame({"user_id": [9, 1, 2], "item_id": [10, 99, 11], "rating": [4.0] * 3})
    assert rating_metrics(peer, test)["n_fallback"] == 2
    assert rating_metrics(peer, train)["n_fallback"] == 0
