"""A movie described by hand (``MovieFeatures.describe``): the row the table would give it,
clear refusals, and the table's state through a checkpoint."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from recsys_utils.data import features as feat
from recsys_utils.data import movielens

MOVIES_CSV = (
    "movieId,title,genres\n"
    "1,Night of the Dead (1968),Horror|Thriller\n"
    "2,Toy Town (1995),Animation|Children|Comedy\n"
    "3,Star Fleet (1977),Action|Sci-Fi\n"
    "4,Dead Town (2004),Comedy|Horror\n"
    "5,Nothing Known,(no genres listed)\n"
)
# each tag on a movie by one user (tf = 1), every tag used by three users in all
TAGS = [
    (1, 1, "zombies"), (2, 4, "Zombies"), (3, 4, "zombies"),
    (1, 1, "gore"), (2, 4, "gore"), (3, 4, "gore"),
    (1, 2, "pixar"), (2, 2, "Pixar"), (3, 3, "pixar"),
    (1, 3, "space"), (2, 3, "space"), (3, 3, "sci fi"),
    (4, 3, "sci-fi"), (5, 2, "sci-fi"),
]  # fmt: skip


@pytest.fixture(scope="module")
def movies(tmp_path_factory) -> pd.DataFrame:
    path = tmp_path_factory.mktemp("describe") / "movies.csv"
    path.write_text(MOVIES_CSV)
    return movielens.read_movies(path, "ml-latest-small")


def _tags(rows=TAGS) -> pd.DataFrame:
    u, i, t = zip(*rows, strict=True)
    return pd.DataFrame({"user_id": np.int32(u), "item_id": np.int32(i), "tag": list(t)})


@pytest.fixture(scope="module")
def table(movies) -> feat.MovieFeatures:
    return feat.build_features(movies, _tags())


def test_a_described_movie_gets_the_row_the_table_gives_a_movie_so_described(table):
    # movie 1: Horror|Thriller, 1968, tagged zombies and gore by one user each
    row = table.describe(genres=["Horror", "Thriller"], tags=["zombies", "gore"], year=1968)
    assert row.shape == (1, table.n_features)
    np.testing.assert_allclose(row.toarray(), table.matrix[table.rows([1])].toarray(), rtol=1e-6)
    # the weights by hand: tf = 1, idf = ln((1 + 4) / (1 + df)) + 1 over the 4 tagged
    # movies; zombies is on 2 movies, gore on 2; then unit norm: 1/sqrt(2) each
    tags = dict(zip(table.names, row.toarray()[0], strict=True))
    assert tags["tag:zombies"] == pytest.approx(2**-0.5) == tags["tag:gore"]
    assert tags["year:1960s"] == 1.0 and tags["genre:Horror"] == 1.0
    # the same movie typed loosely: case, punctuation, "a|b" strings, a genre twice
    loose = table.describe(genres="horror|THRILLER|Horror", tags="Zombies, GORE", year="1968")
    np.testing.assert_array_equal(loose.toarray(), row.toarray())


def test_spellings_match_as_tags_merge_and_count_weighting_is_kept(movies):
    table = feat.build_features(movies, _tags())
    row = table.describe(genres=["sci fi"], tags=["SciFi"])
    names = table.names[row.indices].tolist()
    assert names == ["genre:Sci-Fi", "tag:sci fi"]  # cleaned: "sci fi"; no year given: none
    counted = feat.build_features(movies, _tags(), tag_weighting="count")
    row = counted.describe(tags=["zombies", "pixar"])
    tag_cols = [j for j in row.indices if counted.kinds[j] == "tag"]
    assert row[0, tag_cols].toarray().tolist() == [[1.0, 1.0]]  # one user each, no idf


def test_unknown_genre_and_tag_name_the_closest_known_ones(table):
    with pytest.raises(ValueError, match=r"unknown genre 'Horor'; did you mean Horror\? genres: "):
        table.describe(genres=["Horor"])
    with pytest.raises(ValueError, match=r"unknown tag 'zombie' \(closest: zombies"):
        table.describe(genres=["Horror"], tags=["zombie"])
    with pytest.raises(ValueError, match=r"unknown tag 'qwxz' \(nothing close; 4 tags are kept"):
        table.describe(tags=["qwxz"])
    bare = feat.build_features(pd.DataFrame(table_movies_without_tags()))
    with pytest.raises(ValueError, match="this feature table has no tags"):
        bare.describe(tags=["zombies"])


def table_movies_without_tags() -> dict:
    return {"item_id": [1, 2], "title": ["A", "B"], "year": [1990, None],
            "genres": [["Drama"], ["Comedy"]]}  # fmt: skip


def test_a_movie_with_no_features_is_refused_not_given_a_zero_vector(table):
    for empty in ({}, {"genres": [], "tags": ""}, {"genres": " | ", "year": None}):
        with pytest.raises(ValueError, match="no genre, no tag and no year has no features"):
            table.describe(**empty)
    with pytest.raises(ValueError, match="year 3025 is outside 1870-2100"):
        table.describe(genres=["Horror"], year=3025)
    with pytest.raises(ValueError, match="whole number"):
        table.describe(genres=["Horror"], year=1999.5)
    only_year = table.describe(year=2025)  # a year is a feature, as in the table
    assert table.names[only_year.indices].tolist() == ["year:2020s"]


def test_state_round_trip_and_refusals(table):
    arrays, vocab = table.to_state()
    assert all(isinstance(v, np.ndarray) and v.dtype.kind in "iuf" for v in arrays.values())
    back = feat.MovieFeatures.from_state(arrays, vocab)
    assert (back.matrix != table.matrix).nnz == 0
    for field in ("item_ids", "names", "kinds", "no_features"):
        np.testing.assert_array_equal(getattr(back, field), getattr(table, field))
    assert back.tag_weighting == table.tag_weighting
    np.testing.assert_array_equal(
        back.describe(genres=["Horror"], tags=["gore"]).toarray(),
        table.describe(genres=["Horror"], tags=["gore"]).toarray(),
    )
    bad_index = {**arrays, "indices": arrays["indices"] + table.n_features}
    with pytest.raises(ValueError, match="column index outside"):
        feat.MovieFeatures.from_state(bad_index, vocab)
    with pytest.raises(ValueError, match="names but"):
        feat.MovieFeatures.from_state(arrays, {**vocab, "kinds": vocab["kinds"][:-1]})
    with pytest.raises(ValueError, match="unknown kinds"):
        feat.MovieFeatures.from_state(arrays, {**vocab, "kinds": ["cast"] * len(vocab["kinds"])})
    with pytest.raises(ValueError, match="indptr does not fit"):
        feat.MovieFeatures.from_state({**arrays, "indptr": arrays["indptr"][:-1]}, vocab)
    with pytest.raises(ValueError, match="lacks"):
        feat.MovieFeatures.from_state({k: v for k, v in arrays.items() if k != "data"}, vocab)
    assert sp.issparse(back.matrix)
