"""Movie features: tag cleaning and merging, rare tags, tf-idf, years, the 'no features'
state, the tag genome on a synthetic release, and the cache beside the parquet cache."""

from __future__ import annotations

import io
import os
import zipfile

import numpy as np
import pandas as pd
import pytest

from recsys_utils.constants import MIRROR_ENV, processed_dir, raw_dir
from recsys_utils.data import features as feat
from recsys_utils.data import movielens, synthetic
from recsys_utils.data.synthetic import SyntheticConfig

MOVIES_CSV = (
    "movieId,title,genres\n"
    "1,Heat (1995),Action|Crime\n"
    "2,Babylon 5,Sci-Fi\n"
    '3,"1492: Conquest of Paradise (1992)",Drama\n'
    "4,(500) Days of Summer (2009),Comedy|Romance\n"
    "5,Fawlty Towers (1975-1979),Comedy\n"
    "6,Odd Title (0001),(no genres listed)\n"
    '7,"Movie, The (a.k.a. Film) (1999) ",Drama\n'
    "8,Blade Runner 2049,(no genres listed)\n"
    "9,Nothing Known,(no genres listed)\n"
)
RATINGS_CSV = "userId,movieId,rating,timestamp\n1,1,4.0,1\n2,2,3.0,2\n"


def _movies(tmp_path) -> pd.DataFrame:
    path = tmp_path / "movies.csv"
    path.write_text(MOVIES_CSV)
    return movielens.read_movies(path, "ml-latest-small")


def _tags(rows) -> pd.DataFrame:
    u, i, t = zip(*rows, strict=True)
    return pd.DataFrame({"user_id": np.int32(u), "item_id": np.int32(i), "tag": list(t)})


def _tag_values(f: feat.MovieFeatures) -> dict:
    cols = f.columns("tag")
    dense = f.matrix[:, cols].toarray()
    return {str(n): dense[:, j].round(6).tolist() for j, n in enumerate(f.names[cols])}


def test_clean_tag_normalises_case_punctuation_and_accents():
    assert feat.clean_tag("  Black-and-White ") == "black and white"
    assert feat.clean_tag('"Artsy"') == "artsy"
    assert feat.clean_tag("80's") == feat.clean_tag("80’s") == "80s"
    assert feat.clean_tag("Amélie") == "amelie"
    assert feat.clean_tag("android(s)/cyborg(s)") == "android s cyborg s"
    assert feat.clean_tag("!!!") == ""
    assert feat.tag_key("sci fi") == feat.tag_key("scifi")


def test_spellings_merge_under_the_most_used_one(tmp_path):
    tags = _tags(
        [(1, 1, "Sci-Fi"), (2, 1, "sci fi"), (3, 4, "SCI-FI"), (4, 1, "scifi"), (5, 2, "SciFi")]
        + [(6, 2, "!!!"), (7, 2, "!!!"), (8, 2, "!!!")]  # cleans to nothing: no tag
    )
    f = feat.build_features(_movies(tmp_path), tags, tag_weighting="count")
    # "sci fi" 3 uses against "scifi" 2: one tag of 5 users, named "sci fi"
    assert _tag_values(f) == {"tag:sci fi": [3.0, 1.0, 0, 1.0, 0, 0, 0, 0, 0]}


def test_a_tag_is_kept_only_when_enough_distinct_users_applied_it(tmp_path):
    movies = _movies(tmp_path)
    tags = _tags(
        [(1, m, "in netflix queue") for m in (1, 2, 3, 4, 5)]  # one user, five movies
        + [(1, 1, "dark"), (2, 2, "dark"), (2, 3, "dark")]  # two users
        + [(1, 1, "funny"), (2, 1, "funny"), (3, 4, "funny")]  # three users
    )
    kept = lambda n: sorted(_tag_values(feat.build_features(movies, tags, min_tag_users=n)))  # noqa: E731
    assert kept(3) == ["tag:funny"]
    assert kept(2) == ["tag:dark", "tag:funny"]
    assert kept(1) == ["tag:dark", "tag:funny", "tag:in netflix queue"]


def test_tfidf_by_hand(tmp_path):
    # "a": users 1,2,3 on movie 1 (tf 3), user 1 on movie 2 (tf 1); "b": users 1,2,3 on movie 2
    tags = _tags(
        [(u, 1, "a") for u in (1, 2, 3)] + [(1, 2, "a")] + [(u, 2, "b") for u in (1, 2, 3)]
    )
    f = feat.build_features(_movies(tmp_path), tags)
    # N = 2 tagged movies; idf(a) = ln(3/3) + 1 = 1, idf(b) = ln(3/2) + 1
    b = np.log(1.5) + 1
    m2 = np.array([1.0, 3 * b]) / np.hypot(1.0, 3 * b)
    values = _tag_values(f)
    np.testing.assert_allclose(values["tag:a"][:3], [1.0, m2[0], 0.0], atol=1e-6)
    np.testing.assert_allclose(values["tag:b"][:3], [0.0, m2[1], 0.0], atol=1e-6)
    counts = _tag_values(feat.build_features(_movies(tmp_path), tags, tag_weighting="count"))
    assert counts == {"tag:a": [3, 1, 0, 0, 0, 0, 0, 0, 0], "tag:b": [0, 3, 0, 0, 0, 0, 0, 0, 0]}
    with pytest.raises(ValueError, match="tag_weighting"):
        feat.build_features(_movies(tmp_path), tags, tag_weighting="bm25")


def test_years_from_titles_with_and_without_a_year(tmp_path):
    f = feat.build_features(_movies(tmp_path))
    cols = f.columns("year")
    dense = f.matrix[:, cols].toarray()
    assert (dense.sum(1) == 1).all()  # exactly one bucket each, unknown included
    got = [str(f.names[cols][j]) for j in dense.argmax(1)]
    assert got == [
        "year:1995-1999",  # Heat (1995)
        "year:unknown",  # Babylon 5: no year
        "year:1990-1994",  # "1492: ..." is not a year; (1992) is
        "year:2005-2009",  # "(500)" is not a year; (2009) is
        "year:1970s",  # a range: its first year
        "year:unknown",  # (0001): implausible
        "year:1995-1999",  # the year after an aka, trailing space stripped
        "year:unknown",  # 2049 not in parentheses at the end
        "year:unknown",
    ]
    assert feat.year_bucket(1929) == "<1930" and feat.year_bucket(2031) == "2020s"
    assert feat.year_bucket(None) == feat.year_bucket(pd.NA) == "unknown"
    assert feat.year_labels()[-1] == "year:unknown"[5:] and len(set(feat.year_labels())) == 15


def test_a_movie_with_nothing_is_flagged_not_a_lookalike_zero(tmp_path):
    movies = _movies(tmp_path)
    tags = _tags([(u, 8, "cyberpunk") for u in (1, 2, 3)])
    f = feat.build_features(movies, tags)
    # 6: no genre, implausible year; 9: no genre, no year; 8 has a tag; 2 has a genre
    assert f.item_ids[f.no_features].tolist() == [6, 9]
    row = f.matrix[f.rows([9])[0]]
    assert [str(f.names[c]) for c in row.indices] == ["year:unknown"]
    assert f.rows([9, 404]).tolist() == [8, -1]
    # the same table without tags: movie 8 loses its only feature and is flagged too
    assert feat.build_features(movies).item_ids[
        feat.build_features(movies).no_features
    ].tolist() == [6, 8, 9]


def test_normalised_gives_each_kind_unit_norm(tmp_path):
    tags = _tags(
        [(u, 1, "loud") for u in (1, 2, 3)] + [(u, 1, "fast") for u in (1, 2)] + [(3, 1, "fast")]
    )
    f = feat.build_features(_movies(tmp_path), tags, tag_weighting="count")
    n = f.normalised().toarray()
    for kind in ("genre", "tag", "year"):
        block = n[0, f.columns(kind)]
        assert np.isclose(np.linalg.norm(block), 1.0), kind
    assert np.isclose(np.linalg.norm(n[8]), 1.0)  # only year:unknown
    assert (f.normalised().indices == f.matrix.indices).all()


GENOME_CFG = SyntheticConfig(n_ratings=1_000, n_users=60, n_items=40, seed=5)


@pytest.fixture
def genome_release(tmp_path, data_home, monkeypatch):
    mirror = synthetic.write_mirror(tmp_path / "mirror", GENOME_CFG, name="ml-25m", genome_tags=9)
    monkeypatch.setenv(MIRROR_ENV, str(mirror))
    return mirror / "ml-25m.zip"


def test_synthetic_genome_files_have_the_real_layout(genome_release):
    with zipfile.ZipFile(genome_release) as zf:
        scores = zf.read("ml-25m/genome-scores.csv").decode().splitlines()
        tags = zf.read("ml-25m/genome-tags.csv").decode().splitlines()
    assert scores[0] == "movieId,tagId,relevance" and tags[0] == "tagId,tag"
    assert tags[1:3] == ["1,007", "2,18th century"] and len(tags) == 10
    assert len(scores) == 1 + 20 * 9  # half of 40 movies, every tag each
    movie, tag, rel = scores[1].split(",")
    assert int(tag) == 1 and 0 < float(rel) < 1 and len(rel.split(".")[1]) == 5


def test_genome_path_on_a_synthetic_release(genome_release):
    f = feat.movie_features("ml-25m")
    cols = f.columns("genome")
    assert [str(n) for n in f.names[cols][:3]] == [
        "genome:007",
        "genome:18th century",
        "genome:sci-fi",
    ]
    with zipfile.ZipFile(genome_release) as zf:
        scores = pd.read_csv(io.BytesIO(zf.read("ml-25m/genome-scores.csv")))
    covered = np.sort(scores["movieId"].unique())
    has = f.item_ids[np.diff(f.matrix[:, cols].tocsr().indptr) > 0]
    assert has.tolist() == covered.tolist() and covered.size == 20
    first = scores[scores["movieId"] == covered[0]].sort_values("tagId")["relevance"].to_numpy()
    got = f.matrix[f.rows([covered[0]])[0]].toarray()[0, cols]
    np.testing.assert_allclose(got, first, rtol=1e-6)
    assert not f.no_features[f.rows(covered)].any()
    assert feat.movie_features("ml-25m", genome=False).columns("genome").size == 0


def _raw_release(tags_csv: str):
    folder = raw_dir() / "ml-latest-small" / "ml-latest-small"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ratings.csv").write_text(RATINGS_CSV)
    (folder / "movies.csv").write_text(MOVIES_CSV)
    (folder / "tags.csv").write_text(tags_csv)
    return folder


def test_cached_once_and_invalidated_with_the_parquet_cache(data_home, monkeypatch):
    folder = _raw_release(
        "userId,movieId,tag,timestamp\n" + "".join(f"{u},1,loud,1\n" for u in (1, 2, 3))
    )
    first = feat.movie_features("ml-latest-small", fetch=False)
    path = feat.features_path(
        "ml-latest-small", min_tag_users=3, tag_weighting="tfidf", genome=True
    )
    assert path.is_file() and path.parent == processed_dir() / "ml-latest-small"
    built = []
    real_build = feat.build_features
    monkeypatch.setattr(
        feat, "build_features", lambda *a, **k: built.append(1) or real_build(*a, **k)
    )
    again = feat.movie_features("ml-latest-small", fetch=False)
    assert built == [] and (again.matrix != first.matrix).nnz == 0
    assert again.names.tolist() == first.names.tolist()
    assert again.no_features.tolist() == first.no_features.tolist()
    # other parameters, another file
    feat.movie_features("ml-latest-small", min_tag_users=1, fetch=False)
    assert built == [1]
    # a tags file fetched again (newer than the cache): rebuilt, with its new tag
    later = path.stat().st_mtime_ns + 10**9
    (folder / "tags.csv").write_text(
        "userId,movieId,tag,timestamp\n" + "".join(f"{u},2,quiet,1\n" for u in (1, 2, 3))
    )
    os.utime(folder / "tags.csv", ns=(later, later))
    assert "tag:quiet" in feat.movie_features("ml-latest-small", fetch=False).names
    assert built == [1, 1]
    # a movies file fetched again: the parquet cache is rewritten, so are the features
    later += 10**9
    (folder / "movies.csv").write_text(MOVIES_CSV + "10,New One (2020),Drama\n")
    os.utime(folder / "movies.csv", ns=(later, later))
    assert feat.movie_features("ml-latest-small", fetch=False).item_ids[-1] == 10
    assert built == [1, 1, 1]


def test_a_release_without_genome_or_tags(data_home):
    from recsys_utils.data import tags

    folder = _raw_release("userId,movieId,tag,timestamp\n")
    assert tags.load_genome("ml-latest-small") is None
    f = feat.movie_features("ml-latest-small", fetch=False)
    assert f.columns("tag").size == 0 and f.columns("genome").size == 0
    assert folder.is_dir()
