"""``bench personalisation``: Jaccard worked on paper, the protocol on a tiny table (its NDCG
is ``metrics.ranking``'s, tested in tests/metrics)."""

import numpy as np
import pandas as pd
import pytest

from recsys_utils.bench import personalisation as pers


def test_mean_pairwise_jaccard_by_hand():
    # {1,2} vs {2,3}: 1/3; {1,2} vs {4}: 0; {2,3} vs {4}: 0 -> mean 1/9
    assert pers.mean_pairwise_jaccard([{1, 2}, {2, 3}, {4}]) == pytest.approx(1 / 9)
    assert pers.mean_pairwise_jaccard([{1, 2}, {1, 2}]) == 1.0
    assert pers.mean_pairwise_jaccard([{1}]) == 0.0


def _ratings(n_users=40, n_items=30, seed=0):
    rng = np.random.default_rng(seed)
    taste = rng.integers(0, 2, n_users)  # two kinds of people, two halves of the catalogue
    rows = []
    for u in range(n_users):
        for i in rng.choice(n_items, 15, replace=False):
            liked = (i < n_items // 2) == bool(taste[u])
            rows.append((u + 1, i + 1, 5.0 if liked else 2.0))
    return pd.DataFrame(rows, columns=["user_id", "item_id", "rating"]).astype(
        {"user_id": "int32", "item_id": "int32", "rating": "float32"}
    )


def test_held_out_users_are_not_trained_on_and_each_given_list_holds_a_liked_movie():
    ratings = _ratings()
    users = pers.draw_users(ratings, n_users=6, n_given=5, min_ratings=10, seed=1)
    assert len(users) == 6
    assert all(len(g) == 5 and (g["rating"] >= 4).any() for g in users.values())
    with pytest.raises(ValueError, match="asked for 500"):
        pers.draw_users(ratings, n_users=500, n_given=5, min_ratings=10)


def test_a_personal_model_differs_across_users_where_popularity_does_not():
    ratings = _ratings()
    models = {"ease": ("ease", {"lam": 10.0}), "popularity": ("popularity", {})}
    table, lists = pers.personalisation(
        ratings, models, n_users=8, n_given=5, k=5, min_ratings=10, echo=None
    )
    by = table.set_index("model")
    assert by.loc["popularity", "mean_jaccard"] > by.loc["ease", "mean_jaccard"]
    assert by.loc["ease", "distinct"] > by.loc["popularity", "distinct"]
    assert by.loc["ease", "ndcg@5"] > by.loc["popularity", "ndcg@5"]  # and better lists
    assert all(len(top) == 5 for top in lists["ease"].values())
    assert set(by["slots"]) == {40}


def test_novelty_rows_reuse_the_fitted_model_and_lean_on_less_rated_movies():
    ratings = _ratings()
    models = {"ease": ("ease", {"lam": 10.0})}
    table, lists = pers.personalisation(
        ratings,
        models,
        n_users=8,
        n_given=5,
        k=5,
        min_ratings=10,
        echo=None,
        novelties={"ease": (0.5,)},
    )
    assert list(table["model"]) == ["ease", "ease, novelty 0.5"]
    assert list(table["novelty"]) == [0.0, 0.5]
    assert table["fit_s"].nunique() == 1  # one fit, two orderings
    counts = ratings.groupby("item_id").size()
    mean_count = lambda label: np.mean(  # noqa: E731
        [counts[m] for top in lists[label].values() for m in top]
    )
    assert mean_count("ease, novelty 0.5") < mean_count("ease")
