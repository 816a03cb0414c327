# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 04 · Hyperparameter sweeps: batch size, learning rate and epochs, on Optuna
#
# The blog post says the hard part of training is "finding the right balance between the sets
# of samples and the number of rounds". This notebook introduces sweeps that measure
# that balance. Each grid point (batch size x learning rate) is one Optuna trial that
# trains the model once and records validation RMSE after **every** epoch, so a single
# run gives the whole epoch curve and its best epoch instead of one retraining per epoch
# count. The study lives in a journal file under `data/sweeps/<study>/`: rerunning this
# notebook (or `python -m recsys_utils sweep ...` with the same settings) resumes it,
# and a killed or interrupted worker's point is retried, never counted twice.
#
# We sweep MF and CollabFNet, look at the best validation RMSE over the grid, the
# curves, and the time each trial takes; we measure what median pruning saves; we ask
# whether the model chosen is ahead of the other by more than noise (a paired test on the
# validation users); and we score the chosen configuration once on the test ratings. Notebook 02
# trained MF with a setting of its own (a larger batch, L2 and a cosine schedule), and that
# setting is what the later notebooks load (notebook 02's `mf` checkpoint, read by 05 and 06):
# it joins the candidates as one more point, run on the same split, so the choice is made
# among the grid's best points *and* the setting in use.

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
import pandas as pd
from IPython.display import Markdown, display

from recsys_utils.app import plots
from recsys_utils.app.figures import folded, tidy
from recsys_utils.app.figures import format_value as fmt
from recsys_utils.evaluation import stats
from recsys_utils.evaluation.metrics import rating_metrics
from recsys_utils.models.recipes import TUNED
from recsys_utils.tuning import run as sweeps

grid = {"batch_size": BATCH_SIZES, "lr": LEARNING_RATES}
configs = {
    name: sweeps.SweepConfig(
        model=name, space=grid, epochs=EPOCHS, patience=PATIENCE, dataset=DATASET, seed=SEED
    )
    for name in MODELS
}
split, scale = sweeps.load_sweep_split(DATASET)
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
runs = {
    name: sweeps.run_sweep(cfg, workers=WORKERS, verbose=False) for name, cfg in configs.items()
}
for name, run in runs.items():
    print(f"{name}: {len(run.summary)} trials, best validation RMSE {fmt(run.best_value)}")
    display(folded(f"{name}: every trial (study {run.study_name})", run.summary))

# %% [markdown]
# ## Best validation RMSE over batch size x learning rate
# Each cell holds the trial's lowest validation RMSE over its epochs (lower is better):
# the grid shows which learning rate each batch size wants (larger batches take fewer,
# larger steps per epoch). Both panels share **one** colour scale, so a colour is the same
# RMSE in each; it spans the bulk of the cells, and a cell beyond it (a trial that diverged)
# is drawn in the end colour and marked ▲. These are figures of one random seed: differences of a
# few thousandths between cells are within the noise measured below.

# %%
plots.sweep_heatmaps({name: run.summary for name, run in runs.items()})
plt.show()

# %% [markdown]
# ## Validation RMSE against epoch
# One line per trial, a colour per learning rate, a panel per batch size, all panels on
# one y axis. Where a curve turns up, the model starts to overfit; early stopping ends the
# trial a few epochs later and keeps the best epoch's weights.

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
pruned = sweeps.run_sweep(pruned_cfg, workers=WORKERS, verbose=False)
full_seconds = runs[PRUNE_MODEL].summary["seconds"].sum()
pruned_seconds = pruned.summary["seconds"].sum()
n_pruned = int((pruned.summary["state"] == "PRUNED").sum())
same_best = pruned.best_params == runs[PRUNE_MODEL].best_params
display(folded(f"{PRUNE_MODEL} with pruning: every trial", pruned.summary))

# %% [markdown]
# ## Notebook 02's MF setting: one more candidate
# Notebook 02 trains MF with batch size, learning rate, L2 and schedule of its own
# (`TUNED["mf"]`: L2 and a cosine schedule that the grid's points do not use), and its
# checkpoint is the MF that notebooks 05 and 06 load. One trial of that setting, on the
# same split and seed, makes it a candidate beside each model's best grid point.

# %%
reference_params = TUNED["mf"]
reference_cfg = sweeps.SweepConfig(
    model="mf",
    space={"batch_size": [reference_params["batch_size"]], "lr": [reference_params["lr"]]},
    fixed={k: v for k, v in reference_params.items() if k not in ("batch_size", "lr", "epochs")},
    epochs=min(EPOCHS, reference_params["epochs"]),
    patience=None,
    dataset=DATASET,
    seed=SEED,
)
reference = sweeps.run_sweep(reference_cfg, workers=1, verbose=False)
REFERENCE = "notebook 02's MF"
setting_02 = (
    f"batch size {reference_params['batch_size']:,}, learning rate {reference_params['lr']:g}, "
    f"L2 {reference_params['l2']:g}, a {reference_params['schedule']} schedule over "
    f"{reference_params['epochs']} epochs"
)
best_of = {name: run.best_value for name, run in runs.items()} | {REFERENCE: reference.best_value}
comparison = pd.DataFrame(
    {
        "setting": [f"sweep best ({name})" for name in runs] + [setting_02],
        "best validation RMSE": list(best_of.values()),
    },
    index=pd.Index(list(best_of), name="candidate"),
)
tidy(comparison)

# %% [markdown]
# ## Is the chosen candidate ahead, or within noise?
# The candidate with the lowest validation RMSE is chosen, but on one random seed a gap of a few
# thousandths can be noise. Each candidate is retrained with its trial's settings (same
# seed, so it reproduces the trial) and scored per validation user: each user's own RMSE,
# a 95% t-interval over users per candidate, and a paired t-test on the same users for
# each difference to the chosen one, Holm-adjusted over the pairs (`evaluation.stats`;
# "ahead" only where the interval of the difference excludes 0, "on par" otherwise).

# %%
cfg_of = {**configs, REFERENCE: reference_cfg}
params_of = {name: run.best_params for name, run in runs.items()} | {
    REFERENCE: reference.best_params
}
fitted = {name: sweeps.build_model(cfg_of[name], params_of[name], scale) for name in best_of}
for m in fitted.values():
    m.fit(split.train, split.valid)
valid_rows = stats.rating_rows(fitted, split.valid, seed=SEED)
ranked = sorted(best_of, key=best_of.get)  # the chosen candidate first
best_name = ranked[0]
choice = stats.compare_table(valid_rows, "rmse", models=ranked)  # every pair, Holm over them
display(choice.display().rename(columns={"rmse": "RMSE per validation user [95% interval]"}))
NAMES = {"mf": "MF (sweep best)", "collabfnet": "CollabFNet (sweep best)",
         REFERENCE: "MF (notebook 02's setting)"}  # fmt: skip
verdicts = {
    (c.a, c.b): stats.verdict(c, a=NAMES.get(c.a, c.a), b=NAMES.get(c.b, c.b))
    for c in choice.comparisons
}
against_chosen = [c for c in choice.comparisons if c.a == best_name]
choice_within_noise = not all(c.significant for c in against_chosen)
mf_vs_cnet = next(c for c in choice.comparisons if {c.a, c.b} == {"mf", "collabfnet"})
for text in verdicts.values():
    display(Markdown(text))

# %% [markdown]
# The same pairs as dots: each difference in RMSE per validation user with its 95%
# interval (Holm's adjusted p decides the verdict). Users differ from each other far more
# than the candidates do, so each candidate's own interval is wide; the paired difference,
# taken user by user, removes that spread. A bar that crosses the dotted 0 is "on par".

# %%
gaps = choice.pairs.assign(
    pair=[
        f"{NAMES[a]} - {NAMES[b]}"
        for a, b in zip(choice.pairs["a"], choice.pairs["b"], strict=True)
    ]
).set_index("pair")
fig, ax = plt.subplots(figsize=(10, 0.6 * len(gaps) + 1.4), layout="constrained")
plots.interval_dots(
    gaps, ax=ax, mean="diff", reference=0.0,
    title="Difference in RMSE per validation user (negative: the first is better)",
    xlabel="RMSE difference, 95% t-interval over users",
)  # fmt: skip
plt.show()

# %% [markdown]
# ## The chosen configuration, scored once on test
# The candidate with the lowest validation RMSE (retrained above) is scored on the
# held-out test ratings.

# %%
model = fitted[best_name]
retrained_val_rmse = float(model.history_["val_rmse"].min())
test = rating_metrics(model, split.test)
print(
    f"chosen: {NAMES[best_name]}, batch size {params_of[best_name]['batch_size']:,}, learning "
    f"rate {params_of[best_name]['lr']:g}; validation RMSE {fmt(retrained_val_rmse)} (in its "
    f"trial {fmt(best_of[best_name])}); test RMSE {fmt(test['rmse'])}, MAE {fmt(test['mae'])}"
)

# %% [markdown]
# ## What this run found

# %%
from recsys_utils.app.report import record_figures

findings = [
    f"{name}: best validation RMSE {fmt(run.best_value)} with batch size "
    f"{run.best_params['batch_size']:,} and learning rate {run.best_params['lr']:g} "
    f"(best epoch {int(run.summary['best_epoch'].iloc[0])}); its {len(run.summary)} trials "
    f"trained for {fmt(float(run.summary['seconds'].sum()))} s."
    for name, run in runs.items()
]
findings.append(
    f"Chosen by validation RMSE among the grid's best points and notebook 02's setting: "
    f"{NAMES[best_name]}. Per validation user (mean of each user's RMSE, paired t-test on the "
    "same users, Holm over the pairs): "
    + "; ".join(verdicts[(c.a, c.b)] for c in against_chosen)
    + (
        ". The choice is within noise: on this random seed the test does not separate the "
        "chosen candidate from every other one."
        if choice_within_noise
        else "."
    )
)
if mf_vs_cnet not in against_chosen:  # else the sentence above holds it already
    findings.append(
        "MF against CollabFNet, each at its best grid point: "
        + verdicts[(mf_vs_cnet.a, mf_vs_cnet.b)]
        + "."
    )
findings.append(
    f"The later notebooks (05, 06) load notebook 02's MF checkpoint, trained with {setting_02}; "
    f"run here for {reference_cfg.epochs} epoch{'s' * (reference_cfg.epochs != 1)} on the same "
    f"split, it scores validation RMSE "
    f"{fmt(reference.best_value)}"
    + (
        ", and it is the candidate chosen."
        if best_name == REFERENCE
        else f", and {verdicts[(best_name, REFERENCE)]}."
    )
)
findings.append(
    f"Median pruning on {PRUNE_MODEL} stopped {n_pruned} of {len(pruned.summary)} trials and cut "
    f"training time from {fmt(float(full_seconds))} s to {fmt(float(pruned_seconds))} s "
    f"({full_seconds / max(pruned_seconds, 1e-9):.1f}x), finding "
    f"{'the same' if same_best else 'a different'} best point."
    if n_pruned
    else f"Median pruning on {PRUNE_MODEL} stopped none of {len(pruned.summary)} trials: the same "
    f"work, so the two training times ({fmt(float(full_seconds))} s and "
    f"{fmt(float(pruned_seconds))} s) differ only by the machine's load."
)
findings.append(
    f"The chosen configuration, {NAMES[best_name]} with batch size "
    f"{params_of[best_name]['batch_size']:,} and learning rate {params_of[best_name]['lr']:g}, "
    f"scores test RMSE {fmt(test['rmse'])} (validation {fmt(retrained_val_rmse)}); notebook "
    "02's lowest test RMSE comes from its blend of three models, which no single setting here "
    "matches."
)
record_figures(
    {
        "findings": findings,
        "takeaway": f"Sweeps (notebook 04, one random seed): chosen {NAMES[best_name]}; "
        + "; ".join(verdicts[(c.a, c.b)] for c in against_chosen)
        + (": the choice is within noise." if choice_within_noise else "."),
        "dataset": DATASET,
        "n_points": len(BATCH_SIZES) * len(LEARNING_RATES),
        **{f"{n}_n_trials": len(r.summary) for n, r in runs.items()},
        **{f"{n}_best_val_rmse": r.best_value for n, r in runs.items()},
        **{f"{n}_best_params": r.best_params for n, r in runs.items()},
        **{f"{n}_best_epoch": int(r.summary["best_epoch"].iloc[0]) for n, r in runs.items()},
        **{f"{n}_train_seconds": float(r.summary["seconds"].sum()) for n, r in runs.items()},
        "reference_val_rmse": reference.best_value,
        "reference_setting": dict(reference_params),
        "later_notebooks_load": REFERENCE,
        "candidates_val_rmse": best_of,
        "prune_model": PRUNE_MODEL,
        "pruned_trials": n_pruned,
        "pruned_train_seconds": float(pruned_seconds),
        "prune_speedup": float(full_seconds / max(pruned_seconds, 1e-9)),
        "prune_same_best": bool(same_best),
        "chosen_model": best_name,
        "choice_within_noise": bool(choice_within_noise),
        "choice_user_rmse": {n: float(choice.models.loc[n, "mean"]) for n in best_of},
        "choice_diff": {c.b: [c.diff, c.low, c.high, c.p_holm] for c in against_chosen},
        "mf_vs_collabfnet": {
            "a": mf_vs_cnet.a,
            "b": mf_vs_cnet.b,
            "diff": mf_vs_cnet.diff,
            "low": mf_vs_cnet.low,
            "high": mf_vs_cnet.high,
            "p_holm": mf_vs_cnet.p_holm,
            "significant": bool(mf_vs_cnet.significant),
        },  # fmt: skip
        "chosen_params": params_of[best_name],
        "retrained_val_rmse": retrained_val_rmse,
        "test_rmse": test["rmse"],
        "test_mae": test["mae"],
    },
    table=comparison.join(
        choice.display().rename(columns={"rmse": "RMSE per validation user [95% interval]"})
    ),
)
