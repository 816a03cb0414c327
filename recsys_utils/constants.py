"""Column names, paths and data set descriptions: the one place they are written.

Every other module imports these names instead of retyping strings, so a column
rename or a new MovieLens release is a change here only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

# --- column names of the tidy tables -------------------------------------------
USER_COL = "user_id"
ITEM_COL = "item_id"
RATING_COL = "rating"
TIMESTAMP_COL = "timestamp"
PREDICTION_COL = "prediction"
SCORE_COL = "score"  # a ranking model's score: orders movies, is no rating
TITLE_COL = "title"
YEAR_COL = "year"
GENRES_COL = "genres"
TAG_COL = "tag"
TAG_ID_COL = "tag_id"  # the tag genome's tag id
RELEVANCE_COL = "relevance"  # the tag genome's 0..1 relevance of a tag to a movie

RATINGS_COLUMNS = (USER_COL, ITEM_COL, RATING_COL, TIMESTAMP_COL)
RELEVANCE_THRESHOLD = 4.0  # a test rating at or above it is relevant, in every ranking figure
MOVIES_COLUMNS = (ITEM_COL, TITLE_COL, YEAR_COL, GENRES_COL)

# --- where things live -----------------------------------------------------------
PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR_ENV = "RECSYS_DATA_DIR"
MIRROR_ENV = "RECSYS_DATA_MIRROR"
GROUPLENS_URL = "https://files.grouplens.org/datasets/movielens"


def data_dir() -> Path:
    """The data folder: ``$RECSYS_DATA_DIR`` if set, else ``<project>/data``."""
    return Path(os.environ.get(DATA_DIR_ENV, PROJECT_ROOT / "data"))


def raw_dir() -> Path:
    return data_dir() / "raw"


def processed_dir() -> Path:
    return data_dir() / "processed"


def checkpoint_dir() -> Path:
    return data_dir() / "checkpoints"


def cache_dir() -> Path:
    return data_dir() / "cache"


def sweeps_dir() -> Path:
    return data_dir() / "sweeps"


def shown_path(path: str | Path) -> str:
    """``path`` as reports and messages show it: relative to the project, else to the data
    folder (``data/...``), else its last two parts; never the machine's absolute folders."""
    path = Path(path).resolve()
    for base, prefix in ((PROJECT_ROOT, ""), (data_dir().resolve(), "data/")):
        try:
            return prefix + path.relative_to(base).as_posix()
        except ValueError:
            continue
    return "/".join(path.parts[-2:])


REPORTS_DIR = PROJECT_ROOT / "reports"
NOTEBOOKS_DIR = PROJECT_ROOT / "notebooks"


# --- the MovieLens releases ---------------------------------------------------------
@dataclass(frozen=True)
class DatasetSpec:
    """How one MovieLens release is laid out and what its ratings look like.

    Attributes:
        name: the GroupLens name, also the zip's stem (``{name}.zip``).
        fmt: parser to use: ``"csv"`` (latest-small, 25m, 32m), ``"100k"`` or ``"1m"``.
        folder: the top-level folder inside the zip.
        ratings_file: ratings file name inside ``folder``.
        movies_file: movies file name inside ``folder``.
        rating_min, rating_max, rating_step: the rating scale.
        n_ratings, n_users, n_items: published sizes (``None`` where not checked).
    """

    name: str
    fmt: str
    folder: str
    ratings_file: str
    movies_file: str
    rating_min: float
    rating_max: float
    rating_step: float
    n_ratings: int | None = None
    n_users: int | None = None
    n_items: int | None = None

    @property
    def rating_scale(self) -> tuple[float, float]:
        return (self.rating_min, self.rating_max)


DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec(
            "ml-latest-small",
            "csv",
            "ml-latest-small",
            "ratings.csv",
            "movies.csv",
            0.5,
            5.0,
            0.5,
            100_836,
            610,
            9_742,
        ),
        DatasetSpec(
            "ml-100k", "100k", "ml-100k", "u.data", "u.item", 1.0, 5.0, 1.0, 100_000, 943, 1_682
        ),
        DatasetSpec(
            "ml-1m",
            "1m",
            "ml-1m",
            "ratings.dat",
            "movies.dat",
            1.0,
            5.0,
            1.0,
            1_000_209,
            6_040,
            3_706,
        ),
        DatasetSpec(
            "ml-25m",
            "csv",
            "ml-25m",
            "ratings.csv",
            "movies.csv",
            0.5,
            5.0,
            0.5,
            25_000_095,
            162_541,
            62_423,
        ),
        DatasetSpec(
            "ml-32m",
            "csv",
            "ml-32m",
            "ratings.csv",
            "movies.csv",
            0.5,
            5.0,
            0.5,
            32_000_204,
            200_948,
            87_585,
        ),
    )
}
DEFAULT_DATASET = "ml-latest-small"


def get_spec(name: str) -> DatasetSpec:
    """The spec of a named release, or a ``ValueError`` listing the known names."""
    try:
        return DATASETS[name]
    except KeyError:
        known = ", ".join(DATASETS)
        raise ValueError(f"unknown data set {name!r}; known: {known}") from None


def redact_url(text) -> str:
    """``text`` with the password (all userinfo) of every URL in it replaced by ``***``.

    ``https://user:pw@host/x`` -> ``https://***@host/x``: used in every message that
    names a mirror or storage URL, so a secret given in one is never printed.
    """
    import re

    return re.sub(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@]*@", r"\1***@", str(text))


_BIDI = frozenset(chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F))


def printable(text) -> str:
    """``text`` safe to print on a terminal line: control characters (C0, DEL, C1: escape
    sequences, newlines, tabs) and bidirectional overrides shown escaped (``\\x1b``,
    ``\\n``, ``\\u202e``) as data, never acted on. Other characters, accents and
    non-Latin scripts included, are kept."""
    import unicodedata

    text = str(text)
    if text.isprintable() and not _BIDI.intersection(text):
        return text
    out = []
    for ch in text:
        if ch in _BIDI or unicodedata.category(ch) == "Cc":
            out.append(ch.encode("unicode_escape").decode("ascii"))
        else:
            out.append(ch)
    return "".join(out)
