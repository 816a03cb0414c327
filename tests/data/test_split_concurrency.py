"""Two processes saving the split of one data set with different seeds while a third reads:
every read is one writer's whole split (before: 16 of 63 loads mixed two seeds, so train
and test overlapped), and each seed's own file reads back that seed's split."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

from recsys_utils.data import splits
from recsys_utils.data.validation import DataError

WRITER = textwrap.dedent(
    """
    import sys, numpy as np, pandas as pd
    from recsys_utils.data import splits
    ratings = pd.read_parquet(sys.argv[1])
    split = splits.random_split(ratings, 0.2, 0.2, seed=int(sys.argv[2]))
    for _ in range(int(sys.argv[3])):
        splits.save_split(split, "race", seed=int(sys.argv[2]))
    """
)


@pytest.fixture
def ratings(tmp_path):
    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {
            "user_id": rng.integers(1, 200, 3000).astype("int32"),
            "item_id": rng.integers(1, 300, 3000).astype("int32"),
            "rating": (rng.integers(1, 11, 3000) / 2).astype("float32"),
            "timestamp": np.arange(3000, dtype="int64"),
        }
    ).drop_duplicates(["user_id", "item_id"], ignore_index=True)
    path = tmp_path / "ratings.parquet"
    df.to_parquet(path)
    return df, path


def _key(part: pd.DataFrame) -> frozenset:
    return frozenset(zip(part["user_id"], part["item_id"], strict=True))


def test_concurrent_seeds_never_mix_and_each_seed_reads_its_own(data_home, ratings):
    df, path = ratings
    expected = {s: splits.random_split(df, 0.2, 0.2, seed=s) for s in (1, 2)}
    keys = {s: tuple(_key(getattr(sp, p)) for p in ("train", "valid", "test"))
            for s, sp in expected.items()}  # fmt: skip
    splits.save_split(expected[1], "race", seed=1)
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(seed), "40"])
        for seed in (1, 2)
    ]
    seen, loads = set(), 0
    while any(w.poll() is None for w in writers) or loads < 20:
        got = splits.load_split("race")
        got_keys = tuple(_key(getattr(got, p)) for p in ("train", "valid", "test"))
        assert got_keys in keys.values(), "a load mixed the parts of two seeds"
        users, _ = splits.load_id_maps("race")  # read whole while the writers replace it
        assert len(users) in (
            len(set(expected[1].train["user_id"])),
            len(set(expected[2].train["user_id"])),
        )
        seen.add(got_keys)
        loads += 1
    assert all(w.wait() == 0 for w in writers)
    for seed in (1, 2):  # each seed's own file: that seed's split, whatever ran last
        own = splits.load_split("race", seed=seed)
        assert tuple(_key(getattr(own, p)) for p in ("train", "valid", "test")) == keys[seed]
        users, items = splits.load_id_maps("race", seed=seed)
        assert users.to_list() == sorted(set(expected[seed].train["user_id"]))
    assert not [p for p in (data_home / "processed" / "race").iterdir() if p.name.endswith(".tmp")]


def test_a_read_only_folder_is_one_line_naming_it_and_nothing_half_written(data_home, ratings):
    df, _ = ratings
    folder = data_home / "processed" / "ro"
    folder.mkdir(parents=True)
    folder.chmod(0o555)
    try:
        if (folder / "probe").exists() or _writable(folder):
            pytest.skip("running as a user who may write anywhere (root)")
        with pytest.raises(DataError, match=f"{folder}.*cannot write the split"):
            splits.save_split(splits.random_split(df, 0.2, 0.2, seed=0), "ro")
        assert list(folder.iterdir()) == []
    finally:
        folder.chmod(0o755)


def _writable(folder) -> bool:
    try:
        (folder / "probe").touch()
    except OSError:
        return False
    (folder / "probe").unlink()
    return True


def test_a_full_disk_is_one_line_naming_the_file_and_nothing_half_written(
    data_home, ratings, monkeypatch
):
    import errno

    import pyarrow.parquet as pq

    df, _ = ratings
    split = splits.random_split(df, 0.2, 0.2, seed=0)
    splits.save_split(split, "full", seed=0)
    before = splits.split_path("full").read_bytes()

    def full(table, where, **_):
        with open(where, "wb") as fh:
            fh.write(b"PAR1 half")  # a partial file, then the disk is full
        raise OSError(errno.ENOSPC, "No space left on device", str(where))

    monkeypatch.setattr(pq, "write_table", full)
    with pytest.raises(DataError, match="cannot write the split \\(No space left on device\\)"):
        splits.save_split(splits.random_split(df, 0.2, 0.2, seed=1), "full", seed=1)
    assert splits.split_path("full").read_bytes() == before  # the previous split, whole
    folder = data_home / "processed" / "full"
    assert sorted(p.name for p in folder.iterdir()) == ["split-seed0.parquet", "split.parquet"]
