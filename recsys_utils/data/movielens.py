"""Each MovieLens format -> one tidy ratings table and one movies table, with a parquet cache.

Formats (``DatasetSpec.fmt``): ``csv`` (ml-latest-small, ml-25m, ml-32m; UTF-8 with a
header), ``100k`` (``u.data`` tab-separated, ``u.item``/``u.genre`` ``|``-separated,
latin-1) and ``1m`` (``::``-separated, latin-1). Ratings are read in chunks and kept as
int32/float32 while parsing, so ml-32m loads with a modest peak memory. A file that
does not parse gives a one-line ``DataError`` naming the file, the line and the problem.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from recsys_utils.constants import (
    DATASETS,
    DEFAULT_DATASET,
    GENRES_COL,
    ITEM_COL,
    MOVIES_COLUMNS,
    RATING_COL,
    RATINGS_COLUMNS,
    TIMESTAMP_COL,
    TITLE_COL,
    USER_COL,
    YEAR_COL,
    DatasetSpec,
    get_spec,
    processed_dir,
    raw_dir,
)
from recsys_utils.data import download
from recsys_utils.data.validation import (
    DataError,
    check_head,
    check_movie_ids,
    fail,
    scan_ratings,
    summarize,
    validate_ratings,
)

__all__ = [
    "DataError",
    "Dataset",
    "dataset_checksum",
    "load_dataset",
    "load_folder",
    "load_ratings_file",
    "read_ratings",
    "read_movies",
    "ratings_checksum",
    "infer_spec",
    "summarize",
    "top_movies",
]

CHUNK_ROWS = 2_000_000
# fmt -> (separator, has header, encoding)
_LAYOUT = {
    "csv": (",", True, "utf-8"),
    "100k": ("\t", False, "latin-1"),
    "1m": ("::", False, "latin-1"),
}
_CSV_RATINGS_HEADER = ["userId", "movieId", "rating", "timestamp"]
_CSV_MOVIES_HEADER = ["movieId", "title", "genres"]
_READ_DTYPES = {USER_COL: "int64", ITEM_COL: "int64", RATING_COL: "float64", TIMESTAMP_COL: "int64"}
_COMPACT_DTYPES = {
    USER_COL: "int32",
    ITEM_COL: "int32",
    RATING_COL: "float32",
    TIMESTAMP_COL: "int64",
}
_YEAR = re.compile(r"\((\d{4})(?:[-–]\d{0,4})?\)\s*$")
_NO_GENRES = {"(no genres listed)", "unknown", ""}


@dataclass(frozen=True)
class Dataset:
    """One parsed MovieLens release: tidy ``ratings`` and ``movies`` tables and its spec."""

    ratings: pd.DataFrame
    movies: pd.DataFrame
    spec: DatasetSpec

    @property
    def name(self) -> str:
        return self.spec.name


def read_ratings(path: str | Path, spec: DatasetSpec | str | None = None) -> pd.DataFrame:
    """Parse and validate one ratings file into the tidy table (compact dtypes).

    Raises:
        DataError: one line naming the file, the line and the problem.
    """
    path = Path(path)
    spec = infer_spec(path) if spec is None else get_spec(spec) if isinstance(spec, str) else spec
    sep, header, encoding = _LAYOUT[spec.fmt]
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such ratings file")
    check_head(path, _CSV_RATINGS_HEADER if header else None)
    source = io.BytesIO(path.read_bytes().replace(b"::", b"\t")) if spec.fmt == "1m" else path
    parts = []
    try:
        reader = pd.read_csv(
            source,
            sep="\t" if spec.fmt == "1m" else sep,
            header=0 if header else None,
            names=list(RATINGS_COLUMNS),
            dtype=_READ_DTYPES,
            encoding=encoding,
            chunksize=CHUNK_ROWS,
            skip_blank_lines=False,
            quoting=csv.QUOTE_NONE,
        )
        with reader:
            for chunk in reader:
                validate_ratings(chunk, spec, source=str(path), line_offset=2 if header else 1)
                parts.append(chunk.astype(_COMPACT_DTYPES))
    except DataError:
        raise
    except (ValueError, OverflowError, pd.errors.ParserError) as err:  # UnicodeDecodeError too
        scan_ratings(path, sep, header, encoding)
        fail(path, f"cannot parse: {str(err).splitlines()[0] if str(err) else type(err).__name__}")
    ratings = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    return ratings.reset_index(drop=True)


def _split_title(titles: pd.Series) -> tuple[pd.Series, pd.Series]:
    titles = titles.astype(str).str.strip()
    year = pd.to_numeric(titles.str.extract(_YEAR, expand=False), errors="coerce").astype("Int16")
    return titles, year


def _genre_list(text) -> list[str]:
    return [g for g in str(text).split("|") if g not in _NO_GENRES]


def read_movies(path: str | Path, spec: DatasetSpec | str | None = None) -> pd.DataFrame:
    """Parse one movies file (movies.csv, u.item or movies.dat) into the tidy movies table."""
    path = Path(path)
    spec = infer_spec(path) if spec is None else get_spec(spec) if isinstance(spec, str) else spec
    check_head(path, _CSV_MOVIES_HEADER if spec.fmt == "csv" else None)
    try:
        if spec.fmt == "csv":
            raw = pd.read_csv(
                path,
                dtype={"movieId": "int64", "title": str, "genres": str},
                encoding="utf-8",
                keep_default_na=False,
            )
            ids, titles, genres = raw["movieId"], raw["title"], raw["genres"].map(_genre_list)
        elif spec.fmt == "1m":
            text = path.read_bytes().replace(b"::", b"\t")
            raw = pd.read_csv(
                io.BytesIO(text),
                sep="\t",
                header=None,
                encoding="latin-1",
                quoting=csv.QUOTE_NONE,
                dtype={0: "int64", 1: str, 2: str},
                keep_default_na=False,
            )
            ids, titles, genres = raw[0], raw[1], raw[2].map(_genre_list)
        else:
            names = _read_100k_genres(path.with_name("u.genre"))
            raw = pd.read_csv(
                path,
                sep="|",
                header=None,
                encoding="latin-1",
                quoting=csv.QUOTE_NONE,
                dtype={0: "int64", 1: str},
                keep_default_na=False,
            )
            flags = raw.iloc[:, -len(names) :].to_numpy(dtype=np.int8)
            ids, titles = raw[0], raw[1]
            genres = pd.Series(
                [
                    [n for n, f in zip(names, row, strict=True) if f and n not in _NO_GENRES]
                    for row in flags
                ]
            )
    except UnicodeDecodeError:
        raw = path.read_bytes()
        try:
            raw.decode("utf-8")
            line = "?"
        except UnicodeDecodeError as err:  # pandas' offset is per chunk; find the file's
            line = raw[: err.start].count(b"\n") + 1
        fail(path, f"line {line}: not valid UTF-8 text (latin-1 where UTF-8 is expected?)")
    except (ValueError, pd.errors.ParserError, IndexError) as err:
        fail(
            path,
            f"cannot parse movies: {str(err).splitlines()[0] if str(err) else type(err).__name__}",
        )
    check_movie_ids(ids.reset_index(drop=True), path, 2 if spec.fmt == "csv" else 1)
    titles, year = _split_title(titles)
    return pd.DataFrame(
        {
            ITEM_COL: ids.astype("int32").to_numpy(),
            TITLE_COL: titles.to_numpy(),
            YEAR_COL: year.array,
            GENRES_COL: list(genres),
        }
    )


def _read_100k_genres(path: Path) -> list[str]:
    if not path.is_file():
        fail(path, "missing; ml-100k needs u.genre beside u.item")
    rows = [ln.split("|") for ln in path.read_text(encoding="latin-1").splitlines() if ln.strip()]
    return [name for name, _ in sorted(rows, key=lambda r: int(r[1]))]


def infer_spec(path: str | Path) -> DatasetSpec:
    """Guess the data set from a ratings file's name (``u.data``, ``*.dat``, else CSV)."""
    name = Path(path).name
    if name in ("u.data", "u.item") or name.endswith(".data"):
        return DATASETS["ml-100k"]
    if name.endswith(".dat"):
        return DATASETS["ml-1m"]
    return DATASETS[DEFAULT_DATASET]


def _data_folder(folder: Path, spec: DatasetSpec | None) -> Path:
    """``folder``, or its one subfolder holding a ratings file (``data fetch``'s
    ``raw/<name>/`` keeps the zip beside the extracted ``raw/<name>/<folder>/``)."""
    specs = [spec] if spec is not None else list(DATASETS.values())
    if not folder.is_dir() or any((folder / s.ratings_file).is_file() for s in specs):
        return folder
    inner = [
        sub
        for sub in sorted(folder.iterdir())
        if sub.is_dir()
        and not sub.name.startswith(".")  # a half-done extraction (download.safe_extract)
        and any((sub / s.ratings_file).is_file() for s in specs)
    ]
    return inner[0] if len(inner) == 1 else folder


def load_folder(folder: str | Path, spec: DatasetSpec | str | None = None) -> Dataset:
    """Parse an extracted data set folder (ratings and movies files) into a ``Dataset``.

    A folder without a ratings file but with exactly one subfolder holding one (the
    ``raw/<name>/`` folder that ``data fetch`` fills) is read through that subfolder.
    """
    spec = get_spec(spec) if isinstance(spec, str) else spec
    folder = _data_folder(Path(folder), spec)
    if spec is None:
        found = [s for s in DATASETS.values() if (folder / s.ratings_file).is_file()]
        spec = found[0] if found else DATASETS[DEFAULT_DATASET]
    for file in (spec.ratings_file, spec.movies_file):
        if not (folder / file).is_file():
            fail(folder, f"missing {file}; expected the {spec.name} layout")
    ratings = read_ratings(folder / spec.ratings_file, spec)
    return Dataset(ratings, read_movies(folder / spec.movies_file, spec), spec)


def load_ratings_file(path: str | Path, spec: DatasetSpec | str | None = None) -> pd.DataFrame:
    """The ratings of a single file, or of an extracted folder's ratings file (for ``data validate``)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    return load_folder(path, spec).ratings if path.is_dir() else read_ratings(path, spec)


# --- the parquet cache ------------------------------------------------------------
def write_parquet(df: pd.DataFrame, path: Path) -> None:
    """Write atomically: a temp file in the same folder, then rename.

    A folder that cannot be written (read-only, no permission, a full disk) is a one-line
    ``DataError`` naming the path; the temp file is removed.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        df.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    except OSError as err:
        raise DataError(f"{err.filename or path}: cannot write ({err.strerror or err})") from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def _read_movies_parquet(path: Path) -> pd.DataFrame:
    movies = pd.read_parquet(path)
    movies[GENRES_COL] = movies[GENRES_COL].map(list)  # parquet gives arrays back
    return movies[list(MOVIES_COLUMNS)]


def _cache_is_fresh(cached: tuple[Path, ...], sources: tuple[Path, ...]) -> bool:
    """The parquet files exist and none is older than a raw file they were made from
    (a raw folder fetched again, ``data fetch --force``, makes the cache stale)."""
    if not all(p.is_file() for p in cached):
        return False
    oldest = min(p.stat().st_mtime_ns for p in cached)
    return all(not p.is_file() or p.stat().st_mtime_ns <= oldest for p in sources)


def load_dataset(name: str = DEFAULT_DATASET, *, fetch: bool = True) -> Dataset:
    """Load a MovieLens release: parquet cache, else parse the raw folder (fetching it if needed).

    Args:
        name: a key of ``constants.DATASETS``.
        fetch: download the zip when the raw folder is missing; ``False`` raises instead.
    """
    spec = get_spec(name)
    cache = processed_dir() / name
    ratings_pq, movies_pq = cache / "ratings.parquet", cache / "movies.parquet"
    folder = raw_dir() / name / spec.folder
    if _cache_is_fresh(
        (ratings_pq, movies_pq), (folder / spec.ratings_file, folder / spec.movies_file)
    ):
        return Dataset(pd.read_parquet(ratings_pq), _read_movies_parquet(movies_pq), spec)
    if not folder.is_dir():
        if not fetch:
            raise FileNotFoundError(
                f"{folder} not found; run `python -m recsys_utils data fetch --dataset {name}`"
            )
        folder = download.fetch(name)
    dataset = load_folder(folder, spec)
    write_parquet(dataset.ratings, ratings_pq)
    write_parquet(dataset.movies, movies_pq)
    return dataset


def top_movies(
    ratings: pd.DataFrame, movies: pd.DataFrame, min_count: int = 50, n: int = 10
) -> pd.DataFrame:
    """The ``n`` best mean-rated movies among those with at least ``min_count`` ratings."""
    stats = ratings.groupby(ITEM_COL)[RATING_COL].agg(n_ratings="size", mean_rating="mean")
    stats = stats[stats["n_ratings"] >= min_count].reset_index()
    stats = stats.merge(movies[[ITEM_COL, TITLE_COL]], on=ITEM_COL, how="left")
    stats = stats.sort_values(
        ["mean_rating", "n_ratings", ITEM_COL], ascending=[False, False, True]
    )
    return stats.head(n).reset_index(drop=True)


def ratings_checksum(ratings: pd.DataFrame) -> str:
    """A digest of a ratings table's users, movies and ratings, in row order.

    Checkpoints record it for the data set they were trained on and compare it at load.
    """
    digest = hashlib.sha256()
    for col, dtype in ((USER_COL, "<i8"), (ITEM_COL, "<i8"), (RATING_COL, "<f4")):
        digest.update(np.ascontiguousarray(ratings[col].to_numpy(dtype=dtype)).tobytes())
    return f"sha256:{digest.hexdigest()}"


_CHECKSUMS: dict[tuple, str] = {}


def dataset_checksum(name: str) -> str | None:
    """``ratings_checksum`` of data set ``name`` as it is here; ``None`` if it is not here.

    Never downloads; remembered per process while the parquet cache is unchanged.
    """
    ratings_pq = processed_dir() / name / "ratings.parquet"

    def key():
        return (str(ratings_pq), ratings_pq.stat().st_mtime_ns, ratings_pq.stat().st_size)

    try:
        if key() in _CHECKSUMS:  # the cache is fresh and already summed: no read
            return _CHECKSUMS[key()]
    except OSError:
        pass
    try:
        ratings = load_dataset(name, fetch=False).ratings  # refreshes a stale cache
        found = key()
    except (FileNotFoundError, KeyError, ValueError, OSError):  # unknown or not here
        return None
    _CHECKSUMS[found] = ratings_checksum(ratings)
    return _CHECKSUMS[found]
