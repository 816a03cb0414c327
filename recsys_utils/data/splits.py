"""Train / validation / test splits: random, per-user temporal, leave-last-k; save and load.

Every split starts from the table sorted by (user, movie, timestamp), so the result
depends only on the ratings and the seed, never on row order or hashing: the same seed
gives the same split on any machine (numpy ``Generator(PCG64(seed))``).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from recsys_utils.constants import ITEM_COL, TIMESTAMP_COL, USER_COL, processed_dir
from recsys_utils.data.encoding import IdMap

_PARTS = ("train", "valid", "test")


@dataclass(frozen=True)
class Split:
    """Three disjoint tidy ratings tables that together hold every input rating."""

    train: pd.DataFrame
    valid: pd.DataFrame
    test: pd.DataFrame

    def sizes(self) -> dict[str, int]:
        return {f"n_{p}": len(getattr(self, p)) for p in _PARTS}


def _canonical(ratings: pd.DataFrame) -> pd.DataFrame:
    keys = [USER_COL, ITEM_COL, TIMESTAMP_COL]
    return ratings.sort_values(keys, kind="mergesort").reset_index(drop=True)


def _check_fracs(valid_frac: float, test_frac: float) -> None:
    if not (0 <= valid_frac < 1 and 0 <= test_frac < 1 and valid_frac + test_frac < 1):
        raise ValueError(
            f"valid_frac={valid_frac} and test_frac={test_frac} must be >= 0 and sum to < 1"
        )


def _from_labels(table: pd.DataFrame, labels: np.ndarray) -> Split:
    """labels: 0 train, 1 valid, 2 test, aligned with ``table`` rows."""
    parts = [table[labels == k].reset_index(drop=True) for k in range(3)]
    return Split(*parts)


def random_split(
    ratings: pd.DataFrame, valid_frac: float = 0.1, test_frac: float = 0.1, seed: int = 42
) -> Split:
    """Shuffle all ratings with ``seed``; ``round(n*test_frac)`` go to test, then valid.

    Users or movies may end up only in valid/test: see ``count_cold`` and the
    fallback policy in ``encoding``.
    """
    _check_fracs(valid_frac, test_frac)
    table = _canonical(ratings)
    n = len(table)
    n_test, n_valid = round(n * test_frac), round(n * valid_frac)
    perm = np.random.Generator(np.random.PCG64(seed)).permutation(n)
    labels = np.zeros(n, dtype=np.int8)
    labels[perm[:n_test]] = 2
    labels[perm[n_test : n_test + n_valid]] = 1
    return _from_labels(table, labels)


def _rank_from_end(table: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Per row: its position from the user's latest rating (0 = latest), and the user's count.

    Ties on the timestamp are broken by movie id, so the order is total.
    """
    order = table.sort_values([USER_COL, TIMESTAMP_COL, ITEM_COL], kind="mergesort")
    by_user = order.groupby(USER_COL, sort=False)
    rank = by_user.cumcount(ascending=False).reindex(table.index).to_numpy()
    count = by_user[ITEM_COL].transform("size").reindex(table.index).to_numpy()
    return rank, count


PROTOCOL_SEED = 42  # the rating protocol's split seed (benchmarks, sweeps, ``train``)


def protocol_split(ratings: pd.DataFrame, seed: int = PROTOCOL_SEED) -> Split:
    """The rating protocol's split: 10% test holdout, then 10% of the whole for validation.

    The one split behind ``bench peers``, the sweeps and ``train``, so their RMSEs compare.
    """
    return random_split(ratings, valid_frac=0.1, test_frac=0.1, seed=seed)


def temporal_split(ratings: pd.DataFrame, valid_frac: float = 0.1, test_frac: float = 0.1) -> Split:
    """Per user: the latest ``floor(n*test_frac)`` ratings go to test, the ``floor(n*valid_frac)``
    before them to valid, the rest to train (every user keeps at least one train rating)."""
    _check_fracs(valid_frac, test_frac)
    table = _canonical(ratings)
    rank, count = _rank_from_end(table)
    n_test = np.floor(count * test_frac).astype(np.int64)
    n_valid = np.floor(count * valid_frac).astype(np.int64)
    labels = np.where(rank < n_test, 2, np.where(rank < n_test + n_valid, 1, 0)).astype(np.int8)
    return _from_labels(table, labels)


def leave_last_k(ratings: pd.DataFrame, k: int = 1, valid_k: int | None = None) -> Split:
    """Per user: the last ``k`` ratings to test, the ``valid_k`` (default ``k``) before to valid.

    A user always keeps at least one train rating: with ``n`` ratings, test takes
    ``min(k, n-1)`` and valid ``min(valid_k, n-1-test)``.
    """
    valid_k = k if valid_k is None else valid_k
    if k < 0 or valid_k < 0:
        raise ValueError(f"k={k} and valid_k={valid_k} must be >= 0")
    table = _canonical(ratings)
    rank, count = _rank_from_end(table)
    n_test = np.minimum(k, count - 1)
    n_valid = np.minimum(valid_k, count - 1 - n_test)
    labels = np.where(rank < n_test, 2, np.where(rank < n_test + n_valid, 1, 0)).astype(np.int8)
    return _from_labels(table, labels)


def cold_mask(train: pd.DataFrame, part: pd.DataFrame) -> np.ndarray:
    """True for rows of ``part`` whose user or movie never appears in ``train``."""
    users = part[USER_COL].isin(train[USER_COL].unique())
    items = part[ITEM_COL].isin(train[ITEM_COL].unique())
    return ~(users & items).to_numpy()


def count_cold(split: Split) -> dict[str, int]:
    """How many valid and test ratings have a user or movie unseen in train (the fallback)."""
    return {p: int(cold_mask(split.train, getattr(split, p)).sum()) for p in ("valid", "test")}


def split_path(name: str, seed: int | None = None) -> Path:
    """The one file that holds a saved split: the latest of ``name``, or that of ``seed``."""
    folder = processed_dir() / name
    return folder / ("split.parquet" if seed is None else f"split-seed{int(seed)}.parquet")


def save_split(split: Split, name: str, seed: int | None = None) -> Path:
    """Store the three parts and the train id maps in one parquet file under ``processed_dir()/name``.

    One file (a ``part`` column; the id maps in its metadata) written to a temp name and
    renamed: a reader sees the whole split of one writer, never parts of two. With
    ``seed``, the split is kept as ``split-seed<seed>.parquet`` too, so two runs with
    different seeds at once each read back their own (``load_split(name, seed)``).
    Returns the file ``load_split(name)`` reads. A folder that cannot be written is a
    one-line ``DataError`` naming it.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from recsys_utils.data.validation import DataError

    parts = [getattr(split, p).assign(part=np.int8(k)) for k, p in enumerate(_PARTS)]
    table = pa.Table.from_pandas(pd.concat(parts, ignore_index=True), preserve_index=False)
    maps = {
        "user_ids": IdMap.from_values(split.train[USER_COL]).to_list(),
        "item_ids": IdMap.from_values(split.train[ITEM_COL]).to_list(),
    }
    meta = {**(table.schema.metadata or {}), _MAPS_KEY: json.dumps(maps).encode()}
    table = table.replace_schema_metadata(meta)
    targets = [split_path(name)] + ([split_path(name, seed)] if seed is not None else [])
    folder = targets[0].parent
    tmp = folder / f".split.{os.getpid()}.{id(split)}.tmp"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, tmp)
        for target in targets[1:]:
            os.link(tmp, target.with_name(target.name + f".{os.getpid()}.tmp"))
            os.replace(target.with_name(target.name + f".{os.getpid()}.tmp"), target)
        os.replace(tmp, targets[0])
    except OSError as err:
        raise DataError(
            f"{err.filename or folder}: cannot write the split ({err.strerror or err})"
        ) from None
    finally:
        tmp.unlink(missing_ok=True)
        for target in targets[1:]:
            target.with_name(target.name + f".{os.getpid()}.tmp").unlink(missing_ok=True)
    return targets[0]


_MAPS_KEY = b"recsys.id_maps"


def load_split(name: str, seed: int | None = None) -> Split:
    """The split saved by ``save_split(split, name[, seed])``: the latest, or ``seed``'s."""
    path = split_path(name, seed)
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: no saved split; run notebook 01_data_cleaning first"
            + (f" with SEED = {seed}" if seed is not None else "")
        )
    with path.open("rb") as fh:  # one open: a rename by a writer cannot switch files midway
        table = pd.read_parquet(fh)
    parts = (
        table[table["part"] == k].drop(columns="part").reset_index(drop=True)
        for k in range(len(_PARTS))
    )
    return Split(*parts)


def load_id_maps(name: str, seed: int | None = None) -> tuple[IdMap, IdMap]:
    """The (user, movie) id maps of the train part saved with the split (same file)."""
    import pyarrow.parquet as pq

    path = split_path(name, seed)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no saved split; run notebook 01_data_cleaning first")
    with path.open("rb") as fh:
        maps = json.loads(pq.read_schema(fh).metadata[_MAPS_KEY])
    return IdMap.from_list(maps["user_ids"]), IdMap.from_list(maps["item_ids"])
