"""What people see: the widget app, plots, figures and the HTML report pipeline.

Public API: the figure modules ``plots`` and ``map_plots``, the app (``RecommenderApp``, the
``widgets`` module, ``serve``), a notebook's recorded figures (``record_figures``,
``read_figures``, ``format_value``, ``tidy``, ``folded``) and the reports (``build_report``,
``NotebookError``, the ``report`` module, ``write_index``); that is ``__all__``, loaded from
its module on first use so importing the package imports nothing heavy (torch, numba, umap,
optuna). Everything else, the ``_private`` modules and ``_helpers`` included, is internal
and may change without notice.
"""

from recsys_utils import lazy_exports

_EXPORTS = {
    "folded": "figures",
    "format_value": "figures",
    "read_figures": "figures",
    "record_figures": "figures",
    "tidy": "figures",
    "write_index": "index",
    "build_report": "report",
    "NotebookError": "report",
    "serve": "serve",
    "RecommenderApp": "widgets",
}
_MODULES = ("plots", "map_plots", "widgets", "report")
__all__ = sorted([*_EXPORTS, *_MODULES])
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, _MODULES)
