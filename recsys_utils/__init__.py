"""recsys_utils: the package behind the movie-embeddings workbench notebooks.

The package is laid out by concern, one subpackage a layer (bottom to top): ``data``,
``training``, ``models``, ``embeddings``, ``recommend``, ``evaluation``, ``tuning``,
``bench``, ``app``, ``cli``; ``constants`` sits below them all. Each subpackage's public
names are loaded on first use (``from recsys_utils.models import MF``), so importing a
package imports nothing heavy and ``python -m recsys_utils --help`` stays fast.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"


def lazy_exports(package: str, exports: dict[str, str]):
    """Module ``__getattr__`` and ``__dir__`` that load each public name from its module.

    Args:
        package: the subpackage's ``__name__``.
        exports: public name -> module name inside the subpackage.

    Returns:
        (``__getattr__``, ``__dir__``) for the subpackage's ``__init__``.
    """

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
        return sorted(exports)

    return __getattr__, __dir__
