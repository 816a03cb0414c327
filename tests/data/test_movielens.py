"""Parsers for each MovieLens format, validation of frames, the parquet cache, and the real data."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recsys_utils.constants import DATASETS, processed_dir, raw_dir
from recsys_utils.data import movielens as data
from recsys_utils.data.validation import DataError, summarize, validate_ratings

CSV_RATINGS = b"userId,movieId,rating,timestamp\n1,10,4.0,100\n1,20,3.5,200\n2,10,5.0,150\n"
CSV_MOVIES = (
    b"movieId,title,genres\n10,Heat (1995),Action|Crime|Thriller\n"
    b'20,"Toy, The (1982)",Comedy\n30,Cosmos,(no genres listed)\n'
    b'40,"Beauty and the Beast (1991) ",Animation\n'
)


def _write(folder, files):
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (folder / name).write_bytes(content)
    return folder


def test_csv_ratings_tidy_and_compact(tmp_path):
    path = _write(tmp_path, {"ratings.csv": CSV_RATINGS}) / "ratings.csv"
    ratings = data.read_ratings(path)
    assert list(ratings.columns) == ["user_id", "item_id", "rating", "timestamp"]
    assert ratings.dtypes.astype(str).tolist() == ["int32", "int32", "float32", "int64"]
    assert ratings["rating"].tolist() == [4.0, 3.5, 5.0]
    assert ratings["timestamp"].tolist() == [100, 200, 150]


def test_chunked_reading_matches_and_counts_lines(tmp_path, monkeypatch):
    path = _write(tmp_path, {"ratings.csv": CSV_RATINGS}) / "ratings.csv"
    whole = data.read_ratings(path)
    monkeypatch.setattr(data, "CHUNK_ROWS", 2)  # 3 rows -> chunks of 2 and 1
    pd.testing.assert_frame_equal(data.read_ratings(path), whole)
    path.write_bytes(CSV_RATINGS + b"3,10,9.5,1\n")  # 4th data row, in the second chunk
    with pytest.raises(DataError, match=r"ratings.csv: line 5: rating 9.5 is off the scale"):
        data.read_ratings(path)


def test_csv_movies_year_and_genres(tmp_path):
    movies = data.read_movies(_write(tmp_path, {"movies.csv": CSV_MOVIES}) / "movies.csv")
    assert movies["item_id"].dtype == np.int32 and str(movies["year"].dtype) == "Int16"
    assert movies["title"].tolist() == [
        "Heat (1995)",
        "Toy, The (1982)",
        "Cosmos",
        "Beauty and the Beast (1991)",
    ]
    assert movies["year"].tolist()[:2] == [1995, 1982] and pd.isna(movies["year"][2])
    assert movies["year"][3] == 1991
    assert movies["genres"].tolist() == [
        ["Action", "Crime", "Thriller"],
        ["Comedy"],
        [],
        ["Animation"],
    ]


def test_ml100k_format(tmp_path):
    genre = b"unknown|0\nAction|1\nComedy|2\n\n"
    item = (
        "1|Toy Story (1995)|01-Jan-1995||http://x|0|0|1\n"
        "2|Caf\xe9 Lumi\xe8re (2003)|01-Jan-2003||http://y|0|1|1\n"
        "3|unknown||||1|0|0\n"
    ).encode("latin-1")
    folder = _write(
        tmp_path / "ml-100k",
        {
            "u.data": b"196\t1\t3\t881250949\n186\t2\t5\t891717742\n",
            "u.item": item,
            "u.genre": genre,
        },
    )
    ds = data.load_folder(folder)
    assert ds.spec.name == "ml-100k"
    assert ds.ratings[["user_id", "item_id", "rating"]].values.tolist() == [
        [196, 1, 3],
        [186, 2, 5],
    ]
    assert ds.movies["title"][1] == "Café Lumière (2003)"
    assert ds.movies["genres"].tolist() == [["Comedy"], ["Action", "Comedy"], []]
    assert ds.movies["year"].tolist()[:2] == [2003 - 8, 2003] and pd.isna(ds.movies["year"][2])


def test_ml1m_format(tmp_path):
    movies = "1::Toy Story (1995)::Animation|Children's\n2::Misérables, Les (1995)::Drama\n"
    folder = _write(
        tmp_path / "ml-1m",
        {
            "ratings.dat": b"1::1::5::978300760\n2::2::3::978302109\n",
            "movies.dat": movies.encode("latin-1"),
        },
    )
    ds = data.load_folder(folder)
    assert ds.spec.name == "ml-1m"
    assert ds.ratings["rating"].tolist() == [5.0, 3.0]
    assert ds.movies["title"].tolist() == ["Toy Story (1995)", "Misérables, Les (1995)"]
    assert ds.movies["genres"][0] == ["Animation", "Children's"]


def test_infer_spec():
    assert data.infer_spec("x/u.data").name == "ml-100k"
    assert data.infer_spec("ratings.dat").name == "ml-1m"
    assert data.infer_spec("anything.csv").name == "ml-latest-small"


def test_load_dataset_writes_then_uses_parquet_cache(data_home):
    folder = _write(
        raw_dir() / "ml-latest-small" / "ml-latest-small",
        {"ratings.csv": CSV_RATINGS, "movies.csv": CSV_MOVIES},
    )
    first = data.load_dataset("ml-latest-small", fetch=False)
    assert sorted(p.name for p in (processed_dir() / "ml-latest-small").iterdir()) == [
        "movies.parquet",
        "ratings.parquet",
    ]
    shutil.rmtree(folder)  # the cache alone must now suffice
    second = data.load_dataset("ml-latest-small", fetch=False)
    pd.testing.assert_frame_equal(first.ratings, second.ratings)
    pd.testing.assert_frame_equal(first.movies, second.movies)
    assert second.movies["genres"][0] == ["Action", "Crime", "Thriller"]


def test_load_dataset_without_fetch_says_how(data_home):
    with pytest.raises(FileNotFoundError, match="data fetch --dataset ml-1m"):
        data.load_dataset("ml-1m", fetch=False)


def test_load_dataset_unknown_name():
    with pytest.raises(ValueError, match="unknown data set 'ml-2m'"):
        data.load_dataset("ml-2m")


@pytest.mark.parametrize(
    "column, values, message",
    [
        ("rating", ["4", "x", "3"], r"<DataFrame>: row 1: rating 'x' is not a number"),
        ("rating", [4.0, np.nan, 3.0], r"row 1: missing rating"),
        ("rating", [4.0, 5.5, 3.0], r"row 1: rating 5.5 is off the scale 0.5 to 5"),
        ("rating", [4.0, 4.25, 3.0], r"row 1: rating 4.25 is off the 0.5 grid"),
        ("user_id", [1.0, 2.5, 3.0], r"row 1: user_id 2.5 is not an integer"),
        ("item_id", [1, 2, -7], r"row 2: item_id -7 is negative"),
    ],
)
def test_validate_frame_names_row_and_problem(tiny_ratings, column, values, message):
    bad = tiny_ratings.head(3).copy()
    bad[column] = pd.Series(values, dtype=object if isinstance(values[0], str) else None)
    with pytest.raises(DataError, match=message):
        validate_ratings(bad, "ml-latest-small")


def test_validate_frame_missing_column(tiny_ratings):
    with pytest.raises(DataError, match="missing column.s. rating; expected user_id"):
        validate_ratings(tiny_ratings.drop(columns="rating"))


def test_validate_accepts_tiny_and_ml100k_scale(tiny_ratings):
    validate_ratings(tiny_ratings, "ml-latest-small")
    with pytest.raises(DataError, match="4.5 is off the 1 grid of ml-100k"):
        validate_ratings(tiny_ratings, DATASETS["ml-100k"])


def test_summarize_tiny(tiny_ratings):
    s = summarize(tiny_ratings)
    assert (s["n_ratings"], s["n_users"], s["n_movies"]) == (7, 3, 3)
    assert s["density"] == pytest.approx(7 / 9)
    assert s["mean_rating"] == pytest.approx(23 / 7)
    assert (s["rating_min"], s["rating_max"], s["duplicate_pairs"]) == (1.0, 5.0, 0)


def test_top_movies_hand_worked(tiny_ratings):
    movies = pd.DataFrame({"item_id": [10, 20, 30], "title": ["A", "B", "C"]})
    # means: 10 -> 3.0 (2 ratings), 20 -> 8.5/3 (3), 30 -> 4.25 (2)
    top = data.top_movies(tiny_ratings, movies, min_count=2, n=3)
    assert top["title"].tolist() == ["C", "A", "B"]
    assert data.top_movies(tiny_ratings, movies, min_count=3)["title"].tolist() == ["B"]


ratings_rows = st.lists(
    st.tuples(
        st.integers(0, 2**31 - 1),
        st.integers(0, 2**31 - 1),
        st.integers(1, 10).map(lambda k: k / 2),
        st.integers(0, 2**40),
    ),
    min_size=1,
    max_size=30,
)


@settings(max_examples=40, deadline=None)
@given(rows=ratings_rows)
def test_csv_round_trip_loses_nothing(tmp_path_factory, rows):
    path = tmp_path_factory.mktemp("rt") / "ratings.csv"
    body = "".join(f"{u},{i},{r},{t}\n" for u, i, r, t in rows)
    path.write_text("userId,movieId,rating,timestamp\n" + body)
    parsed = data.read_ratings(path)
    assert list(parsed.itertuples(index=False, name=None)) == [(u, i, r, t) for u, i, r, t in rows]


@pytest.mark.integration
def test_real_ml_latest_small(data_home, mirror_dir, monkeypatch):
    monkeypatch.setenv("RECSYS_DATA_MIRROR", str(mirror_dir))
    ds = data.load_dataset("ml-latest-small")
    assert len(ds.ratings) == 100_836
    assert ds.ratings["user_id"].nunique() == 610
    assert len(ds.movies) == 9_742
    assert ds.ratings["item_id"].isin(ds.movies["item_id"]).all()
    assert ds.movies.loc[ds.movies["item_id"] == 1, "genres"].item() == [
        "Adventure",
        "Animation",
        "Children",
        "Comedy",
        "Fantasy",
    ]
    assert ds.movies["year"].isna().sum() == 12
