"""Checkpoints: safetensors weights plus a JSON sidecar, written atomically.

A checkpoint named ``mf`` in a folder is two files:
    ``mf.json``               model class, hyperparameters, fitted scalars, data set,
                              metrics, history, and the weights file's name and SHA-256
    ``mf-<sha8>.safetensors``  every array: id maps, biases, seen items, net weights

Saving writes the weights under a new content-addressed name, then replaces the
sidecar with one rename, then deletes the weights no sidecar names any more: a kill at
any moment leaves either the old or the new checkpoint whole. Saves of one checkpoint
take turns (``fcntl.flock`` on ``.<stem>.lock``, a file kept), so one save never deletes
the weights another's sidecar names; a reader whose sidecar was replaced between reading
it and reading the weights reads the new pair once more. Loading reads JSON and safetensors only
(no pickle, no code from the file) and refuses a model class not in
``models.MODELS``, a missing or altered weights file, and a corrupt sidecar.

Length: a little over 300 lines: save and load must agree on every field and on the
locking that keeps a weights file and its sidecar a pair.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from recsys_utils.constants import checkpoint_dir
from recsys_utils.data.encoding import IdMap

FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint that cannot be read safely; the message names the file."""


def _sidecar(path: str | Path) -> Path:
    path = Path(path)
    if path.suffix == ".json":
        return path
    if path.suffix:
        raise CheckpointError(
            f"{path}: not a recsys checkpoint; pass the .json sidecar or its stem "
            "(pickled .pt/.pkl files are never loaded)"
        )
    return path.with_suffix(".json")


def check_out_path(path: str | Path) -> Path:
    """The sidecar ``save`` would write for ``path``; refuse a path it cannot write there.

    Called before training, so a bad ``--out`` costs nothing.
    """
    sidecar = _sidecar(path)
    if sidecar.is_dir():
        raise CheckpointError(f"{sidecar}: is a directory")
    parent = next((p for p in (sidecar.parent, *sidecar.parent.parents) if p.exists()), None)
    if parent is not None and (not parent.is_dir() or not os.access(parent, os.W_OK)):
        raise CheckpointError(f"{sidecar}: cannot write under {parent}")
    return sidecar


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _model_state(model) -> tuple[dict[str, np.ndarray], dict]:
    arrays = {"map.user_ids": model.user_map.ids, "map.item_ids": model.item_map.ids}
    scalars = {}
    for name, value in vars(model).items():
        if not name.endswith("_") or name in ("history_", "n_fallback_"):
            continue
        if isinstance(value, np.ndarray):
            arrays[f"attr.{name}"] = value
        elif isinstance(value, (int, float, np.integer, np.floating)):
            scalars[name] = float(value) if isinstance(value, (float, np.floating)) else int(value)
    if getattr(model, "net", None) is not None:
        for name, tensor in model.net.state_dict().items():
            arrays[f"net.{name}"] = tensor.detach().cpu().numpy()
    return {k: np.ascontiguousarray(v) for k, v in arrays.items()}, scalars


def save(
    model,
    path: str | Path,
    *,
    dataset: str | None = None,
    dataset_checksum: str | None = None,
    metrics: dict | None = None,
) -> Path:
    """Save a fitted model; returns the sidecar path (``<stem>.json``).

    Args:
        model: a fitted ``models.Recommender``.
        path: the stem (``data/checkpoints/mf``) or the sidecar path.
        dataset, dataset_checksum: what it was trained on, checked again at load time.
        metrics: figures to keep beside the weights (JSON-serialisable).
    """
    from safetensors.numpy import save as st_save

    sidecar = _sidecar(path)
    sidecar.parent.mkdir(parents=True, exist_ok=True)
    arrays, scalars = _model_state(model)
    blob = st_save(arrays)
    digest = hashlib.sha256(blob).hexdigest()
    weights = sidecar.with_name(f"{sidecar.stem}-{digest[:8]}.safetensors")
    history = model.history_.to_dict(orient="list") if model.history_ is not None else None
    meta = {
        "format_version": FORMAT_VERSION,
        "model": model.name,
        "params": model.get_params(),
        "rating_scale": list(model.rating_scale),
        "scalars": scalars,
        "dataset": dataset,
        "dataset_checksum": dataset_checksum,
        "metrics": metrics or {},
        "history": history,
        "weights": weights.name,
        "sha256": digest,
    }
    with _save_lock(sidecar):  # weights, then sidecar, then cleanup: one save at a time
        _atomic_write(weights, blob)
        _atomic_write(sidecar, json.dumps(meta, indent=1, default=float).encode())
        for old in sidecar.parent.glob(f"{sidecar.stem}-*.safetensors"):
            if old.name != weights.name:  # the sidecar just written names ``weights``
                old.unlink(missing_ok=True)
    return sidecar


@contextlib.contextmanager
def _save_lock(sidecar: Path):
    with open(sidecar.with_name(f".{sidecar.stem}.lock"), "a+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def read_meta(path: str | Path) -> dict:
    """The sidecar of a checkpoint, validated."""
    sidecar = _sidecar(path)
    if not sidecar.exists():
        raise CheckpointError(f"{sidecar}: no such checkpoint")
    try:
        meta = json.loads(sidecar.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{sidecar}: corrupt sidecar ({err})") from None
    if not isinstance(meta, dict):
        raise CheckpointError(
            f"{sidecar}: corrupt sidecar (a JSON {type(meta).__name__}, not an object)"
        )
    missing = {"model", "params", "weights", "sha256", "rating_scale"} - set(meta)
    if missing:
        raise CheckpointError(f"{sidecar}: sidecar lacks {sorted(missing)}")
    for key, kinds in _FIELD_TYPES.items():
        if key in meta and not isinstance(meta[key], kinds):
            raise CheckpointError(
                f"{sidecar}: sidecar field {key!r} is a {type(meta[key]).__name__}, "
                f"not a {' or '.join(k.__name__ for k in kinds)}"
            )
    scale = meta["rating_scale"]
    if len(scale) != 2 or not all(isinstance(x, (int, float)) for x in scale):
        raise CheckpointError(f"{sidecar}: sidecar field 'rating_scale' is not two numbers")
    return meta


_FIELD_TYPES = {
    "model": (str,),
    "params": (dict,),
    "weights": (str,),
    "sha256": (str,),
    "rating_scale": (list,),
    "scalars": (dict,),
    "dataset": (str, type(None)),
    "dataset_checksum": (str, type(None)),
    "metrics": (dict,),
    "history": (dict, type(None)),
}


def load(path: str | Path, *, expect_dataset: str | None = None):
    """Load a checkpoint saved by ``save``; never unpickles anything.

    Raises:
        CheckpointError: unknown model class, missing/altered/truncated weights, corrupt
            sidecar, or a data set other than ``expect_dataset``.
    """
    import pandas as pd
    import torch
    from safetensors import SafetensorError
    from safetensors.numpy import load as st_load

    from recsys_utils.models.registry import MODELS
    from recsys_utils.models.torch_models import TorchRecommender
    from recsys_utils.training.loop import device_available

    sidecar = _sidecar(path)
    meta, blob = _read_pair(sidecar)
    weights = sidecar.parent / Path(meta["weights"]).name
    if meta["model"] not in MODELS:
        raise CheckpointError(f"{sidecar}: unknown model class {meta['model']!r}")
    if expect_dataset is not None and meta.get("dataset") != expect_dataset:
        raise CheckpointError(
            f"{sidecar}: trained on {meta.get('dataset')!r}, not on {expect_dataset!r}"
        )
    try:
        arrays = st_load(blob)
    except (SafetensorError, ValueError) as err:
        raise CheckpointError(f"{weights}: not a readable safetensors file ({err})") from None
    params = dict(meta["params"])
    if isinstance(params.get("device"), str) and not device_available(params["device"]):
        params["device"] = "auto"  # trained on a GPU this machine lacks: load it here
    try:
        model = MODELS[meta["model"]](rating_scale=tuple(meta["rating_scale"]), **params)
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"{sidecar}: bad parameters for {meta['model']}: {err}") from None
    model.user_map = IdMap(arrays.pop("map.user_ids"))
    model.item_map = IdMap(arrays.pop("map.item_ids"))
    fitted = {
        **meta.get("scalars", {}),
        **{k[5:]: arrays.pop(k) for k in [k for k in arrays if k.startswith("attr.")]},
    }
    for name, value in fitted.items():
        # only fitted attributes (name_), never methods or private state
        if not name.isidentifier() or not name.endswith("_") or name.startswith("_"):
            raise CheckpointError(f"{sidecar}: refusing to set attribute {name!r}")
        setattr(model, name, value)
    if isinstance(model, TorchRecommender) or hasattr(model, "build_net"):  # e.g. models.Blend
        model.build_net(len(model.user_map), len(model.item_map))
        state = {
            k[4:]: torch.from_numpy(v.copy()) for k, v in arrays.items() if k.startswith("net.")
        }
        try:
            model.net.load_state_dict(state)
        except RuntimeError as err:
            raise CheckpointError(
                f"{weights}: weights do not fit {meta['model']}: {str(err).splitlines()[0]}"
            ) from None
        model.net.eval()
    if meta.get("history"):
        model.history_ = pd.DataFrame(meta["history"])
    model.checkpoint_meta_ = {k: meta[k] for k in ("dataset", "metrics") if k in meta}
    return model


def _read_pair(sidecar: Path) -> tuple[dict, bytes]:
    """The sidecar and the weights it names, checked against its SHA-256.

    A save may replace the sidecar (and delete the old weights) between the two reads:
    then the sidecar has changed, and the new pair is read once more.
    """
    for attempt in range(2):
        meta = read_meta(sidecar)
        weights = sidecar.parent / Path(meta["weights"]).name
        try:
            blob = weights.read_bytes()
        except FileNotFoundError:
            blob = None
        if blob is not None and hashlib.sha256(blob).hexdigest() == meta["sha256"]:
            return meta, blob
        if attempt == 0 and read_meta(sidecar) != meta:
            continue  # replaced under us: read the new pair
        if blob is None:
            raise CheckpointError(f"{weights}: weights file missing")
        raise CheckpointError(
            f"{weights}: weights do not match the sidecar's SHA-256 (truncated or altered)"
        )
    raise AssertionError("unreachable")


def check_items(model, item_ids) -> None:
    """Raise if the model knows movies absent from a data set's movies table."""
    known = set(np.asarray(item_ids).tolist())
    missing = [int(x) for x in model.item_map.ids if int(x) not in known]
    if missing:
        raise CheckpointError(
            f"checkpoint id maps do not match this data set: {len(missing)} of its "
            f"{len(model.item_map)} movies are missing (first: {missing[0]})"
        )


def latest(folder: str | Path | None = None, model: str | None = None) -> Path:
    """The most recently saved sidecar in ``folder`` (default ``checkpoint_dir()``)."""
    folder = Path(folder) if folder else checkpoint_dir()
    found = []
    for p in sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime):
        try:
            meta = read_meta(p)
        except CheckpointError:
            continue  # a JSON file that is not a checkpoint sidecar (notes, a config)
        if not model or meta["model"] == model:
            found.append(p)
    if not found:
        raise FileNotFoundError(
            f"no checkpoint in {folder}; train one first "
            "(python -m recsys_utils train, or notebook 02)"
        )
    return found[-1]
