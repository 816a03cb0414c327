"""Train / validation / test splits: random, per-user temporal, leave-last-k; save and load.

Every split starts from the table sorted by (user, movie, timestamp), so the result
depends only on the ratings and the seed, never on row order or hashing: the same seed
gives the same split on any machine (numpy ``Generator(PCG64(seed))``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

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


def save_split(split: Split, name: str) -> None:
    """Store the three parts as parquet and the train id maps as JSON in ``processed_dir()/name``.

    Each file is written to a temp name and renamed, so a reader never sees half a file.
    """
    from recsys_utils.data.movielens import (
        write_parquet,  # data imports download; keep splits light
    )

    folder = processed_dir() / name
    for part in _PARTS:
        write_parquet(getattr(split, part), folder / f"{part}.parquet")
    maps = {
        "user_ids": IdMap.from_values(split.train[USER_COL]).to_list(),
        "item_ids": IdMap.from_values(split.train[ITEM_COL]).to_list(),
    }
    tmp = folder / ".id_maps.json.tmp"
    tmp.write_text(json.dumps(maps))
    tmp.replace(folder / "id_maps.json")


def load_split(name: str) -> Split:
    """The split saved by ``save_split(split, name)``."""
    folder = processed_dir() / name
    missing = [p for p in _PARTS if not (folder / f"{p}.parquet").is_file()]
    if missing:
        raise FileNotFoundError(
            f"{folder}: no saved split ({', '.join(missing)} missing); "
            "run notebook 01_data_cleaning first"
        )
    return Split(*(pd.read_parquet(folder / f"{p}.parquet") for p in _PARTS))


def load_id_maps(name: str) -> tuple[IdMap, IdMap]:
    """The (user, movie) id maps of the train part saved by ``save_split``."""
    maps = json.loads((processed_dir() / name / "id_maps.json").read_text())
    return IdMap.from_list(maps["user_ids"]), IdMap.from_list(maps["item_ids"])
