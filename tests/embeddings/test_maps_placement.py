"""Points added to an existing map: placed at the mean position of their nearest rows."""

import numpy as np
import pytest

from recsys_utils.embeddings.maps import place_near


def test_a_new_vector_lands_at_the_mean_of_its_nearest_mapped_vectors():
    vectors = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [-1.0, 0.0]])
    coords = np.array([[0.0, 0.0], [2.0, 2.0], [10.0, 10.0], [-5.0, 0.0]])
    where, near = place_near(coords, vectors, np.array([[5.0, 0.2]]), k=2)
    assert near.tolist() == [[0, 1]]  # cosine: the two pointing its way, nearest first
    np.testing.assert_allclose(where, [[1.0, 1.0]])
    # rows without a position are skipped; k larger than the map is the whole map
    coords[0] = np.nan
    where, near = place_near(coords, vectors, np.array([[1.0, 0.0]]), k=10)
    assert sorted(near[0].tolist()) == [1, 2, 3]
    np.testing.assert_allclose(where, [coords[1:].mean(0)])
    with pytest.raises(ValueError, match="no row of the map"):
        place_near(np.full((4, 2), np.nan), vectors, vectors[:1])


def test_feature_map_draws_every_movie_of_the_table_and_extra_points_in_one_space(data_home):
    import pandas as pd
    from helpers import ratings_table

    from recsys_utils.data.features import build_features
    from recsys_utils.embeddings.maps import feature_map
    from recsys_utils.models import CapabilityError, make_model
    from recsys_utils.models.hybrid import HybridPooled

    ids = np.arange(1, 13)  # 1-5 genre A, 6-10 genre B, 11 (A) and 12 (B) nobody rated
    movies = pd.DataFrame({"item_id": ids, "title": [f"m{i}" for i in ids],
                           "year": pd.array([1995] * 12, dtype="Int64"),
                           "genres": [["A"]] * 5 + [["B"]] * 5 + [["A"], ["B"]]})  # fmt: skip
    features = build_features(movies)
    pairs = [(u, m, 5.0 if (u <= 10) == (m <= 5) else 2.0) for u in range(1, 21)
             for m in range(1, 11) if (u + m) % 3]  # fmt: skip
    train = ratings_table(pairs)
    model = HybridPooled(features, dim=4, max_epochs=3, batch_size=20, device="cpu",
                         num_threads=1, seed=0).fit(train)  # fmt: skip
    genre = model.F_out_[features.columns("genre")]
    fmap = feature_map(model, movies, train, {"genre": (["A", "B"], genre)}, method="pca")
    assert fmap.movies["item_id"].tolist() == ids.tolist()
    assert fmap.movies["trained"].tolist() == [True] * 10 + [False] * 2
    assert fmap.movies["vector_from"].tolist()[-2:] == ["features only"] * 2
    assert fmap.points[["label", "group"]].values.tolist() == [["A", "genre"], ["B", "genre"]]
    assert np.isfinite(fmap.points[["x", "y"]].to_numpy()).all()
    with pytest.raises(CapabilityError):
        feature_map(make_model("popularity").fit(train), movies, train)
