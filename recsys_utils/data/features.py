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

A movie the table does not hold (one nobody has rated, typed in by hand) gets its row
from `MovieFeatures.describe` (genres, tags, year, weighted as the table's own rows),
and `MovieFeatures.to_state` / `from_state` carry the table through a checkpoint
(arrays plus a JSON vocabulary, no pickle, checked when read back).

`movie_features` builds the table once and caches it beside the parquet cache
(``processed/<name>/features-<key>.npz``, no pickle); it is rebuilt whenever the movies
parquet, the ratings parquet or a raw tags / genome file is newer, the rule that
invalidates the parquet cache itself.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
import unicodedata
from dataclasses import dataclass
from functools import cached_property
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
TAG_WEIGHTINGS = ("tfidf", "count")
_FORMAT = 2  # bump when the table's layout or weighting changes: old caches are then unused
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
        tag_weighting: how the tag entries were weighed (``"tfidf"`` or ``"count"``);
            `describe` weighs a new movie's tags the same way.
    """

    matrix: sp.csr_matrix
    item_ids: np.ndarray
    names: np.ndarray
    kinds: np.ndarray
    no_features: np.ndarray
    tag_weighting: str = "tfidf"

    @property
    def n_movies(self) -> int:
        return self.matrix.shape[0]

    @property
    def n_features(self) -> int:
        return self.matrix.shape[1]

    def rows(self, item_ids) -> np.ndarray:
        """The row of each raw movie id, -1 for an id the table does not hold."""
        return self._row_index.get_indexer(np.asarray(item_ids))

    @cached_property
    def _row_index(self) -> pd.Index:
        return pd.Index(self.item_ids)

    def columns(self, kind: str) -> np.ndarray:
        """The column indices of one kind of feature."""
        return np.flatnonzero(self.kinds == kind)

    def labels(self, kind: str) -> list[str]:
        """The labels of one kind's columns, in column order (``"Horror"``, ``"zombies"``)."""
        return [str(n).split(":", 1)[1] for n in self.names[self.columns(kind)]]

    def normalised(self, rows: sp.spmatrix | None = None) -> sp.csr_matrix:
        """The matrix (or ``rows`` over its columns, e.g. from `describe`) with each kind's
        block scaled to unit L2 norm per row (an empty block stays zero), so every kind a
        movie has weighs the same in a cosine."""
        m = self.matrix if rows is None else rows.tocsr()
        if not m.has_canonical_format:  # the table's rows and describe's already are
            m = m.copy()
            m.sum_duplicates()
        row_of = np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))
        block = self._block[m.indices]
        sq = np.zeros((m.shape[0], len(KINDS)))
        np.add.at(sq, (row_of, block), m.data.astype(np.float64) ** 2)
        data = (m.data / np.sqrt(sq[row_of, block])).astype(np.float32)
        return sp.csr_matrix((data, m.indices.copy(), m.indptr.copy()), shape=m.shape)

    @cached_property
    def _block(self) -> np.ndarray:
        return pd.Index(KINDS).get_indexer(self.kinds)

    # --- a movie the table does not hold ------------------------------------------------
    def describe(self, genres=(), tags=(), year: int | None = None) -> sp.csr_matrix:
        """The feature row of a movie described by hand, weighted as the table's rows are.

        Genres and tags are matched as tags are merged (case, accents, spaces and
        punctuation aside: "sci fi" is "Sci-Fi"); each tag counts as applied by one user
        (tf = 1, so under tf-idf its weight is the tag's idf, the tag entries then scaled
        to unit norm); the year goes to its bucket. Without a year the row has no year
        entry: the table's ``year:unknown`` stands for the release's movies whose title
        carries no year (in ml-latest-small mostly 2016-2018 titles), a group of its own,
        not for a movie whose year was not given. A described movie has no genome row: the
        genome, where the release has one, scores only the movies it covers.

        Args:
            genres: genre names of the table (``"Horror"``, ``"Sci-Fi"``).
            tags: tag texts; each must be one the table kept (used by enough users).
            year: the release year, or ``None`` (no year entry).

        Returns:
            a (1, n_features) CSR row over this table's columns.

        Raises:
            ValueError: an unknown genre or tag (the message lists the closest known
                ones), a year outside ``YEAR_RANGE``, or no genre, tag or year at all (a
                movie with no features is refused, not given a zero vector).
        """
        genres, tags = _as_list(genres, "genres"), _as_list(tags, "tags")
        if not genres and not tags and year is None:
            raise ValueError(
                "a movie with no genre, no tag and no year has no features to place it "
                "by: give at least one of genres, tags, year"
            )
        cols, values = [], []
        for genre in genres:
            cols.append(self._match(genre, "genre"))
            values.append(1.0)
        tag_cols = sorted({self._match(tag, "tag") for tag in tags})
        if tag_cols:
            w = self._idf[tag_cols] if self.tag_weighting == "tfidf" else np.ones(len(tag_cols))
            if self.tag_weighting == "tfidf":
                w = w / np.linalg.norm(w)
            cols += tag_cols
            values += w.tolist()
        if year is not None:  # none given: no year entry (see the docstring)
            year = _as_year(year)
            cols.append(self._vocab["year"][year_bucket(year)])
            values.append(1.0)
        cols, first = np.unique(np.asarray(cols, np.int64), return_index=True)  # a genre twice
        data = np.asarray(values, np.float32)[first]
        return sp.csr_matrix((data, cols, [0, cols.size]), shape=(1, self.n_features))

    def _match(self, text, kind: str) -> int:
        """The column of a genre or tag typed by hand; unknown: a ValueError with the
        closest known labels."""
        key = tag_key(clean_tag(text))
        vocab = self._vocab[kind]
        if key in vocab:
            return vocab[key]
        labels = self.labels(kind)
        if not labels:
            raise ValueError(f"unknown {kind} {text!r}: this feature table has no {kind}s")
        close = difflib.get_close_matches(clean_tag(text), [clean_tag(x) for x in labels], 5, 0.6)
        by_clean = {clean_tag(x): x for x in labels}
        close = [by_clean[c] for c in close]
        if kind == "genre":
            known = ", ".join(labels)
            hint = f"did you mean {' or '.join(close)}? " if close else ""
            raise ValueError(f"unknown genre {text!r}; {hint}genres: {known}")
        hint = f"closest: {', '.join(close)}" if close else "nothing close"
        raise ValueError(
            f"unknown tag {text!r} ({hint}; {len(labels):,} tags are kept, those used by "
            f"enough users)"
        )

    @cached_property
    def _vocab(self) -> dict[str, dict[str, int]]:
        """Per kind, the merge key of each label -> its column (years by bucket label)."""
        out = {}
        for kind in KINDS:
            cols = self.columns(kind)
            labels = self.labels(kind)
            if kind == "year":
                out[kind] = dict(zip(labels, cols.tolist(), strict=True))
            else:
                out[kind] = {
                    tag_key(clean_tag(x)): int(c) for x, c in zip(labels, cols, strict=True)
                }
        return out

    @cached_property
    def _idf(self) -> np.ndarray:
        """idf of every column as the tag block was built: ln((1 + N) / (1 + df)) + 1 over
        the N movies carrying a tag (meaningful on tag columns only)."""
        tag = self.kinds[self.matrix.indices] == "tag"
        df = np.bincount(self.matrix.indices[tag], minlength=self.n_features)
        rows = np.repeat(np.arange(self.n_movies), np.diff(self.matrix.indptr))[tag]
        n_docs = np.unique(rows).size
        return np.log((1.0 + n_docs) / (1.0 + df)) + 1.0

    # --- through a checkpoint -----------------------------------------------------------
    def to_state(self) -> tuple[dict[str, np.ndarray], dict]:
        """(arrays, vocabulary): the table as numeric arrays and a JSON-able dict."""
        m = self.matrix
        arrays = {
            "data": m.data.astype(np.float32),
            "indices": m.indices.astype(np.int64),
            "indptr": m.indptr.astype(np.int64),
            "item_ids": self.item_ids.astype(np.int64),
            "no_features": self.no_features.astype(np.uint8),
        }
        vocab = {
            "names": [str(n) for n in self.names],
            "kinds": [str(k) for k in self.kinds],
            "tag_weighting": self.tag_weighting,
        }
        return arrays, vocab

    @classmethod
    def from_state(cls, arrays: dict, vocab: dict) -> MovieFeatures:
        """The table `to_state` wrote, checked: a ValueError names what does not fit."""
        need = {"data", "indices", "indptr", "item_ids", "no_features"}
        if need - set(arrays):
            raise ValueError(f"feature table lacks {sorted(need - set(arrays))}")
        if not isinstance(vocab, dict) or {"names", "kinds"} - set(vocab):
            raise ValueError("feature vocabulary lacks 'names' or 'kinds'")
        names, kinds = vocab["names"], vocab["kinds"]
        if not all(
            isinstance(x, list) and all(isinstance(v, str) for v in x) for x in (names, kinds)
        ):
            raise ValueError("feature vocabulary: 'names' and 'kinds' must be lists of strings")
        if len(names) != len(kinds):
            raise ValueError(f"feature vocabulary: {len(names)} names but {len(kinds)} kinds")
        if set(kinds) - set(KINDS):
            raise ValueError(f"feature vocabulary: unknown kinds {sorted(set(kinds) - set(KINDS))}")
        weighting = vocab.get("tag_weighting", "tfidf")
        if weighting not in TAG_WEIGHTINGS:
            raise ValueError(f"feature vocabulary: tag_weighting {weighting!r}")
        data, indices, indptr = arrays["data"], arrays["indices"], arrays["indptr"]
        ids, none = arrays["item_ids"], arrays["no_features"]
        n = ids.size
        if any(a.ndim != 1 for a in (data, indices, indptr, ids, none)):
            raise ValueError("feature table: every array must be one-dimensional")
        if (
            ids.dtype.kind not in "iu"
            or indices.dtype.kind not in "iu"
            or indptr.dtype.kind not in "iu"
        ):
            raise ValueError("feature table: ids, indices and indptr must be integers")
        if np.unique(ids).size != n:
            raise ValueError("feature table: movie ids are not unique")
        if indptr.size != n + 1 or indptr[0] != 0 or (np.diff(indptr) < 0).any():
            raise ValueError(f"feature table: indptr does not fit {n:,} movies")
        if not indptr[-1] == indices.size == data.size:
            raise ValueError("feature table: indptr, indices and data disagree in length")
        if indices.size and (indices.min() < 0 or indices.max() >= len(names)):
            raise ValueError(f"feature table: a column index outside the {len(names)} features")
        if none.size != n:
            raise ValueError(f"feature table: no_features has {none.size} rows for {n:,} movies")
        if not np.isfinite(data).all():
            raise ValueError("feature table: non-finite values")
        matrix = sp.csr_matrix(
            (data.astype(np.float32), indices.astype(np.int32), indptr), shape=(n, len(names))
        )
        return cls(matrix, ids.astype(np.int64), np.array(names), np.array(kinds),
                   none.astype(bool), weighting)  # fmt: skip


def _as_list(values, what: str) -> list[str]:
    """A list of non-empty strings from a list or one ``"a|b"``/``"a,b"`` string."""
    if values is None:
        return []
    if isinstance(values, str):
        values = re.split(r"[|,]", values)
    out = [str(v).strip() for v in values]
    return [v for v in out if v]


def _as_year(year) -> int:
    try:
        value = int(year)
    except (TypeError, ValueError):
        raise ValueError(f"year must be a whole number, got {year!r}") from None
    if value != year and not isinstance(year, str):
        raise ValueError(f"year must be a whole number, got {year!r}")
    if not YEAR_RANGE[0] <= value <= YEAR_RANGE[1]:
        raise ValueError(f"year {value} is outside {YEAR_RANGE[0]}-{YEAR_RANGE[1]}")
    return value


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
    elif weighting not in TAG_WEIGHTINGS:
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
    return MovieFeatures(
        matrix, item_ids, all_names, np.array(kinds), described == 0, tag_weighting
    )


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
                tag_weighting=np.array(features.tag_weighting),
            )
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _load(path: Path) -> MovieFeatures:
    with np.load(path, allow_pickle=False) as z:
        matrix = sp.csr_matrix((z["data"], z["indices"], z["indptr"]), shape=tuple(z["shape"]))
        return MovieFeatures(
            matrix, z["item_ids"], z["names"], z["kinds"], z["no_features"],
            str(z["tag_weighting"]),
        )  # fmt: skip


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
