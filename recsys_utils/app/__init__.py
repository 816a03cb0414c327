"""What people see: the widget app, plots, figures and the HTML report pipeline.

Modules:
    figures: The key figures of a notebook run: shown as a table, stored in the executed notebook.
    glossary: The glossary of the reports, and the links from a page's words to it.
    index: ``reports/index.html``: the page a colleague reads in a minute, and the links between reports.
    map_plots: Figures of the embedding space and the recommendation demo (notebooks 05 and 06).
    plots: The figures the notebooks show. Each function draws one figure and returns it.
    report: The HTML reports: papermill runs the notebooks, nbconvert exports them, offline.
    serve: ``make demo``: the recommendation app (notebook 06's widgets) served live as a web page.
    widgets: The recommendation app: ipywidgets 8, three tabs, results as escaped HTML tables.

Public names below are loaded from their module on first use, so importing
the package imports nothing heavy (torch, numba, umap, optuna).
"""

from recsys_utils import lazy_exports

_EXPORTS = {
    "APP_CELL": "serve",
    "CHECKPOINT_ENV": "serve",
    "DEFAULT_PORT": "serve",
    "FIGURES_MIME": "figures",
    "FINDINGS_KEY": "figures",
    "GLOSSARY": "glossary",
    "HOST": "serve",
    "KERNEL_ENV": "report",
    "MAX_CARD_FIGURES": "index",
    "MAX_INLINE_ITEMS": "index",
    "MAX_MATCHES": "widgets",
    "NOTEBOOK_GLOB": "report",
    "NotebookError": "report",
    "REQUIRE_JS": "report",
    "RecommenderApp": "widgets",
    "TAKEAWAY_KEY": "index",
    "TEMPLATES_DIR": "report",
    "THUMBS_DIR": "index",
    "Term": "glossary",
    "VENDOR_DIR": "report",
    "WIDGETS_JS": "report",
    "bias_vs_norm": "map_plots",
    "build_report": "report",
    "check_parameters": "report",
    "declared_parameters": "report",
    "bulk_limits": "plots",
    "category_colors": "map_plots",
    "distinct_colors": "plots",
    "export_html": "report",
    "figures_bundle": "figures",
    "find_notebooks": "report",
    "finding_html": "figures",
    "finding_text": "figures",
    "findings_of": "figures",
    "fold_in_curve_plot": "map_plots",
    "folded": "figures",
    "format_value": "figures",
    "genre_counts": "plots",
    "glossary_html": "glossary",
    "group_rare": "plots",
    "html_table": "widgets",
    "interactive_map": "map_plots",
    "interval_dots": "plots",
    "learning_curves": "plots",
    "link_notebooks": "index",
    "link_reports": "index",
    "link_terms": "glossary",
    "map_text": "glossary",
    "message": "widgets",
    "metric_bars": "plots",
    "place_labels": "map_plots",
    "port_is_free": "serve",
    "rating_distribution": "plots",
    "ratings_over_time": "plots",
    "ratings_per_user_and_movie": "plots",
    "read_figures": "figures",
    "read_table": "figures",
    "record_figures": "figures",
    "report_nav": "index",
    "parse_value": "report",
    "report_one": "report",
    "run_notebook": "report",
    "serve": "serve",
    "split_figures": "index",
    "static_maps": "map_plots",
    "sweep_curves": "plots",
    "sweep_heatmap": "plots",
    "sweep_heatmaps": "plots",
    "sweep_seconds": "plots",
    "takeaways": "index",
    "thumbnail": "index",
    "tidy": "figures",
    "unbacked_comparisons": "figures",
    "voila_command": "serve",
    "write_app_notebook": "serve",
    "write_index": "index",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
