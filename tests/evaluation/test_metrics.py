"""Rating and ranking metrics against hand-worked answers and an independent per-user loop."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from recsys_utils.constants import ITEM_COL, RATING_COL, USER_COL
from recsys_utils.evaluation import metrics
from recsys_utils.evaluation.metrics import ranking_from_top, ranking_metrics, rating_metrics
from recsys_utils.models import MF, BiasOnly, GlobalMean

# --- rating error -------------------------------------------------------------------


def test_rating_metrics_of_the_global_mean_on_the_tiny_table(tiny_ratings):
    # mean 23/7; in sevenths the errors are 5, -2, 12, -9, 8.5, -16, 1.5: squares sum to
    # 584.5, so MSE = 584.5 / 49 / 7; absolute errors sum to 54, so MAE = 54 / 49
    model = GlobalMean().fit(tiny_ratings)
    out = rating_metrics(model, tiny_ratings)
    assert out["rmse"] == pytest.approx(math.sqrt(584.5 / 343), abs=1e-6)
    assert out["mae"] == pytest.approx(54 / 49, abs=1e-6)
    assert out["n_fallback"] == 0


# --- ranking from top-k lists -----------------------------------------------------------

# Six items, k = 3. Hits per user, worked on paper (log2(3) = 1.5849625):
#   A: top [0,1,2], relevant {1,4}: hits 0 1 0. P 1/3, R 1/2, DCG 1/log2(3) = 0.6309298,
#      IDCG (2 hits) 1 + 0.6309298 -> NDCG 0.3868528; AP (1/2) / 2 = 0.25; hit 1.
#   B: top [3,0,5], relevant {3,5}: hits 1 0 1. P 2/3, R 1, DCG 1 + 1/2 = 1.5,
#      NDCG 1.5 / 1.6309298 = 0.9197208; AP (1/1 + 2/3) / 2 = 5/6; hit 1.
#   C: top [0,1,3], relevant {5}: no hit, all zero.
# Coverage: items {0,1,2,3,5} of 6 = 5/6.
TOPK = np.array([[0, 1, 2], [3, 0, 5], [0, 1, 3]])
RELEVANT = [np.array([1, 4]), np.array([3, 5]), np.array([5])]


def test_ranking_from_top_hand_worked_three_users():
    out = ranking_from_top(TOPK, RELEVANT, n_items=6)
    assert out["precision"] == pytest.approx((1 / 3 + 2 / 3 + 0) / 3, abs=1e-12)
    assert out["recall"] == pytest.approx((1 / 2 + 1 + 0) / 3, abs=1e-12)
    assert out["ndcg"] == pytest.approx((0.3868528 + 0.9197208 + 0) / 3, abs=1e-7)
    assert out["map"] == pytest.approx((0.25 + 5 / 6 + 0) / 3, abs=1e-12)
    assert out["hit_rate"] == pytest.approx(2 / 3, abs=1e-12)
    assert out["coverage"] == pytest.approx(5 / 6, abs=1e-12)
    assert out["n_users"] == 3


def test_perfect_list_scores_one_and_ap_caps_at_k():
    # three relevant items but k = 2: both slots hit, so AP divides by min(3, 2) = 2 -> 1
    out = ranking_from_top(np.array([[4, 2]]), [np.array([2, 4, 7])], n_items=8)
    assert out["precision"] == 1.0
    assert out["recall"] == pytest.approx(2 / 3)
    assert out["ndcg"] == pytest.approx(1.0)
    assert out["map"] == pytest.approx(1.0)
    assert out["coverage"] == pytest.approx(2 / 8)


def test_users_without_relevant_items_are_left_out():
    out = ranking_from_top(np.array([[0, 1], [1, 0]]), [np.array([1]), np.array([], int)], 2)
    assert out["n_users"] == 1
    assert out["precision"] == pytest.approx(0.5)  # only the first user: 1 hit of 2
    with pytest.raises(ValueError, match="no user has a relevant item"):
        ranking_from_top(np.array([[0, 1]]), [np.array([], int)], 2)
    with pytest.raises(ValueError, match="2 top-k rows but 1 relevant"):
        ranking_from_top(np.array([[0, 1], [1, 0]]), [np.array([1])], 2)


# --- ranking_metrics against an independent per-user implementation ---------------------


def _random_split(seed: int = 3, n_users: int = 25, n_items: int = 30):
    rng = np.random.default_rng(seed)
    uu, ii = np.meshgrid(np.arange(n_users), np.arange(n_items), indexing="ij")
    draw = rng.random(uu.shape)
    ratings = rng.integers(2, 11, uu.shape) / 2.0  # 1.0 .. 5.0 on the half-star grid

    def table(mask):
        return pd.DataFrame(
            {USER_COL: uu[mask] + 1, ITEM_COL: ii[mask] + 100, RATING_COL: ratings[mask]}
        )

    return table(draw < 0.35), table((draw >= 0.35) & (draw < 0.55))


def _by_hand(model, train, test, k, threshold):
    """Per-user loops over plain Python lists: the definition in metrics' docstring."""
    if threshold is not None:
        test = test[test[RATING_COL] >= threshold]
    n_items = len(model.item_map)
    seen, relevant = {}, {}
    for user, item in zip(train[USER_COL], train[ITEM_COL], strict=True):
        seen.setdefault(user, set()).add(item)
    for user, item in zip(test[USER_COL], test[ITEM_COL], strict=True):
        if user in model.user_map and item in model.item_map:
            relevant.setdefault(user, set()).add(item)
    rows, recommended = [], set()
    for user, rel in sorted(relevant.items()):
        scores = model.score_items(model.user_map.encode([user]))[0]
        items = [int(x) for x in model.item_map.ids]
        unseen = [
            (float(scores[j]), j, items[j]) for j in range(n_items) if items[j] not in seen[user]
        ]
        top = [item for _, _, item in sorted(unseen, key=lambda t: (-t[0], t[1]))[:k]]
        recommended.update(top)
        hits = [item in rel for item in top]
        dcg = sum(1 / math.log2(j + 2) for j, h in enumerate(hits) if h)
        idcg = sum(1 / math.log2(j + 2) for j in range(min(len(rel), k)))
        ap = sum(sum(hits[: j + 1]) / (j + 1) for j, h in enumerate(hits) if h) / min(len(rel), k)
        rows.append((sum(hits) / k, sum(hits) / len(rel), dcg / idcg, ap, float(any(hits))))
    means = [sum(col) / len(rows) for col in zip(*rows, strict=True)]
    return dict(zip(["precision", "recall", "ndcg", "map", "hit_rate"], means, strict=True)) | {
        "coverage": len(recommended) / n_items,
        "n_users": len(rows),
    }


@pytest.fixture(scope="module")
def fitted_pair():
    train, test = _random_split()
    mf = MF(
        n_factors=4,
        epochs=3,
        batch_size=4096,
        lr=0.05,
        patience=None,
        seed=1,
        device="cpu",
        progress=False,
        num_threads=1,
    ).fit(train)
    return {"bias": BiasOnly().fit(train), "mf": mf}, train, test


@pytest.mark.parametrize("name", ["bias", "mf"])
@pytest.mark.parametrize("k", [1, 3, 10])
@pytest.mark.parametrize("threshold", [None, 4.0])
def test_ranking_metrics_agree_with_a_per_user_loop(fitted_pair, name, k, threshold):
    models, train, test = fitted_pair
    model = models[name]
    got = ranking_metrics(model, train, test, k=k, relevance_threshold=threshold)
    want = _by_hand(model, train, test, k, threshold)
    assert got["n_users"] == want["n_users"] > 10
    for key, value in want.items():
        assert got[key] == pytest.approx(value, abs=1e-9), key


@pytest.mark.parametrize("k", [1, 10])
def test_ranking_rows_are_the_per_user_terms_of_ranking_metrics(fitted_pair, k):
    models, train, test = fitted_pair
    rows = metrics.ranking_rows(models, train, test, k=k)
    for name, model in models.items():
        mine = rows[rows["model"] == name]
        got = ranking_metrics(model, train, test, k=k)
        assert len(mine) == got["n_users"] == mine["user"].nunique()
        assert mine[f"ndcg@{k}"].mean() == pytest.approx(got["ndcg"], abs=1e-12)
        assert mine[f"recall@{k}"].mean() == pytest.approx(got["recall"], abs=1e-12)
    # the users are raw ids of test users with a relevant movie
    assert set(rows["user"]) <= set(test.loc[test[RATING_COL] >= 4, USER_COL])


def test_seen_items_are_never_in_the_ranked_lists(fitted_pair, monkeypatch):
    models, train, test = fitted_pair
    captured = {}

    def spy(topk, relevant, n_items):
        captured["topk"] = topk
        return ranking_from_top(topk, relevant, n_items)

    monkeypatch.setattr(metrics, "ranking_from_top", spy)
    model = models["mf"]
    ranking_metrics(model, train, test, k=10, relevance_threshold=None)
    users = np.unique(model.user_map.encode(test[USER_COL].to_numpy()))
    assert captured["topk"].shape == (users.size, 10)
    for row, user in zip(captured["topk"], users, strict=True):
        assert not set(row.tolist()) & set(model.seen_items(user).tolist())


def test_a_model_that_loves_seen_items_gets_no_hit_from_them(fitted_pair):
    # relevant = exactly the training items; were they not excluded, a bias model fitted
    # to 5-star training ratings would rank them first and hit
    _, train, _ = fitted_pair
    loved = train.assign(**{RATING_COL: 5.0})
    rest = _random_split(seed=3)[1].assign(**{RATING_COL: 1.0})
    model = BiasOnly(reg_user=0.0, reg_item=0.0).fit(pd.concat([loved, rest]))
    out = ranking_metrics(model, None, pd.concat([loved, rest]).iloc[: len(loved)], k=5)
    assert out["hit_rate"] == 0.0


def test_k_larger_than_the_catalogue_is_refused(fitted_pair):
    models, train, test = fitted_pair
    with pytest.raises(ValueError, match="k=31 exceeds the catalogue of 30"):
        ranking_metrics(models["bias"], train, test, k=31)


def test_novelty_hand_worked():
    # recommended items 0 (3 ratings) and 2 (none): ln(1 + 3) and ln(1 + 0) average to ln 2;
    # over 8 users, -log2(3/8) = 1.4150375 and -log2(max(0, 1)/8) = 3 average to 2.2075187;
    # without n_users the population is all 4 ratings: (0.4150375 + 2) / 2
    topk, counts = np.array([[0, 2]]), np.array([3, 1, 0])
    out = metrics.novelty(topk, counts, n_users=8)
    assert out["mean_log_popularity"] == pytest.approx(math.log(2), abs=1e-12)
    assert out["self_information"] == pytest.approx(2.2075187, abs=1e-7)
    assert metrics.novelty(topk, counts)["self_information"] == pytest.approx(1.2075187, abs=1e-7)
    with pytest.raises(ValueError, match="no recommendations"):
        metrics.novelty(np.zeros((0, 2), dtype=int), counts)


# --- the candidate rule and the relevance threshold, worked on paper ----------------------
# Four movies, one user. Training: user 1 rated movie 1 (5) and movie 2 (1); user 2 rated
# all four so the catalogue is 1..4. A model scoring 1 > 2 > 3 > 4 for everyone (by
# item index) ranks, after removing user 1's training movies {1, 2}, movies [3, 4].
# Validation: user 1 rated movie 3. Test: user 1 rated movie 4 with 5 stars and nobody
# else. Without exclude, top-1 = [3] (a validation movie: a sure miss), NDCG@1 = 0;
# with exclude=[valid], top-1 = [4], a hit: NDCG@1 = 1.


class _ByIndex(GlobalMean):
    def score_items(self, user_indices):
        n = len(self.item_map)
        return np.tile(np.arange(n, 0, -1, dtype=np.float64), (len(user_indices), 1))


def _rule_tables():
    from helpers import table

    train = table([1, 1, 2, 2, 2, 2], [1, 2, 1, 2, 3, 4], [5, 1, 3, 3, 3, 3])
    valid = table([1], [3], [4])
    test = table([1], [4], [5])
    return train, valid, test


def test_exclude_removes_the_validation_movies_from_the_candidates():
    train, valid, test = _rule_tables()
    model = _ByIndex().fit(train)
    assert ranking_metrics(model, train, test, k=1)["ndcg"] == 0.0
    out = ranking_metrics(model, train, test, k=1, exclude=valid)
    assert out["ndcg"] == 1.0 and out["hit_rate"] == 1.0 and out["n_users"] == 1
    assert ranking_metrics(model, None, test, k=1, exclude=[valid])["ndcg"] == 1.0


def test_a_scored_pair_cannot_be_excluded():
    train, valid, test = _rule_tables()
    model = _ByIndex().fit(train)
    with pytest.raises(ValueError, match="also in exclude"):
        ranking_metrics(model, train, test, k=1, exclude=[valid, test])


def test_relevance_defaults_to_four_stars():
    from helpers import table

    from recsys_utils.constants import RELEVANCE_THRESHOLD

    assert RELEVANCE_THRESHOLD == 4.0
    train, valid, _ = _rule_tables()
    model = _ByIndex().fit(train)
    # user 1's only candidate after exclusion is movie 4; a 3.5-star test rating of it is
    # not relevant, so there is nobody to rank; with None it is a hit
    low = table([1], [4], [3.5])
    with pytest.raises(ValueError, match="no user has a relevant item"):
        ranking_metrics(model, train, low, k=1, exclude=valid)
    out = ranking_metrics(model, train, low, k=1, exclude=valid, relevance_threshold=None)
    assert out["ndcg"] == 1.0
