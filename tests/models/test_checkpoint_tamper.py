"""Checkpoints are checked, not believed: tampering that keeps the SHA-256 consistent,
files that are not files, sizes and nesting past their bounds, another data set."""

from __future__ import annotations

import hashlib
import json
import os

import numpy as np
import pandas as pd
import pytest
from safetensors.numpy import load as st_load
from safetensors.numpy import save as st_save

from recsys_utils.constants import processed_dir
from recsys_utils.data.movielens import ratings_checksum, write_parquet
from recsys_utils.models import BiasOnly, make_model
from recsys_utils.models.checkpoints import MAX_JSON_DEPTH, CheckpointError, load, save


@pytest.fixture(scope="module")
def df() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    uu, ii = np.nonzero(rng.random((12, 9)) < 0.6)
    return pd.DataFrame(
        {
            "user_id": (uu + 1).astype(np.int32),
            "item_id": (ii + 10).astype(np.int32),
            "rating": rng.integers(2, 11, uu.size).astype(np.float32) / 2,
            "timestamp": np.zeros(uu.size, dtype=np.int64),
        }
    )


@pytest.fixture
def mf(df, tmp_path):
    model = make_model("mf", n_factors=4, epochs=2, progress=False, device="cpu", seed=0)
    return save(model.fit(df), tmp_path / "mf")


def rewrite(sidecar, change) -> None:
    """Change the weights' tables and write the sidecar's SHA-256 to match (a careful tamper)."""
    meta = json.loads(sidecar.read_text())
    weights = sidecar.parent / meta["weights"]
    arrays = change(dict(st_load(weights.read_bytes())))
    blob = st_save(arrays)
    weights.write_bytes(blob)
    meta["sha256"] = hashlib.sha256(blob).hexdigest()
    sidecar.write_text(json.dumps(meta))


def refused(sidecar, match: str) -> str:
    with pytest.raises(CheckpointError, match=match) as err:
        load(sidecar)
    message = str(err.value)
    assert "\n" not in message
    return message


def test_weights_linked_to_dev_zero_are_refused_before_reading(mf):
    meta = json.loads(mf.read_text())
    weights = mf.parent / meta["weights"]
    weights.unlink()
    weights.symlink_to("/dev/zero")
    message = refused(mf, "link out of")
    assert "/dev/zero" in message


def test_weights_or_sidecar_as_a_fifo_are_refused_without_hanging(mf, tmp_path):
    meta = json.loads(mf.read_text())
    weights = mf.parent / meta["weights"]
    weights.unlink()
    os.mkfifo(weights)  # a reader of a FIFO with no writer would wait forever
    refused(mf, "the weights is a FIFO, not a regular file")
    fifo_sidecar = tmp_path / "fifo.json"
    os.mkfifo(fifo_sidecar)
    refused(fifo_sidecar, "the sidecar is a FIFO")
    folder = tmp_path / "dir.json"
    folder.mkdir()
    refused(folder, "the sidecar is a directory")


def test_weights_longer_than_their_declared_tables_are_refused(mf):
    meta = json.loads(mf.read_text())
    weights = mf.parent / meta["weights"]
    size = weights.stat().st_size
    with weights.open("ab") as fh:
        fh.write(b"\0" * 4096)
    refused(mf, f"is {size + 4096:,} bytes, more than {size:,}")


def test_a_safetensors_header_claiming_terabytes_is_refused(mf):
    meta = json.loads(mf.read_text())
    weights = mf.parent / meta["weights"]
    blob = bytearray(weights.read_bytes())
    blob[:8] = (1 << 40).to_bytes(8, "little")
    weights.write_bytes(bytes(blob))
    refused(mf, "not a readable safetensors file \\(a header of")


@pytest.mark.parametrize("table", ["net.user_emb.weight", "net.item_bias.weight"])
def test_nan_tables_with_a_matching_sha_are_refused(mf, table):
    def nan(arrays):
        arrays[table] = np.full_like(arrays[table], np.nan)
        return arrays

    rewrite(mf, nan)
    refused(mf, f"table '{table}' holds [0-9,]+ non-finite values")


def test_an_id_map_swapped_with_a_matching_sha_is_refused(mf):
    def swap(arrays):
        ids = arrays["map.item_ids"].copy()
        ids[[0, 1]] = ids[[1, 0]]  # two movies trade rows: every answer about them is wrong
        arrays["map.item_ids"] = ids
        return arrays

    rewrite(mf, swap)
    refused(mf, "map.item_ids is not sorted and unique")


def test_a_table_of_the_wrong_shape_is_one_line_naming_file_and_shapes(mf):
    def shrink(arrays):
        arrays["net.user_emb.weight"] = arrays["net.user_emb.weight"][:-1].copy()
        return arrays

    rewrite(mf, shrink)
    message = refused(mf, "weights do not fit mf: table net.user_emb.weight is 11x4")
    assert "12 users and 9 movies" in message and "needs 12x4" in message
    assert message.startswith(str(mf.parent))


def test_a_missing_table_and_a_missing_id_map_are_refused(mf, df, tmp_path):
    rewrite(mf, lambda a: {k: v for k, v in a.items() if k != "net.item_emb.weight"})
    refused(mf, "lacks the table\\(s\\) net.item_emb.weight its sidecar lists")
    bias = save(BiasOnly().fit(df), tmp_path / "b")
    rewrite(bias, lambda a: {k: v for k, v in a.items() if not k.startswith("attr.")})
    refused(bias, "lacks the table\\(s\\) attr.b_i_, attr.b_u_, .* its sidecar lists")
    rewrite(bias, lambda a: {k: v for k, v in a.items() if k != "map.user_ids"})
    refused(bias, "lacks the table\\(s\\) .*map.user_ids")


def test_a_sidecar_naming_another_models_weights_is_refused(mf, df, tmp_path):
    other = save(BiasOnly().fit(df), tmp_path / "other")
    theirs = json.loads(other.read_text())
    meta = json.loads(mf.read_text())
    meta["weights"], meta["sha256"] = theirs["weights"], theirs["sha256"]
    mf.write_text(json.dumps(meta))
    refused(mf, "lacks the table\\(s\\) .*net.item_emb.weight")


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 2, 100_000])
def test_a_deeply_nested_sidecar_is_refused(mf, depth):
    meta = json.loads(mf.read_text())
    text = json.dumps(meta)[:-1] + ', "metrics": ' + "[" * depth + "]" * depth + "}"
    mf.write_text(text)
    refused(mf, f"nested deeper than {MAX_JSON_DEPTH} levels")


def test_a_huge_sidecar_is_refused_unread(mf):
    with mf.open("ab") as fh:
        fh.truncate(64 << 20)  # sparse: 64 MB of zeros after the JSON
    refused(mf, "the sidecar is 67,108,864 bytes, more than")  # refused before parsing


def test_the_data_sets_checksum_is_recorded_at_save_and_compared_at_load(df, data_home):
    cache = processed_dir() / "ml-latest-small"
    cache.mkdir(parents=True)
    movies = pd.DataFrame(
        {
            "item_id": np.arange(10, 19, dtype=np.int32),
            "title": [f"Movie {i}" for i in range(9)],
            "year": np.full(9, 2000, dtype=np.int32),
            "genres": [["Drama"]] * 9,
        }
    )
    write_parquet(df, cache / "ratings.parquet")
    write_parquet(movies, cache / "movies.parquet")
    sidecar = save(BiasOnly().fit(df), data_home / "b", dataset="ml-latest-small")
    recorded = json.loads(sidecar.read_text())["dataset_checksum"]
    assert recorded == ratings_checksum(df) and recorded.startswith("sha256:")
    load(sidecar)  # the same data: loads
    changed = df.copy()
    changed.loc[0, "rating"] = 0.5 if changed.loc[0, "rating"] != 0.5 else 1.0
    write_parquet(changed, cache / "ratings.parquet")
    message = refused(sidecar, "trained on ml-latest-small with checksum")
    assert recorded in message and ratings_checksum(changed) in message
