"""Probes, ladder, overlap and novelty on small planted or hand-worked cases."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from recsys_utils.evaluation import metrics, probes
from recsys_utils.models import make_model, recipes


# --- novelty ------------------------------------------------------------------------------
def test_novelty_hand_example():
    # counts 1, 3, 7, 0: ln(1 + c) = ln2, 2 ln2, 3 ln2, 0 -> mean 1.5 ln2
    # with 8 users: -log2(c / 8) = 3, 3 - log2 3, 3 - log2 7, and 3 (zero counts as one)
    counts = np.array([1, 3, 7, 0])
    out = metrics.novelty(np.array([[0, 1], [2, 3]]), counts, n_users=8)
    assert out["mean_log_popularity"] == pytest.approx(1.5 * math.log(2))
    assert out["self_information"] == pytest.approx((12 - math.log2(21)) / 4)
    # without n_users the population is all 11 ratings
    alone = metrics.novelty(np.array([[2]]), counts)
    assert alone["self_information"] == pytest.approx(math.log2(11 / 7))


def test_novelty_rejects_empty_lists():
    with pytest.raises(ValueError, match="no recommendations"):
        metrics.novelty(np.zeros((0, 10), dtype=int), np.array([1, 2]))


# --- linear probes --------------------------------------------------------------------------
def planted(n=400, d=8, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    w = rng.normal(size=d)
    return x, w, rng


def test_genre_probe_finds_a_planted_direction_and_not_a_shuffled_one():
    x, w, rng = planted()
    labels = np.stack([(x @ w > 0), rng.random(len(x)) < 0.3], axis=1).astype(int)
    table = probes.probe_genres(x, labels, ["Planted", "Noise"], folds=5, seed=1).set_index("genre")
    assert table.loc["Planted", "auc"] > 0.97
    assert table.loc["Planted", "accuracy"] > 0.9
    assert abs(table.loc["Planted", "auc_shuffled"] - 0.5) < 0.1
    assert abs(table.loc["Noise", "auc"] - 0.5) < 0.1
    assert table.loc["Planted", "majority_accuracy"] == pytest.approx(
        max(labels[:, 0].mean(), 1 - labels[:, 0].mean())
    )


def test_genre_probe_skips_rare_genres():
    x, w, _ = planted(n=100)
    labels = np.zeros((100, 1), dtype=int)
    labels[:19, 0] = 1  # 19 positives < min_positive 20
    assert probes.probe_genres(x, labels, ["Rare"]).empty
    with pytest.raises(ValueError, match="100 vectors but 99"):
        probes.probe_genres(x, labels[:99], ["Rare"])


def test_target_probe_r2_near_one_for_a_linear_target_and_near_zero_shuffled():
    x, w, rng = planted()
    out = probes.probe_target(x, x @ w + 0.01 * rng.normal(size=len(x)), seed=2)
    assert out["r2"] > 0.99
    assert out["r2_shuffled"] < 0.05


def test_genre_labels():
    movies = pd.DataFrame({"item_id": [1, 2, 3], "genres": [["Drama"], [], ["Comedy", "Drama"]]})
    labels, names = probes.genre_labels([3, 1, 99], movies)
    assert names == ["Comedy", "Drama"]
    assert labels.tolist() == [[1, 1], [0, 1], [0, 0]]


def grid_ratings(n_users=5, n_items=60):
    """Every user rates every movie; movie j's rating is 1 + 4 * (j % 7) / 6 for all users."""
    users, items = np.meshgrid(np.arange(1, n_users + 1), np.arange(1, n_items + 1), indexing="ij")
    rating = 1 + 4 * (items % 7) / 6
    return pd.DataFrame(
        {
            "user_id": users.ravel().astype("int32"),
            "item_id": items.ravel().astype("int32"),
            "rating": rating.ravel().astype("float32"),
            "timestamp": np.zeros(users.size, dtype="int64"),
        }
    )


def test_probe_model_reads_planted_genre_and_mean_rating():
    train = grid_ratings()
    movies = pd.DataFrame(
        {
            "item_id": np.arange(1, 61),
            "genres": [["Comedy"] if j % 2 else ["Drama"] for j in range(1, 61)],
        }
    )
    model = recipes.untrained(make_model("mf", n_factors=4, device="cpu", progress=False), train)
    with torch.no_grad():
        w = model.net.item_emb.weight
        ids = model.item_map.ids
        w[:, 0] = torch.as_tensor((ids % 2 == 1) * 2.0 - 1.0, dtype=w.dtype)  # Comedy axis
        w[:, 1] = torch.as_tensor(ids % 7, dtype=w.dtype)  # the mean rating, linearly
    genres, targets = probes.probe_model(model, train, movies, min_ratings=5, folds=3, seed=0)
    genres = genres.set_index("genre")
    assert genres.loc["Comedy", "auc"] > 0.99 and genres.loc["Drama", "auc"] > 0.99
    assert targets.loc["mean_rating", "r2"] > 0.99
    assert targets.loc["mean_rating", "r2_shuffled"] < 0.2
    assert set(targets.index) == {"mean_rating", "log_popularity"}


# --- ranking ------------------------------------------------------------------------------
def test_top_k_lists_match_recommend_and_compare_uses_ranking_metrics(tiny_ratings):
    pop = make_model("popularity").fit(tiny_ratings)
    bias = make_model("bias").fit(tiny_ratings)
    users = pop.user_map.encode([2, 3])
    for model in (pop, bias):
        tops = probes.top_k_lists(model, users, k=1)
        for row, user in enumerate([2, 3]):
            assert (
                model.item_map.decode(tops[row]).tolist()
                == model.recommend(user, k=1)["item_id"].tolist()
            )
    # user 2 never rated 30, user 3 never rated 10: each has exactly one unseen movie
    test = pd.DataFrame({"user_id": [2, 3], "item_id": [30, 10], "rating": [5.0, 2.0]})
    table = probes.compare_recommenders(
        {"pop": pop, "bias": bias}, test, k=1, relevance_threshold=None
    )
    assert table.loc["pop", "precision"] == 1.0
    assert table.loc["pop", "coverage"] == pytest.approx(2 / 3)
    # the two lists hold movie 30 (2 ratings) and movie 10 (2 ratings), 3 users
    assert table.loc["pop", "self_information"] == pytest.approx(math.log2(3 / 2))
    assert table.loc["pop", "mean_log_popularity"] == pytest.approx(math.log(3))
    only_high = probes.compare_recommenders({"pop": pop}, test, k=1)  # RELEVANCE_THRESHOLD
    assert only_high.loc["pop", "n_users"] == 1


# --- the ladder -------------------------------------------------------------------------------
class Constant:
    """A stand-in model that predicts one value (or the truth, with ``oracle``)."""

    n_fallback_ = 0

    def __init__(self, value=None, truth=None):
        self.value, self.truth = value, truth

    def predict(self, users, items):
        return (
            np.array(self.truth, dtype=float)
            if self.value is None
            else np.full(len(users), self.value)
        )


def test_ladder_rmse_and_shares_by_hand():
    test = pd.DataFrame({"user_id": [1, 2], "item_id": [1, 1], "rating": [1.0, 3.0]})
    # predicting 0: sqrt((1 + 9) / 2) = sqrt 5; predicting 2: 1; the truth: 0
    table = probes.ladder(
        {"zero": Constant(0.0), "two": Constant(2.0), "oracle": Constant(truth=[1.0, 3.0])}, test
    )
    np.testing.assert_allclose(table["rmse"], [math.sqrt(5), 1.0, 0.0])
    np.testing.assert_allclose(
        table["share_of_gain"].iloc[1:], [(math.sqrt(5) - 1) / math.sqrt(5), 1 / math.sqrt(5)]
    )
    assert table.loc["two", "times_better_than_first"] == pytest.approx(math.sqrt(5))


def test_untrained_nets_start_from_the_mean_or_from_zero(tiny_ratings):
    kw = {"device": "cpu", "progress": False}
    at_mean = recipes.untrained(make_model("collabfnet", emb_size=4, **kw), tiny_ratings)
    at_zero = recipes.untrained(make_model("collabfnet", emb_size=4, **kw), tiny_ratings, mu=0.0)
    users, items = tiny_ratings["user_id"], tiny_ratings["item_id"]
    mean = tiny_ratings["rating"].mean()
    # output = b2 + sum of 10 hidden units (each <= |b1| + |W1 x| < 0.5) times |w2| <= 1/sqrt(10):
    # within 1.6 of b2, which starts at the mean or at 0 (then clipped up to 1.0)
    assert np.abs(at_mean.predict(users, items) - mean).max() < 1.6
    assert np.abs(at_zero.predict(users, items) - mean).min() > 1.6
    assert at_mean.history_ is None and "_fit" not in vars(at_mean)


# --- similar users -------------------------------------------------------------------------
def test_jaccard_and_liked_items():
    assert probes.jaccard({1, 2, 3}, {2, 3, 4}) == 0.5
    assert probes.jaccard(set(), set()) == 0.0
    ratings = pd.DataFrame(
        {"user_id": [1, 1, 2], "item_id": [10, 20, 10], "rating": [4.0, 3.5, 5.0]}
    )
    assert probes.liked_items(ratings, 4.0) == {1: {10}, 2: {10}}


def test_similar_users_overlap_uses_the_nearest_vector(tiny_ratings):
    # four users; 1 and 2 point the same way, 3 and 4 the opposite way
    ratings = pd.concat(
        [
            tiny_ratings,
            pd.DataFrame(
                {
                    "user_id": np.array([4, 4], dtype="int32"),
                    "item_id": np.array([10, 30], dtype="int32"),
                    "rating": np.array([1.0, 1.0], dtype="float32"),
                    "timestamp": np.array([1, 2]),
                }
            ),
        ]
    )
    model = recipes.untrained(make_model("mf", n_factors=2, device="cpu", progress=False), ratings)
    with torch.no_grad():
        model.net.user_emb.weight[:] = torch.tensor(
            [[1.0, 0.1], [1.0, 0.0], [-1.0, 0.0], [-1.0, 0.1]]
        )
    # liked (>= 4): user 1 {10, 30}, user 2 {20}, user 3 {}, user 4 {}
    out = probes.similar_users_overlap(model, ratings, [1, 2], k=1, threshold=4.0, seed=0)
    assert out["neighbour_jaccard"].tolist() == [0.0, 0.0]
    assert out["n_liked"].tolist() == [2, 1]
    ratings.loc[(ratings.user_id == 2) & (ratings.item_id == 10), "rating"] = 5.0
    # now user 2 likes {10, 20}: J(user 1, user 2) = 1/3
    out = probes.similar_users_overlap(model, ratings, [1], k=1, threshold=4.0, seed=0)
    assert out["neighbour_jaccard"].iloc[0] == pytest.approx(1 / 3)
    assert out["random_jaccard"].iloc[0] in (0.0, pytest.approx(1 / 3))


# --- the held-out users, histories in fit -------------------------------------------------
def _ratings(n_users=120, n_items=60, seed=0):
    rng = np.random.default_rng(seed)
    pop = rng.zipf(1.5, n_items).astype(float)
    rows = [
        (u + 1, int(i) + 1, float(rng.choice([2.0, 4.0, 5.0])), 0)
        for u in range(n_users)
        for i in rng.choice(n_items, rng.integers(8, 25), replace=False, p=pop / pop.sum())
    ]
    return pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"])


def test_histories_in_fit_trains_on_histories_never_on_targets_and_pairs_with_the_run():
    from recsys_utils.evaluation.experiment import Experiment, Grid, StrongGeneralisation
    from recsys_utils.models.base import Capabilities
    from recsys_utils.models.registry import MODELS

    seen = []

    class Spy(MODELS["popularity"]):
        capabilities = Capabilities(uses_validation=True)

        def fit(self, train, valid=None):
            seen.append((train, valid))
            return super().fit(train)

    ratings = _ratings()
    proto = probes.HistoriesInFit(n_test=20, n_valid=15)
    result = Experiment(
        proto, [Grid("spy", Spy, seeded=False)], seeds=(3,), curve_ns=(), time_foldin=False,
        log=None,
    ).run(ratings)  # fmt: skip
    split = StrongGeneralisation(n_test=20, n_valid=15).split(ratings, 3)
    train, valid = seen[0]
    pairs = set(zip(train["user_id"], train["item_id"], strict=True))
    for held in (split.valid, split.test):
        for m, name in ((held.history, "history"), (held.targets, "target")):
            c = m.tocoo()
            got = {
                (held.users[r], split.items[i]) in pairs for r, i in zip(c.row, c.col, strict=True)
            }
            assert got == ({True} if name == "history" else {False}), name
    assert set(split.train_users) <= set(train["user_id"])
    # early stopping reads the validation users' other ratings: no history, no other user
    h = split.valid.history.tocoo()
    hist = {(split.valid.users[r], split.items[i]) for r, i in zip(h.row, h.col, strict=True)}
    assert set(valid["user_id"]) <= set(split.valid.users)
    assert not hist & set(zip(valid["user_id"], valid["item_id"], strict=True))
    # the test rows are the ranking protocol's test users, scored as known users
    rows = result.users
    assert list(rows["user"]) == list(split.test.users)
    expected = probes.held_out_report(result.model("spy"), split.test, split.items)
    assert rows["ndcg@100"].mean() == pytest.approx(expected["ndcg@100"])
    assert result.protocol["name"] == "strong_generalisation, histories in fit"
