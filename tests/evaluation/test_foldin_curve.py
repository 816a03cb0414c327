"""The fold-in curve's protocol on a hand-made MF whose answers are worked on paper.

Twelve movies, one factor. Movies 1-6 have q = +1 (movies 3 and 5: 1.5) and item bias 0; movies 7-12 have
q = -1, item bias 0.5, and are the popular ones (rated by all four training users, 4.5
stars; movies 1-6 by user 1 only, 2 stars), so popularity and bias-only both rank
movies 7-12 first. mu = 3, training users p = +-1 (mean 0, so the prior pulls towards
p = 0, i.e. towards ranking by item bias).

The held-out user 100 gives 5 stars to movies 1-6 and 1 star to movies 7-12. Whatever
their first ratings, every one says p > 0 (5 - 3 - 0 = 2 on q = +1; 1 - 3 - 0.5 = -2.5
on q = -1), so fold-in ranks the unseen movies among 1-6 first: NDCG@2 = 1. Popularity
and bias-only put movies 7-12 (rated 1 star, not relevant) first: NDCG@2 = 0.
The seeded shuffle (seed 0) hands in movies 10, 3, 8, 5 first: were the given movies
left among the candidates, fold-in would rank 3 and 5 (q = 1.5) first, NDCG@2 = 0.
"""

from __future__ import annotations

import pandas as pd
import pytest
from helpers import ratings_table

from recsys_utils.evaluation import foldin_curve
from recsys_utils.models.recipes import mf_from_factors

KS = (2, 4)


def _world():
    rows = [(1, m, 2.0) for m in range(1, 7)]
    rows += [(u, m, 4.5) for u in range(1, 5) for m in range(7, 13)]
    train = ratings_table(rows)
    model = mf_from_factors(
        train,
        [[1.0], [-1.0], [1.0], [-1.0]],
        [[1.0], [1.0], [1.5], [1.0], [1.5], [1.0]] + [[-1.0]] * 6,
        user_bias=[0.0] * 4,
        item_bias=[0.0] * 6 + [0.5] * 6,
        mu=3.0,
        rating_scale=(0.5, 5.0),
    )
    held = ratings_table([(100, m, 5.0 if m <= 6 else 1.0) for m in range(1, 13)])
    return model, train, held


def _curve(**kw):
    model, train, held = _world()
    out = foldin_curve.fold_in_curve(model, train, held, KS, k_rank=2, min_eval=5, **kw)
    return out.set_index(["k", "method"])


def test_fold_in_ranks_the_liked_unseen_movies_first():
    # default reg (FOLD_IN_REG) and default relevance (RELEVANCE_THRESHOLD)
    out = _curve()
    for k in KS:
        assert out.loc[(k, "fold_in"), "ndcg"] == pytest.approx(1.0)
        assert out.loc[(k, "popularity"), "ndcg"] == 0.0
        assert out.loc[(k, "bias_only"), "ndcg"] == 0.0
        assert out.loc[(k, "fold_in"), "n_users"] == 1


def test_with_every_rating_relevant_the_popular_movies_hit():
    # relevance_threshold=None: the 1-star movies 7-12 count, so popularity scores
    out = _curve(relevance_threshold=None)
    assert out.loc[(KS[-1], "popularity"), "ndcg"] == pytest.approx(1.0)


def test_bias_only_sees_exactly_the_models_training_ratings():
    # an extra training-like row the model never saw (as when it stopped early on 10%
    # of train) must not reach the bias-only baseline: the curve is the same
    model, train, held = _world()
    extra = ratings_table([(2, m, 0.5) for m in range(1, 7)])
    more = pd.concat([train, extra], ignore_index=True)
    kw = {"k_rank": 2, "min_eval": 5}
    same = foldin_curve.fold_in_curve(model, train, held, KS, **kw)
    got = foldin_curve.fold_in_curve(model, more, held, KS, **kw)
    pd.testing.assert_frame_equal(got, same)
    assert len(foldin_curve.model_training_rows(model, more)) == len(train)
    with pytest.raises(ValueError, match="model's own training table"):
        foldin_curve.fold_in_curve(model, train.iloc[1:], held, KS, **kw)


def test_reg_is_chosen_on_other_users_than_it_is_reported_on():
    model, train, held = _world()
    held2 = held.assign(user_id=101)
    heldout = pd.concat([held, held2], ignore_index=True)
    choose, report = foldin_curve.halve_users(heldout, seed=0)
    assert set(choose.user_id).isdisjoint(set(report.user_id))
    reg, grid = foldin_curve.select_fold_in_reg(
        model, train, choose, grid=(1.0, 1e6), ks=KS, k_rank=2, min_eval=5
    )
    assert reg == 1.0 and grid["reg"].tolist() == [1.0, 1e6]
    assert grid.loc[0, "rmse"] < grid.loc[1, "rmse"]
    with pytest.raises(ValueError, match="chosen on"):
        foldin_curve.fold_in_curve(
            model, train, choose, KS, k_rank=2, min_eval=5, chosen_on=choose, reg=reg
        )
    foldin_curve.fold_in_curve(
        model, train, report, KS, k_rank=2, min_eval=5, chosen_on=choose, reg=reg
    )
