"""Checkpoints: safetensors weights plus a JSON sidecar, written atomically.

A checkpoint named ``mf`` in a folder is two files:
    ``mf.json``               model class, hyperparameters, fitted scalars, data set,
                              metrics, history, and the weights file's name and SHA-256
    ``mf-<sha8>.safetensors``  every array: id maps, biases, seen items, net weights

A model built on more than the ratings (the hybrid's movie-feature table) stores that too,
through ``Recommender.checkpoint_data``: its arrays as ``data.*`` tables of the weights
file, its vocabulary as the sidecar's ``data`` field; ``from_checkpoint_data`` rebuilds it
at load and checks that they fit.

Saving writes the weights under a new content-addressed name, then replaces the
sidecar with one rename, then deletes the weights no sidecar names any more: a kill at
any moment leaves either the old or the new checkpoint whole. Saves of one checkpoint
take turns (``fcntl.flock`` on ``.<stem>.lock``, a file kept), so one save never deletes
the weights another's sidecar names; a reader whose sidecar was replaced between reading
it and reading the weights reads the new pair once more. Loading reads JSON and safetensors only
(no pickle, no code from the file) and refuses a model class not in
``models.MODELS``, a missing or altered weights file, and a corrupt sidecar. A checkpoint
is checked, not believed: both files must be regular files (a FIFO or ``/dev/zero`` is
refused before a byte is read; the weights may not be a link out of the folder), the
sidecar is capped at ``MAX_SIDECAR_BYTES`` and ``MAX_JSON_DEPTH`` levels, the weights'
size must be what their declared tables need, every float table must be finite, the id
maps sorted and unique, every table the model's net needs present with the shape the id
maps give, one user must score; and the data set's checksum, recorded at save
(``data.dataset_checksum``), must match the data set here when it is here.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import stat
import struct
import tempfile
from pathlib import Path

import numpy as np

from recsys_utils.constants import checkpoint_dir
from recsys_utils.data.encoding import IdMap
from recsys_utils.models.base import CapabilityError, require

FORMAT_VERSION = 1
MAX_SIDECAR_BYTES = 16 << 20  # params, scalars, metrics and an epoch log: kilobytes
MAX_JSON_DEPTH = 8  # a sidecar's deepest field (history: a dict of lists) is 3
MAX_HEADER_BYTES = 16 << 20  # the safetensors header: names, dtypes, shapes, offsets


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
    if model.net is not None:
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

    try:
        require(model, "checkpointable")  # content kNN, popularity in genre: not yet
    except CapabilityError as err:
        raise CheckpointError(f"cannot save: {err}") from None
    sidecar = _sidecar(path)
    try:
        sidecar.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise CheckpointError(f"{sidecar.parent}: cannot create ({err.strerror or err})") from None
    if dataset is not None and dataset_checksum is None:
        from recsys_utils.data.movielens import dataset_checksum as checksum_of

        dataset_checksum = checksum_of(dataset)  # None when the data set is not here
    arrays, scalars = _model_state(model)
    data_arrays, data = model.checkpoint_data()  # a feature table, for the hybrid
    arrays |= {f"data.{k}": np.ascontiguousarray(v) for k, v in data_arrays.items()}
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
        "tables": sorted(arrays),
        "data": data,
    }
    try:
        with _save_lock(sidecar):  # weights, then sidecar, then cleanup: one save at a time
            _atomic_write(weights, blob)
            _atomic_write(sidecar, json.dumps(meta, indent=1, default=float).encode())
            for old in sidecar.parent.glob(f"{sidecar.stem}-*.safetensors"):
                if old.name != weights.name:  # the sidecar just written names ``weights``
                    old.unlink(missing_ok=True)
    except OSError as err:  # a read-only folder, no permission, a full disk: one line
        raise CheckpointError(
            f"{err.filename or sidecar}: cannot write the checkpoint ({err.strerror or err})"
        ) from None
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
    if not os.path.lexists(sidecar):
        raise CheckpointError(f"{sidecar}: no such checkpoint")
    raw = _read_regular(sidecar, MAX_SIDECAR_BYTES, "sidecar")
    try:
        meta = json.loads(raw.decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{sidecar}: corrupt sidecar ({err})") from None
    except RecursionError:
        meta = None
    if meta is None or _depth(meta) > MAX_JSON_DEPTH:
        raise CheckpointError(f"{sidecar}: sidecar nested deeper than {MAX_JSON_DEPTH} levels")
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


def _depth(value, limit: int = MAX_JSON_DEPTH + 1) -> int:
    """How deeply lists and dicts nest in ``value`` (stops counting past ``limit``)."""
    if limit <= 0 or not isinstance(value, (dict, list)):
        return 0
    items = value.values() if isinstance(value, dict) else value
    return 1 + max((_depth(v, limit - 1) for v in items), default=0)


def _read_regular(path: Path, cap: int, what: str, folder: Path | None = None) -> bytes:
    """The bytes of ``path`` if it is a regular file of at most ``cap`` bytes.

    Opened without blocking, then checked on the open file: a FIFO, a device
    (``/dev/zero``), a folder or a socket is refused before anything is read; with
    ``folder``, so is a link that leads out of it.
    """
    if folder is not None and path.is_symlink():
        target = path.resolve()
        if target.parent != folder.resolve():
            raise CheckpointError(f"{path}: {what} is a link out of {folder} (to {target})")
    fd = _open(path, what)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = next((name for test, name in _KINDS if test(info.st_mode)), "not a file")
            raise CheckpointError(f"{path}: the {what} is {kind}, not a regular file")
        if info.st_size > cap:
            raise CheckpointError(
                f"{path}: the {what} is {info.st_size:,} bytes, more than {cap:,}"
            )
        data = bytearray()
        while len(data) <= cap and (chunk := os.read(fd, min(cap + 1 - len(data), 1 << 24))):
            data += chunk
    finally:
        os.close(fd)
    if len(data) > cap:
        raise CheckpointError(f"{path}: the {what} grew past {cap:,} bytes while read")
    return bytes(data)


def _open(path: Path, what: str) -> int:
    """A descriptor for reading ``path`` that never waits (a FIFO opens at once)."""
    try:
        return os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise
    except OSError as err:
        raise CheckpointError(f"{path}: cannot read the {what} ({err.strerror})") from None


_KINDS = (
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISSOCK, "a socket"),
)


def _weights_size(path: Path) -> int:
    """The size the weights file must have: its header plus the tables it declares."""
    fd = _open(path, "weights")
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return 0  # _read_regular says what it is
        head = os.read(fd, 8)
        if len(head) < 8:
            raise CheckpointError(f"{path}: not a readable safetensors file (no header)")
        (n,) = struct.unpack("<Q", head)
        if n > MAX_HEADER_BYTES:
            raise CheckpointError(
                f"{path}: not a readable safetensors file (a header of {n:,} bytes)"
            )
        try:
            header = json.loads(os.read(fd, n))
            end = max(
                (int(v["data_offsets"][1]) for k, v in header.items() if k != "__metadata__"),
                default=0,
            )
        except (ValueError, TypeError, KeyError, IndexError, AttributeError) as err:
            raise CheckpointError(
                f"{path}: not a readable safetensors file (header: {err})"
            ) from None
    finally:
        os.close(fd)
    return 8 + n + end


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
    "tables": (list,),
    "data": (dict,),
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
    missing = sorted(set(map(str, meta.get("tables", []))) - set(arrays))
    if missing:
        raise CheckpointError(
            f"{weights}: lacks the table(s) {', '.join(missing)} its sidecar lists"
        )
    _check_arrays(weights, arrays)
    _check_dataset(sidecar, meta)
    params = dict(meta["params"])
    if isinstance(params.get("device"), str) and not device_available(params["device"]):
        params["device"] = "auto"  # trained on a GPU this machine lacks: load it here
    data = {k[5:]: arrays.pop(k) for k in [k for k in arrays if k.startswith("data.")]}
    try:
        model = MODELS[meta["model"]].from_checkpoint_data(
            data, meta.get("data") or {}, tuple(meta["rating_scale"]), params
        )
    except (TypeError, ValueError) as err:
        raise CheckpointError(
            f"{sidecar}: bad parameters or data for {meta['model']}: {err}"
        ) from None
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
    try:
        net = model.build_net(len(model.user_map), len(model.item_map))
    except (ValueError, TypeError, RuntimeError) as err:
        raise CheckpointError(
            f"{sidecar}: cannot build {meta['model']} for these id maps: {err}"
        ) from None
    if net is not None:  # a model with a torch module: TorchRecommender, Blend
        state = {
            k[4:]: torch.from_numpy(v.copy()) for k, v in arrays.items() if k.startswith("net.")
        }
        _check_state(weights, meta["model"], model, state)
        try:
            model.net.load_state_dict(state)
        except RuntimeError as err:
            raise CheckpointError(
                f"{weights}: weights do not fit {meta['model']}: {str(err).splitlines()[0]}"
            ) from None
        model.net.eval()
    _check_scores(weights, meta["model"], model)
    if meta.get("history"):
        model.history_ = pd.DataFrame(meta["history"])
    model.checkpoint_meta_ = {k: meta[k] for k in ("dataset", "metrics") if k in meta}
    return model


def _check_arrays(weights: Path, arrays: dict) -> None:
    """Id maps present, integer, sorted and unique; every float table finite."""
    for key in ("map.user_ids", "map.item_ids"):
        ids = arrays.get(key)
        if ids is None:
            raise CheckpointError(f"{weights}: lacks the table {key!r}")
        if ids.ndim != 1 or ids.dtype.kind not in "iu":
            raise CheckpointError(f"{weights}: {key} is not a list of integer ids")
        if ids.size > 1 and not (np.diff(ids) > 0).all():
            raise CheckpointError(
                f"{weights}: {key} is not sorted and unique (altered: ids would map to "
                "the wrong rows)"
            )
    for key, value in arrays.items():
        if value.dtype.kind in "fc":
            bad = int(value.size - np.count_nonzero(np.isfinite(value)))
            if bad:
                raise CheckpointError(
                    f"{weights}: table {key!r} holds {bad:,} non-finite values (NaN or inf) "
                    f"of {value.size:,}"
                )


def _check_dataset(sidecar: Path, meta: dict) -> None:
    """The data set's checksum recorded at save against the data set here (when here)."""
    name, recorded = meta.get("dataset"), meta.get("dataset_checksum")
    if not name or not recorded:
        return
    from recsys_utils.data.movielens import dataset_checksum

    here = dataset_checksum(name)
    if here is not None and here != recorded:
        raise CheckpointError(
            f"{sidecar}: trained on {name} with checksum {recorded}, but {name} here has "
            f"{here} (another version or altered data)"
        )


def _check_state(weights: Path, model_name: str, model, state: dict) -> None:
    """Every table the net needs, with the shape the id maps give it; nothing else."""
    expected = {k: tuple(v.shape) for k, v in model.net.state_dict().items()}
    numel = {k: int(np.prod(v, dtype=np.int64)) for k, v in expected.items()}
    missing = sorted(set(expected) - set(state))
    if missing:
        raise CheckpointError(
            f"{weights}: weights do not fit {model_name}: no table(s) {', '.join('net.' + k for k in missing)}"
        )
    extra = sorted(set(state) - set(expected))
    if extra:
        raise CheckpointError(
            f"{weights}: weights do not fit {model_name}: table(s) "
            f"{', '.join('net.' + k for k in extra)} are not {model_name}'s"
        )
    for key, shape in expected.items():
        if tuple(state[key].shape) != shape and state[key].numel() != numel[key]:
            raise CheckpointError(
                f"{weights}: weights do not fit {model_name}: table net.{key} is {'x'.join(map(str, state[key].shape))}, but "
                f"{model_name} with {len(model.user_map):,} users and {len(model.item_map):,} "
                f"movies (the id maps) needs {'x'.join(map(str, shape))}"
            )


def _check_scores(weights: Path, model_name: str, model) -> None:
    """One user scores every movie with finite numbers (tables that fit each other).

    Shape errors from any model's scorer are refused here; a missing attribute is left
    to the recorded table list (``tables`` in the sidecar).
    """
    if len(model.user_map) == 0 or len(model.item_map) == 0:
        return
    try:
        scores = np.asarray(model.score_items(np.array([0])), dtype=np.float64)
    except AttributeError:
        return  # state a model rebuilds on demand (or cannot score known users after a load)
    except (ValueError, IndexError, RuntimeError, TypeError, KeyError) as err:  # misfit tables
        first = (str(err).splitlines() or [type(err).__name__])[0]
        raise CheckpointError(
            f"{weights}: its tables do not fit {model_name} ({type(err).__name__}: {first})"
        ) from None
    if scores.shape[-1] != len(model.item_map) or not np.isfinite(scores).all():
        raise CheckpointError(
            f"{weights}: {model_name} scores {scores.shape[-1]} movies for {len(model.item_map)} "
            "in its id map, or scores that are not finite"
        )


def _read_pair(sidecar: Path) -> tuple[dict, bytes]:
    """The sidecar and the weights it names, checked against its SHA-256.

    A save may replace the sidecar (and delete the old weights) between the two reads:
    then the sidecar has changed, and the new pair is read once more.
    """
    for attempt in range(2):
        meta = read_meta(sidecar)
        weights = sidecar.parent / Path(meta["weights"]).name
        try:
            size = _weights_size(weights)
            blob = _read_regular(weights, max(size, 8), "weights", folder=sidecar.parent)
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
