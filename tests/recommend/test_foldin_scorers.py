"""Fold-in goes through each model's own scorer: for a training user, given that user's own
ratings (and fitted parameters), the fold-in path gives back ``model.score_items``.

One test per model class (MF, ImplicitMF, CollabFNet, the baselines, the blend); a model
whose class declares no fold-in raises ``FoldInError``, a ``ValueError`` the CLI prints
as one line.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import FAST, table

from recsys_utils import recommend
from recsys_utils.models import (
    MF,
    BiasOnly,
    Capabilities,
    CollabFNet,
    GlobalMean,
    ImplicitMF,
    Popularity,
    Query,
)
from recsys_utils.recommend.foldin import FoldInError


@pytest.fixture(scope="module")
def ratings():
    rng = np.random.default_rng(0)
    users, items = np.meshgrid(np.arange(1, 31), np.arange(1, 21), indexing="ij")
    keep = rng.random(users.shape) < 0.5
    u, i = users[keep], items[keep]
    r = np.clip(
        np.round(2 * (3 + 0.1 * (u % 5) - 0.1 * (i % 4) + rng.normal(0, 0.7, u.size))) / 2, 0.5, 5
    )
    return table(u, i, r)


def _user_of(model, ratings, n_min=6):
    counts = ratings.groupby("user_id").size()
    raw = int(counts.index[counts >= n_min][0])
    u = int(model.user_map.encode([raw])[0])
    return raw, u


def _trained_scores(model, u, items=None):
    net = model.net
    vec = net.user_emb.weight[u].detach().double().numpy()
    bias = float(net.user_bias.weight[u, 0].detach()) if hasattr(net, "user_bias") else 0.0
    return model.score_parameters(model.seen_items(u), bias, vec, items)


@pytest.mark.parametrize("cls", [MF, ImplicitMF, CollabFNet])
def test_a_training_users_own_parameters_and_history_score_as_score_items(cls, ratings):
    model = cls(n_factors=3, **FAST) if cls is not CollabFNet else cls(emb_size=3, **FAST)
    model.fit(ratings)
    for u in range(len(model.user_map)):
        got = _trained_scores(model, u)
        want = model.score_items(np.array([u]))[0]
        np.testing.assert_allclose(got, want, atol=1e-4)
        some = [0, 3, 5]
        got_some = _trained_scores(model, u, some)
        np.testing.assert_allclose(got_some, want[some], atol=1e-4)


@pytest.mark.parametrize("cls", [MF, ImplicitMF])
def test_folding_in_a_training_users_own_scores_recovers_them(cls, ratings):
    # the targets are the model's own scores on the user's history; with no pull
    # (reg 0) the least-squares fit through the model's scorer is exact, so the folded
    # user scores every movie as the model scores that training user
    model = cls(n_factors=2, **FAST).fit(ratings)
    raw, u = _user_of(model, ratings)
    hist = model.seen_items(u)
    want = model.score_items(np.array([u]))[0].astype(np.float64)
    pairs = list(zip(model.item_map.decode(hist), want[hist], strict=True))
    lo, hi = model.rating_scale
    assert all(lo <= r <= hi for _, r in pairs)
    user = recommend.fold_in(model, pairs, reg=0.0, bias_reg=0.0)
    np.testing.assert_allclose(recommend.score_folded(model, user), want, atol=1e-3)


def test_collabfnet_folds_a_training_users_own_scores_close_to_them(ratings):
    model = CollabFNet(emb_size=3, **FAST).fit(ratings)
    raw, u = _user_of(model, ratings)
    hist = model.seen_items(u)
    want = model.score_items(np.array([u]))[0].astype(np.float64)
    pairs = list(zip(model.item_map.decode(hist), want[hist], strict=True))
    user = recommend.fold_in(model, pairs, reg=0.0, steps=400)
    got = recommend.score_folded(model, user)
    assert np.abs(got[hist] - want[hist]).max() < 0.05


def test_bias_only_fold_in_from_the_users_own_ratings_is_its_trained_bias(ratings):
    # b_u = sum (r - mu - b_i) / (reg_user + n): the last step of the fit, exactly
    model = BiasOnly(reg_user=3.0).fit(ratings)
    for raw in ratings["user_id"].unique()[:10]:
        mine = ratings[ratings["user_id"] == raw]
        user = recommend.fold_in(model, mine)
        u = int(model.user_map.encode([raw])[0])
        assert user.bias == pytest.approx(model.b_u_[u], abs=1e-9)
        np.testing.assert_allclose(
            recommend.score_folded(model, user), model.score_items(np.array([u]))[0], atol=1e-9
        )


@pytest.mark.parametrize("cls", [GlobalMean, Popularity])
def test_user_free_baselines_fold_in_to_their_own_scores(cls, ratings):
    model = cls().fit(ratings)
    raw, u = _user_of(model, ratings)
    user = recommend.fold_in(model, ratings[ratings["user_id"] == raw])
    np.testing.assert_allclose(
        recommend.score_folded(model, user), model.score_items(np.array([u]))[0]
    )
    top = recommend.recommend_folded(model, user, k=3)
    assert not set(top["item_id"]) & set(ratings.loc[ratings["user_id"] == raw, "item_id"])


def test_a_blend_folds_in_through_its_members_and_a_declared_refusal_is_clear(ratings):
    from recsys_utils.models.blend import Blend

    blend = Blend(members=[["mf", {**FAST, "n_factors": 2}]]).fit(ratings)
    member = blend.members_[0]
    user = recommend.fold_in(blend, {1: 4.0, 2: 2.0})
    w0, w1 = blend.weights_
    want = w0 + w1 * np.clip(member.score(Query.new({1: 4.0, 2: 2.0})), *blend.rating_scale)
    np.testing.assert_allclose(recommend.score_folded(blend, user), want)

    class NoNewPeople(BiasOnly):
        name = "bias_without_fold_in_for_test"
        capabilities = Capabilities(predicts_ratings=True, scores_new_people=False)

    frozen = NoNewPeople().fit(ratings)
    with pytest.raises(FoldInError, match="does not declare scores_new_people"):
        recommend.fold_in(frozen, {1: 4.0})
    with pytest.raises(FoldInError):
        recommend.recommend_new_user(frozen, {1: 4.0})
    assert issubclass(FoldInError, ValueError)  # the CLI prints it as one line, exit 2


@pytest.mark.parametrize("name", ["ease", "pooled_softmax"])
def test_ranking_models_fold_in_from_liked_movies_only_and_reproduce_score_items(name, ratings):
    from recsys_utils.models import make_model
    from recsys_utils.recommend.foldin import recommend_folded

    kw = {"threshold": 3.0}
    if name == "pooled_softmax":
        kw |= {"dim": 8, "max_epochs": 3, "batch_size": 8, "seed": 0}
    model = make_model(name, **kw).fit(ratings)
    raw, u = _user_of(model, ratings)
    mine = ratings[ratings["user_id"] == raw]
    given = dict(zip(mine["item_id"], mine["rating"], strict=True))
    user = recommend.fold_in(model, given)
    np.testing.assert_allclose(recommend.score_folded(model, user), model.score_items([u])[0])
    # a rating under the threshold is no liking: adding one changes nothing but the exclusions
    low = {m: 2.0 for m in ratings["item_id"].unique() if m not in given}
    extra = dict(list(low.items())[:2])
    both = recommend.fold_in(model, {**given, **extra})
    np.testing.assert_allclose(
        recommend.score_folded(model, both), recommend.score_folded(model, user)
    )
    top = recommend_folded(model, both, k=5)
    assert "score" in top and not set(top["item_id"]) & (set(given) | set(extra))
    with pytest.raises(ValueError, match="rate one you liked"):
        recommend.score_folded(model, recommend.fold_in(model, extra))
