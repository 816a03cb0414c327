"""Fold-in, new-user recommendations, explanations and the fold-in curve, on hand-made models.

Also the test file of ``recommend/explain.py``; the fold-in curve of
``evaluation/foldin_curve.py`` is tested here too, beside the fold-in it measures.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from helpers import ratings_table

from recsys_utils import recommend
from recsys_utils.evaluation import foldin_curve
from recsys_utils.models.recipes import mf_from_factors
from recsys_utils.recommend import explain as explanations

table = ratings_table


def one_factor_mf():
    """d = 1; one movie (id 7) with q = 2, b_i = 0.5; mu = 3; users p = +-1, b = +-0.2 (means 0)."""
    ratings = table([(1, 7, 4.0), (2, 7, 3.0)])
    return mf_from_factors(
        ratings,
        [[1.0], [-1.0]],
        [[2.0]],
        user_bias=[0.2, -0.2],
        item_bias=[0.5],
        mu=3.0,
        rating_scale=(0.5, 5.0),
    )


def test_one_rating_fold_in_matches_the_ridge_solution_worked_on_paper():
    # y = 5 - 3 - 0.5 = 1.5, X = [1, 2], reg 1: [[2, 2], [2, 5]] x = [1.5, 3] -> x = [0.25, 0.5]
    user = recommend.fold_in(one_factor_mf(), {7: 5.0}, reg=1.0, bias_reg=1.0, prior="ridge")
    assert user.bias == pytest.approx(0.25)
    np.testing.assert_allclose(user.vector, [0.5])
    assert user.item_ids.tolist() == [7] and user.ratings.tolist() == [5.0]


def test_bias_and_vector_have_their_own_regularisation():
    # bias_reg 3, reg 1: [[1 + 3, 2], [2, 4 + 1]] x = [1.5, 3] -> det 16, x = [1.5, 9] / 16
    user = recommend.fold_in(one_factor_mf(), {7: 5.0}, reg=1.0, bias_reg=3.0)
    assert user.bias == pytest.approx(1.5 / 16)
    np.testing.assert_allclose(user.vector, [9 / 16])
    with pytest.raises(ValueError, match="non-negative"):
        recommend.fold_in(one_factor_mf(), {7: 5.0}, bias_reg=-1.0)


def test_gaussian_prior_weighs_each_coordinate_by_the_training_users_spread():
    # training users: b = +-0.2 (variance 0.04), p = +-1 (variance 1) -> W = diag(25, 1)
    # [[1 + 25, 2], [2, 4 + 1]] x = [1.5, 3] -> x = [1.5, 75] / 126
    model = one_factor_mf()
    from recsys_utils.models._foldin import prior_of

    mean, weights = prior_of(model.fold_in_prior_rows(), "gaussian")
    np.testing.assert_allclose(mean, [0, 0], atol=1e-7)
    np.testing.assert_allclose(weights, [25, 1], rtol=1e-5)
    user = recommend.fold_in(model, {7: 5.0}, reg=1.0, bias_reg=1.0, prior="gaussian")
    assert user.bias == pytest.approx(1.5 / 126, rel=1e-5)
    np.testing.assert_allclose(user.vector, [75 / 126], rtol=1e-5)
    with pytest.raises(ValueError, match="prior must be"):
        recommend.fold_in(model, {7: 5.0}, prior="flat")


D, N_ITEMS = 3, 12
RNG = np.random.default_rng(3)
Q = RNG.normal(size=(N_ITEMS, D))
B_I = RNG.normal(scale=0.3, size=N_ITEMS)
ITEM_IDS = np.arange(1, N_ITEMS + 1) * 10
# two training users (mean vector P.mean(0), mean bias 0.1); user 1 rated the first 6 movies
P = np.array([[0.5, -0.2, 0.1], [0.1, 0.4, -0.3]])
TRAIN = table([(1, m, 3.0) for m in ITEM_IDS[:6]] + [(2, m, 3.0) for m in ITEM_IDS])


@pytest.fixture
def known_mf():
    return mf_from_factors(
        TRAIN, P, Q, user_bias=[0.3, -0.1], item_bias=B_I, mu=3.0, rating_scale=(-50.0, 50.0)
    )


def test_fold_in_recovers_a_known_user_exactly(known_mf):
    p_true, b_true = np.array([0.7, -0.4, 0.25]), 0.35
    ratings = {
        int(m): float(3.0 + b_true + B_I[j] + Q[j] @ p_true) for j, m in enumerate(ITEM_IDS[:8])
    }
    user = recommend.fold_in(known_mf, ratings, reg=1e-9, bias_reg=1e-9)
    np.testing.assert_allclose(user.vector, p_true, atol=1e-5)
    assert user.bias == pytest.approx(b_true, abs=1e-5)
    predicted = recommend.score_folded(known_mf, user, [8, 9])  # movies it never saw
    np.testing.assert_allclose(predicted, 3.0 + b_true + B_I[8:10] + Q[8:10] @ p_true, atol=1e-5)


def test_heavy_regularisation_gives_the_average_training_user(known_mf):
    user = recommend.fold_in(known_mf, {10: 5.0, 20: 1.0}, reg=1e12, bias_reg=1e12)
    np.testing.assert_allclose(user.vector, P.mean(0), atol=1e-6)
    assert user.bias == pytest.approx(0.1, abs=1e-6)


def test_fold_in_leaves_the_model_unchanged(known_mf):
    before = {k: v.clone() for k, v in known_mf.net.state_dict().items()}
    recommend.fold_in(known_mf, {10: 5.0})
    for k, v in known_mf.net.state_dict().items():
        assert torch.equal(v, before[k]), k


@pytest.mark.parametrize(
    "bad, error, message",
    [
        ({}, ValueError, "at least one"),
        ([], ValueError, "at least one"),
        ({10: 60.0}, ValueError, r"off the model's scale \[-50, 50\]"),
        ({10: float("nan")}, ValueError, "not a finite number"),
        ({10: "good"}, ValueError, "pairs"),
        ([(10, 4.0), (10, 3.0)], ValueError, "movie 10 is rated more than once"),
        ([(10.5, 4.0)], ValueError, "whole numbers"),
        ({10: 4.0, 999: 3.0, 998: 2.0}, KeyError, r"unknown movie ids \[999, 998\]"),
    ],
)
def test_fold_in_misuse_is_a_clear_error(known_mf, bad, error, message):
    with pytest.raises(error, match=message):
        recommend.fold_in(known_mf, bad)


def test_fold_in_accepts_pairs_and_tables(known_mf):
    a = recommend.fold_in(known_mf, [(10, 4.0), (20, 2.5)])
    b = recommend.fold_in(known_mf, pd.DataFrame({"item_id": [10, 20], "rating": [4.0, 2.5]}))
    np.testing.assert_allclose(a.vector, b.vector)


def test_recommend_new_user_excludes_seen_ranks_clips_and_titles(known_mf):
    movies = pd.DataFrame(
        {"item_id": ITEM_IDS, "title": [f"<b>M{j}</b> & co" for j in range(N_ITEMS)]}
    )
    rated = {10: 4.0, 20: 2.0, 30: 5.0}
    out = recommend.recommend_new_user(known_mf, rated, k=4, movies=movies)
    user = recommend.fold_in(known_mf, rated)
    scores = recommend.score_folded(known_mf, user)
    scores[:3] = -np.inf
    expected = np.argsort(-scores, kind="stable")[:4]
    assert out["item_id"].tolist() == ITEM_IDS[expected].tolist()
    np.testing.assert_allclose(out["prediction"], scores[expected])
    assert out["title"].tolist() == movies["title"].to_numpy()[expected].tolist()
    with pytest.raises(ValueError, match="k=10 exceeds the 9 eligible"):
        recommend.recommend_new_user(known_mf, rated, k=10)


def test_min_ratings_keeps_only_well_known_movies(known_mf):
    # movies 10..60 have two training ratings, 70..120 one
    out = recommend.recommend_new_user(known_mf, {10: 4.0}, k=5, min_ratings=2)
    assert sorted(out["item_id"]) == [20, 30, 40, 50, 60]


def test_predictions_are_clipped_to_the_scale():
    # movie 8: 3 + 3 + 5 p with p > 0 after a 5-star rating -> above 5, shown as 5
    ratings = table([(1, 7, 4.0), (2, 8, 4.0)])
    model = mf_from_factors(
        ratings,
        [[0.0], [0.0]],
        [[1.0], [5.0]],
        item_bias=[0.0, 3.0],
        mu=3.0,
        rating_scale=(0.5, 5.0),
    )
    out = recommend.recommend_new_user(model, {7: 5.0}, k=1)
    assert out["item_id"].tolist() == [8] and out["prediction"].iloc[0] == 5.0


def test_explain_parts_add_up_and_neighbours_are_liked_movies(known_mf):
    ratings = table([(1, 10, 5.0), (1, 20, 1.0), (1, 30, 4.0), (1, 40, 4.5), (1, 50, 2.0)])
    out = explanations.explain(known_mf, 1, 120, ratings=ratings, k=2)
    parts = out["parts"]
    assert parts["mu"] == 3.0 and parts["user_bias"] == pytest.approx(0.3)
    assert parts["item_bias"] == pytest.approx(B_I[11], abs=1e-6)
    total = sum(parts.values())
    assert total == pytest.approx(3.0 + 0.3 + B_I[11] + Q[11] @ P[0], abs=1e-5)
    # liked: at or above the mean 3.3 -> 10, 30, 40; the two closest to movie 120 by cosine
    unit = Q / np.linalg.norm(Q, axis=1, keepdims=True)
    sims = {m: unit[j] @ unit[11] for j, m in ((0, 10), (2, 30), (3, 40))}
    expected = sorted(sims, key=lambda m: -sims[m])[:2]
    assert out["neighbours"]["item_id"].tolist() == expected
    np.testing.assert_allclose(out["neighbours"]["similarity"], [sims[m] for m in expected])


def test_explain_a_folded_user_leaves_the_target_out(known_mf):
    user = recommend.fold_in(known_mf, {10: 5.0, 20: 5.0, 30: 1.0})
    out = explanations.explain(known_mf, user, 10, k=5)
    assert out["neighbours"]["item_id"].tolist() == [20]  # 10 is the target, 30 not liked
    assert sum(out["parts"].values()) == pytest.approx(
        recommend.score_folded(known_mf, user, [0])[0]
    )
    with pytest.raises(KeyError, match="unknown user 5"):
        explanations.explain(known_mf, 5, 10)


# --- nets without a closed form: gradient fold-in ------------------------------------------
def linear_collabfnet():
    """A CollabFNet whose output is p + 1 (the ReLU stays in its linear part)."""
    from recsys_utils.models import CollabFNet

    model = CollabFNet(emb_size=1, n_hidden=1, dropout=0.5, epochs=1, progress=False, device="cpu")
    model.fit(table([(1, 7, 4.0), (2, 7, 3.0), (2, 8, 2.0)]))
    with torch.no_grad():
        model.net.user_emb.weight.copy_(torch.tensor([[1.0], [3.0]]))  # p_bar = 2
        model.net.lin1.weight.copy_(torch.tensor([[1.0, 0.0]]))
        model.net.lin1.bias.fill_(10.0)
        model.net.lin2.weight.fill_(1.0)
        model.net.lin2.bias.fill_(-9.0)
    return model


def test_gradient_fold_in_minimises_the_squared_error():
    model = linear_collabfnet()
    before = {k: v.clone() for k, v in model.net.state_dict().items()}
    user = recommend.fold_in(model, {7: 4.0, 8: 3.0}, reg=0.0, steps=400, lr=0.1)
    assert user.vector[0] == pytest.approx(2.5, abs=1e-3)  # p + 1 = mean(4, 3)
    assert user.bias == 0.0
    # reg 2 with two ratings pulls towards p_bar = 2: minimise mean((p+1-r)^2) + (p-2)^2 -> p = 2.25
    user = recommend.fold_in(model, {7: 4.0, 8: 3.0}, reg=2.0, prior="ridge", steps=400, lr=0.1)
    assert user.vector[0] == pytest.approx(2.25, abs=1e-3)
    for k, v in model.net.state_dict().items():
        assert torch.equal(v, before[k]), k
    np.testing.assert_allclose(recommend.score_folded(model, user), [3.25, 3.25], atol=1e-3)


def test_folded_scores_equal_the_nets_own_scores_for_that_vector():
    import copy

    from recsys_utils.models import CollabFNet

    model = CollabFNet(
        emb_size=4, n_hidden=3, epochs=2, progress=False, device="cpu", rating_scale=(0.5, 5.0)
    )
    model.fit(TRAIN)
    mode = model.net.training
    user = recommend.fold_in(model, {10: 5.0, 40: 2.0}, steps=20)
    twin = copy.deepcopy(model)
    with torch.no_grad():
        twin.net.user_emb.weight[0] = torch.as_tensor(user.vector, dtype=torch.float32)
    np.testing.assert_allclose(
        recommend.score_folded(model, user), twin.score_items(np.array([0]))[0], atol=1e-5
    )
    assert model.net.training == mode  # left in the mode it was in


# --- the fold-in curve ------------------------------------------------------------------------
def synthetic_world(n_users=80, n_items=60, d=2, seed=0):
    rng = np.random.default_rng(seed)
    q, p = rng.normal(size=(n_items, d)), rng.normal(size=(n_users, d))
    b_i = rng.normal(scale=0.5, size=n_items)
    true = 3.0 + b_i[None, :] + p @ q.T
    noisy = np.clip(true + rng.normal(scale=0.1, size=true.shape), 0.5, 5.0)
    u, i = np.meshgrid(np.arange(n_users), np.arange(n_items), indexing="ij")
    ratings = table(list(zip(u.ravel() + 1, (i.ravel() + 1) * 10, noisy.ravel(), strict=True)))
    return ratings, p, q, b_i


def test_fold_in_curve_improves_with_more_ratings_and_beats_bias_only():
    ratings, p, q, b_i = synthetic_world()
    train, held = foldin_curve.split_heldout_users(ratings, n_users=20, min_ratings=30, seed=1)
    train_users = np.sort(train["user_id"].unique()) - 1
    model = mf_from_factors(
        train, p[train_users], q, item_bias=b_i, mu=3.0, rating_scale=(0.5, 5.0)
    )
    curve = foldin_curve.fold_in_curve(
        model, train, held, ks=(1, 5, 20), seed=0, reg=0.1, relevance_threshold=None
    )
    assert len(curve) == 9 and set(curve["method"]) == {"fold_in", "bias_only", "popularity"}
    assert (curve["n_users"] == 20).all() and (curve["n_ratings"] == 20 * 40).all()
    fold = curve[curve["method"] == "fold_in"].set_index("k")["rmse"]
    bias = curve[curve["method"] == "bias_only"].set_index("k")["rmse"]
    pop = curve[curve["method"] == "popularity"]["rmse"]
    assert fold[20] < fold[1] and fold[20] < 0.3 < bias[20]
    assert pop.nunique() == 1  # popularity ignores the user's ratings


def test_fold_in_curve_refuses_users_the_model_was_trained_on(known_mf):
    with pytest.raises(ValueError, match="were in the model's training data"):
        foldin_curve.fold_in_curve(known_mf, TRAIN, TRAIN, ks=(1,))


def test_split_heldout_users_sets_whole_users_aside():
    ratings, *_ = synthetic_world(n_users=10, n_items=40)
    train, held = foldin_curve.split_heldout_users(ratings, n_users=3, min_ratings=30, seed=0)
    assert held["user_id"].nunique() == 3 and len(train) + len(held) == len(ratings)
    assert not set(train["user_id"]) & set(held["user_id"])
    with pytest.raises(ValueError, match="n_users must be between 1 and 9"):
        foldin_curve.split_heldout_users(ratings, n_users=10, min_ratings=30)


# --- the command line -------------------------------------------------------------------------
@pytest.fixture
def saved_mf(data_home, known_mf):
    from recsys_utils.models import checkpoints

    return checkpoints.save(known_mf, data_home / "checkpoints" / "mf")


def test_cli_recommend_json_matches_the_api(saved_mf, known_mf, capsys):
    import json

    from recsys_utils.cli import main

    argv = ["recommend", "--ratings", "10:5, 20:1.5,30:4", "--k", "3", "--json", "--model", "mf"]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    expected = recommend.recommend_new_user(known_mf, {10: 5, 20: 1.5, 30: 4}, k=3)
    assert [r["item_id"] for r in out] == expected["item_id"].tolist()
    np.testing.assert_allclose([r["prediction"] for r in out], expected["prediction"], atol=1e-6)


def test_cli_similar_table(saved_mf, known_mf, capsys):
    from recsys_utils.cli import main
    from recsys_utils.embeddings.vectors import similar_movies

    argv = ["similar", "--movie", "10", "--k", "2", "--checkpoint", str(saved_mf)]
    assert main([*argv, "--min-ratings", "0"]) == 0
    heading, *lines = capsys.readouterr().out.splitlines()
    assert "among movies with at least 0 ratings" in heading and "cosine" in heading
    expected = similar_movies(known_mf, 10, k=2)
    assert [int(line.split()[2]) for line in lines] == expected["item_id"].tolist()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["recommend", "--ratings", "10:5,abc"], "bad --ratings entry 'abc'"),
        (["recommend", "--ratings", " , "], "--ratings is empty"),
        (["recommend", "--ratings", "10:5,777:4"], "unknown movie ids [777]"),
        (["recommend", "--ratings", "10:99"], "off the model's scale"),
        (["recommend", "--ratings", "10:4", "--k", "50"], "k=50 exceeds the 11 eligible"),
        (["recommend", "--ratings", "10:4", "--novelty", "-1"], "novelty must be a finite"),
        (["recommend", "--ratings", "10:4", "--novelty", "nan"], "novelty must be a finite"),
        (["similar", "--movie", "777"], "unknown movie 777"),
    ],
)
def test_cli_misuse_exits_2_with_one_line(saved_mf, capsys, argv, message):
    from recsys_utils.cli import main

    extra = ["--min-ratings", "0"] if argv[0] == "similar" else []
    assert main([*argv, "--model", "mf", *extra]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and message in errors[0]


def test_cli_with_an_unknown_checkpoint_name_says_what_there_is(saved_mf, capsys):
    from recsys_utils.cli import main

    assert main(["similar", "--movie", "1", "--model", "nope"]) == 2
    err = capsys.readouterr().err
    assert "no checkpoint 'nope'" in err and "saved there: mf" in err


def test_cli_trains_the_ranking_model_first_when_it_is_missing(
    data_home, mirror_dir, monkeypatch, capsys
):
    from recsys_utils.cli import main
    from recsys_utils.models import recipes

    monkeypatch.setenv("RECSYS_DATA_MIRROR", str(mirror_dir))
    tiny = {"dim": 8, "max_epochs": 2, "batch_size": 256, "patience": 1}
    monkeypatch.setitem(recipes.APP_MODELS, "ranking", ("pooled_softmax", tiny))
    # a horror lover, with one low rating that must not count as liking
    argv = ["recommend", "--ratings", "1258:5,1387:4.5,1997:5,1:2", "--k", "5"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "no ranking checkpoint" in captured.err and "training pooled_softmax" in captured.err
    heading, *rows = captured.out.splitlines()
    assert "liked 3 of your 4 movies" in heading and len(rows) == 5
    assert not {1258, 1387, 1997, 1} & {int(r.split()[2]) for r in rows}  # none given
    assert (data_home / "checkpoints" / "ranking.json").is_file()  # the next run loads it
    assert main(argv) == 0 and "training" not in capsys.readouterr().err
    assert main([*argv, "--novelty", "0.1"]) == 0  # the heading says how the list is ordered
    heading = capsys.readouterr().out.splitlines()[0]
    assert "ordered by score - 0.1 x log(1 + ratings of the movie)" in heading


class _Additive:
    """A ranking model on paper: score_j(H) = sum over liked h of B[h, j]."""

    def __init__(self, b):
        from recsys_utils.data.encoding import IdMap

        self.b = np.asarray(b, dtype=float)
        self.item_map = IdMap.from_values(np.array([10, 20, 30]))
        self.rating_scale = (0.5, 5.0)

    def score(self, queries):  # the contract's score, for new people
        liked = queries.ratings_matrix(self.item_map) >= 4.0
        return np.asarray(liked @ self.b)


def test_because_you_liked_gives_each_liked_movies_share_worked_on_paper():
    from recsys_utils.recommend.explain import because_you_liked, liked_contributions

    model = _Additive([[0.0, 3.0, 1.0], [1.0, 0.0, 3.0], [0.0, 0.0, 0.0]])
    # liked movies 10 and 20 (indices 0, 1); explain movie 30 (index 2): B[0,2]=1, B[1,2]=3
    np.testing.assert_allclose(liked_contributions(model, [0, 1], [2]), [[1.0], [3.0]])
    titles = {10: "Alien", 20: "Heat"}
    assert because_you_liked(model, [0, 1], [2], titles) == ["Heat (75%) and Alien (25%)"]
    # index 1 (movie 20) is explained by movie 10 alone: 3 of 3
    assert because_you_liked(model, [0, 1], [1], titles) == ["Alien (100%)"]


def test_novelty_orders_by_score_minus_log_popularity_worked_by_hand():
    from recsys_utils.recommend.foldin import novelty_ranking

    scores = np.array([1.0, 0.9, 0.5])
    counts = np.array([np.e**2 - 1, 0.0, np.e - 1])  # log(1 + count) = 2, 0, 1
    assert novelty_ranking(scores, counts, 0.0) is scores  # 0: the model's own order
    np.testing.assert_allclose(novelty_ranking(scores, counts, 0.1), [0.8, 0.9, 0.4])
    assert list(np.argsort(-novelty_ranking(scores, counts, 0.1))) == [1, 0, 2]
    for bad in (-0.1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="novelty must be"):
            novelty_ranking(scores, counts, bad)


def test_novelty_moves_a_new_users_list_towards_less_rated_movies():
    from recsys_utils.models import make_model

    rng = np.random.default_rng(0)
    rows = [(u, i, 5.0) for u in range(40) for i in range(12) if rng.random() < 1 / (1 + i)]
    rows += [(u, 0, 5.0) for u in range(40)]  # everyone likes movie 0
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "rating"]).drop_duplicates(
        ["user_id", "item_id"]
    )
    model = make_model("ease", lam=1.0).fit(frame)
    plain = recommend.recommend_new_user(model, {0: 5.0}, k=3)
    novel = recommend.recommend_new_user(model, {0: 5.0}, k=3, novelty=5.0)
    counts = dict(zip(model.item_map.ids, model.item_counts_, strict=True))
    mean_count = lambda top: np.mean([counts[m] for m in top["item_id"]])  # noqa: E731
    assert mean_count(novel) < mean_count(plain)
    assert "score" in novel and 0 not in set(novel["item_id"])  # still never a given movie
