# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 03 · Hyperparameter sweeps: batch size, learning rate and epochs, on Optuna
#
# The seed says the hard part of training is "finding the right balance between the sets
# of samples and the number of rounds". This notebook introduces sweeps that measure
# that balance. Each grid point (batch size x learning rate) is one Optuna trial that
# trains the model once and records validation RMSE after **every** epoch, so a single
# run gives the whole epoch curve and its best epoch instead of one retraining per epoch
# count. The study lives in a journal file under `data/sweeps/<study>/`: rerunning this
# notebook (or `python -m recsys_utils sweep ...` with the same settings) resumes it,
# and a killed or interrupted worker's point is retried, never counted twice.
#
# We sweep MF and CollabFNet, look at the best validation RMSE over the grid, the
# curves, and the time each trial takes; we measure what median pruning saves; and
# we retrain the chosen configuration and score it once on the test ratings.

# %% tags=["parameters"]
DATASET = "ml-latest-small"
MODELS = ["mf", "collabfnet"]
BATCH_SIZES = [256, 1024, 4096]
LEARNING_RATES = [0.001, 0.003, 0.01, 0.03]
EPOCHS = 30
PATIENCE = 3
WORKERS = 2
SEED = 42
PRUNE_MODEL = "mf"

# %%
import matplotlib.pyplot as plt
from IPython.display import display

from recsys_utils.app import plots
from recsys_utils.evaluation.metrics import rating_metrics
from recsys_utils.tuning import run as sweeps

grid = {"batch_size": BATCH_SIZES, "lr": LEARNING_RATES}
configs = {
    name: sweeps.SweepConfig(
        model=name, space=grid, epochs=EPOCHS, patience=PATIENCE, dataset=DATASET, seed=SEED
    )
    for name in MODELS
}
split, scale = sweeps.load_split(DATASET)
print(
    f"{len(BATCH_SIZES) * len(LEARNING_RATES)} grid points per model, up to {EPOCHS} epochs "
    f"(early stopping after {PATIENCE} epochs without gain); {split.sizes()}"
)

# %% [markdown]
# ## Run the grids
# `run_sweep` creates the study (or resumes it: points already done are not rerun),
# runs the trials in `WORKERS` processes, each with `cores // WORKERS` torch threads,
# and saves the tidy results table (one row per trial and epoch) as CSV and parquet.

# %%
runs = {name: sweeps.run_sweep(cfg, workers=WORKERS) for name, cfg in configs.items()}
for name, run in runs.items():
    print(f"\n{name}: study {run.study_name}, results in {run.folder}")
    display(run.summary)

# %% [markdown]
# ## Best validation RMSE over batch size x learning rate
# Each cell is the best epoch of that trial: the grid shows which learning rate each
# batch size wants (larger batches take fewer, larger steps per epoch).

# %%
fig, axes = plt.subplots(
    1, len(runs), figsize=(6 * len(runs), 3.5), layout="constrained", squeeze=False
)
for ax, (name, run) in zip(axes[0], runs.items(), strict=True):
    plots.sweep_heatmap(run.summary, ax=ax, title=f"{name}: best validation RMSE")
plt.show()

# %% [markdown]
# ## Validation RMSE against epoch
# One line per trial, coloured by learning rate, a panel per batch size. Where a curve
# turns up, the model starts to overfit; early stopping ends the trial a few epochs later
# and keeps the best epoch's weights.

# %%
for name, run in runs.items():
    plots.sweep_curves(run.results, title=f"{name}: validation RMSE per epoch")
    plt.show()

# %% [markdown]
# ## Time per trial
# Per-epoch cost falls with the batch size (fewer optimiser steps), but small learning
# rates need more epochs.

# %%
fig, axes = plt.subplots(
    1, len(runs), figsize=(6 * len(runs), 3.5), layout="constrained", squeeze=False
)
for ax, (name, run) in zip(axes[0], runs.items(), strict=True):
    plots.sweep_seconds(run.summary, ax=ax, title=f"{name}: seconds per trial")
plt.show()

# %% [markdown]
# ## What median pruning saves
# The same grid for one model with `MedianPruner`: a trial stops once its validation
# RMSE is worse than the median of earlier trials at the same epoch. We compare the
# training time of all trials and whether the same best point comes out.

# %%
pruned_cfg = sweeps.SweepConfig(**{**configs[PRUNE_MODEL].to_dict(), "prune": True})
pruned = sweeps.run_sweep(pruned_cfg, workers=WORKERS)
full_seconds = runs[PRUNE_MODEL].summary["seconds"].sum()
pruned_seconds = pruned.summary["seconds"].sum()
n_pruned = int((pruned.summary["state"] == "PRUNED").sum())
same_best = pruned.best_params == runs[PRUNE_MODEL].best_params
display(pruned.summary)

# %% [markdown]
# ## The chosen configuration, scored once on test
# The best point by validation RMSE over both models, retrained with the sweep's settings
# (same seed, so it reproduces the trial) and scored on the held-out test ratings.

# %%
best_name = min(runs, key=lambda n: runs[n].best_value)
best = runs[best_name]
model = sweeps.build_model(configs[best_name], best.best_params, scale)
model.fit(split.train, split.valid)
retrained_val_rmse = float(model.history_["val_rmse"].min())
test = rating_metrics(model, split.test)
print(
    f"chosen: {best_name} with {best.best_params}; validation RMSE {retrained_val_rmse:.4f} "
    f"(sweep: {best.best_value:.4f}); test RMSE {test['rmse']:.4f}, MAE {test['mae']:.4f}"
)

# %% [markdown]
# ## Conclusion

# %%
lines = [
    f"{name}: best validation RMSE {run.best_value:.4f} with batch size "
    f"{run.best_params['batch_size']} and learning rate {run.best_params['lr']:g}, at epoch "
    f"{int(run.summary['best_epoch'].iloc[0])}; all {len(run.summary)} trials trained for "
    f"{run.summary['seconds'].sum():.0f} s in all."
    for name, run in runs.items()
]
lines.append(
    f"Median pruning on {PRUNE_MODEL} stopped {n_pruned} of {len(pruned.summary)} trials and "
    f"cut training time from {full_seconds:.0f} s to {pruned_seconds:.0f} s "
    f"({full_seconds / max(pruned_seconds, 1e-9):.1f}x); it found "
    f"{'the same' if same_best else 'a different'} best point ({pruned.best_params})."
)
lines.append(
    f"The chosen configuration, {best_name} {best.best_params}, scores test RMSE "
    f"{test['rmse']:.4f} (validation {retrained_val_rmse:.4f})."
)
print("\n".join(lines))

# %%
from recsys_utils.app.report import record_figures

record_figures(
    {
        "dataset": DATASET,
        "n_points": len(BATCH_SIZES) * len(LEARNING_RATES),
        **{f"{n}_n_trials": len(r.summary) for n, r in runs.items()},
        **{f"{n}_best_val_rmse": r.best_value for n, r in runs.items()},
        **{f"{n}_best_params": r.best_params for n, r in runs.items()},
        **{f"{n}_best_epoch": int(r.summary["best_epoch"].iloc[0]) for n, r in runs.items()},
        **{f"{n}_train_seconds": float(r.summary["seconds"].sum()) for n, r in runs.items()},
        "prune_model": PRUNE_MODEL,
        "pruned_trials": n_pruned,
        "pruned_train_seconds": float(pruned_seconds),
        "prune_speedup": float(full_seconds / max(pruned_seconds, 1e-9)),
        "prune_same_best": bool(same_best),
        "chosen_model": best_name,
        "chosen_params": best.best_params,
        "retrained_val_rmse": retrained_val_rmse,
        "test_rmse": test["rmse"],
        "test_mae": test["mae"],
    }
)
