"""The rules-based recommender on a six-movie catalogue whose rankings are worked by hand.

Movies: 1, 2, 3 Comedy; 4, 5 Drama; 6 Horror. Ratings (13, sum 47.5, mu = 47.5/13):
    user 100: 1 -> 5.0, 4 -> 1.0          (loves Comedy, dislikes Drama)
    user 200: 1 -> 4.0, 2 -> 4.0, 3 -> 3.0, 5 -> 5.0, 6 -> 4.0
    user 300: 2 -> 4.0, 3 -> 3.0, 4 -> 2.0, 5 -> 5.0, 6 -> 4.5
    user 400: 3 -> 3.0
Plain means (damping 0): m2 4.0, m3 3.0, m5 5.0, m6 4.25. User 100's genre liking:
Comedy 5 - mu > 0, Drama 1 - mu < 0, so Comedy gets the whole share. With
match_weight 1.5 the unseen scores are m2 5.5, m5 5.0, m3 4.5, m6 4.25.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys_utils.models import MODELS, checkpoints, make_model, rules
from recsys_utils.tuning import rules_grid

MU = 47.5 / 13


@pytest.fixture
def movies() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "item_id": pd.array([1, 2, 3, 4, 5, 6], dtype="int32"),
            "title": ["Comedy A", "Comedy B", "Comedy C", "Drama A", "Drama B", "Horror A"],
            "year": pd.array([2000] * 6, dtype="Int16"),
            "genres": [["Comedy"], ["Comedy"], ["Comedy"], ["Drama"], ["Drama"], ["Horror"]],
        }
    )


@pytest.fixture
def ratings() -> pd.DataFrame:
    rows = [
        (100, 1, 5.0),
        (100, 4, 1.0),
        (200, 1, 4.0),
        (200, 2, 4.0),
        (200, 3, 3.0),
        (200, 5, 5.0),
        (200, 6, 4.0),
        (300, 2, 4.0),
        (300, 3, 3.0),
        (300, 4, 2.0),
        (300, 5, 5.0),
        (300, 6, 4.5),
        (400, 3, 3.0),
    ]
    u, i, r = zip(*rows, strict=True)
    return pd.DataFrame(
        {
            "user_id": pd.array(u, dtype="int32"),
            "item_id": pd.array(i, dtype="int32"),
            "rating": pd.array(r, dtype="float32"),
            "timestamp": pd.array(range(len(rows)), dtype="int64"),
        }
    )


def fit(ratings, movies, **kw):
    params = {"damping": 0.0, "min_count": 0, "match_weight": 1.5} | kw
    return rules.GenreRules(movies=movies, **params).fit(ratings)


def test_comedy_lover_gets_the_best_rated_unseen_comedy(ratings, movies):
    model = fit(ratings, movies)
    assert model.recommend(100, k=1)["item_id"].tolist() == [2]
    assert model.recommend(100, k=4)["item_id"].tolist() == [2, 5, 3, 6]
    assert model.favourite_genres(100) == [("Comedy", 1.0)]


def test_scores_match_the_formula(ratings, movies):
    model = fit(ratings, movies)
    u = model.user_map.encode([100])
    scores = model.score_items(u)[0]
    expected = {1: 4.5 + 1.5, 2: 4.0 + 1.5, 3: 3.0 + 1.5, 4: 1.5, 5: 5.0, 6: 4.25}
    np.testing.assert_allclose(
        scores[model.item_map.encode(list(expected))], list(expected.values())
    )


def test_match_weight_zero_ranks_by_quality_alone(ratings, movies):
    model = fit(ratings, movies, match_weight=0.0)
    assert model.recommend(100, k=4)["item_id"].tolist() == [5, 6, 2, 3]


def test_min_count_puts_rare_movies_last(ratings, movies):
    # only movie 3 has 3 ratings; the others have 2
    model = fit(ratings, movies, min_count=3)
    assert model.recommend(100, k=2)["item_id"].tolist() == [3, 2]


def test_damping_pulls_means_to_mu(ratings, movies):
    model = fit(ratings, movies, damping=10.0)
    q5 = model.quality_[model.item_map.encode([5])[0]]
    assert q5 == pytest.approx((10.0 + 10 * MU) / 12)


def test_n_genres_limits_the_favourites(ratings, movies):
    # user 200's liking: Drama 5 - mu = 1.35, Horror 4 - mu = 0.35, Comedy 11 - 3 mu = 0.04;
    # with one favourite genre only Drama, the largest, remains
    two = fit(ratings, movies, n_genres=3).favourite_genres(200)
    one = fit(ratings, movies, n_genres=1).favourite_genres(200)
    assert [g for g, _ in two] == ["Drama", "Horror", "Comedy"]
    assert one == [("Drama", 1.0)]
    total = (5 - MU) + (4 - MU) + (11 - 3 * MU)
    assert dict(two)["Drama"] == pytest.approx((5 - MU) / total)


def test_excludes_seen_unless_asked(ratings, movies):
    model = fit(ratings, movies)
    seen = {1, 4}
    assert not seen & set(model.recommend(100, k=4)["item_id"])
    assert set(model.recommend(100, k=6, exclude_seen=False)["item_id"]) == {1, 2, 3, 4, 5, 6}


def test_contract_errors(ratings, movies):
    model = fit(ratings, movies)
    with pytest.raises(KeyError, match="unknown user 999"):
        model.recommend(999)
    with pytest.raises(ValueError, match="k must be at least 1"):
        model.recommend(100, k=0)
    with pytest.raises(ValueError, match="exceeds the 4 eligible"):
        model.recommend(100, k=5)
    with pytest.raises(ValueError, match="movies table"):
        rules.GenreRules().fit(ratings)
    with pytest.raises(ValueError, match="tags table"):
        rules.GenreRules(movies=movies, tag_weight=1.0).fit(ratings)
    with pytest.raises(ValueError, match="n_genres"):
        rules.GenreRules(movies=movies, n_genres=0)


def test_predict_is_the_damped_baseline_with_fallback(ratings, movies):
    model = fit(ratings, movies)
    pred = model.predict([100, 999], [2, 2])
    b_i = model.fallback_item_bias_[model.item_map.encode([2])[0]]
    b_u = model.fallback_user_bias_[model.user_map.encode([100])[0]]
    np.testing.assert_allclose(pred, [MU + b_u + b_i, MU + b_i])
    assert model.n_fallback_ == 1


def tags_table(rows):
    u, i, t = zip(*rows, strict=True)
    return pd.DataFrame(
        {
            "user_id": pd.array(u, dtype="int32"),
            "item_id": pd.array(i, dtype="int32"),
            "tag": list(t),
        }
    )


def test_tags_pull_in_a_movie_tagged_like_one_the_user_loved(ratings, movies):
    # user 100 loved movie 1; "witty" tags movie 1 and movie 3 (case and spaces ignored),
    # so movie 3 gets cosine 1: 3.0 + 1.5 + 2.0 = 6.5 beats movie 2's 5.5
    tags = tags_table([(200, 1, "Witty"), (300, 3, " witty ")])
    model = fit(ratings, movies, tags=tags, tag_weight=2.0)
    assert model.recommend(100, k=1)["item_id"].tolist() == [3]
    assert model.n_terms_ == 1


def test_tags_of_pairs_not_in_training_are_ignored(ratings, movies):
    # user 999 never rated movie 3 in training: their tag must not describe it
    tags = tags_table([(200, 1, "witty"), (999, 3, "witty")])
    model = fit(ratings, movies, tags=tags, tag_weight=2.0)
    assert model.recommend(100, k=1)["item_id"].tolist() == [2]


def test_registered_and_checkpoint_round_trip(ratings, movies, tmp_path):
    assert MODELS["rules"] is rules.GenreRules
    tags = tags_table([(200, 1, "witty"), (300, 3, "witty")])
    model = make_model("rules", movies=movies, tags=tags, tag_weight=2.0, min_count=0).fit(ratings)
    path = checkpoints.save(model, tmp_path / "rules", dataset="tiny")
    loaded = checkpoints.load(path, expect_dataset="tiny")
    users = model.user_map.encode([100, 200, 300, 400])
    np.testing.assert_allclose(loaded.score_items(users), model.score_items(users))
    pd.testing.assert_frame_equal(loaded.recommend(100, k=3), model.recommend(100, k=3))
    with pytest.raises(ValueError, match="not stored in checkpoints"):
        loaded.favourite_genres(100)


def test_tune_picks_the_best_validation_ndcg(ratings, movies):
    # user 100 rates movie 5 highly in validation: only match_weight 0 puts 5 first
    valid = ratings.iloc[:1].assign(item_id=np.int32(5))
    best, table = rules_grid.tune(
        ratings, valid, movies, {"match_weight": [1.5, 0.0], "damping": [0.0]}, k=1
    )
    assert best == {"match_weight": 0.0, "damping": 0.0}
    assert table["ndcg"].tolist() == [0.0, 1.0]
