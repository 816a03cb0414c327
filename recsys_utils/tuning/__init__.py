"""Hyperparameter sweeps on Optuna: configuration, storage, trials, results, the run.

Public API: ``run_sweep`` and ``SweepConfig``, ``parse_space``, ``DEFAULT_GRID``, the
results (``SweepResult``, ``load_results``), the rules baseline's ``tune``, and the ``run``
module (what the CLI and notebook 04 use); that is ``__all__``, loaded from its module on
first use so importing the package imports nothing heavy (torch, numba, umap, optuna).
Everything else, the ``_private`` modules and ``_helpers`` included, is internal and may
change without notice.
"""

from recsys_utils import lazy_exports

_EXPORTS = {
    "DEFAULT_GRID": "config",
    "parse_space": "config",
    "SweepConfig": "config",
    "load_results": "results",
    "SweepResult": "results",
    "tune": "rules_grid",
    "run_sweep": "run",
}
_MODULES = ("run",)
__all__ = sorted([*_EXPORTS, *_MODULES])
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, _MODULES)
