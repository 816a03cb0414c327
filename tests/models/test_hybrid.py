"""The hybrid model: feature-built movie vectors, a new movie scored from its features
alone, the id part switchable, and it learns which features a person's likes share."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from helpers import ratings_table

from recsys_utils.data.features import MovieFeatures
from recsys_utils.models.base import Queries, Query
from recsys_utils.models.hybrid import HybridPooled

FAST = dict(dim=8, max_epochs=25, lr=0.05, batch_size=20, device="cpu", num_threads=1, seed=0)


@pytest.fixture(scope="module")
def world():
    """Movies 1..20: 1-10 genre A, 11-20 genre B; 21 (A) and 22 (B) nobody rates; 23 has
    no features. Users 1-20 like the A movies they rate, users 21-40 the B ones."""
    ids = np.arange(1, 24)
    genre = np.array([0] * 10 + [1] * 10 + [0, 1, -1])
    rows = np.flatnonzero(genre >= 0)
    matrix = sp.csr_matrix(
        (np.ones(rows.size, np.float32), (rows, genre[rows])), shape=(ids.size, 2)
    )
    features = MovieFeatures(matrix, ids, np.array(["genre:A", "genre:B"]),
                             np.array(["genre", "genre"]), genre < 0)  # fmt: skip
    rng = np.random.default_rng(0)
    pairs = []
    for u in range(1, 41):
        mine = np.arange(1, 11) if u <= 20 else np.arange(11, 21)
        for m in rng.choice(mine, 6, replace=False):
            pairs.append((u, int(m), 5.0))
    return features, ratings_table(pairs)


def test_a_new_movie_is_scored_from_its_features_alone(world):
    features, train = world
    m = HybridPooled(features, **FAST).fit(train)
    assert len(m.item_map) == 20
    s = m.score_movies(Queries.known([1, 30]), [21, 22, 23, 999])
    # an A lover ranks the new A movie over the new B movie, and the other way round
    assert s[0, 0] > s[0, 1] and s[1, 1] > s[1, 0]
    assert np.isneginf(s[:, 3]).all()  # neither in training nor in the feature table
    # its vector is its feature row times the feature table, nothing else
    vec, bias = m.movie_vectors([21, 23])
    np.testing.assert_allclose(vec[0], m.F_out_[0], rtol=1e-6)
    np.testing.assert_allclose(vec[1], 0.0) and np.testing.assert_allclose(bias[1], 0.0)
    # a training movie through score_movies is the contract's score
    warm = m.score_movies(Query.known(1), [3, 15])
    full = m.score(Query.known(1))
    np.testing.assert_allclose(warm, full[m.item_map.encode(np.array([3, 15]))], rtol=1e-5)
    # a new person with user 1's likes gets user 1's scores
    liked = train.loc[train["user_id"] == 1, "item_id"].tolist()
    new = m.score_movies(Query.new({i: 5.0 for i in liked}), [21, 22])
    np.testing.assert_allclose(new, s[0, :2], rtol=1e-5)


def test_features_only_gives_movies_alike_in_features_one_vector(world):
    features, train = world
    m = HybridPooled(features, use_id=False, **FAST).fit(train)
    vec, _ = m.movie_vectors([1, 2, 21])
    np.testing.assert_allclose(vec[0], vec[1], rtol=1e-6)
    np.testing.assert_allclose(vec[0], vec[2], rtol=1e-6)
    with_id = HybridPooled(features, **FAST).fit(train).movie_vectors([1, 2])[0]
    assert not np.allclose(with_id[0], with_id[1])


def test_seeded_and_parameters_checked(world):
    features, train = world
    a = HybridPooled(features, **FAST).fit(train).score_movies(Query.known(5), [21, 22])
    b = HybridPooled(features, **FAST).fit(train).score_movies(Query.known(5), [21, 22])
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="dense optimiser"):
        HybridPooled(features, optimizer="sparse_adam")
    with pytest.raises(ValueError, match="unknown feature kinds"):
        HybridPooled(features, kinds=("cast",))
    with pytest.raises(ValueError, match="id_dropout"):
        HybridPooled(features, id_dropout=1.0, **FAST).fit(train)
    assert isinstance(HybridPooled(features).get_params(), dict)
    assert "features" not in HybridPooled(features).get_params()
    assert pd.api.types.is_float_dtype(pd.Series(a))
