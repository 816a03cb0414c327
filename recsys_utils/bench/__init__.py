"""Benchmarks that print figures: each command is a module.

Public API: the command modules ``ranking``, ``peers``, ``coldstart``, ``personalisation``,
``embeddings`` and ``scale`` (each with the ``run`` / ``bench_*`` function its command
calls); that is ``__all__``, loaded from its module on first use so importing the package
imports nothing heavy (torch, numba, umap, optuna). Everything else, the ``_private``
modules and ``_helpers`` included, is internal and may change without notice.
"""

from recsys_utils import lazy_exports

_EXPORTS = {}
_MODULES = ("coldstart", "embeddings", "peers", "personalisation", "ranking", "scale")
__all__ = sorted([*_EXPORTS, *_MODULES])
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, _MODULES)
