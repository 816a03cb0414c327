"""Content kNN and popularity within genre, worked by hand on a five-genre-row table."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from helpers import ratings_table

from recsys_utils.data.features import MovieFeatures
from recsys_utils.models.base import Queries, Query
from recsys_utils.models.content import ContentKNN, GenrePopularity

R2 = 1 / np.sqrt(2)


@pytest.fixture
def features() -> MovieFeatures:
    """Movies 1: A; 2: A, B; 3: B; 4: C; 5: nothing (year unknown only); 6: A."""
    dense = np.array(
        [[1, 0, 0, 0], [1, 1, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [1, 0, 0, 0]],
        dtype=np.float32,
    )
    return MovieFeatures(
        matrix=sp.csr_matrix(dense),
        item_ids=np.array([1, 2, 3, 4, 5, 6]),
        names=np.array(["genre:A", "genre:B", "genre:C", "year:unknown"]),
        kinds=np.array(["genre", "genre", "genre", "year"]),
        no_features=np.array([False, False, False, False, True, False]),
    )


@pytest.fixture
def train():
    # user 10 likes 1 (and rates 3 low), user 20 likes 2 and 3, user 30 likes 1 and 2
    return ratings_table(
        [(10, 1, 5.0), (10, 3, 2.0), (20, 2, 4.0), (20, 3, 4.5), (30, 1, 4.0), (30, 2, 5.0)]
    )


def test_content_knn_by_hand(features, train):
    m = ContentKNN(features).fit(train)
    assert m.item_map.decode(np.arange(3)).tolist() == [1, 2, 3]
    np.testing.assert_allclose(m.score(Query.known(10)), [1.0, R2, 0.0])
    # cold movies 4 (C), 6 (A), 5 (no features), 999 (not in the table)
    np.testing.assert_allclose(m.score_movies(Query.known(10), [4, 6, 5, 999]), [0, 1, 0, -np.inf])
    np.testing.assert_allclose(m.score_movies(Query.known(20), [1, 2]), [R2, 1 + R2])
    k1 = ContentKNN(features, k=1).fit(train)
    np.testing.assert_allclose(k1.score_movies(Query.known(20), [1, 2]), [R2, 1.0])
    # a new person with user 10's likes gets user 10's scores (a 2-star movie is no like)
    np.testing.assert_allclose(m.score(Query.new({1: 5.0, 3: 1.0})), m.score(Query.known(10)))
    both = m.score_movies(Queries.known([10, 20]), [6])
    np.testing.assert_allclose(both, [[1.0], [R2]])
    # without the genres, only movie 5's year is left, and it has no features: all zero
    none = ContentKNN(features, kinds=("year",)).fit(train)
    np.testing.assert_allclose(none.score(Query.known(20)), [0, 0, 0])
    with pytest.raises(ValueError, match="unknown feature kinds"):
        ContentKNN(features, kinds=("cast",))


def test_genre_popularity_by_hand(features, train):
    m = GenrePopularity(features, alpha=1.0).fit(train)
    # positives: movie 1: 2, movie 2: 2, movie 3: 1; shares of 5: A 0.8, B 0.6, C 0
    # user 10 likes one A movie: lift A = (1 + .8) / 2 / .8, B = (0 + .6) / 2 / .6 = .5, C .5
    lift_a, lift_b = 1.8 / 2 / 0.8, 0.5
    expect = [2 * lift_a, 2 * (lift_a + lift_b) / 2, 1 * lift_b]
    np.testing.assert_allclose(m.score(Query.known(10)), expect)
    # cold: 4 (C, no training movie of C: the mean of all, 5/3), 6 (A: mean 2), 5 (nothing)
    got = m.score_movies(Query.known(10), [4, 6, 5])
    np.testing.assert_allclose(got, [5 / 3 * 0.5, 2 * lift_a, 0.0])
    # nobody liked: plain popularity (lift 1)
    np.testing.assert_allclose(m.score(Query.new({3: 1.0})), [2, 2, 1])
    # alpha changes the result
    other = GenrePopularity(features, alpha=100.0).fit(train).score(Query.known(10))
    assert not np.allclose(other, expect)


def test_params_are_plain_and_features_are_not_among_them(features, train):
    m = ContentKNN(features, k=5)
    assert m.get_params() == {"threshold": 4.0, "k": 5, "kinds": None}
    assert GenrePopularity(features).get_params() == {"threshold": 4.0, "alpha": 5.0}
    assert m.capabilities.scores_new_people and not m.capabilities.predicts_ratings
