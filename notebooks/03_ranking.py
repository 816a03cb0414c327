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
# - one side-by-side table over several random seeds: popularity, EASE, implicit's iALS
#   and BPR, our model and two blends, each with its hyperparameters chosen on validation
#   users, each figure with its 95% interval over the test users, and every difference
#   from EASE tested on the same users;
# - the new-user curve: how each model does when a new user has given 1, 2, 5, 10 or 20
#   movies;
# - how far our model stands from EASE and iALS (a paired test on the same users), and a
#   checkpoint of it for the later notebooks and the `recommend` command.

# %% tags=["parameters"]
DATASET = "ml-latest-small"
SEEDS = [0, 1, 2]  # random seeds: one split and one set of model seeds each
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
from IPython.display import Markdown, display
from matplotlib.ticker import MaxNLocator

from recsys_utils.app.figures import folded, tidy
from recsys_utils.app.figures import format_value as fmt
from recsys_utils.app.plots import interval_dots
from recsys_utils.bench import ranking as bench_ranking
from recsys_utils.constants import checkpoint_dir, data_dir, shown_path
from recsys_utils.data.movielens import load_dataset
from recsys_utils.evaluation import stats
from recsys_utils.evaluation.experiment import StrongGeneralisation
from recsys_utils.metrics import per_user, report
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
print(f"{DATASET}: {len(ratings):,} ratings; random seeds {SEEDS}")

# %% [markdown]
# ## The protocol
# *Strong generalisation* (Liang et al. 2018): the people we test on are new to every
# model.
#
# - A **positive** is a rating of 4 or more; the rest of the ratings are not used.
#   People with fewer than 5 positives are left out.
# - For each random seed, 100 **test** users and 100 **validation** users are drawn and held out
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
# The first random seed's split:

# %%
split0 = protocol.split(ratings, SEEDS[0])
tidy(pd.Series(split0.stats, name="count").to_frame())

# %% [markdown]
# ## Every model over the random seeds
# One experiment (`evaluation.experiment`, the bench's entries from `bench.ranking`) runs
# every random seed: the split, each model's validation grid on the training users, the test
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
labels["blend(all)"] = "blend (every variant of ours, EASE, iALS)"
labels |= {"ours-linear": "ours (linear)", "ours-tanh": "ours (tanh)"}
labels |= {"blend(ours,ease)": "blend (ours, EASE)", "blend(ials,ease)": "blend (iALS, EASE)"}
labels["blend(ours,ease,ials)"] = "blend (ours, EASE, iALS)"
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
# **How sure each figure is.** The unit is the test user: a user's figure is their mean
# over the random seeds that held them out (each seed draws its own test users, and a
# person drawn twice is still one person), and each cell is the mean over users with its
# 95% Student t-interval (`evaluation.stats`; "users" says how many distinct users,
# pooled over the seeds). The last column is each model's NDCG@100 minus EASE's on the
# same users and seeds, with its interval; a `*` marks a difference the paired t-test
# tells from noise after Holm's correction over the table's comparisons with EASE.
# The second table holds the other figures: Recall@50 and hit rate@10 the same way, then
# coverage@10, fit seconds and fold-in ms, which are one figure per random seed, not per
# user: mean ± standard deviation over the seeds. The blends mix two models' per-user z-scored
# scores with a weight chosen on validation.

# %%
users = result.users
user_metrics = ["ndcg@100", "recall@20", "recall@50", "ndcg@10", "hr@10"]
per_seed = ["coverage@10", "fit_s", "foldin_ms"]
order = [
    *base_models,
    ours,
    *[m for m in dict.fromkeys(runs["model"]) if m not in (*base_models, ours)],
]
# every model against EASE on the same users; Holm over these comparisons
vs_ease = stats.compare_table(users, "ndcg@100", models=order, baseline="ease")
ivs = {(m, k): stats.interval(users, m, k) for m in order for k in user_metrics}
seed_mean = runs.groupby("model")[per_seed].mean().loc[order]
seed_std = runs.groupby("model")[per_seed].std(ddof=1).loc[order]
side_by_side = vs_ease.display().rename(columns={"vs ease": "NDCG@100 − EASE"})
for k in ("recall@20", "ndcg@10"):
    side_by_side.insert(side_by_side.columns.get_loc("users"), k, [
        f"{ivs[m, k].mean:.3f} [{ivs[m, k].low:.3f}, {ivs[m, k].high:.3f}]" for m in order
    ])  # fmt: skip
side_by_side.index = pd.Index([labels.get(m, m) for m in order], name="model")
# the other figures: two more per-user metrics, then one figure per random seed
more = pd.DataFrame(
    {
        k: [f"{ivs[m, k].mean:.3f} [{ivs[m, k].low:.3f}, {ivs[m, k].high:.3f}]" for m in order]
        for k in ("recall@50", "hr@10")
    }
    | {
        k: [
            f"{a:.{d}f} ± {b:.{d}f}" if pd.notna(b) else f"{a:.{d}f}"
            for a, b in zip(seed_mean[k], seed_std[k], strict=True)
        ]
        for k in per_seed
        for d in [3 if k == "coverage@10" else 2]
    },
    index=side_by_side.index,
)
mean = pd.DataFrame({k: [ivs[m, k].mean for m in order] for k in user_metrics}, index=order)
display(tidy(side_by_side).set_properties(**{"white-space": "nowrap"}))
tidy(more).set_properties(**{"white-space": "nowrap"})

# %% [markdown]
# NDCG@100 per model: the dot is the mean over test users, the bar its 95% t-interval,
# the dotted line EASE's mean. Where two intervals overlap a lot, read the table's last
# column before calling one model better: it tests the difference on the same users.

# %%
dots = vs_ease.models.rename(index=labels)
n_users, n_seeds = int(dots["n_users"].max()), len(SEEDS)
fig = interval_dots(
    dots,
    reference=float(vs_ease.models.loc["ease", "mean"]),
    title="Ranking the whole catalogue for held-out users",
    xlabel=f"test NDCG@100, mean and 95% t-interval over {n_users} users "
    f"({n_seeds} random seed{'s' * (n_seeds > 1)} pooled)",
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
axes[0].set(ylabel="test score (mean over random seeds)", ylim=(0, None))
axes[1].legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.02, 1))
plt.show()
n_capped = curves.query("model == 'popularity'").groupby("n")["n_capped"].mean()
print(
    "test users with fewer history movies than n (mean over random seeds): "
    + ", ".join(f"n={n} {fmt(float(v))}" for n, v in n_capped.items())
)

# %% [markdown]
# The curve's two ends, tested on the same users: each test user's NDCG@10 given the first
# movie and given the first 20, scored again from the run's fitted models (the means agree
# with the curve above), then paired between models.

# %%
n1, n_last = new_user_ns[0], new_user_ns[-1]
ends = []
for seed in SEEDS:
    held = protocol.split(ratings, seed).test
    for n in (n1, n_last):
        given = held.subset_history(n, seed)
        for m in shown:
            s_ = result.model(m, seed).score(Queries.from_matrix(given * 5.0))  # 5.0: liked
            u = pd.DataFrame(per_user(s_, held.targets, held.history, ["ndcg@10"]))
            ends.append(u.assign(seed=seed, model=f"{m} n={n}", user=held.users))
ends = pd.concat(ends, ignore_index=True)
# each random seed's mean over its users is that seed's point of the curve
seed_means = ends.groupby(["seed", "model"], as_index=False)["ndcg@10"].mean()
points = curves.assign(model=curves["model"] + " n=" + curves["n"].astype(str))
both = seed_means.merge(points, on=["seed", "model"], suffixes=("", "_curve"))
ends_gap = float((both["ndcg@10"] - both["ndcg@10_curve"]).abs().max())
at_end = {
    n: [
        stats.paired(ends, f"{ours} n={n}", f"{peer} n={n}", "ndcg@10")
        for peer in ("ease", "popularity")
    ]
    for n in (n1, n_last)
}
end_text = {
    n: "; ".join(stats.verdict(c, a="ours", b=labels[c.b.split(" n=")[0]]) for c in pairs)
    for n, pairs in at_end.items()
}
for n, text in end_text.items():
    display(Markdown(f"Given {n} movie{'s' * (n > 1)}: {text}."))

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
# Test NDCG@100 of ours minus the peer's on the same users (each user's difference
# averaged over the random seeds that held them out), its 95% t-interval and the paired
# t-test; against EASE the comparison is the table's (Holm-adjusted), against iALS a single
# pair.

# %%
vs = {c.a: c for c in vs_ease.comparisons}
gaps = {"ease": vs[ours], "ials": stats.paired(users, ours, "ials", "ndcg@100")}
gap_verdicts = {peer: stats.verdict(c, a="ours", b=labels[peer]) for peer, c in gaps.items()}
gap_text = (
    "Our model (its variant chosen on validation per random seed), test NDCG@100: "
    + "; ".join(gap_verdicts.values())
    + "."
)
display(Markdown(gap_text))

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
    f"{', '.join(map(str, exact_epochs))} epochs on the {len(exact_epochs)} random seed(s); "
    + stats.verdict(vs["ours-ease-exact"], a="the fine-tuned model", b="EASE")
    + "."
    if len(exact)
    else "(EASE_INIT is off in this run: no fine-tuning from EASE's tables.)"
)
display(Markdown(exact_text))

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
        "test NDCG@100 (first random seed's users)": final_test["ndcg@100"],
        "the run's table, same users": float(first.loc[ours, "ndcg@100"]),
        "run folder": shown_path(run_dir),
        "reload identical": same,
    },
)

# %% [markdown]
# ## What this run found

# %%
from recsys_utils.app.report import record_figures

ndcg100 = vs_ease.models["mean"]
top = ndcg100.idxmax()
# the highest mean is only a lead where the paired test says so: its comparison with
# EASE (or, when EASE is highest, the runner-up's), from the table
runner = ndcg100.drop("ease").idxmax() if top == "ease" else top
iv_text = ", ".join(
    f"{labels.get(m, m)} {fmt(ndcg100[m])} [{fmt(vs_ease.models.loc[m, 'low'])}, "
    f"{fmt(vs_ease.models.loc[m, 'high'])}]"
    for m in ["ease", "ials", "bpr", ours, "popularity"]
)
takeaway = (
    f"Ranking for new users ({n_users} test users, {n_seeds} random seed"
    f"{'s' * (n_seeds > 1)}), test NDCG@100: "
    + stats.verdict(vs[runner], a=labels.get(runner, runner), b="EASE")
    + "."
)
findings = [
    f"Test NDCG@100 with 95% t-intervals over {n_users} held-out users ({n_seeds} random "
    f"seed{'s' * (n_seeds > 1)} of {N_TEST_USERS} users, pooled): {iv_text}. The highest "
    f"mean is {labels.get(top, top)}'s; "
    + stats.verdict(vs[runner], a=labels.get(runner, runner), b="EASE")
    + ".",
    gap_text,
    f"The new-user curve's ends, NDCG@10 on the same users: given {n1} movie, "
    f"{end_text[n1]}. Given {n_last}: {end_text[n_last]}.",
    f"On the first random seed validation chose {final_variant}, stopped at epoch "
    f"{final_epochs}; that fit is saved with the run ({shown_path(run_dir)}) and as "
    f"{shown_path(saved)}, the model every later notebook, the app and `recommend` use, and "
    f"scores test NDCG@100 {fmt(final_test['ndcg@100'])} on that seed's test users.",
    f"For new users EASE is itself a pooled embedding model of {W_in.shape[1]} dimensions "
    f"here (one per training user; scores agree to {dual_gap:.0e}): what separates it from "
    "ours is the objective, not capacity.",
]
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
        "takeaway": takeaway,
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
        # per-user metrics: the mean over users (random seeds pooled) and its interval
        **{f"{k.replace('@', '_at_')}": mean[k].to_dict() for k in user_metrics},
        "ndcg_at_100_interval": {
            m: [float(r["low"]), float(r["high"])] for m, r in vs_ease.models.iterrows()
        },
        "n_users_pooled": n_users,
        # one figure per random seed: the mean over seeds
        **{f"{k.replace('@', '_at_')}": seed_mean[k].to_dict() for k in per_seed},
        "vs_ease_ndcg_at_100": {
            c.a: {
                "diff": c.diff,
                "low": c.low,
                "high": c.high,
                "p_holm": c.p_holm,
                "significant": c.significant,
            }
            for c in vs_ease.comparisons
        },  # fmt: skip
        "new_user_ns": new_user_ns,
        "new_user_ndcg_at_10": {
            m: {str(n): float(v) for n, v in curve_mean.loc[m, "ndcg@10"].items()} for m in shown
        },
        "new_user_recall_at_20": {
            m: {str(n): float(v) for n, v in curve_mean.loc[m, "recall@20"].items()} for m in shown
        },
        "curve_ends_max_difference": ends_gap,
        "curve_ends": {
            str(n): {c.b.split(" n=")[0]: [c.diff, c.low, c.high, c.p] for c in pairs}
            for n, pairs in at_end.items()
        },
        "gap_to_ease": {
            k: getattr(gaps["ease"], k) for k in ("diff", "low", "high", "p", "p_holm")
        },
        "ease_dual_dimensions": int(W_in.shape[1]),
        "ease_dual_max_relative_difference": dual_gap,
        "gap_to_ials": {k: getattr(gaps["ials"], k) for k in ("diff", "low", "high", "p")},
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
