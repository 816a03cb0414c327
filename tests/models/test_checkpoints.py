"""Checkpoints: exact round trips, no code execution, clear errors, atomic saves."""

from __future__ import annotations

import inspect
import json
import os
import pickle
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from helpers import side_features, small_net

from recsys_utils.constants import GENRES_COL, ITEM_COL, RATING_COL, USER_COL
from recsys_utils.models import MODELS, BiasOnly, checkpoints, make_model
from recsys_utils.models.checkpoints import CheckpointError, check_items, latest, load, save

ALL = sorted(n for n, c in MODELS.items() if c.capabilities.checkpointable)
UNSAVED = sorted(n for n, c in MODELS.items() if not c.capabilities.checkpointable)


def ratings_table(seed: int = 0, n_users: int = 12, n_items: int = 9) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    uu, ii = np.nonzero(rng.random((n_users, n_items)) < 0.6)
    return pd.DataFrame(
        {
            USER_COL: (uu + 1).astype(np.int32),
            ITEM_COL: (ii + 10).astype(np.int32),
            RATING_COL: rng.integers(2, 11, uu.size).astype(np.float32) / 2,
        }
    )


def fit(name: str, df: pd.DataFrame, seed: int = 0):
    """Any registered model, fitted small and fast (with movies and tags where it needs them)."""
    cls = MODELS[name]
    kw = {}
    if "movies" in inspect.signature(cls.__init__).parameters:
        ids = np.arange(1, 100, dtype=np.int32)
        kw["movies"] = pd.DataFrame(
            {ITEM_COL: ids, GENRES_COL: [["Drama"] if i % 2 else ["Comedy"] for i in ids]}
        )
        kw["tags"] = df[[USER_COL, ITEM_COL]].assign(tag=[f"t{i % 3}" for i in df[ITEM_COL]])
        kw["tag_weight"], kw["min_count"] = 0.5, 2
    if "features" in inspect.signature(cls.__init__).parameters:
        kw["features"] = side_features()
    kw |= small_net(cls, 4, epochs=3, batch_size=16, seed=seed)
    return make_model(name, **kw).fit(df)


PAIRS = ([1, 2, 12, 99, 1, 99], [10, 11, 18, 10, 99, 99])  # known pairs, then the fallbacks


def outputs(model) -> dict:
    pred = model.predict(*PAIRS)
    return {
        "predict": pred,
        "n_fallback": model.n_fallback_,
        "scores": np.asarray(model.score_items(np.arange(len(model.user_map)))),
        "recommend": model.recommend(1, k=2).to_numpy(),
    }


def assert_same(a: dict, b: dict) -> None:
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


@pytest.fixture(scope="module")
def df() -> pd.DataFrame:
    return ratings_table()


# --- round trip --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL)
def test_round_trip_gives_identical_predictions(name, df, tmp_path):
    model = fit(name, df)
    sidecar = save(model, tmp_path / name, dataset="ml-latest-small", metrics={"rmse": 0.9})
    assert sidecar == tmp_path / f"{name}.json"
    back = load(sidecar)
    assert type(back) is type(model)
    assert back.get_params() == model.get_params()
    assert back.rating_scale == model.rating_scale
    assert back.user_map.to_list() == model.user_map.to_list()
    assert_same(outputs(model), outputs(back))
    if model.history_ is not None:
        pd.testing.assert_frame_equal(back.history_, model.history_, check_dtype=False)
    assert back.checkpoint_meta_ == {"dataset": "ml-latest-small", "metrics": {"rmse": 0.9}}
    assert_same(outputs(back), outputs(load(tmp_path / name)))  # the stem works too


@pytest.mark.parametrize("name", UNSAVED)
def test_a_model_declared_not_checkpointable_is_refused_in_one_line(name, tmp_path):
    model = make_model(name, features=side_features())  # refused before anything is read
    with pytest.raises(CheckpointError, match="cannot save: .* does not declare checkpointable"):
        save(model, tmp_path / name)
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_sidecar_is_plain_json_naming_a_content_addressed_weights_file(df, tmp_path):
    sidecar = save(BiasOnly().fit(df), tmp_path / "b", dataset="d", dataset_checksum="abc")
    meta = json.loads(sidecar.read_text())
    assert meta["model"] == "bias" and meta["dataset_checksum"] == "abc"
    assert meta["weights"] == f"b-{meta['sha256'][:8]}.safetensors"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != ".b.lock") == sorted(
        ["b.json", meta["weights"]]
    )


# --- never executing code from the file ------------------------------------------------------


class Plant:
    """Unpickling this creates ``marker``: what a hostile checkpoint would do."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_the_planted_pickle_is_live(tmp_path):
    # so that "no marker file" below means "not executed", not "payload broken"
    pickle.loads(pickle.dumps(Plant(tmp_path / "proof")))
    assert (tmp_path / "proof").exists()


@pytest.mark.parametrize("suffix", [".pt", ".pth", ".pkl", ".bin", ".safetensors"])
@pytest.mark.parametrize("writer", ["torch", "pickle"])
def test_pickled_checkpoint_file_is_refused_unread(tmp_path, suffix, writer):
    marker, path = tmp_path / "pwned", tmp_path / f"mf{suffix}"
    if writer == "torch":
        torch.save({"state": Plant(marker)}, path)
    else:
        path.write_bytes(pickle.dumps(Plant(marker)))
    with pytest.raises(CheckpointError, match=rf"mf\{suffix}: not a recsys checkpoint"):
        load(path)
    assert not marker.exists()


@pytest.mark.parametrize("writer", ["torch", "pickle"])
@pytest.mark.parametrize("fix_hash", [False, True])
def test_pickle_in_place_of_the_weights_is_refused_unread(df, tmp_path, writer, fix_hash):
    marker = tmp_path / "pwned"
    sidecar = save(BiasOnly().fit(df), tmp_path / "b")
    meta = json.loads(sidecar.read_text())
    weights = tmp_path / meta["weights"]
    if writer == "torch":
        torch.save(Plant(marker), weights)
    else:
        weights.write_bytes(pickle.dumps(Plant(marker)))
    if fix_hash:  # an attacker who also rewrites the sidecar's SHA-256
        import hashlib

        meta["sha256"] = hashlib.sha256(weights.read_bytes()).hexdigest()
        sidecar.write_text(json.dumps(meta))
    message = (
        "not a readable safetensors file"
        if fix_hash
        else "do not match the sidecar|not a readable safetensors file"
    )
    with pytest.raises(CheckpointError, match=message) as err:
        load(sidecar)
    assert str(weights) in str(err.value)
    assert not marker.exists()


def test_pickle_in_place_of_the_sidecar_is_refused_unread(df, tmp_path):
    marker = tmp_path / "pwned"
    sidecar = save(BiasOnly().fit(df), tmp_path / "b")
    sidecar.write_bytes(pickle.dumps(Plant(marker)))
    with pytest.raises(CheckpointError, match="b.json: corrupt sidecar"):
        load(sidecar)
    assert not marker.exists()


# --- damaged files -------------------------------------------------------------------------


@pytest.fixture
def saved(df, tmp_path):
    """A saved MF checkpoint: (sidecar path, its meta, its weights path)."""
    sidecar = save(fit("mf", df), tmp_path / "mf")
    meta = json.loads(sidecar.read_text())
    return sidecar, meta, tmp_path / meta["weights"]


def test_truncated_weights_name_the_file(saved):
    sidecar, _, weights = saved
    blob = weights.read_bytes()
    weights.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(CheckpointError, match="truncated or altered") as err:
        load(sidecar)
    assert str(weights) in str(err.value)


def test_one_flipped_byte_is_caught(saved):
    sidecar, _, weights = saved
    blob = bytearray(weights.read_bytes())
    blob[-1] ^= 0xFF
    weights.write_bytes(bytes(blob))
    with pytest.raises(CheckpointError, match="do not match the sidecar's SHA-256"):
        load(sidecar)


def test_missing_weights_file(saved):
    sidecar, _, weights = saved
    weights.unlink()
    with pytest.raises(CheckpointError, match="weights file missing"):
        load(sidecar)


@pytest.mark.parametrize(
    "text", ["", "{not json", "5", "[{}]", '"mf"', "{}", '{"model": "mf"}', "half"]
)
def test_corrupt_sidecar_is_a_clear_error(saved, text):
    sidecar = saved[0]
    if text == "half":
        full = sidecar.read_text()
        text = full[: len(full) // 2]
    sidecar.write_text(text)
    with pytest.raises(CheckpointError, match=r"mf\.json: (corrupt sidecar|sidecar lacks)"):
        load(sidecar)


def test_missing_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        load(tmp_path / "nothing")


@pytest.mark.parametrize(
    "edit, message",
    [
        ({"model": "os.system"}, "unknown model class 'os.system'"),
        ({"model": "Recommender"}, "unknown model class 'Recommender'"),
        ({"params": {"n_factors": 4, "exec": "print(1)"}}, "parameters"),
        ({"params": {"n_factors": 7}}, "weights do not fit mf"),
        ({"weights": "../../elsewhere.safetensors"}, "elsewhere.safetensors: weights file missing"),
    ],
)
def test_tampered_sidecar_is_refused(saved, edit, message):
    sidecar, meta, _ = saved
    meta = meta | edit
    if "params" in edit:
        meta["params"] = json.loads(sidecar.read_text())["params"] | edit["params"]
    sidecar.write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match=message) as err:
        load(sidecar)
    assert str(sidecar.parent) in str(err.value)


# --- data set checks -----------------------------------------------------------------------


def test_expect_dataset_mismatch_is_refused(df, tmp_path):
    sidecar = save(BiasOnly().fit(df), tmp_path / "b", dataset="ml-latest-small")
    assert load(sidecar, expect_dataset="ml-latest-small").name == "bias"
    with pytest.raises(CheckpointError, match="trained on 'ml-latest-small', not on 'ml-100k'"):
        load(sidecar, expect_dataset="ml-100k")


def test_check_items_against_a_movies_table(tiny_ratings):
    model = BiasOnly().fit(tiny_ratings)  # movies 10, 20, 30
    check_items(model, [10, 20, 30, 40])  # a larger catalogue is fine
    with pytest.raises(CheckpointError, match=r"1 of its 3 movies are missing \(first: 30\)"):
        check_items(model, np.array([10, 20]))


def test_latest_picks_the_newest_and_filters_by_model(df, tmp_path):
    old = save(BiasOnly().fit(df), tmp_path / "old")
    new = save(fit("global_mean", df), tmp_path / "new")
    os.utime(old, (1_000, 1_000))
    os.utime(new, (2_000, 2_000))
    assert latest(tmp_path) == new
    assert latest(tmp_path, model="bias") == old
    with pytest.raises(FileNotFoundError, match="no checkpoint in"):
        latest(tmp_path, model="mf")


# --- atomic saves ------------------------------------------------------------------------------


@pytest.mark.parametrize("fail_on_call", [1, 2])  # 1: the weights rename, 2: the sidecar's
def test_failed_save_leaves_the_previous_checkpoint(df, tmp_path, monkeypatch, fail_on_call):
    stem = tmp_path / "b"
    old = BiasOnly(reg_user=1.0).fit(df)
    save(old, stem)
    calls = []
    real_replace = os.replace

    def flaky(src, dst):
        calls.append(dst)
        if len(calls) == fail_on_call:
            raise OSError("disk full")
        real_replace(src, dst)

    monkeypatch.setattr(checkpoints.os, "replace", flaky)
    with pytest.raises(CheckpointError, match="cannot write the checkpoint \\(disk full\\)"):
        save(BiasOnly(reg_user=50.0).fit(df), stem)  # one line naming the file
    monkeypatch.setattr(checkpoints.os, "replace", real_replace)
    assert_same(outputs(load(stem)), outputs(old))
    assert not list(tmp_path.glob(".*.tmp"))  # no temp file left behind
    new = BiasOnly(reg_user=9.0).fit(df)
    save(new, stem)  # the next save also clears an orphaned weights file
    assert len(list(tmp_path.glob("b-*.safetensors"))) == 1
    assert_same(outputs(load(stem)), outputs(new))


SAVER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from safetensors.numpy import load_file
    from recsys_utils.models import checkpoints
    from recsys_utils.data.encoding import IdMap
    from recsys_utils.models.base import Capabilities

    class Saved:  # the attributes checkpoints.save reads, rebuilt without torch
        net = history_ = None
        capabilities = Capabilities()
        def __init__(self, sidecar):
            meta = checkpoints.read_meta(sidecar)
            arrays = load_file(Path(sidecar).parent / meta["weights"])
            self.name, self._p = meta["model"], meta["params"]
            self.rating_scale = tuple(meta["rating_scale"])
            self.user_map = IdMap(arrays.pop("map.user_ids"))
            self.item_map = IdMap(arrays.pop("map.item_ids"))
            for key, value in meta["scalars"].items():
                setattr(self, key, value)
            for key, value in arrays.items():
                setattr(self, key[5:], value)
        def get_params(self):
            return self._p
        def checkpoint_data(self):
            return {}, {}

    a, b, stem = Saved(sys.argv[1]), Saved(sys.argv[2]), sys.argv[3]
    checkpoints.save(a, stem)
    print("ready", flush=True)
    while True:
        checkpoints.save(b, stem)
        checkpoints.save(a, stem)
""")


def test_kill_during_save_leaves_a_whole_checkpoint(df, tmp_path):
    models = [BiasOnly(reg_user=1.0).fit(df), BiasOnly(reg_user=50.0).fit(df)]
    sources = [save(m, tmp_path / f"src{k}" / "b") for k, m in enumerate(models)]
    expected = [outputs(m) for m in models]
    stem = tmp_path / "live" / "b"
    script = tmp_path / "saver.py"
    script.write_text(SAVER)
    env = {**os.environ, "PYTHONPATH": str(Path(checkpoints.__file__).parents[2])}
    rng = random.Random(0)
    for _ in range(4):
        proc = subprocess.Popen(
            [sys.executable, str(script), *map(str, sources), str(stem)],
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.0, 0.3))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        got = outputs(load(stem))
        matches = []
        for want in expected:
            try:
                assert_same(got, want)
                matches.append(True)
            except AssertionError:
                matches.append(False)
        assert any(matches), "the checkpoint after a kill is neither the old nor the new one"


def test_a_checkpoint_saved_before_the_package_layout_changed_still_loads():
    # written by the flat-layout package (commit f4e61ba, ``recsys_utils.checkpoints``);
    # the sidecar names the model by registry name only, so it loads after the move
    fixtures = Path(__file__).parent / "fixtures"
    model = checkpoints.load(fixtures / "old_layout_mf.json")
    expected = json.loads((fixtures / "old_layout_mf_predictions.json").read_text())
    assert type(model).__name__ == "MF" and model.name == "mf"
    got = model.predict(np.array(expected["users"]), np.array(expected["items"]))
    np.testing.assert_allclose(got, expected["prediction"], rtol=1e-6)


# --- hostile: saves at once, foreign sidecars, devices -------------------------------------------
def test_concurrent_saves_and_a_reader_always_see_a_whole_pair(tmp_path):
    import threading

    df = ratings_table()
    models = [BiasOnly(reg=r).fit(df) for r in (0.1, 1.0, 10.0)]  # three different weights
    stem = tmp_path / "ck"
    save(models[0], stem)
    errors, stop = [], threading.Event()

    def writer(m):
        try:
            for _ in range(40):
                save(m, stem)
        except Exception as err:  # noqa: BLE001 (collected for the assertion)
            errors.append(repr(err))

    def reader():
        while not stop.is_set():
            try:
                load(stem)
            except Exception as err:  # noqa: BLE001
                errors.append(repr(err))

    threads = [threading.Thread(target=writer, args=(m,)) for m in models]
    r = threading.Thread(target=reader)
    r.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    r.join()
    assert errors == []
    meta = json.loads((tmp_path / "ck.json").read_text())
    assert [p.name for p in tmp_path.glob("ck-*.safetensors")] == [meta["weights"]]


@pytest.mark.parametrize(
    "field, value",
    [("model", ["mf"]), ("weights", 7), ("params", "x"), ("rating_scale", "15"), ("history", 3)],
)
def test_non_string_sidecar_fields_are_one_line(tmp_path, field, value):
    sidecar = save(BiasOnly().fit(ratings_table()), tmp_path / "b")
    meta = json.loads(sidecar.read_text())
    sidecar.write_text(json.dumps(meta | {field: value}))
    with pytest.raises(CheckpointError, match=rf"sidecar field '{field}' is"):
        load(sidecar)


def test_a_cuda_checkpoint_loads_on_a_cpu_machine(tmp_path, monkeypatch):
    df = ratings_table()
    sidecar = save(fit("mf", df), tmp_path / "mf")
    meta = json.loads(sidecar.read_text())
    meta["params"]["device"] = "cuda:0"  # as saved on a GPU machine
    sidecar.write_text(json.dumps(meta))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    model = load(sidecar)
    assert np.isfinite(model.predict(df[USER_COL].to_numpy(), df[ITEM_COL].to_numpy())).all()


def test_device_cuda_on_a_cpu_build_is_one_line(monkeypatch):
    from recsys_utils.training.loop import resolve_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match=r"device 'cuda' is not available here"):
        resolve_device("cuda")
    with pytest.raises(ValueError, match=r"device 'gpu0'"):
        resolve_device("gpu0")


def test_latest_skips_json_that_is_not_a_checkpoint(tmp_path):
    sidecar = save(BiasOnly().fit(ratings_table()), tmp_path / "b")
    time.sleep(0.01)
    (tmp_path / "notes.json").write_text('{"hello": "world"}')
    (tmp_path / "list.json").write_text("[1, 2]")
    assert latest(tmp_path) == sidecar


def test_similar_with_a_movie_id_past_int64_is_one_line(data_home, tmp_path, capsys):
    from recsys_utils.cli import main

    sidecar = save(fit("mf", ratings_table()), tmp_path / "mf")
    assert main(["similar", "--movie", str(2**67), "--checkpoint", str(sidecar)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    errors = [line for line in err if not line.startswith("note: ")]  # no titles on disk
    assert len(errors) == 1 and errors[0].startswith("error: ") and str(2**67) in errors[0]


def test_train_out_is_checked_before_training(data_home, capsys, monkeypatch):
    from recsys_utils.cli import main
    from recsys_utils.data import movielens

    def no_training(*a, **k):
        raise AssertionError("loaded the data set before checking --out")

    monkeypatch.setattr(movielens, "load_dataset", no_training)
    for argv in (["--out", "x.pt"], ["--device", "gpu0"]):
        assert main(["train", "--model", "mf", *argv]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error: ")
    assert not list(data_home.rglob("*.json"))
