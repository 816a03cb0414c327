"""Faults on disk are one line naming the path, and nothing half-written stays: a data
folder that cannot be created, a full disk while extracting or caching, a checkpoint
folder that is a file or full; and the fetch's size cap set by the user."""

from __future__ import annotations

import errno
import os

import pandas as pd
import pytest

from recsys_utils.cli import main
from recsys_utils.data import download, movielens
from recsys_utils.data.validation import DataError
from recsys_utils.models import BiasOnly
from recsys_utils.models.checkpoints import CheckpointError, load, save


def _enospc(path):
    return OSError(errno.ENOSPC, "No space left on device", str(path))


def test_fetch_into_a_folder_that_cannot_be_created_is_one_line(data_home, mirror_dir, capsys):
    (data_home / "raw").write_text("a file where the raw folder should be")
    code = main(["data", "fetch", "--dataset", "ml-latest-small"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1, err
    assert "raw" in err and "cannot write" in err


def test_a_full_disk_while_extracting_is_one_line_and_leaves_nothing(
    data_home, mirror_dir, monkeypatch, capsys
):
    def full(zip_path, home, *a, **k):
        (home / ".extract-half").mkdir()
        (home / ".extract-half" / "ratings.csv").write_text("userId,movieId")
        raise _enospc(home / ".extract-half" / "ratings.csv")

    monkeypatch.setattr(download, "safe_extract", full)
    code = main(["data", "fetch", "--dataset", "ml-latest-small"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1, err
    assert "ratings.csv: cannot write (No space left on device)" in err
    assert not (data_home / "raw" / "ml-latest-small" / "ml-latest-small").exists()


def test_fetch_size_cap_is_settable(data_home, mirror_dir, capsys):
    code = main(["data", "fetch", "--dataset", "ml-latest-small", "--max-mb", "0.1"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "larger than 104,857 bytes; refused" in err
    assert main(["data", "fetch", "--max-mb", "-1"]) == 2
    assert "--max-mb must be a number above 0" in capsys.readouterr().err


def test_a_full_disk_while_caching_parquet_is_one_line_and_leaves_no_temp(
    tmp_path, tiny_ratings, monkeypatch
):
    def full(self, path, **_):
        with open(path, "wb") as fh:
            fh.write(b"PAR1")
        raise _enospc(path)

    monkeypatch.setattr(pd.DataFrame, "to_parquet", full)
    target = tmp_path / "cache" / "ratings.parquet"
    with pytest.raises(DataError, match="cannot write \\(No space left on device\\)") as err:
        movielens.write_parquet(tiny_ratings, target)
    assert "\n" not in str(err.value) and "ratings.parquet" in str(err.value)
    assert list(target.parent.iterdir()) == []


def test_checkpoint_faults_are_one_line_and_keep_the_previous_checkpoint(
    tmp_path, tiny_ratings, monkeypatch
):
    model = BiasOnly().fit(tiny_ratings)
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(CheckpointError, match="cannot create"):
        save(model, tmp_path / "file" / "ckpt")
    sidecar = save(model, tmp_path / "ck" / "b")
    before = sorted(p.name for p in sidecar.parent.iterdir())
    real_fdopen = os.fdopen

    def full(fd, *a, **k):
        fh = real_fdopen(fd, *a, **k)

        def write(_data):
            raise _enospc(sidecar.parent / "tmp")

        fh.write = write
        return fh

    monkeypatch.setattr(os, "fdopen", full)
    with pytest.raises(CheckpointError, match="cannot write the checkpoint \\(No space left"):
        save(BiasOnly(reg_item=1.0).fit(tiny_ratings), sidecar)
    monkeypatch.undo()
    assert sorted(p.name for p in sidecar.parent.iterdir()) == before  # no temp left
    load(sidecar)  # the previous checkpoint, whole
