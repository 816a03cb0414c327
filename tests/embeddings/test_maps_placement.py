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
