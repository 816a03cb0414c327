"""The registry of models by name: ``register`` (a class decorator), ``MODELS``, ``make_model``.

The registry imports no model. Each model module registers its classes with
``@register`` when it is imported; ``MODELS`` imports the modules named in
``MODEL_MODULES`` the first time it is read, so ``MODELS["mf"]`` works without the
caller importing torch models first. Checkpoints and sweep studies store only the
registry name, which is why they keep loading when modules move.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping

MODEL_MODULES = (
    "recsys_utils.models.baselines",
    "recsys_utils.models.torch_models",
    "recsys_utils.models.blend",
    "recsys_utils.models.rules",
    "recsys_utils.models.ease",
    "recsys_utils.models.ranking",
    "recsys_utils.models.content",
    "recsys_utils.models.hybrid",
    "recsys_utils.models.implicit_peers",
)

_CLASSES: dict[str, type] = {}


def register(cls: type) -> type:
    """Class decorator: file ``cls`` under ``cls.name``; a second class of that name is refused."""
    name = cls.name
    known = _CLASSES.get(name)
    if known is not None and known.__qualname__ != cls.__qualname__:
        raise ValueError(f"model name {name!r} is taken by {known.__module__}.{known.__qualname__}")
    _CLASSES[name] = cls
    return cls


class _Models(Mapping):
    """Read-only view of the registry that imports every model module on first use."""

    _loaded = False

    def _load(self) -> dict[str, type]:
        if not self._loaded:
            for module in MODEL_MODULES:
                importlib.import_module(module)
            # listed in module order, whichever module a caller happened to import first
            order = {m: k for k, m in enumerate(MODEL_MODULES)}
            ranked = sorted(
                _CLASSES.items(), key=lambda kv: order.get(kv[1].__module__, len(order))
            )
            _CLASSES.clear()
            _CLASSES.update(ranked)
            type(self)._loaded = True
        return _CLASSES

    def __getitem__(self, name: str) -> type:
        return self._load()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._load())

    def __len__(self) -> int:
        return len(self._load())

    def __repr__(self) -> str:
        return f"MODELS({', '.join(self)})"


MODELS: Mapping[str, type] = _Models()


def make_model(name: str, **params):
    """A model by registry name (``MODELS``) with keyword hyperparameters.

    Raises:
        ValueError: no model is registered under ``name``.
    """
    try:
        cls = MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; known: {', '.join(MODELS)}") from None
    return cls(**params)
