"""recsys_utils: the package behind the movie-embeddings workbench notebooks.

The package is laid out by concern, one subpackage a layer (bottom to top): ``data``,
``metrics``, ``training``, ``models``, ``embeddings``, ``recommend``, ``evaluation``,
``tuning``, ``bench``, ``app``, ``cli``; ``constants`` sits below them all. Public API: the
subpackages and ``constants`` (``__all__``); each subpackage's own ``__all__`` says what a
user may touch, and everything else (``_private`` modules and ``_helpers``) is internal.
Each subpackage's public names are loaded on first use (``from recsys_utils.models import
MF``), so importing a package imports nothing heavy and ``python -m recsys_utils --help``
stays fast.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "app",
    "bench",
    "cli",
    "constants",
    "data",
    "embeddings",
    "evaluation",
    "metrics",
    "models",
    "recommend",
    "training",
    "tuning",
]


def lazy_exports(package: str, exports: dict[str, str], modules: tuple[str, ...] = ()):
    """Module ``__getattr__`` and ``__dir__`` that load each public name from its module.

    The package machinery of every subpackage's ``__init__``, not part of the public API.

    Args:
        package: the subpackage's ``__name__``.
        exports: public name -> module name inside the subpackage.
        modules: public modules of the subpackage, exported as themselves (a namespace
            such as ``app.plots``, whose every public name is for users).

    Returns:
        (``__getattr__``, ``__dir__``) for the subpackage's ``__init__``; ``__dir__`` is the
        ``__all__`` the two make, the exported names and modules, sorted.
    """
    public = sorted({*exports, *modules})

    def __getattr__(name: str):
        module = exports.get(name)
        if module is None:
            try:  # a submodule, e.g. ``recsys_utils.models.checkpoints``
                return importlib.import_module(f"{package}.{name}")
            except ModuleNotFoundError as err:
                if err.name != f"{package}.{name}":
                    raise
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{module}"), name)

    def __dir__():
        return list(public)

    return __getattr__, __dir__
