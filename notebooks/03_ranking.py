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
# # 03 · Ranking for new users: EASE, iALS, BPR and our embedding model
#
# Notebook 02 trained models to predict ratings and found that they rank poorly. This
# notebook is the ranking half of the story: models trained to put the movies a person
# will like at the top of a list, judged on people they have never seen. It shows
#
# - the protocol, in words, and the split it produces;
# - our model (`pooled_softmax`: a user is the pooled embedding of the movies they like,
#   scored against every movie with a softmax) learning, epoch by epoch, on validation
#   users;
# - one side-by-side table over several seeds: popularity, EASE, implicit's iALS and BPR,
#   our model and two blends, each with its hyperparameters chosen on validation users;
# - the new-user curve: how each model does when a new user has given 1, 2, 5, 10 or 20
#   movies;
# - how far our model stands from EASE and iALS, and a checkpoint of it for the later
#   notebooks and the `recommend` command.

# %% tags=["parameters"]
DATASET = "ml-latest-small"
SEEDS = [0, 1, 2]  # one split and one set of model seeds each; the table is mean ± std
THRESHOLD = 4.0  # a rating of 4 or more is a positive ("liked")
N_TEST_USERS = 100
N_VALID_USERS = 100
HISTORY_FRAC = 0.8  # share of a held-out user's positives given as input
EASE_LAMBDAS = [50, 100, 200, 500, 1000]
ALS_GRID = {"factors": [64, 128, 256], "regularization": [1, 10, 50], "alpha": [5, 20, 40]}
BPR_GRID = {"factors": [64, 128], "learning_rate": [0.01, 0.05]}
OURS_VARIANTS = {
    "ours-linear": {},
    "ours-tanh": {"hidden": "tanh", "lr": 0.003},
}
MAX_EPOCHS = 150  # our model's upper bound; early stopping on validation NDCG@100 picks
PATIENCE = 10
EASE_INIT = True  # also the bench's EASE-initialised variant of our model
CORNAC_CHECK = True  # compare our EASE with cornac's on the first seed

# %%
import json

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import scipy.sparse as sp
from IPython.display import display
from matplotlib.ticker import MaxNLocator

from recsys_utils.app.figures import folded, tidy
from recsys_utils.app.figures import format_value as fmt
from recsys_utils.bench import ranking as bench_ranking
from recsys_utils.constants import checkpoint_dir, data_dir, shown_path
from recsys_utils.data.movielens import load_dataset
from recsys_utils.evaluation.experiment import StrongGeneralisation
from recsys_utils.metrics import report
from recsys_utils.models import Queries, checkpoints, people_table

# this run's grids go to the bench as arguments (its module constants are defaults only)
variants = {name: {"patience": PATIENCE, **kw} for name, kw in OURS_VARIANTS.items()}
protocol = StrongGeneralisation(
    n_test=N_TEST_USERS, n_valid=N_VALID_USERS, threshold=THRESHOLD, history_frac=HISTORY_FRAC
)
run_dir = data_dir() / "runs" / "ranking"  # the run every later figure of this model reads
new_user_ns = list(bench_ranking.NEW_USER_NS)
base_models = ["popularity", "ease", "ials", "bpr"]
labels = {"popularity": "popularity", "ease": "EASE", "ials": "iALS", "bpr": "BPR"}
ratings = load_dataset(DATASET).ratings
print(f"{DATASET}: {len(ratings):,} ratings; seeds {SEEDS}")

# %% [markdown]
# ## The protocol
# *Strong generalisation* (Liang et al. 2018): the people we test on are new to every
# model.
#
# - A **positive** is a rating of 4 or more; the rest of the ratings are not used.
#   People with fewer than 5 positives are left out.
# - For each seed, 100 **test** users and 100 **validation** users are drawn and held out
#   entirely: no model sees any of their ratings while it trains. Everyone else is a
#   training user.
# - For each held-out user, 80% of their positives are the **history**, what a new user
#   would type in; the other 20% are the **targets**, the movies that are scored.
# - A model folds in the history (no retraining) and ranks the **whole catalogue**
#   (every movie some training user liked), the history excluded; never a sample of
#   negatives. NDCG@100, Recall@20/50, NDCG@10 and hit rate@10 score where the targets
#   land; coverage@10 is the share of the catalogue that appears in some test user's top 10.
# - Every hyperparameter (EASE's ridge weight, iALS's and BPR's grids, our model's variant
#   and epoch count, the blend weights) is chosen on the **validation users** only; the
#   test users are scored once.
#
# The first seed's split:

# %%
split0 = protocol.split(ratings, SEEDS[0])
tidy(pd.Series(split0.stats, name="count").to_frame())

# %% [markdown]
# ## Every model over the seeds
# One experiment (`evaluation.experiment`, the bench's entries from `bench.ranking`) runs
# every seed: the split, each model's validation grid on the training users, the test
# scores and the new-user curve. It keeps the fitted models, the chosen parameters and
# one row per test user, and is saved to `data/runs/ranking/`: the later notebooks, the
# app and the `recommend` command read this run instead of training their own. This is
# the long cell; its log is folded below.

# %%
log = []
result = bench_ranking.run(
    ratings,
    SEEDS,
    protocol=protocol,
    log=log.append,
    cornac_check=CORNAC_CHECK,
    ease_grid=EASE_LAMBDAS,
    als_grid=ALS_GRID,
    bpr_grid=BPR_GRID,
    ours_variants=variants,
    max_epochs=MAX_EPOCHS,
    ease_init=EASE_INIT,
)
result.save(run_dir)
runs = pd.DataFrame(bench_ranking.rows(result))
curves = result.curves
# "ours": the bench's row of the variant validation prefers on each seed; the checkpoint
# takes the variant with the best validation NDCG@100 averaged over the seeds
ours = "ours(val-chosen)"
labels[ours] = "ours (validation-chosen)"
labels["blend(all)"] = "blend (ours, EASE, iALS: all)"
labels |= {"ours-linear": "ours (linear)", "ours-tanh": "ours (tanh)"}
ours_val = runs[runs["model"].isin(variants)].groupby("model")["val_ndcg@100"].mean()
ours_variant = ours_val.idxmax()
is_variant = runs["model"] == ours_variant
best_epochs = [p["best_epoch"] for p in runs.loc[is_variant, "params"]]
display(folded("the bench's log, one line per seed and model", "\n".join(log)))
print(
    "our variant, by mean validation NDCG@100: "
    + ", ".join(f"{name} {fmt(v)}" for name, v in ours_val.items())
    + f"; best on average: {ours_variant} (best epoch per seed: "
    + f"{', '.join(map(str, best_epochs))})"
)

# %% [markdown]
# ## Our model learning
# The variant with the best validation NDCG@100 over the seeds, as the run fitted it on
# the first seed's training users: its validation NDCG@100 after every epoch. Look for where the
# curve flattens: early stopping keeps the best epoch (dotted line) and stops `PATIENCE`
# epochs later. The dashed line is EASE's **test** NDCG@100 on the same seed, for scale
# only (test users are other people).

# %%
model0 = result.model(ours_variant, SEEDS[0])
hist = model0.history_
first = runs[runs["seed"] == SEEDS[0]].set_index("model")
bench_val0 = float(first.loc[ours_variant, "val_ndcg@100"])
ease_test0 = float(first.loc["ease", "ndcg@100"])

fig, (ax_loss, ax_val) = plt.subplots(1, 2, figsize=(10, 3.5), layout="constrained")
ax_loss.plot(hist["epoch"], hist["loss"], marker=".", markersize=3)
ax_loss.set(title="training loss", xlabel="epoch", ylabel="multinomial NLL per user")
evals = hist.dropna(subset=["val_ndcg@100"])
ax_val.plot(evals["epoch"], evals["val_ndcg@100"], marker=".", markersize=3, label=ours_variant)
ax_val.axvline(model0.best_epoch_, color="grey", linestyle=":", label="best epoch")
ax_val.axhline(ease_test0, color="C1", linestyle="--", label="EASE, test (same seed)")
ax_val.set(title="validation NDCG@100", xlabel="epoch", ylabel="NDCG@100", ylim=(0, None))
ax_val.legend(fontsize="small", loc="lower right")
for ax in (ax_loss, ax_val):
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
plt.show()
print(
    f"best epoch {model0.best_epoch_} of {len(hist)} run, validation NDCG@100 "
    f"{fmt(model0.best_val_ndcg100_)} (the run's score of the restored weights: "
    f"{fmt(bench_val0)})"
)

# %% [markdown]
# ## The side-by-side table
# Mean ± standard deviation over the seeds (each seed its own split and model seeds) on
# the test users. Fit seconds are the final fit on the training users (the validation
# grid not included); fold-in ms is the time to turn one new user's history into scores
# over the whole catalogue. The blends mix two models' per-user z-scored scores with a
# weight chosen on validation.

# %%
metrics = ["ndcg@100", "recall@20", "recall@50", "ndcg@10", "hr@10", "coverage@10"]
mean = runs.groupby("model", sort=False)[[*metrics, "fit_s", "foldin_ms"]].mean()
std = runs.groupby("model", sort=False)[[*metrics, "fit_s", "foldin_ms"]].std(ddof=1)
order = [*base_models, ours, *[m for m in mean.index if m not in (*base_models, ours)]]
mean, std = mean.loc[order], std.loc[order]
decimals = {"fit_s": 2, "foldin_ms": 2}  # metrics to 3 decimals, times to 2
side_by_side = pd.DataFrame(
    {
        col: [
            f"{a:.{d}f} ± {b:.{d}f}" if pd.notna(b) else f"{a:.{d}f}"
            for a, b in zip(mean[col], std[col], strict=True)
        ]
        for col in mean.columns
        for d in [decimals.get(col, 3)]
    },
    index=pd.Index([labels.get(m, m) for m in order], name="model"),
)
tidy(side_by_side).set_properties(**{"white-space": "nowrap"})

# %% [markdown]
# NDCG@100 per model, the bar at the mean over seeds and the error bar one standard
# deviation; the axis starts at 0. Popularity is the floor every personal model must
# clear.

# %%
fig, ax = plt.subplots(figsize=(7, 0.45 * len(order) + 1.2), layout="constrained")
colours = [f"C{i % 10}" for i in range(len(order))]
ax.barh(
    [labels.get(m, m) for m in order],
    mean["ndcg@100"],
    xerr=std["ndcg@100"].fillna(0),
    color=colours,
    capsize=3,
)
ax.invert_yaxis()
ax.set(
    xlabel=f"test NDCG@100 (mean ± std over {len(SEEDS)} seed{'s' * (len(SEEDS) > 1)})",
    xlim=(0, None),
    title="Ranking the whole catalogue for held-out users",
)
plt.show()

# %% [markdown]
# ## The new-user curve
# The same test users and the same 20% targets at every point; only the input changes:
# the first n movies of one seeded shuffle of each user's history (a user with fewer
# than n gives them all). The whole history stays excluded from the ranking, so a point
# moves only because the model knows more. Both panels share one y axis; popularity is
# flat because it ignores the input.

# %%
shown = [*base_models, ours]
curve = curves[curves["model"].isin(shown)].groupby(["model", "n"])[["ndcg@10", "recall@20"]]
curve_mean = curve.mean()
fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True, layout="constrained")
for ax, col in zip(axes, ["ndcg@10", "recall@20"], strict=True):
    for i, m in enumerate(shown):
        line = curve_mean.loc[m, col]
        ax.plot(line.index, line.values, marker="o", color=f"C{i}", label=labels[m])
    ax.set(xscale="log", xticks=new_user_ns, xlabel="movies the new user gave (n)", title=col)
    ax.set_xticklabels([str(n) for n in new_user_ns])
    ax.grid(alpha=0.3)
axes[0].set(ylabel="test score (mean over seeds)", ylim=(0, None))
axes[1].legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.02, 1))
plt.show()
n_capped = curves.query("model == 'popularity'").groupby("n")["n_capped"].mean()
print(
    "test users with fewer history movies than n (mean over seeds): "
    + ", ".join(f"n={n} {fmt(float(v))}" for n, v in n_capped.items())
)

# %% [markdown]
# Figures for "new users with 10 ratings" published elsewhere are often measured another
# way. The same scores at n = 10 under four conventions:
#
# - *protocol*: the curve above (the 20% targets, the whole history excluded);
# - *rest*: every liked movie the user did not give is a target, only the n given are
#   excluded (so the targets grow as n shrinks);
# - *full_protocol*, *full_rest*: the same two on the users whose history holds at least
#   20 movies, who are given exactly n at every n (*users_full*: how many, a seed).

# %%
conventions = bench_ranking.conventions_table(curves).loc[lambda t: t.index.isin(order)]
conventions.index = [labels.get(m, m) for m in conventions.index]
tidy(conventions)

# %% [markdown]
# ## How far our model stands from EASE and iALS
# Each seed's difference in test NDCG@100 (same split, same test users), then its mean
# and standard deviation over the seeds.

# %%
per_seed = runs.pivot(index="seed", columns="model", values="ndcg@100")
gaps = {}
for peer in ("ease", "ials"):
    diff = per_seed[ours] - per_seed[peer]
    gaps[peer] = {
        "mean": float(diff.mean()),
        "std": float(diff.std(ddof=1)) if len(diff) > 1 else None,
        "relative": float(diff.mean() / per_seed[peer].mean()),
        "seeds_ahead": int((diff > 0).sum()),
    }


def gap_sentence(peer: str) -> str:
    g = gaps[peer]
    side = "above" if g["mean"] > 0 else "below"
    spread = f" ± {fmt(g['std'])}" if g["std"] is not None else ""
    return (
        f"{fmt(abs(g['mean']))}{spread} {side} {labels[peer]} "
        f"({100 * abs(g['relative']):.0f}% of its NDCG@100; ahead on {g['seeds_ahead']} "
        f"of {len(SEEDS)} seed{'s' * (len(SEEDS) > 1)})"
    )


gap_text = f"Our model (its variant chosen on validation per seed) stands {gap_sentence('ease')} and {gap_sentence('ials')} in test NDCG@100."
print(gap_text)

# %% [markdown]
# Why EASE is so hard to beat here: with fewer training users than movies, EASE *is* an
# embedding model for new users. By the Woodbury identity its score of a movie a person
# did not give is a pooled input vector (for each liked movie, which training users liked
# it) dotted with an output vector, one dimension per training user
# (`models.ease.dual_tables`). So our pooled model can represent EASE exactly; what
# separates them is the objective (squared error with a ridge penalty, solved in closed
# form, against a softmax learned by gradient steps), not capacity. The check, on the
# first seed's test users:

# %%
from recsys_utils.models.ease import EASE, dual_tables

lam0 = result.params[SEEDS[0]]["ease"]["lam"]
W_in, W_out = dual_tables(split0.train, lam0)
H0 = split0.test.history
via_tables = np.asarray((H0 @ W_in) @ W_out.T)
liked_table = people_table(split0.train * 5.0, split0.train_users, split0.items)  # 5.0: liked
via_ease = EASE(lam=lam0).fit(liked_table).score(Queries.from_matrix(H0 * 5.0))
unseen = H0.toarray() == 0
dual_gap = float(np.abs(via_tables[unseen] - via_ease[unseen]).max() / np.abs(via_ease).max())
print(
    f"EASE (lambda {lam0:g}) as a pooled model of {W_in.shape[1]} dimensions "
    f"(the training users) for {W_in.shape[0]:,} movies: largest difference in the test "
    f"users' scores {dual_gap:.1e} of the largest score"
)

# %% [markdown]
# Put our model at that point (`init="ease_dual"`: its tables start as EASE's dual tables)
# and let the softmax fine-tune it, the number of epochs chosen on validation, 0 allowed.
# If the softmax could improve on EASE, validation would keep some epochs:

# %%
exact = runs[runs["model"] == "ours-ease-exact"]
exact_epochs = [p["best_epoch"] for p in exact["params"]]
exact_text = (
    f"Started at EASE's exact tables and fine-tuned by the softmax, validation kept "
    f"{', '.join(map(str, exact_epochs))} epochs on the {len(exact_epochs)} seed(s): test NDCG@100 "
    f"{fmt(mean.loc['ours-ease-exact', 'ndcg@100'])} against EASE's "
    f"{fmt(mean.loc['ease', 'ndcg@100'])}."
    if len(exact)
    else "(EASE_INIT is off in this run: no fine-tuning from EASE's tables.)"
)
print(exact_text)

# %% [markdown]
# ## Notebook 02's ranking, for continuity
# Notebook 02 also ranked, on its random split of ratings: known users, a random 10% of
# their ratings as test, top 10 against the test movies rated 4 or more. That figure
# stays in notebook 02; it answers another question (known users, rating models), so it
# is not comparable with the table above. Read back from notebook 02's MF checkpoint
# where it exists:

# %%
mf_sidecar = checkpoint_dir() / "mf.json"
nb02 = json.loads(mf_sidecar.read_text())["metrics"] if mf_sidecar.is_file() else {}
nb02_ndcg10 = nb02.get("ndcg@10")
print(
    f"notebook 02, MF, random split: NDCG@10 {fmt(nb02_ndcg10)}"
    if nb02_ndcg10 is not None
    else f"no NDCG@10 recorded in {shown_path(mf_sidecar)} (notebook 02 has not saved it here)"
)

# %% [markdown]
# ## A checkpoint of our model
# The run's validation-chosen model of the first seed, as the run fitted it on that
# seed's training users (the held-out users stay out, so later notebooks can still test
# on them; no second training). Notebooks 05 and 06, the app and the `recommend` and
# `similar` commands read it; it is saved as `data/checkpoints/ranking.json` too, for the
# commands that take a checkpoint. We reload it and score the first seed's test users.

# %%
final = result.model(ours, SEEDS[0])
final_variant = result.params[SEEDS[0]][ours]["variant"]
final_epochs = int(result.params[SEEDS[0]][ours]["best_epoch"])


def split_scores(model, history: sp.csr_matrix) -> np.ndarray:
    """A contract-fitted model's scores for split-space rows of liked movies, in split columns."""
    cols = model.item_map.encode(split0.items)
    to_model = sp.csr_matrix(
        (np.ones(cols.size, np.float32), (np.arange(cols.size), cols)),
        shape=(cols.size, len(model.item_map)),
    )
    return model.score(Queries.from_matrix(history @ to_model * 5.0))[:, cols]


final_test = report(
    split_scores(final, split0.test.history), split0.test.targets, split0.test.history
)
saved = checkpoints.save(
    final,
    checkpoint_dir() / "ranking",
    dataset=DATASET,
    metrics={
        "model": ours,
        "variant": final_variant,
        "run_id": result.run_id,
        "protocol": "strong generalisation, positives >= threshold",
        "split_seed": SEEDS[0],
        "n_test_users": N_TEST_USERS,
        "n_valid_users": N_VALID_USERS,
        "threshold": THRESHOLD,
        "epochs": final_epochs,
        **{f"test_{k}": float(v) for k, v in final_test.items()},
    },
)
reloaded = checkpoints.load(saved, expect_dataset=DATASET)
probe = split0.test.history[:10]
same = bool(np.allclose(split_scores(reloaded, probe), split_scores(final, probe)))
folded(
    "checkpoint written",
    {
        "path": shown_path(saved),
        "variant": final_variant,
        "epochs": final_epochs,
        "test NDCG@100 (seed-0 users)": final_test["ndcg@100"],
        "the run's table, same users": float(first.loc[ours, "ndcg@100"]),
        "run folder": shown_path(run_dir),
        "reload identical": same,
    },
)

# %% [markdown]
# ## What this run found

# %%
from recsys_utils.app.report import record_figures

ndcg100 = mean["ndcg@100"]
best_name = ndcg100.idxmax()
n1, n_last = new_user_ns[0], new_user_ns[-1]
findings = [
    f"On {len(SEEDS)} seed{'s' * (len(SEEDS) > 1)} of {N_TEST_USERS} new test users each, "
    f"the best test NDCG@100 is {labels.get(best_name, best_name)}'s {fmt(ndcg100[best_name])}; "
    f"EASE {fmt(ndcg100['ease'])}, iALS {fmt(ndcg100['ials'])}, BPR {fmt(ndcg100['bpr'])}, "
    f"ours {fmt(ndcg100[ours])} and popularity {fmt(ndcg100['popularity'])}.",
    gap_text,
    f"With {n1} movie given, NDCG@10 is {fmt(curve_mean.loc[(ours, n1), 'ndcg@10'])} for ours and "
    f"{fmt(curve_mean.loc[('ease', n1), 'ndcg@10'])} for EASE; with {n_last}, "
    f"{fmt(curve_mean.loc[(ours, n_last), 'ndcg@10'])} and "
    f"{fmt(curve_mean.loc[('ease', n_last), 'ndcg@10'])} (popularity "
    f"{fmt(curve_mean.loc[('popularity', n_last), 'ndcg@10'])} at any n).",
    f"On the first seed validation chose {final_variant}, stopped at epoch {final_epochs}; that "
    f"fit is saved with the run ({shown_path(run_dir)}) and as {shown_path(saved)}, the model "
    f"every later notebook, the app and `recommend` use, and scores test NDCG@100 "
    f"{fmt(final_test['ndcg@100'])} on that seed's test users.",
]
at_first = curves[curves["n"] == n1].groupby("model")["ndcg@10"].mean()
first_best = at_first.idxmax()
findings.append(
    f"For the newest users (n = {n1}) the best model is {labels.get(first_best, first_best)} "
    f"(NDCG@10 {fmt(at_first[first_best])}; EASE {fmt(at_first['ease'])}, popularity "
    f"{fmt(at_first['popularity'])}). For new users EASE is itself a pooled embedding model "
    f"of {W_in.shape[1]} dimensions here (one per training user; scores agree to "
    f"{dual_gap:.0e}): what separates it from ours is the objective, not capacity."
)
if len(exact):
    findings.append(exact_text)
if nb02_ndcg10 is not None:
    findings.append(
        f"Notebook 02's MF reached NDCG@10 {fmt(nb02_ndcg10)} on its random split of known "
        f"users; here, for new users, ours reaches {fmt(mean.loc[ours, 'ndcg@10'])} (another "
        "protocol: not comparable figure for figure)."
    )
record_figures(
    {
        "findings": findings,
        "dataset": DATASET,
        "seeds": SEEDS,
        **{k: int(v) for k, v in split0.stats.items()},
        "ours": ours,
        "ours_variant": ours_variant,
        "ours_val_ndcg_at_100": ours_val.to_dict(),
        "ours_best_epoch": int(model0.best_epoch_),
        "ours_epochs_run": len(hist),
        "ease_exact_best_epochs": [int(e) for e in exact_epochs],
        "history_val_ndcg_at_100_best": model0.best_val_ndcg100_,
        "bench_val_ndcg_at_100": bench_val0,
        **{
            f"{k.replace('@', '_at_')}": mean[k].to_dict() for k in [*metrics, "fit_s", "foldin_ms"]
        },
        "ndcg_at_100_std": std["ndcg@100"].fillna(0).to_dict(),
        "new_user_ns": new_user_ns,
        "new_user_ndcg_at_10": {
            m: {str(n): float(v) for n, v in curve_mean.loc[m, "ndcg@10"].items()} for m in shown
        },
        "new_user_recall_at_20": {
            m: {str(n): float(v) for n, v in curve_mean.loc[m, "recall@20"].items()} for m in shown
        },
        "best_at_n1": first_best,
        "gap_to_ease": gaps["ease"],
        "ease_dual_dimensions": int(W_in.shape[1]),
        "ease_dual_max_relative_difference": dual_gap,
        "gap_to_ials": gaps["ials"],
        "cornac_same_top20": runs.get("cornac_same_top20", pd.Series(dtype=float))
        .dropna()
        .tolist(),
        "checkpoint": shown_path(saved),
        "run_dir": shown_path(run_dir),
        "run_id": result.run_id,
        # over every seed, and the first seed's alone (what notebook 06 quotes)
        "quoted": result.quote() + (result.quote(seeds=SEEDS[:1]) if len(SEEDS) > 1 else []),
        "checkpoint_test_ndcg_at_100": final_test["ndcg@100"],
        "checkpoint_reload_identical": same,
        "notebook_02_mf_ndcg_at_10": nb02_ndcg10,
    },
    table=side_by_side,
    headline=True,
)
