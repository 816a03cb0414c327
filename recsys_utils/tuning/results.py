"""A sweep's results: the tidy table (one row per trial and epoch), its summary, saving, loading.

The table is saved as ``data/sweeps/<study>/results.csv`` and ``results.parquet``; for
grids it keeps one finished trial per point.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from recsys_utils.tuning._storage import FINISHED, _key, progress, stop_reason, study_dir

if TYPE_CHECKING:
    from recsys_utils.tuning.config import SweepConfig

RESULT_COLUMNS = ("trial", "state", "epoch", "train_loss", "val_rmse", "seconds")
_SUMMARY_STATS = ("epochs", "best_epoch", "best_val_rmse", "seconds")


@dataclasses.dataclass
class SweepResult:
    """What ``run_sweep`` leaves: the tidy table, one row per trial, the best point."""

    study_name: str
    results: pd.DataFrame
    summary: pd.DataFrame
    best_params: dict | None
    best_value: float | None
    complete: bool
    seconds: float
    folder: Path
    stopped: str | None = None  # why it stopped early: too many trials failed in a row


def results_table(study, cfg: SweepConfig) -> pd.DataFrame:
    """One row per finished trial and epoch: trial, state, params, epoch, train_loss, val_rmse, seconds.

    For grids, one trial per point (the lowest-numbered finished one).
    """
    names = list(cfg.space)
    metric = cfg.objective[0]
    extra = [] if metric in RESULT_COLUMNS else [metric]  # a ranking model's objective
    seen, rows = set(), []
    for t in sorted(study.get_trials(deepcopy=False), key=lambda t: t.number):
        key = _key({n: t.params.get(n) for n in names})
        if t.state.name not in FINISHED or (cfg.sampler == "grid" and key in seen):
            continue
        seen.add(key)
        for r in t.user_attrs.get("history", []):
            rows.append(
                {
                    "trial": t.number,
                    "state": t.state.name,
                    **{n: t.params[n] for n in names},
                    **{c: r.get(c, float("nan")) for c in (*RESULT_COLUMNS[2:], *extra)},
                }
            )
    columns = [*RESULT_COLUMNS[:2], *names, *RESULT_COLUMNS[2:], *extra]
    return pd.DataFrame(rows, columns=columns).astype(
        {
            "trial": "int64",
            "epoch": "int64",
            "train_loss": "float64",
            "val_rmse": "float64",
            "seconds": "float64",
            **dict.fromkeys(extra, "float64"),
        }
    )


def trial_summary(results: pd.DataFrame, objective=("val_rmse", "minimize")) -> pd.DataFrame:
    """One row per trial: its params, state, epochs run, best epoch and objective, seconds
    (best first; ``objective`` is the sweep's (metric, direction), ``cfg.objective``)."""
    metric, direction = objective
    params = [c for c in results.columns if c not in (*RESULT_COLUMNS, metric)]
    run = "epochs_run" if "epochs" in params else "epochs"  # a grid over epochs keeps its name
    stats = [s.replace("val_rmse", metric).replace("epochs", run) for s in _SUMMARY_STATS]
    cols = ["state", *params, *stats]
    if results.empty:
        return pd.DataFrame(columns=["trial", *cols])
    pick = "idxmax" if direction == "maximize" else "idxmin"
    best = results.loc[getattr(results.groupby("trial")[metric], pick)()].set_index("trial")
    agg = results.groupby("trial").agg(**{run: ("epoch", "max"), "seconds": ("seconds", "sum")})
    out = (
        best[["state", *params]]
        .join(agg)
        .assign(best_epoch=best["epoch"], **{f"best_{metric}": best[metric]})
    )
    return (
        out[cols]
        .reset_index()
        .sort_values(
            f"best_{metric}", ascending=direction != "maximize", kind="mergesort", ignore_index=True
        )
    )


def _write_atomically(results, folder) -> None:
    """``results.csv`` and ``results.parquet``, each to a temp name then renamed; a folder
    that cannot be written (read-only, full) is one line naming the path, no temp left."""
    import os

    for name, write in (("results.csv", results.to_csv), ("results.parquet", results.to_parquet)):
        path = folder / name
        tmp = folder / f".{name}.{os.getpid()}.tmp"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            write(tmp, index=False)
            os.replace(tmp, path)
        except OSError as err:
            raise ValueError(
                f"{err.filename or path}: cannot write the sweep's results ({err.strerror or err})"
            ) from None
        finally:
            if tmp.exists():
                tmp.unlink()


def save_results(study, cfg: SweepConfig, study_name: str, seconds: float) -> SweepResult:
    """Write the study's tidy table under ``study_dir(study_name)``; the best COMPLETE point.

    Args:
        study: the Optuna study.
        cfg: the sweep's configuration.
        study_name: names the folder.
        seconds: how long the run took, recorded on the result.
    """
    results = results_table(study, cfg)
    folder = study_dir(study_name)
    _write_atomically(results, folder)
    summary = trial_summary(results, cfg.objective)
    done = summary[summary["state"] == "COMPLETE"]
    best_params = best_value = None
    if len(done):
        best = done.iloc[0]
        # numpy scalars to plain Python, so the params compare and print as given
        best_params = {
            n: best[n].item() if hasattr(best[n], "item") else best[n] for n in cfg.space
        }
        best_value = float(best[f"best_{cfg.objective[0]}"])
    p = progress(study, cfg)
    complete = p["open"] == 0 and p["running"] == 0
    stopped = stop_reason(study, cfg)
    return SweepResult(
        study_name,
        results,
        summary,
        best_params,
        best_value,
        complete and not stopped,
        seconds,
        folder,
        stopped,
    )


def load_results(study_name: str) -> pd.DataFrame:
    """The saved tidy table of a study (``data/sweeps/<study>/results.parquet``)."""
    return pd.read_parquet(study_dir(study_name) / "results.parquet")
