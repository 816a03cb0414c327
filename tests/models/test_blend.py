"""The blend of embedding models: weights from validation, refit, checkpoints."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import FAST

from recsys_utils.constants import ITEM_COL, RATING_COL, USER_COL
from recsys_utils.models import MF, checkpoints
from recsys_utils.models.blend import Blend


def test_blend_recovers_known_weights_from_validation(low_rank):
    train = low_rank.iloc[::2]
    m1 = MF(n_factors=2, **FAST).fit(train)
    m2 = MF(n_factors=3, **{**FAST, "seed": 5}).fit(train)
    valid = low_rank.iloc[1::2]
    valid = valid[valid[USER_COL].isin(train[USER_COL]) & valid[ITEM_COL].isin(train[ITEM_COL])]
    u, i = valid[USER_COL], valid[ITEM_COL]
    valid = valid.assign(**{RATING_COL: 0.5 + 0.3 * m1.predict(u, i) + 0.6 * m2.predict(u, i)})
    blend = Blend.from_members([m1, m2], valid)
    assert blend.weights_ == pytest.approx([0.5, 0.3, 0.6], abs=1e-6)
    assert blend.predict(u, i) == pytest.approx(np.clip(valid[RATING_COL], 0.5, 5), abs=1e-5)


def test_blend_refit_keeps_weights_and_member_epochs(low_rank):
    members = [["mf", {**FAST, "n_factors": 2, "epochs": 6}], ["implicit_mf", FAST]]
    blend = Blend(members).fit(low_rank.iloc[::2], low_rank.iloc[1::2])
    chosen = blend.selected_params()
    assert chosen["weights"] == blend.weights_.tolist()
    for (_, params), member in zip(chosen["members"], blend.members_, strict=True):
        hist = member.history_
        assert params["epochs"] == int(hist.loc[hist["val_rmse"].idxmin(), "epoch"])
        assert params["patience"] is None
    refit = Blend(**chosen).fit(low_rank)
    assert refit.weights_.tolist() == chosen["weights"]


def test_blend_without_validation_averages(low_rank):
    blend = Blend([["mf", FAST], ["mf", {**FAST, "seed": 3}]]).fit(low_rank)
    assert blend.weights_.tolist() == [0.0, 0.5, 0.5]


def test_blend_refuses_non_torch_members_and_wrong_weights():
    with pytest.raises(ValueError, match="train epoch by epoch"):
        Blend([["bias", {}]])
    with pytest.raises(ValueError, match="intercept"):
        Blend([["mf", {}]], weights=[1.0])


def test_blend_checkpoint_round_trip(low_rank, tmp_path):
    blend = Blend([["mf", FAST], ["implicit_mf", FAST]]).fit(
        low_rank.iloc[::2], low_rank.iloc[1::2]
    )
    again = checkpoints.load(checkpoints.save(blend, tmp_path / "best"))
    u, i = low_rank[USER_COL], low_rank[ITEM_COL]
    assert np.array_equal(again.predict(u, i), blend.predict(u, i))
    assert np.array_equal(again.weights_, blend.weights_)


def test_blend_ranks_by_what_it_predicts_members_clipped():
    # Worked on paper, scale [1, 5], one user, movies 7 and 8:
    #   member A: mu 3 + p q, p = 1, q = (4, 1.5) -> raw (7, 4.5), clipped (5, 4.5)
    #   member B: mu 1 + p q, p = 1, q = (-1, 1)  -> raw (0, 2),   clipped (1, 2)
    # weights (-2, 1, 1): predict = -2 + clipped sums = (4, 4.5), movie 8 first;
    # unclipped members would give (5, 4.5) and put movie 7 first.
    from helpers import ratings_table

    from recsys_utils.models.recipes import mf_from_factors

    ratings = ratings_table([(1, 7, 4.0), (1, 8, 3.0)])
    a = mf_from_factors(ratings, [[1.0]], [[4.0], [1.5]], mu=3.0, rating_scale=(1.0, 5.0))
    b = mf_from_factors(ratings, [[1.0]], [[-1.0], [1.0]], mu=1.0, rating_scale=(1.0, 5.0))
    a.history_ = b.history_ = pd.DataFrame({"epoch": [1]})  # nothing trained
    blend = Blend.from_members([a, b], ratings)
    blend.weights_ = np.array([-2.0, 1.0, 1.0])
    scores = blend.score_items(np.array([0]))[0]
    assert scores == pytest.approx([4.0, 4.5])
    assert blend.predict([1, 1], [7, 8]) == pytest.approx([4.0, 4.5])
    top = blend.recommend(1, k=1, exclude_seen=False)
    assert top["item_id"].tolist() == [8]
