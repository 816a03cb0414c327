"""The hybrid model places movies nobody rated: from the feature table or described by
hand, says where each vector comes from, lists neighbours and an audience, and travels
through a checkpoint with its feature table."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from helpers import genre_world

from recsys_utils.models import checkpoints
from recsys_utils.models.base import Queries, Query
from recsys_utils.models.hybrid import HybridPooled

FAST = dict(dim=8, max_epochs=25, lr=0.05, batch_size=20, device="cpu", num_threads=1, seed=0)


@pytest.fixture(scope="module")
def world():
    """``helpers.genre_world``: A movies 1-10 and 21, B movies 11-20 and 22, 23 with no
    features; nobody rates 21-23; users 1-20 like A, 21-40 like B."""
    features, train = genre_world()
    assert features.no_features.tolist() == [False] * 22 + [True]
    return features, train


@pytest.fixture(scope="module")
def model(world):
    features, train = world
    return HybridPooled(features, **FAST).fit(train)


def test_a_movie_described_by_hand_is_placed_as_the_same_movie_from_the_table(world, model):
    features, _ = world
    new_a = features.describe(genres=["A"], year=1995)
    vec, bias = model.movie_vectors(new_a)
    cold_vec, cold_bias = model.movie_vectors([21])  # in the table, nobody rated it
    np.testing.assert_allclose(vec, cold_vec, rtol=1e-6)
    np.testing.assert_allclose(bias, cold_bias, rtol=1e-6)
    both = model.movie_vectors(sp.vstack([new_a, features.describe(genres=["B"], year=1995)]))
    assert both[0].shape == (2, 8)
    s = model.score_movies(Queries.known([1, 30]), sp.vstack([new_a, features.describe("B")]))
    assert s[0, 0] > s[0, 1] and s[1, 1] > s[1, 0]  # the A lover prefers the new A movie
    with pytest.raises(ValueError, match="described rows have 3 columns"):
        model.movie_vectors(sp.csr_matrix((1, 3)))


def test_features_only_vector_equals_what_the_net_computes_in_batch(world):
    features, train = world
    m = HybridPooled(features, use_id=False, **FAST).fit(train)
    # W_out_ is the net's own output table (its EmbeddingBag over each training movie's
    # features, in one batch); the numpy path for a movie nobody rated must give the same
    in_batch = m.W_out_[m.item_map.encode(np.array([3, 15]))]
    placed, _ = m.movie_vectors(features.describe(genres=["A"], year=1995))
    np.testing.assert_allclose(placed[0], in_batch[0], rtol=1e-5, atol=1e-7)
    placed, _ = m.movie_vectors(sp.vstack([features.describe(genres=["B"], year=1995)]))
    np.testing.assert_allclose(placed[0], in_batch[1], rtol=1e-5, atol=1e-7)
    assert m.vector_from([3, 21]).tolist() == ["features only", "features only"]


def test_vector_from_says_where_each_vector_comes_from(world, model):
    features, _ = world
    assert model.vector_from([3, 21, 23, 999]).tolist() == [
        "ratings+features",
        "features only",
        "none",  # in the table with no features at all
        "none",  # neither rated nor in the table
    ]
    assert model.vector_from(features.describe(genres=["B"])).tolist() == ["features only"]
    s = model.score_movies(Query.known(1), [3, 21, 23, 999])
    assert np.isfinite(s[:2]).all() and np.isneginf(s[2:]).all()


def test_neighbours_of_a_new_movie_and_unrated_ones_only_when_asked(world, model):
    features, _ = world
    new_a = features.describe(genres=["A"], year=1995)
    near = model.neighbours(new_a, k=5)
    assert list(near.columns) == ["item_id", "similarity", "vector_from"]
    assert set(near["item_id"]) <= set(range(1, 11))
    assert (near["vector_from"] == "ratings+features").all()
    assert near["similarity"].is_monotonic_decreasing
    with_unrated = model.neighbours(new_a, k=11, include_unrated=True)
    row = with_unrated.set_index("item_id").loc[21]
    assert row["vector_from"] == "features only"
    assert 22 not in set(with_unrated["item_id"])  # a B movie is farther than every A one
    assert 23 not in set(model.neighbours(new_a, k=22, include_unrated=True)["item_id"])
    # a movie of the table nobody rated is a query too; itself left out
    assert 21 not in set(model.neighbours(21, k=5, include_unrated=True)["item_id"])
    with pytest.raises(ValueError, match="movie 23 has no ratings in training and no features"):
        model.neighbours(23)
    with pytest.raises(ValueError, match="movie 999 .* not in the feature table"):
        model.neighbours(999)
    with pytest.raises(ValueError, match="k=40 exceeds the 20 eligible"):
        model.neighbours(new_a, k=40)


def test_audience_is_the_users_who_like_what_the_movie_is(world, model):
    features, train = world
    fans = model.audience(features.describe(genres=["B"], year=1995), k=10)
    assert list(fans.columns) == ["user_id", "rank", "score"]
    assert set(fans["user_id"]) <= set(range(21, 41))
    assert (fans["rank"] >= 1).all() and fans["rank"].is_monotonic_increasing
    raters = set(train.loc[train["item_id"] == 3, "user_id"])
    assert raters.isdisjoint(model.audience(3, k=40)["user_id"])  # a rated movie: new users
    with pytest.raises(ValueError, match="give one movie"):
        model.audience([3, 4])


def test_checkpoint_carries_the_feature_table_and_scores_identically(world, model, tmp_path):
    features, _ = world
    assert HybridPooled.capabilities.checkpointable
    sidecar = checkpoints.save(model, tmp_path / "hybrid")
    meta = json.loads(sidecar.read_text())
    assert meta["data"]["features"]["names"] == features.names.tolist()
    assert "data.features.indices" in meta["tables"]
    back = checkpoints.load(sidecar)
    movies = [3, 15, 21, 22, 23, 999]
    new = features.describe(genres=["A"], year=1995)
    np.testing.assert_array_equal(
        back.score_movies(Queries.known([1, 30]), movies),
        model.score_movies(Queries.known([1, 30]), movies),
    )
    np.testing.assert_array_equal(back.movie_vectors(new)[0], model.movie_vectors(new)[0])
    np.testing.assert_array_equal(back.vector_from(movies), model.vector_from(movies))
    pd.testing.assert_frame_equal(back.audience(new), model.audience(new))
    new_back = back.features.describe(genres=["A"], year=1995)  # the table came back whole
    assert (new_back != new).nnz == 0
    # a sidecar whose vocabulary does not fit the arrays is refused in one line
    meta["data"]["features"]["kinds"] = meta["data"]["features"]["kinds"][:-1]
    sidecar.write_text(json.dumps(meta))
    with pytest.raises(checkpoints.CheckpointError, match="bad parameters or data for "
                       "hybrid_pooled: feature vocabulary: 17 names but 16 kinds"):  # fmt: skip
        checkpoints.load(sidecar)


def test_features_no_training_movie_carries_are_named(world, model):
    features, _ = world
    assert model.unlearned_features(features.describe(genres=["A"], year=1995)) == []
    assert model.unlearned_features(features.describe(genres=["A"], year=2025)) == ["year:2020s"]
