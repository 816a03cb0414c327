"""Movie features from what a movie is: genres, cleaned user tags, release year, tag genome.

One sparse table per data set (`MovieFeatures`), one row per movie of the movies table
(rated or not, in its order), columns grouped by kind:

- ``genre``: multi-hot, 1 where the movie has the genre (every release).
- ``tag``: the users' tags, cleaned by `clean_tag` (Unicode accents folded, lower-cased,
  apostrophes dropped, every other run of punctuation and whitespace one space), spellings
  merged by `tag_key` ("sci-fi", "Sci Fi" and "scifi" are one tag, named by its most used
  spelling), and kept when at least ``min_tag_users`` distinct users applied it. Weighted by
  **tf-idf**: tf = distinct users who put the tag on the movie, idf = ln((1 + N) / (1 + df))
  + 1 over the N movies that carry a kept tag, df of them carrying this one; each movie's
  tag entries are then scaled to unit L2 norm. ``tag_weighting="count"`` keeps the raw
  user counts instead.
- ``year``: the release year parsed from the title (`movielens.read_movies`), one-hot in
  the buckets of `YEAR_EDGES`; a movie without a (plausible) year gets ``year:unknown``,
  a state of its own.
- ``genome``: the tag genome's relevance (0..1) of every genome tag, for the movies the
  release's genome covers (ml-25m, ml-32m).

A movie with no genre, no kept tag, no known year and no genome row is flagged in
``no_features``: its row holds only ``year:unknown``, which is not a description.

`movie_features` builds the table once and caches it beside the parquet cache
(``processed/<name>/features-<key>.npz``, no pickle); it is rebuilt whenever the movies
parquet, the ratings parquet or a raw tags / genome file is newer, the rule that
invalidates the parquet cache itself.

Length: a little over 300 lines: four kinds of feature, their one table and its cache
are one concern; a tag cleaner apart from the table it fills would be read alone.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys_utils.constants import (
    DEFAULT_DATASET,
    GENRES_COL,
    ITEM_COL,
    RELEVANCE_COL,
    TAG_COL,
    TAG_ID_COL,
    USER_COL,
    YEAR_COL,
    get_spec,
    processed_dir,
    raw_dir,
)

KINDS = ("genre", "tag", "year", "genome")
# bucket edges: "<1930", "1930s" .. "1980s", then five-year buckets where movies are dense
YEAR_EDGES = (1930, 1940, 1950, 1960, 1970, 1980, 1990, 1995, 2000, 2005, 2010, 2015, 2020)
YEAR_RANGE = (1870, 2100)  # outside it a parsed "year" is taken for part of the title
MIN_TAG_USERS = 3
_FORMAT = 1  # bump when the table's layout or weighting changes: old caches are then unused
_APOSTROPHES = re.compile(r"['\u2019`\u00b4]")
_SEPARATORS = re.compile(r"[\W_]+")


def clean_tag(text: str) -> str:
    """A tag lower-cased, accents folded, apostrophes dropped, other punctuation one space.

    >>> clean_tag("  Black-and-White ") , clean_tag("80's"), clean_tag("Amélie")
    ('black and white', '80s', 'amelie')
    """
    folded = unicodedata.normalize("NFKD", str(text))
    folded = "".join(c for c in folded if not unicodedata.combining(c)).lower()
    return _SEPARATORS.sub(" ", _APOSTROPHES.sub("", folded)).strip()


def tag_key(cleaned: str) -> str:
    """The merge key of a cleaned tag: its spaces removed ("sci fi" and "scifi" are one)."""
    return cleaned.replace(" ", "")


def year_bucket(year) -> str:
    """The bucket label of a release year: ``"<1930"``, ``"1930s"``, ``"1995-1999"``,
    ``"2020s"``; ``"unknown"`` for a missing or implausible year."""
    if year is None or pd.isna(year) or not YEAR_RANGE[0] <= int(year) <= YEAR_RANGE[1]:
        return "unknown"
    year = int(year)
    if year < YEAR_EDGES[0]:
        return f"<{YEAR_EDGES[0]}"
    i = int(np.searchsorted(YEAR_EDGES, year, side="right")) - 1
    lo = YEAR_EDGES[i]
    hi = YEAR_EDGES[i + 1] if i + 1 < len(YEAR_EDGES) else None
    return f"{lo}s" if hi is None or hi - lo == 10 else f"{lo}-{hi - 1}"


def year_labels() -> list[str]:
    """Every year bucket in order, ``unknown`` last."""
    return [year_bucket(YEAR_EDGES[0] - 1)] + [year_bucket(y) for y in YEAR_EDGES] + ["unknown"]


@dataclass(frozen=True)
class MovieFeatures:
    """A movie x feature table.

    Attributes:
        matrix: CSR (n_movies, n_features) float32, rows in ``item_ids`` order.
        item_ids: raw movie ids, one per row.
        names: one per column, ``"<kind>:<label>"`` (``"genre:Drama"``, ``"tag:dark comedy"``).
        kinds: one per column, from `KINDS`.
        no_features: True for a movie with no genre, kept tag, known year or genome row.
    """

    matrix: sp.csr_matrix
    item_ids: np.ndarray
    names: np.ndarray
    kinds: np.ndarray
    no_features: np.ndarray

    @property
    def n_movies(self) -> int:
        return self.matrix.shape[0]

    def rows(self, item_ids) -> np.ndarray:
        """The row of each raw movie id, -1 for an id the table does not hold."""
        return pd.Index(self.item_ids).get_indexer(np.asarray(item_ids))

    def columns(self, kind: str) -> np.ndarray:
        """The column indices of one kind of feature."""
        return np.flatnonzero(self.kinds == kind)

    def normalised(self) -> sp.csr_matrix:
        """The matrix with each kind's block scaled to unit L2 norm per row (an empty block
        stays zero), so every kind a movie has weighs the same in a cosine."""
        m = self.matrix.tocoo()
        block = pd.Index(KINDS).get_indexer(self.kinds)[m.col]
        sq = np.zeros((m.shape[0], len(KINDS)))
        np.add.at(sq, (m.row, block), m.data.astype(np.float64) ** 2)
        scale = 1.0 / np.sqrt(sq[m.row, block])
        return sp.csr_matrix(((m.data * scale).astype(np.float32), (m.row, m.col)), m.shape)


def _tag_block(tags: pd.DataFrame, item_ids: np.ndarray, min_users: int, weighting: str):
    tags = tags[tags[ITEM_COL].isin(item_ids)]
    spelled = pd.Series(tags[TAG_COL].unique())
    cleaned = dict(zip(spelled, spelled.map(clean_tag), strict=True))
    table = pd.DataFrame(
        {USER_COL: tags[USER_COL].to_numpy(), ITEM_COL: tags[ITEM_COL].to_numpy()}
    ).assign(cleaned=tags[TAG_COL].map(cleaned).to_numpy())
    table = table[table["cleaned"] != ""]
    table["key"] = table["cleaned"].map(tag_key)
    # a merged tag is named by its most used spelling (ties: the alphabetically first)
    spelling = table.groupby(["key", "cleaned"]).size().reset_index(name="n")
    spelling = spelling.sort_values(["key", "n", "cleaned"], ascending=[True, False, True])
    label = spelling.drop_duplicates("key").set_index("key")["cleaned"]
    n_users = table.groupby("key")[USER_COL].nunique()
    kept = np.sort(n_users.index[n_users >= min_users].to_numpy())
    table = table[table["key"].isin(kept)]
    tf = table.groupby([ITEM_COL, "key"])[USER_COL].nunique().reset_index(name="tf")
    rows = pd.Index(item_ids).get_indexer(tf[ITEM_COL])
    cols = pd.Index(kept).get_indexer(tf["key"])
    values = tf["tf"].to_numpy(np.float64)
    if weighting == "tfidf":
        df = np.bincount(cols, minlength=kept.size)
        n_docs = np.unique(rows).size
        values = values * (np.log((1.0 + n_docs) / (1.0 + df[cols])) + 1.0)
        norms = np.sqrt(np.bincount(rows, weights=values**2, minlength=item_ids.size))
        values = values / norms[rows]
    elif weighting != "count":
        raise ValueError(f"tag_weighting must be 'tfidf' or 'count', not {weighting!r}")
    names = [f"tag:{label[k]}" for k in kept]
    return rows, cols, values, names


def _genome_block(genome, item_ids: np.ndarray):
    scores, genome_tags = genome
    tag_ids = np.sort(genome_tags[TAG_ID_COL].to_numpy())
    named = genome_tags.set_index(TAG_ID_COL)[TAG_COL]
    rows = pd.Index(item_ids).get_indexer(scores[ITEM_COL])
    cols = pd.Index(tag_ids).get_indexer(scores[TAG_ID_COL])
    keep = (rows >= 0) & (cols >= 0)
    values = scores[RELEVANCE_COL].to_numpy(np.float64)[keep]
    return rows[keep], cols[keep], values, [f"genome:{named[t]}" for t in tag_ids]


def build_features(
    movies: pd.DataFrame,
    tags: pd.DataFrame | None = None,
    genome: tuple[pd.DataFrame, pd.DataFrame] | None = None,
    *,
    min_tag_users: int = MIN_TAG_USERS,
    tag_weighting: str = "tfidf",
) -> MovieFeatures:
    """The feature table of a movies table (see the module docstring for each kind).

    Args:
        movies: the tidy movies table (item_id, title, year, genres).
        tags: ``load_tags``'s table (user_id, item_id, tag), or ``None``.
        genome: ``load_genome``'s ``(scores, tags)``, or ``None``.
        min_tag_users: a merged tag is kept when at least this many distinct users used it.
        tag_weighting: ``"tfidf"`` (default) or ``"count"``.
    """
    item_ids = movies[ITEM_COL].to_numpy(np.int64)
    genre_lists = movies[GENRES_COL].tolist()
    genres = sorted({g for gs in genre_lists for g in gs})
    g_rows = np.repeat(np.arange(len(genre_lists)), [len(gs) for gs in genre_lists])
    g_cols = pd.Index(genres).get_indexer([g for gs in genre_lists for g in gs])
    blocks = [(g_rows, g_cols, np.ones(g_rows.size), [f"genre:{g}" for g in genres], "genre")]
    if tags is not None and len(tags):
        *block, names = _tag_block(tags, item_ids, min_tag_users, tag_weighting)
        blocks.append((*block, names, "tag"))
    labels = year_labels()
    buckets = [year_bucket(y) for y in movies[YEAR_COL].tolist()]
    y_cols = pd.Index(labels).get_indexer(buckets)
    blocks.append(
        (
            np.arange(item_ids.size),
            y_cols,
            np.ones(item_ids.size),
            [f"year:{b}" for b in labels],
            "year",
        )
    )
    if genome is not None:
        *block, names = _genome_block(genome, item_ids)
        blocks.append((*block, names, "genome"))

    rows, cols, values, all_names, kinds, offset = [], [], [], [], [], 0
    for r, c, v, names, kind in blocks:
        rows.append(r)
        cols.append(np.asarray(c) + offset)
        values.append(v)
        all_names += names
        kinds += [kind] * len(names)
        offset += len(names)
    matrix = sp.csr_matrix(
        (np.concatenate(values).astype(np.float32), (np.concatenate(rows), np.concatenate(cols))),
        shape=(item_ids.size, offset),
    )
    matrix.sum_duplicates()
    matrix.eliminate_zeros()
    all_names = np.array(all_names)
    coo = matrix.tocoo()
    described = np.bincount(coo.row[all_names[coo.col] != "year:unknown"], minlength=item_ids.size)
    return MovieFeatures(matrix, item_ids, all_names, np.array(kinds), described == 0)


# --- the cache ---------------------------------------------------------------------
def _save(features: MovieFeatures, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    m = features.matrix
    try:
        with open(tmp, "wb") as fh:
            np.savez(
                fh,
                data=m.data,
                indices=m.indices,
                indptr=m.indptr,
                shape=np.array(m.shape),
                item_ids=features.item_ids,
                names=features.names,
                kinds=features.kinds,
                no_features=features.no_features,
            )
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _load(path: Path) -> MovieFeatures:
    with np.load(path, allow_pickle=False) as z:
        matrix = sp.csr_matrix((z["data"], z["indices"], z["indptr"]), shape=tuple(z["shape"]))
        return MovieFeatures(matrix, z["item_ids"], z["names"], z["kinds"], z["no_features"])


def features_path(name: str, **params) -> Path:
    """Where `movie_features` caches the table of ``name`` built with ``params``."""
    key = json.dumps({"format": _FORMAT, **params}, sort_keys=True)
    return processed_dir() / name / f"features-{hashlib.sha1(key.encode()).hexdigest()[:10]}.npz"


def movie_features(
    name: str = DEFAULT_DATASET,
    *,
    min_tag_users: int = MIN_TAG_USERS,
    tag_weighting: str = "tfidf",
    genome: bool = True,
    fetch: bool = True,
) -> MovieFeatures:
    """The feature table of a release: from the cache when fresh, else built and cached.

    Args:
        name: a key of ``constants.DATASETS``.
        min_tag_users, tag_weighting: as in `build_features`.
        genome: use the tag genome where the release has one.
        fetch: as in ``load_dataset``.
    """
    from recsys_utils.data.movielens import _cache_is_fresh, load_dataset
    from recsys_utils.data.tags import (
        GENOME_SCORES_FILE,
        GENOME_TAGS_FILE,
        load_genome,
        load_tags,
    )

    dataset = load_dataset(name, fetch=fetch)  # rewrites the parquet cache when it is stale
    params = {"min_tag_users": min_tag_users, "tag_weighting": tag_weighting, "genome": genome}
    path = features_path(name, **params)
    parquet = processed_dir() / name
    raw = raw_dir() / name / get_spec(name).folder
    sources = (
        parquet / "movies.parquet",
        parquet / "ratings.parquet",
        raw / "tags.csv",
        raw / GENOME_SCORES_FILE,
        raw / GENOME_TAGS_FILE,
    )
    if _cache_is_fresh((path,), sources):
        return _load(path)
    features = build_features(
        dataset.movies,
        load_tags(name),
        load_genome(name) if genome else None,
        min_tag_users=min_tag_users,
        tag_weighting=tag_weighting,
    )
    _save(features, path)
    return features
