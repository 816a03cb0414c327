"""What a sweep explores: ``SweepConfig``, the default grid, and the command line's ``name=values``.

This module imports nothing else of the sweeps, so storage, trials and results can all
depend on it without a circle.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import re
from pathlib import Path

import numpy as np

from recsys_utils.constants import DEFAULT_DATASET

DEFAULT_GRID = {"batch_size": [256, 1024, 4096], "lr": [0.001, 0.003, 0.01, 0.03]}
# a model's declared objective (``capabilities.objective``, a metric of its per-epoch
# log); models that declare none are judged by validation RMSE
DEFAULT_OBJECTIVE = ("val_rmse", "minimize")
MAXIMISED = ("val_ndcg@100",)


def objective_of(model: str) -> tuple[str, str]:
    """(metric, "minimize" | "maximize") a sweep of ``model`` optimises: the model's
    declared ``capabilities.objective`` (``PooledSoftmax``: validation NDCG@100, maximised)."""
    from recsys_utils.models.registry import MODELS

    metric = MODELS[model].capabilities.objective or DEFAULT_OBJECTIVE[0]
    return metric, "maximize" if metric in MAXIMISED else "minimize"


@dataclasses.dataclass
class SweepConfig:
    """What a sweep explores; its hash names the default study.

    Attributes:
        model: a ``models.MODELS`` name.
        space: parameter -> list of values (grid or categorical) or ``(low, high, log)``.
        sampler: ``"grid"`` (every combination once), ``"random"`` or ``"tpe"``.
        n_trials: trials to finish for random/TPE (ignored for grids).
        epochs, patience: the training budget per trial (early stopping on validation RMSE).
        fixed: other model keyword arguments, the same in every trial.
        dataset: a MovieLens release name, or a parquet/CSV file of tidy ratings.
        seed: model initialisation and sampler seed.
        prune: stop trials whose curve is worse than the median (``MedianPruner``).
        prune_startup, prune_warmup: trials and epochs before pruning may start. Early
            stopping already ends every trial a few epochs after its best, so pruning only
            pays when it may act from the first epoch (warm-up 0) after two finished trials;
            on the default MF grid that keeps the same best point and halves training time.
    """

    model: str = "mf"
    space: dict = dataclasses.field(default_factory=lambda: dict(DEFAULT_GRID))
    sampler: str = "grid"
    n_trials: int | None = None
    epochs: int = 30
    patience: int | None = 3
    fixed: dict = dataclasses.field(default_factory=dict)
    dataset: str = DEFAULT_DATASET
    seed: int = 42
    prune: bool = False
    prune_startup: int = 2
    prune_warmup: int = 0

    def __post_init__(self):
        if self.sampler not in ("grid", "random", "tpe"):
            raise ValueError(f"sampler must be grid, random or tpe, got {self.sampler!r}")
        self.space = {
            k: list(v) if isinstance(v, list) else tuple(v) for k, v in self.space.items()
        }
        if not self.space:
            raise ValueError("the search space is empty: give at least one parameter")
        if self.sampler == "grid" and not all(isinstance(v, list) for v in self.space.values()):
            raise ValueError("a grid needs value lists (name=a,b,c); use --sampler tpe for ranges")
        if self.sampler != "grid" and not self.n_trials:
            raise ValueError(f"sampler {self.sampler!r} needs n_trials")

    def to_dict(self) -> dict:
        """The configuration as plain JSON values (tuples become lists), as the study stores it."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    def default_study_name(self) -> str:
        """``<model>-<data set>-<hash of the settings>``: the same settings resume the study."""
        digest = hashlib.sha1(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()
        stem = re.sub(r"[^A-Za-z0-9._-]", "_", Path(self.dataset).stem).lstrip(".")[:60]
        return f"{self.model}-{stem}-{digest[:8]}"

    @property
    def objective(self) -> tuple[str, str]:
        """(metric, direction) of this sweep's model; see ``objective_of``."""
        return objective_of(self.model)

    def points(self) -> list[dict]:
        """The grid's points, each {parameter: value} in ``space`` order ([] for random/TPE)."""
        from recsys_utils.evaluation import grid_points

        return grid_points(self.space) if self.sampler == "grid" else []

    @property
    def n_points(self) -> int:
        """The grid's number of points (0 for random/TPE)."""
        return int(np.prod([len(v) for v in self.space.values()])) if self.sampler == "grid" else 0


# --- parsing the command line's name=values -----------------------------------------
def parse_value(text: str):
    """``"256"`` -> 256, ``"1e-3"`` -> 0.001, ``"none"`` -> None, else the string."""
    low = text.strip().lower()
    if low in ("none", "null"):
        return None
    if low in ("true", "false"):
        return low == "true"
    for kind in (int, float):
        with contextlib.suppress(ValueError):
            return kind(text)
    return text.strip()


def parse_space(items: list[str]) -> dict:
    """``["batch_size=256,1024", "lr=1e-4:1e-1:log"]`` -> lists and (low, high, log) ranges."""
    space: dict = {}
    for item in items:
        name, sep, values = item.partition("=")
        if not sep or not name or not values:
            raise ValueError(f"expected name=v1,v2 or name=low:high[:log], got {item!r}")
        if ":" in values:
            low, high, *log = values.split(":")
            space[name] = (parse_value(low), parse_value(high), log == ["log"])
        else:
            space[name] = [parse_value(v) for v in values.split(",")]
    return space
