"""Hyperparameter sweeps on Optuna: configuration, storage, trials, results, the run.

Modules:
    config: What a sweep explores: ``SweepConfig``, the default grid, and the command line's ``name=values``.
    guards: What a sweep may open: study names (never paths), journal files of ours, database URLs.
    results: A sweep's results: the tidy table (one row per trial and epoch), its summary, saving, loading.
    rules_grid: The rules baseline's knobs chosen on validation, by the same ranking metric as the nets.
    run: Hyperparameter sweeps on Optuna: grids, open searches, pruning, resume and workers.
    storage: Where a sweep lives, and keeping it whole: storage, repair, exactly-once grid points.
    trials: Running sweep trials: the protocol's split, the model of a point, the objective, workers.

Public names below are loaded from their module on first use, so importing
the package imports nothing heavy (torch, numba, umap, optuna).
"""

from recsys_utils import lazy_exports

_EXPORTS = {
    "DEFAULT_GRID": "config",
    "DEFAULT_OBJECTIVE": "config",
    "DuplicatePoint": "storage",
    "FINISHED": "storage",
    "JOURNAL_HEAD": "guards",
    "JOURNAL_NAME": "storage",
    "MAX_FAILURES": "storage",
    "MAX_RETRIES": "storage",
    "MAX_ROUNDS": "run",
    "POLL_S": "trials",
    "RESULT_COLUMNS": "results",
    "STUDY_NAME": "guards",
    "SUMMARY_STATS": "results",
    "SweepConfig": "config",
    "SweepResult": "results",
    "build_model": "trials",
    "check_database_url": "guards",
    "check_journal": "guards",
    "check_study_name": "guards",
    "cores": "trials",
    "failure_reason": "storage",
    "is_database": "storage",
    "journal_path": "storage",
    "load_results": "results",
    "load_split": "trials",
    "make_storage": "storage",
    "objective": "trials",
    "objective_of": "config",
    "open_study": "storage",
    "parse_space": "config",
    "parse_value": "config",
    "progress": "storage",
    "repair": "storage",
    "results_table": "results",
    "run_sweep": "run",
    "run_workers": "trials",
    "save_results": "results",
    "stop_reason": "storage",
    "storage_error": "guards",
    "study_dir": "storage",
    "trial_summary": "results",
    "tune": "rules_grid",
    "work": "trials",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
