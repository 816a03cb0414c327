"""Synthetic MovieLens-format ratings at any size, for scale tests and benchmarks.

The large releases (ml-25m, ml-32m) cannot be downloaded everywhere, so this module
makes data of the same shape: power-law user activity (Lomax-distributed counts) and
movie popularity (Zipf weights), ratings from a low-rank model plus noise,

    r(u,i) = round_to_half(mu + b_u + b_i + p_u . q_i + eps),  clipped to [0.5, 5],

and timestamps spread after a per-user start date. Every (user, movie) pair occurs at
most once and rows come sorted by user then movie, as in ml-25m's ``ratings.csv``.

Ratings are produced in blocks of about ``BLOCK_RATINGS`` rows, each block from its own
seeded generator, so the in-memory table (``generate_ratings``) and the streamed zip
(``write_zip``) hold exactly the same rows, and writing 32M ratings never holds more
than one block in memory.

A release can also carry a tag genome (``genome-scores.csv``, ``genome-tags.csv`` in the
real files' format, `genome_tables`): relevance follows the movie's latent factors, so
movies with similar genome rows are rated alike.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from recsys_utils.constants import ITEM_COL, RATING_COL, TIMESTAMP_COL, USER_COL

BLOCK_RATINGS = 1_000_000
RATING_MIN, RATING_MAX, RATING_STEP = 0.5, 5.0, 0.5
T_START, T_END = 820_454_400, 1_700_000_000  # 1996-01-01 .. 2023-11
GENRES = (
    "Action",
    "Adventure",
    "Animation",
    "Children",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "IMAX",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
)
RATINGS_HEADER = b"userId,movieId,rating,timestamp\n"
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed, so the same seed gives the same zip bytes


@dataclass(frozen=True)
class SyntheticConfig:
    """Sizes and shape of a synthetic release. Defaults mimic ml-25m.

    Attributes:
        n_ratings: exact number of ratings.
        n_users: users, raw ids ``1..n_users`` (each rates at least ``min_user_ratings``).
        n_items: movies, with sparse raw ids below ``3 * n_items`` as in MovieLens.
        rank: width of the low-rank signal.
        noise: standard deviation of the Gaussian noise before rounding.
        user_alpha: Lomax shape of per-user counts (smaller: heavier tail).
        item_exponent: Zipf exponent of movie popularity.
        min_user_ratings: floor on each user's count (lowered if ``n_ratings`` is small).
        seed: everything follows from it.
    """

    n_ratings: int = 25_000_000
    n_users: int = 160_000
    n_items: int = 60_000
    rank: int = 8
    noise: float = 0.5
    user_alpha: float = 1.3
    item_exponent: float = 1.0
    min_user_ratings: int = 20
    seed: int = 0

    def __post_init__(self):
        if min(self.n_ratings, self.n_users, self.n_items, self.rank) < 1:
            raise ValueError("n_ratings, n_users, n_items and rank must be positive")
        if self.n_ratings > self.n_users * self.max_per_user:
            raise ValueError(
                f"{self.n_ratings:,} ratings do not fit: {self.n_users:,} users can "
                f"rate at most {self.max_per_user:,} movies each; add users or movies"
            )

    @property
    def max_per_user(self) -> int:
        """Cap on one user's count (half the catalogue; ml-25m's busiest user rated 54%)."""
        return max(1, self.n_items // 2)


def _rng(cfg: SyntheticConfig, *stream: int) -> np.random.Generator:
    return np.random.default_rng([cfg.seed, *stream])


def user_counts(cfg: SyntheticConfig) -> np.ndarray:
    """Ratings per user: a floor plus a Lomax (power-law) share; sums to ``n_ratings``."""
    rng = _rng(cfg, 0)
    floor = min(cfg.min_user_ratings, cfg.n_ratings // cfg.n_users, cfg.max_per_user)
    counts = np.full(cfg.n_users, floor, dtype=np.int64)
    share = rng.pareto(cfg.user_alpha, cfg.n_users) + 1e-9
    left = cfg.n_ratings - counts.sum()
    while left > 0:  # hand out the rest by share; capped users drop out and the rest refill
        room = cfg.max_per_user - counts
        w = np.where(room > 0, share, 0.0)
        want = left * w / w.sum()
        add = np.minimum(np.floor(want).astype(np.int64), room)
        if add.sum() == 0:  # the remainder: one each to the largest fractional parts
            order = np.argsort(-(want - np.floor(want)) - (room > 0) * 1.0, kind="stable")
            add = np.zeros_like(counts)
            add[order[:left]] = 1
            add = np.minimum(add, room)
        counts += add
        left -= int(add.sum())
    return counts


def _latent(cfg: SyntheticConfig) -> dict:
    """Factors, biases, movie ids, popularity and per-user start times."""
    rng = _rng(cfg, 1)
    scale = (0.35 / cfg.rank) ** 0.25  # p.q has variance ~0.35
    item_ids = np.sort(rng.choice(np.arange(1, 3 * cfg.n_items + 1), cfg.n_items, replace=False))
    pop = np.empty(cfg.n_items)
    pop[rng.permutation(cfg.n_items)] = (np.arange(cfg.n_items) + 10.0) ** -cfg.item_exponent
    return {
        "p": rng.normal(0, scale, (cfg.n_users, cfg.rank)).astype(np.float32),
        "q": rng.normal(0, scale, (cfg.n_items, cfg.rank)).astype(np.float32),
        "b_u": rng.normal(0, 0.35, cfg.n_users).astype(np.float32),
        "b_i": rng.normal(0, 0.45, cfg.n_items).astype(np.float32),
        "item_ids": item_ids.astype(np.int32),
        "cdf": np.cumsum(pop) / pop.sum(),
        "start": rng.integers(T_START, T_END - 86_400 * 365, cfg.n_users),
    }


def _distinct_items(rng, counts: np.ndarray, cdf: np.ndarray, n_items: int):
    """For each user of a block, ``counts[u]`` distinct movies drawn by popularity.

    Draws with replacement, drops repeats, and redraws the shortfall; after a few
    rounds the shortfall is drawn uniformly so heavy users finish quickly.
    Returns (local user index, item index), sorted by user then item.
    """
    keys = np.zeros(0, dtype=np.int64)
    need = counts.copy()
    for round_ in range(64):
        if not need.any():
            break
        users = np.repeat(np.arange(counts.size), need)
        if round_ < 4:
            items = np.minimum(np.searchsorted(cdf, rng.random(users.size)), n_items - 1)
        else:
            items = rng.integers(0, n_items, users.size)
        keys = _sorted_unique(np.concatenate([keys, users * n_items + items]))
        need = counts - np.bincount(keys // n_items, minlength=counts.size)
    else:  # pragma: no cover - the cap of half the catalogue makes this unreachable
        raise RuntimeError("could not draw distinct movies")
    return keys // n_items, keys % n_items


def _sorted_unique(x: np.ndarray) -> np.ndarray:
    """Sorted distinct values (numpy 2's hash-based ``np.unique`` is slow on these keys)."""
    x = np.sort(x)
    return x[np.concatenate([[True], x[1:] != x[:-1]])] if x.size else x


def _blocks(counts: np.ndarray) -> list[tuple[int, int]]:
    """User ranges [a, b) holding about ``BLOCK_RATINGS`` ratings each."""
    ends = np.cumsum(counts)
    cuts = np.searchsorted(ends, np.arange(BLOCK_RATINGS, ends[-1], BLOCK_RATINGS), side="right")
    edges = np.unique(np.concatenate([[0], cuts, [counts.size]]))
    return list(zip(edges[:-1].tolist(), edges[1:].tolist(), strict=True))


def iter_ratings(cfg: SyntheticConfig) -> Iterator[pd.DataFrame]:
    """Tidy ratings blocks (``user_id, item_id, rating, timestamp``), users in order."""
    counts, lat = user_counts(cfg), _latent(cfg)
    for k, (a, b) in enumerate(_blocks(counts)):
        rng = _rng(cfg, 2, k)
        lu, it = _distinct_items(rng, counts[a:b], lat["cdf"], cfg.n_items)
        u = lu + a
        signal = lat["b_u"][u] + lat["b_i"][it] + np.einsum("ij,ij->i", lat["p"][u], lat["q"][it])
        raw = 3.55 + signal + rng.normal(0, cfg.noise, u.size)
        rating = np.clip(np.round(raw / RATING_STEP) * RATING_STEP, RATING_MIN, RATING_MAX)
        span = rng.exponential(86_400 * 200, u.size).astype(np.int64)
        yield pd.DataFrame(
            {
                USER_COL: (u + 1).astype(np.int32),
                ITEM_COL: lat["item_ids"][it],
                RATING_COL: rating.astype(np.float32),
                TIMESTAMP_COL: np.minimum(lat["start"][u] + span, T_END).astype(np.int64),
            }
        )


def generate_ratings(cfg: SyntheticConfig | None = None, **kw) -> pd.DataFrame:
    """The whole synthetic ratings table in memory (the tidy layout, compact dtypes).

    Args:
        cfg: a ``SyntheticConfig``; or give its fields as keywords.
    """
    cfg = cfg or SyntheticConfig(**kw)
    return pd.concat(list(iter_ratings(cfg)), ignore_index=True)


def movies_table(cfg: SyntheticConfig) -> pd.DataFrame:
    """``movies.csv`` rows: movieId, title (with a year), genres joined by ``|``."""
    rng = _rng(cfg, 3)
    ids = _latent(cfg)["item_ids"]
    years = rng.integers(1920, 2024, ids.size)
    n_genres = rng.integers(0, 4, ids.size)
    picks = rng.random((ids.size, len(GENRES))).argsort(axis=1)
    genres = [
        "|".join(GENRES[g] for g in sorted(row[:k])) or "(no genres listed)"
        for row, k in zip(picks, n_genres, strict=True)
    ]
    titles = [f"Synthetic Movie {m} ({y})" for m, y in zip(ids, years, strict=True)]
    return pd.DataFrame({"movieId": ids, "title": titles, "genres": genres})


GENOME_NAMES = ("007", "18th century", "sci-fi", "based on a book", "dark comedy", "twist ending")


def genome_tables(cfg: SyntheticConfig, n_tags: int, share: float = 0.5):
    """A tag genome in the real files' layout: ``(scores, tags)`` tables with the columns
    movieId, tagId, relevance and tagId, tag.

    A seeded ``share`` of the movies is covered, each with every tag, as in ml-25m;
    relevance(i, t) = sigmoid(q_i . w_t - 2) for a random direction w_t per tag.
    """
    rng = _rng(cfg, 4)
    lat = _latent(cfg)
    covered = np.sort(rng.permutation(cfg.n_items)[: int(round(share * cfg.n_items))])
    w = rng.normal(0, 1, (cfg.rank, n_tags))
    relevance = 1 / (1 + np.exp(2 - lat["q"][covered] @ w))
    names = [GENOME_NAMES[t] if t < len(GENOME_NAMES) else f"tag {t + 1}" for t in range(n_tags)]
    scores = pd.DataFrame(
        {
            "movieId": np.repeat(lat["item_ids"][covered], n_tags),
            "tagId": np.tile(np.arange(1, n_tags + 1), covered.size),
            "relevance": relevance.ravel(),
        }
    )
    return scores, pd.DataFrame({"tagId": np.arange(1, n_tags + 1), "tag": names})


def _csv_block(df: pd.DataFrame) -> bytes:
    """A ratings block as MovieLens CSV lines (``4.0``, not ``4``), via pyarrow for speed."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    labels = pa.array([f"{x:.1f}" for x in np.arange(RATING_MIN, RATING_MAX + 0.01, RATING_STEP)])
    codes = np.round((df[RATING_COL].to_numpy() - RATING_MIN) / RATING_STEP).astype(np.int8)
    table = pa.table(
        {
            "u": df[USER_COL].to_numpy(),
            "i": df[ITEM_COL].to_numpy(),
            "r": pa.DictionaryArray.from_arrays(pa.array(codes), labels),
            "t": df[TIMESTAMP_COL].to_numpy(),
        }
    )
    out = io.BytesIO()
    pacsv.write_csv(table, out, pacsv.WriteOptions(include_header=False, quoting_style="none"))
    return out.getvalue()


def _entry(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info._compresslevel = 1  # speed over size: 32M rows compress in seconds, not minutes
    info.external_attr = 0o644 << 16
    return info


def write_zip(
    path: str | Path,
    cfg: SyntheticConfig | None = None,
    name: str = "ml-25m",
    genome_tags: int = 0,
    **kw,
) -> Path:
    """Write a MovieLens-format zip: ``{name}/ratings.csv`` and ``{name}/movies.csv``.

    Ratings are streamed block by block into the zip, so memory stays at one block
    whatever the size. The same config gives the same bytes.

    Args:
        path: the zip file to write (its folder is created).
        cfg: a ``SyntheticConfig``; or give its fields as keywords.
        name: the top-level folder inside the zip (``ml-25m`` matches that release).
        genome_tags: with more than 0, also ``genome-scores.csv`` and ``genome-tags.csv``
            holding this many genome tags (`genome_tables`).
    """
    cfg = cfg or SyntheticConfig(**kw)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        folder = zipfile.ZipInfo(f"{name}/", date_time=_ZIP_TIME)
        folder.external_attr = 0o40755 << 16 | 0x10
        zf.writestr(folder, b"")
        with zf.open(_entry(f"{name}/ratings.csv"), "w", force_zip64=True) as fh:
            fh.write(RATINGS_HEADER)
            for block in iter_ratings(cfg):
                fh.write(_csv_block(block))
        with zf.open(_entry(f"{name}/movies.csv"), "w") as fh:
            fh.write(movies_table(cfg).to_csv(index=False, lineterminator="\n").encode("utf-8"))
        if genome_tags > 0:
            scores, tags = genome_tables(cfg, genome_tags)
            for file, table, fmt in (("scores", scores, "%.5f"), ("tags", tags, None)):
                text = table.to_csv(index=False, lineterminator="\n", float_format=fmt)
                zf.writestr(_entry(f"{name}/genome-{file}.csv"), text.encode("utf-8"))
    return path


def write_mirror(
    folder: str | Path,
    cfg: SyntheticConfig | None = None,
    name: str = "ml-25m",
    genome_tags: int = 0,
    **kw,
) -> Path:
    """A mirror folder (``{name}.zip`` + ``{name}.zip.md5``) for ``$RECSYS_DATA_MIRROR``.

    With it, ``data.load_dataset(name)`` runs the real fetch, extract, parse and cache
    path on synthetic data. Returns the folder.
    """
    folder = Path(folder)
    zip_path = write_zip(folder / f"{name}.zip", cfg, name=name, genome_tags=genome_tags, **kw)
    digest = hashlib.md5()
    with open(zip_path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    (folder / f"{name}.zip.md5").write_text(f"MD5 ({name}.zip) = {digest.hexdigest()}\n")
    return folder
