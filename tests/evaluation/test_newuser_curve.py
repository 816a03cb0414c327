"""The new-user curve on the ranking protocol: same targets at every n, inputs nested."""

import numpy as np
import pandas as pd
import pytest

from recsys_utils.evaluation import newuser_curve as nc
from recsys_utils.evaluation.ranking_protocol import strong_generalization_split


@pytest.fixture(scope="module")
def ratings():
    rng = np.random.default_rng(0)
    rows = []
    for u in range(1, 41):
        half = u % 2  # two kinds of people: odd users like movies 1-15, even ones 16-30
        for i in rng.choice(30, 20, replace=False) + 1:
            liked = (i <= 15) == bool(half)
            rows.append((u, i, 5.0 if liked else 2.0))
    return pd.DataFrame(rows, columns=["user_id", "item_id", "rating"]).astype(
        {"user_id": "int32", "item_id": "int32", "rating": "float32"}
    )


@pytest.fixture(scope="module")
def split(ratings):
    return strong_generalization_split(ratings, n_test=6, n_valid=4, seed=1, min_positives=5)


def test_an_oracle_scores_one_popularity_is_flat_and_the_input_grows(split):
    held = split.test
    oracle = lambda history: held.targets.toarray().astype(float)  # noqa: E731
    curve = nc.new_user_curve(
        {"oracle": oracle, "popularity": nc.popularity_scorer(split)}, held, ns=(1, 2, 5)
    )
    by = curve.set_index(["model", "n"])
    assert (by.loc["oracle", "ndcg@10"] == 1.0).all()
    assert by.loc["popularity", "ndcg@10"].nunique() == 1  # ignores the input
    sizes = [held.subset_history(n, 0).nnz for n in (1, 2, 5)]
    assert sizes[0] == len(held) and sizes[0] < sizes[1] < sizes[2]
    first, second = held.subset_history(1, 0), held.subset_history(2, 0)
    assert (first.multiply(second) != first).nnz == 0  # nested: n=1 is part of n=2


def test_a_rating_model_is_folded_in_from_the_users_own_ratings(ratings, split):
    from recsys_utils.models import make_model

    train = nc.training_ratings(ratings, split)
    assert not set(train["user_id"]) & set(split.test.users)  # held-out users never train
    mf = make_model("mf", n_factors=4, epochs=30, lr=0.05, batch_size=64, seed=0, progress=False)
    mf.fit(train)
    curve = nc.new_user_curve(
        {
            "mf": nc.rating_model_scorer(mf, ratings, split.test, split.items, reg=0.1),
            "popularity": nc.popularity_scorer(split),
        },
        split.test,
        ns=(1, 5),
    )
    by = curve.set_index(["model", "n"])["ndcg@10"]
    # two tastes: five liked movies tell MF which kind of person this is
    assert by["mf", 5] > by["popularity", 5]


def test_the_full_columns_keep_only_users_who_can_give_every_n(split):
    held = split.test
    oracle = lambda history: held.targets.toarray().astype(float)  # noqa: E731
    curve = nc.new_user_curve({"oracle": oracle}, held, ns=(1, 3, 8), rest=True)
    sizes = np.diff(held.history.indptr)  # [8, 6, 8, 8, 8, 7]: four can give 8
    assert list(sizes) == [8, 6, 8, 8, 8, 7]
    assert (curve["n_full"] == 4).all()
    assert (curve["full_ndcg@10"] == 1.0).all()  # the oracle scores its targets first
    # under "rest" the history not given is a target too, which the oracle ranks last;
    # at n = 8 these four users gave their whole history, and the two conventions agree
    rest = curve.set_index("n")["full_rest_ndcg@10"]
    assert rest[1] < 1.0 and rest[3] < 1.0 and rest[8] == 1.0


def test_the_per_user_rows_average_to_the_curve(ratings, split):
    held = split.test
    rng = np.random.default_rng(3)
    noise = rng.random(held.targets.shape)
    scorers = {
        "noisy oracle": lambda history: held.targets.toarray() + noise,
        "random": lambda history: noise,
        "popularity": nc.popularity_scorer(split),
    }
    curve = nc.new_user_curve(scorers, held, ns=(1, 3)).set_index(["model", "n"])
    rows = nc.new_user_rows(scorers, held, ns=(1, 3))
    assert len(rows) == 3 * 2 * len(held)  # every held-out user has targets here
    assert set(rows["user"]) == set(held.users)
    means = rows.groupby(["model", "n"])[["ndcg@10", "recall@20"]].mean()
    for key in ("ndcg@10", "recall@20"):
        assert np.allclose(means[key], curve.loc[means.index, key], atol=1e-12), key
