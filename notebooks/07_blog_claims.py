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
# # 07 · The seed's claims, tested
#
# The blog post this workbench grew from makes four claims. This notebook puts each one
# to a measurement and closes with a table of claim, measurement and verdict, every cell
# of it computed from this run's numbers, then a short list of what the run found.
#
# 1. *"Rules-based systems are limited by the rules."* A real rules-based recommender
#    (a user's favourite genres, then the best damped-mean movies of those genres,
#    optionally tags) against popularity and the embedding models — the ranking model of
#    notebook 03 among them — on the ranking protocol of notebook 03: held-out users,
#    full ranking over the catalogue.
# 2. *"The movie vector's direction depends on genre, general impression, ..."* Linear
#    probes from the learned movie vectors (MF, CollabFNet and the ranking model) to each
#    genre, to the mean rating and to popularity, each beside the same probe on shuffled
#    labels.
# 3. *"Initial RMS = 10, after training 0.8: 15 times better."* The honest ladder from an
#    untrained net to the best model, and how much of the gain each rung brings.
# 4. *"Movies one user enjoyed are likely to satisfy users with similar tastes."*
#    Nearest users in embedding space against random users: how much of what they liked
#    is shared.
#
# Claim 1 is about ranking, so it is measured on the ranking protocol; claims 2-4 are
# about the rating models and use notebook 01's random split of the ratings. The two
# never share a table.

# %% tags=["parameters"]
DATASET = "ml-latest-small"
SEED = 42
VALID_FRAC = 0.1
TEST_FRAC = 0.1
K = 10
EPOCHS = 20
MF_PARAMS = {"n_factors": 64, "l2": 0.05, "lr": 0.01}
COLLABFNET_PARAMS = {"emb_size": 100}
DEVICE = "auto"
USE_CHECKPOINTS = True
N_TEST_USERS = 100
N_VALID_USERS = 100
HISTORY_FRAC = 0.8
RULES_GRID = {"min_count": [10, 20, 50, 100], "match_weight": [0.25, 0.5, 1.0], "n_genres": [2, 3]}
TAG_WEIGHTS = [0.0, 0.5, 1.0, 2.0]
RANKING_VARIANTS = {"linear": {"dim": 200}, "tanh": {"dim": 200, "hidden": "tanh"}}
RANKING_MAX_EPOCHS = 100
RANKING_PATIENCE = 10
PROBE_MIN_RATINGS = 10
PROBE_FOLDS = 5
PROBE_MARGIN = 0.05
N_QUERY_USERS = 30
LIKED_THRESHOLD = 4.0
TIE_MARGIN = 0.1

# %%
import itertools

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import display

from recsys_utils import data
from recsys_utils.app import plots, report
from recsys_utils.app.figures import folded, tidy
from recsys_utils.app.figures import format_value as fmt
from recsys_utils.constants import RELEVANCE_THRESHOLD
from recsys_utils.data import splits
from recsys_utils.data.tags import load_tags
from recsys_utils.evaluation import metrics, probes
from recsys_utils.evaluation.ranking_protocol import strong_generalization_split
from recsys_utils.models import make_model, recipes


def pct(share: float) -> str:
    """A share as a whole percentage ("-0%" read as "0%")."""
    text = f"{share:.0%}"
    return "0%" if text == "-0%" else text


train_kw = {"epochs": EPOCHS, "device": DEVICE, "seed": SEED, "progress": False}
dataset = data.load_dataset(DATASET)
movies, ratings = dataset.movies, dataset.ratings
tags = load_tags(DATASET)

# %% [markdown]
# ## Claim 1: rules against embeddings, on the ranking protocol
# The protocol of notebook 03. A *positive* is a rating of 4 stars or more (the one
# definition of relevant every ranking figure of the workbench uses); users with fewer
# than 5 positives are left out. Test and
# validation users are drawn and held out; for each of them 80% of their positives are
# the *history* (what a new user types in) and 20% are the *targets*, the only movies
# that count as relevant.
#
# The rating models and the rules cannot fold in a set of liked movies, so every
# contender is treated the same way: fitted on the training users' ratings plus each
# held-out user's own ratings of their history movies (the ranking model keeps the
# positives of that table), then asked to rank the whole catalogue for the held-out
# users, their history excluded. The rules' knobs, the tag weight, the ranking model's
# variant and epochs, and the rating models' epochs are all chosen on the validation
# users; the test users are scored once.

# %%
rsplit = strong_generalization_split(
    ratings,
    n_test=N_TEST_USERS,
    n_valid=N_VALID_USERS,
    seed=SEED,
    threshold=RELEVANCE_THRESHOLD,
    history_frac=HISTORY_FRAC,
)
catalogue, val_users, test_users = rsplit.items, rsplit.valid, rsplit.test
fit_table = probes.fold_table(ratings, rsplit)
# early stopping for the rating models and the ranking model: the validation users'
# ratings that are not in their history (the ranking model keeps the positives)
val_rest = probes.held_out_rest(ratings, val_users, catalogue)
protocol = pd.Series(
    {
        "positive (relevant)": f"rating of {RELEVANCE_THRESHOLD:g} or more",
        **rsplit.stats,
        "n_valid_users": len(val_users),
        "n_test_users": len(test_users),
        "ratings in the fit table": len(fit_table),
        "validation users' other ratings (early stopping)": len(val_rest),
    },
    name="value",
)
tidy(protocol.to_frame())

# %% [markdown]
# The rules: every combination of the grid, then the tag weight at the best one, each
# fitted on the fit table and scored on the validation users by NDCG@10.


# %%
def val_ndcg(model) -> float:
    return probes.held_out_report(model, val_users, catalogue)[f"ndcg@{K}"]


grid_rows = []
for values in itertools.product(*RULES_GRID.values()):
    knobs = dict(zip(RULES_GRID, values, strict=True))
    rules = make_model("rules", movies=movies, **knobs).fit(fit_table)
    grid_rows.append({**knobs, f"val ndcg@{K}": val_ndcg(rules)})
rules_grid = pd.DataFrame(grid_rows)
best_rules = rules_grid.loc[rules_grid[f"val ndcg@{K}"].idxmax(), list(RULES_GRID)].to_dict()
best_rules = {k: type(RULES_GRID[k][0])(v) for k, v in best_rules.items()}
tag_rows = []
if tags is not None:
    for w in TAG_WEIGHTS:
        rules = make_model("rules", movies=movies, tags=tags, **best_rules, tag_weight=w)
        tag_rows.append({"tag_weight": w, f"val ndcg@{K}": val_ndcg(rules.fit(fit_table))})
tag_grid = pd.DataFrame(tag_rows, columns=["tag_weight", f"val ndcg@{K}"])
tag_weight = (
    float(tag_grid.loc[tag_grid[f"val ndcg@{K}"].idxmax(), "tag_weight"]) if tag_rows else 0.0
)
rules_model = make_model("rules", movies=movies, **best_rules).fit(fit_table)
rules_tags = make_model("rules", movies=movies, tags=tags, **best_rules, tag_weight=tag_weight).fit(
    fit_table
)
display(folded(f"the rules' grid on the validation users ({len(rules_grid)} points)", rules_grid))
if tag_rows:
    display(folded("the tag weight at the best grid point", tag_grid))
knobs_text = ", ".join(f"{k} {v:g}" for k, v in {**best_rules, "tag_weight": tag_weight}.items())
at_edge = [
    k
    for k, v in {**best_rules, "tag_weight": tag_weight}.items()
    if len({*RULES_GRID.get(k, TAG_WEIGHTS)}) > 1
    and v in (min(RULES_GRID.get(k, TAG_WEIGHTS)), max(RULES_GRID.get(k, TAG_WEIGHTS)))
]
print(
    f"rules chosen on validation: {knobs_text}"
    + (f" ({', '.join(at_edge)} at the edge of its grid)" if at_edge else "")
)

# %% [markdown]
# The ranking model (`pooled_softmax`, notebook 03's embedding model: a user is the
# pooled input embedding of the movies they like, scored against an output embedding of
# every movie). Each variant stops early on the validation users' NDCG@100; the variant
# with the better validation NDCG@10 is kept.

# %%
ranking_runs, ranking_rows = {}, []
for variant, kw in RANKING_VARIANTS.items():
    params = {
        "max_epochs": RANKING_MAX_EPOCHS,
        "patience": RANKING_PATIENCE,
        "eval_every": 2,
        "seed": SEED,
        "device": DEVICE,
        **kw,
    }
    m = make_model("pooled_softmax", threshold=RELEVANCE_THRESHOLD, **params)
    ranking_runs[variant] = m.fit(fit_table, val_rest)
    ranking_rows.append(
        {
            "variant": variant,
            "settings": fmt(kw),
            "best epoch": m.best_epoch_,
            "epochs run": len(m.history_),
            f"val ndcg@{K}": val_ndcg(m),
            "fit s": m.fit_seconds_,
        }
    )
ranking_grid = pd.DataFrame(ranking_rows).set_index("variant")
ranking_variant = ranking_grid[f"val ndcg@{K}"].idxmax()
ranking_model = ranking_runs[ranking_variant]
if ranking_model.best_epoch_ >= RANKING_MAX_EPOCHS:
    print(
        f"{ranking_variant} was still improving at the cap of {RANKING_MAX_EPOCHS} epochs: "
        "its figures are a lower bound on what more training gives"
    )
tidy(ranking_grid)

# %% [markdown]
# The rating models, MF and CollabFNet, with notebook 02's settings, fitted on the same
# table and stopped early on the validation users' other ratings; popularity counts the
# fit table's ratings.

# %%
rating_models = {
    "MF": make_model("mf", **MF_PARAMS, **train_kw).fit(fit_table, val_rest),
    "CollabFNet": make_model("collabfnet", **COLLABFNET_PARAMS, **train_kw).fit(
        fit_table, val_rest
    ),
}
# another protocol than notebook 03's, so another name (the key below the table says how)
ranking_label = "ranking model (07, histories in fit)"
contenders = {
    "popularity": make_model("popularity").fit(fit_table),
    "rules: genres": rules_model,
    "rules: genres + tags": rules_tags,
    **rating_models,
    ranking_label: ranking_model,
}
rules_names = ["rules: genres", "rules: genres + tags"]
embedding_names = ["MF", "CollabFNet", ranking_label]
claim1_metrics = [f"ndcg@{K}", "recall@20", "ndcg@100", f"coverage@{K}"]
val_table = pd.DataFrame(
    {n: probes.held_out_report(m, val_users, catalogue) for n, m in contenders.items()}
).T
test_table = pd.DataFrame(
    {n: probes.held_out_report(m, test_users, catalogue) for n, m in contenders.items()}
).T[claim1_metrics]
test_table.index.name = f"test users ({len(test_users)})"
tidy(test_table)

# %% [markdown]
# Key: "(07, histories in fit)" marks figures of this notebook's protocol, where every
# contender is fitted with the held-out users' history ratings in its training table;
# notebook 03's figures of the ranking model (its run in `data/runs/ranking/`) fold
# held-out users in without training on them, so the two are not the same number.

# %%
fig = plots.metric_bars(
    test_table.rename_axis(None),
    claim1_metrics,
    title="Held-out test users, full ranking (higher is better)",
)

# %%
# the two families' best members are chosen on validation, then compared on test
best_rules_name = val_table.loc[rules_names, f"ndcg@{K}"].idxmax()
best_emb_name = val_table.loc[embedding_names, f"ndcg@{K}"].idxmax()
rules_ndcg = test_table.loc[best_rules_name, f"ndcg@{K}"]
emb_ndcg = test_table.loc[best_emb_name, f"ndcg@{K}"]
pop_ndcg = test_table.loc["popularity", f"ndcg@{K}"]
mf_ndcg = test_table.loc["MF", f"ndcg@{K}"]
emb_vs_rules = emb_ndcg / rules_ndcg
winner = test_table[f"ndcg@{K}"].idxmax()
print(
    f"Test NDCG@{K}: best embedding model on validation, {best_emb_name}, {fmt(emb_ndcg)}; "
    f"best rules on validation, {best_rules_name}, {fmt(rules_ndcg)} "
    f"({fmt(emb_vs_rules)}x); MF {fmt(mf_ndcg)}; popularity {fmt(pop_ndcg)}. "
    f"Coverage@{K}: {best_emb_name} {fmt(test_table.loc[best_emb_name, f'coverage@{K}'])}, "
    f"{best_rules_name} {fmt(test_table.loc[best_rules_name, f'coverage@{K}'])}, popularity "
    f"{fmt(test_table.loc['popularity', f'coverage@{K}'])}."
)

# %% [markdown]
# ## The random split, for claims 2-4
# Notebook 01's saved split if there is one (so notebook 02's checkpoints were trained on
# this very training set), else a fresh seeded random split. A checkpoint is used only
# if its id maps equal this training set's; otherwise the model is trained here.

# %%
try:
    split = splits.load_split(DATASET)
    split_source = "notebook 01's saved split"
except FileNotFoundError:
    split = splits.random_split(ratings, VALID_FRAC, TEST_FRAC, seed=SEED)
    split_source = f"a fresh random split (seed {SEED})"
train, valid, test = split.train, split.valid, split.test


def checkpoint_or_fit(stem, name, **params):
    model = recipes.load_matching(stem, train, DATASET) if USE_CHECKPOINTS else None
    if model is not None:
        return model, f"checkpoint {stem}.json"
    return make_model(name, **params).fit(train, valid), "trained here"


mf, mf_source = checkpoint_or_fit("mf", "mf", **MF_PARAMS, **train_kw)
cfn, cfn_source = checkpoint_or_fit("collabfnet", "collabfnet", **COLLABFNET_PARAMS, **train_kw)
bias = make_model("bias").fit(train)
tidy(
    pd.Series(
        {"split": split_source, **split.sizes(), "MF": mf_source, "CollabFNet": cfn_source},
        name="value",
    ).to_frame()
)

# %% [markdown]
# ## Claim 2: what the movie vectors encode
# Probes run only on movies with enough ratings in the table each model learned from
# (rarer movies keep vectors close to their random start; the minimum is printed below). The rating
# models' vectors are their movie tables; the ranking model's are its output table, the
# vector every user is scored against. The shuffled columns are what the same probe finds
# when the labels are permuted across movies: chance, measured.

# %%
probe_models = {
    "MF": (mf, train),
    "CollabFNet": (cfn, train),
    ranking_label: (ranking_model, fit_table),
}
probe_results = {}
for label, (model, table) in probe_models.items():
    genre_probe, target_probe = probes.probe_model(
        model, table, movies, min_ratings=PROBE_MIN_RATINGS, folds=PROBE_FOLDS, seed=SEED
    )
    probe_results[label] = (genre_probe, target_probe)
    display(folded(f"{label}: one probe per genre ({len(genre_probe)} genres)", genre_probe))
probe_summary = pd.DataFrame(
    {
        label: {
            "mean genre AUC": g["auc"].mean(),
            "mean genre AUC, shuffled": g["auc_shuffled"].mean(),
            "R² mean rating": t.loc["mean_rating", "r2"],
            "R² mean rating, shuffled": t.loc["mean_rating", "r2_shuffled"],
            "R² log popularity": t.loc["log_popularity", "r2"],
            "R² log popularity, shuffled": t.loc["log_popularity", "r2_shuffled"],
        }
        for label, (g, t) in probe_results.items()
    }
).T
genre_readable = [
    label
    for label in probe_summary.index
    if probe_summary.loc[label, "mean genre AUC"]
    > probe_summary.loc[label, "mean genre AUC, shuffled"] + PROBE_MARGIN
]
print(
    f"Movies with at least {PROBE_MIN_RATINGS} ratings, {PROBE_FOLDS}-fold cross-validation; "
    f"genre counts as readable when the mean AUC beats the shuffled one by more than "
    f"{fmt(PROBE_MARGIN)}."
)
tidy(probe_summary)

# %% [markdown]
# ## Claim 3: the honest ladder
# The seed's network started from zero output (our CollabFNet starts its output bias at
# the training mean instead); both untrained starts are shown. Predictions are clipped to
# the rating scale, so no model here can be off by 10 stars. The last rung is the model
# chosen on validation (notebook 02's `best` checkpoint, or the lower validation RMSE of
# MF and CollabFNet); each rung's share of the gain is measured to it.

# %%
valid_rmse = {
    label: metrics.rating_metrics(m, valid)["rmse"]
    for label, m in (("MF", mf), ("CollabFNet", cfn))
}
best_name = min(valid_rmse, key=valid_rmse.get)
best_model = recipes.load_matching("best", train, DATASET) if USE_CHECKPOINTS else None
if best_model is not None:
    best_source = f"checkpoint best.json, {best_model.name}"
else:
    best_model, best_source = {"MF": mf, "CollabFNet": cfn}[best_name], best_name
best_label = f"best on validation ({best_source})"
rungs = {
    "untrained, output from 0 (the seed's start)": recipes.untrained(
        make_model("collabfnet", **COLLABFNET_PARAMS, **train_kw), train, mu=0.0
    ),
    "global mean": make_model("global_mean").fit(train),
    "untrained, output from the mean": recipes.untrained(
        make_model("collabfnet", **COLLABFNET_PARAMS, **train_kw), train
    ),
    "bias only": bias,
    "MF": mf,
    "CollabFNet": cfn,
    best_label: best_model,
}
ladder = probes.ladder(rungs, test)
tidy(ladder)

# %%
rmse = ladder["rmse"]
zoom_hi = float(rmse[rmse < 1.5 * rmse.min()].max()) + 0.03  # the rungs that differ little
zoom_lo = float(rmse.min()) - 0.05
fig, ax = plt.subplots(figsize=(8.5, 0.42 * len(rmse) + 1.2))
ax.barh(rmse.index, np.minimum(rmse.to_numpy(), zoom_hi), color=[f"C{i}" for i in range(len(rmse))])
for row, value in enumerate(rmse.to_numpy()):
    clipped = value > zoom_hi
    ax.text(
        min(value, zoom_hi) - (0.003 if clipped else -0.003),
        row,
        f"{fmt(float(value))} (off the axis)" if clipped else fmt(float(value)),
        va="center",
        ha="right" if clipped else "left",
        color="white" if clipped else "black",
        fontsize=9,
    )
ax.set_xlim(zoom_lo, zoom_hi + 0.02)
ax.invert_yaxis()
ax.set_xlabel(f"test RMSE (axis from {fmt(zoom_lo)}; lower is better)")
ax.set_title("The ladder, zoomed on the rungs that differ by hundredths")
fig.tight_layout()

# %%
seed_start, mean_rmse, bias_rmse = rmse.iloc[0], rmse["global mean"], rmse["bias only"]
best_rmse = rmse[best_label]
total_gain = seed_start - best_rmse
share_mean = (seed_start - mean_rmse) / total_gain
share_bias = (mean_rmse - bias_rmse) / total_gain
share_emb = (bias_rmse - best_rmse) / total_gain
ladder_figures = (
    f"seed start {fmt(seed_start)}, global mean {fmt(mean_rmse)}, biases {fmt(bias_rmse)}, "
    f"best {fmt(best_rmse)}"
)
print(
    f"From the seed's start ({fmt(seed_start)}) to the best model ({fmt(best_rmse)}) is "
    f"{fmt(seed_start / best_rmse)}x: predicting the mean ({fmt(mean_rmse)}) takes "
    f"{pct(share_mean)} of that gain, per-user and per-movie biases ({fmt(bias_rmse)}) "
    f"{pct(share_bias)}, the embeddings {pct(share_emb)}. Over the global mean the best model "
    f"is {fmt(mean_rmse / best_rmse)}x better, over biases {fmt(bias_rmse / best_rmse)}x."
)

# %% [markdown]
# ## Claim 4: similar users like the same movies
# For a seeded sample of users, their nearest users by cosine of the MF and CollabFNet
# user vectors and as many random users; the overlap (Jaccard) of the movies each of them
# liked, read from the training ratings the vectors were learned from (the sizes are
# printed below).

# %%
rng = np.random.default_rng(SEED)
query_users = rng.choice(mf.user_map.ids, size=min(N_QUERY_USERS, len(mf.user_map)), replace=False)
overlaps = {
    label: probes.similar_users_overlap(
        model, train, query_users, k=K, threshold=LIKED_THRESHOLD, seed=SEED
    )
    for label, model in (("MF", mf), ("CollabFNet", cfn))
}
display(folded(f"MF: per user, of {len(query_users)}", overlaps["MF"]))
overlap_summary = pd.DataFrame(
    {
        label: {
            "nearest users": o["neighbour_jaccard"].mean(),
            "random users": o["random_jaccard"].mean(),
            "share of users where nearest > random": (
                o["neighbour_jaccard"] > o["random_jaccard"]
            ).mean(),
        }
        for label, o in overlaps.items()
    }
).T
neighbour_j, random_j = overlap_summary.loc["MF", ["nearest users", "random users"]]
overlap_ratio = neighbour_j / random_j if random_j else float("inf")
print(
    f"{len(query_users)} users, {K} nearest and {K} random users each; liked = rated "
    f"{LIKED_THRESHOLD:g} or more."
)
tidy(overlap_summary)

# %% [markdown]
# ## Verdicts
# Each verdict is computed from the figures above, by the margins printed below; the
# table of claim, measurement and verdict closes the report.

# %%
if emb_vs_rules >= 1 + TIE_MARGIN:
    rules_verdict = (
        f"supported: {best_emb_name} beats {best_rules_name} by {emb_vs_rules - 1:.0%} NDCG@{K}"
    )
elif emb_vs_rules <= 1 - TIE_MARGIN:
    rules_verdict = (
        f"contradicted: {best_rules_name} beats {best_emb_name} by "
        f"{1 / emb_vs_rules - 1:.0%} NDCG@{K}"
    )
else:
    rules_verdict = f"not shown: {best_emb_name} and {best_rules_name} within {TIE_MARGIN:.0%}"
if pop_ndcg > max(emb_ndcg, rules_ndcg):
    rules_verdict += f"; popularity beats both ({pop_ndcg / max(emb_ndcg, rules_ndcg) - 1:.0%})"
not_readable = [m for m in probe_summary.index if m not in genre_readable]
if genre_readable:
    probe_verdict = f"supported for {', '.join(genre_readable)}: genre readable well above chance"
    if not_readable:
        probe_verdict += f"; not for {', '.join(not_readable)}"
else:
    probe_verdict = "weak: genre barely above chance for every model"
auc = probe_summary["mean genre AUC"]
auc_s = probe_summary["mean genre AUC, shuffled"]
claims = pd.DataFrame(
    [
        {
            "claim": "rules-based systems are limited by the rules",
            "measured": f"test NDCG@{K}, held-out users: "
            + ", ".join(
                f"{n} {fmt(test_table.loc[n, f'ndcg@{K}'])}"
                for n in [*embedding_names, *rules_names, "popularity"]
            )
            + f"; best on validation: {best_emb_name}, {best_rules_name}",
            "verdict": rules_verdict,
        },
        {
            "claim": "movie vectors encode genre, impression, popularity",
            "measured": "mean genre AUC (shuffled): "
            + ", ".join(f"{m} {fmt(auc[m])} ({fmt(auc_s[m])})" for m in auc.index)
            + f"; R² log popularity MF {fmt(probe_summary.loc['MF', 'R² log popularity'])}, "
            f"mean rating MF {fmt(probe_summary.loc['MF', 'R² mean rating'])}",
            "verdict": probe_verdict,
        },
        {
            "claim": "15x better RMSE after training",
            "measured": f"test RMSE: {ladder_figures} ({fmt(seed_start / best_rmse)}x)",
            "verdict": ("misleading" if share_mean > 0.5 else "fair")
            + f": of the {fmt(seed_start)} to {fmt(best_rmse)} gain the mean alone gives "
            f"{pct(share_mean)}, biases {pct(share_bias)}, embeddings {pct(share_emb)}",
        },
        {
            "claim": "similar users enjoy the same movies",
            "measured": f"MF, Jaccard of liked movies: nearest {fmt(neighbour_j)} vs random "
            f"{fmt(random_j)}",
            "verdict": f"supported: {fmt(overlap_ratio)}x the random overlap"
            if neighbour_j > (1 + TIE_MARGIN) * random_j
            else "not supported: nearest users overlap no more than random ones",
        },
    ]
)
print(
    f"Margins: a tie in claims 1 and 4 is within {TIE_MARGIN:.0%}; genre is readable when the "
    f"mean AUC beats the shuffled one by more than {fmt(PROBE_MARGIN)}."
)

# %% [markdown]
# ## What this run found

# %%
findings = [
    f"Ranking the whole catalogue for {len(test_users)} held-out users, the ranking model "
    f"scores test NDCG@{K} {fmt(test_table.loc[ranking_label, f'ndcg@{K}'])}, MF "
    f"{fmt(mf_ndcg)}, CollabFNet {fmt(test_table.loc['CollabFNet', f'ndcg@{K}'])}, the "
    f"rules {fmt(test_table.loc['rules: genres', f'ndcg@{K}'])} (genres) and "
    f"{fmt(test_table.loc['rules: genres + tags', f'ndcg@{K}'])} (genres + tags), "
    f"popularity {fmt(pop_ndcg)}.",
    f"Claim 1 is {rules_verdict.split(':')[0]}: of the embedding models, validation picks "
    f"{best_emb_name}, and it reaches {fmt(emb_vs_rules)}x the test NDCG@{K} of the "
    f"rules validation picks ({best_rules_name}); popularity reaches {fmt(pop_ndcg / rules_ndcg)}x the "
    f"rules and covers {fmt(test_table.loc['popularity', f'coverage@{K}'])} of the catalogue "
    f"in its top-{K} lists, the ranking model "
    f"{fmt(test_table.loc[ranking_label, f'coverage@{K}'])}.",
    f"Genre is linearly readable from the movie vectors of "
    f"{' and '.join(genre_readable) or 'no model'} (mean AUC "
    + ", ".join(f"{m} {fmt(auc[m])}" for m in auc.index)
    + f"; shuffled labels about {fmt(float(auc_s.mean()))}).",
    f"The seed's 15x is mostly the mean: from {fmt(seed_start)} to {fmt(best_rmse)} RMSE, "
    f"predicting {fmt(mean_rmse)} takes {pct(share_mean)} of the gain and the embeddings "
    f"beyond biases {pct(share_emb)}; nearest users in MF's space share "
    f"{fmt(neighbour_j)} of their liked movies (Jaccard) against {fmt(random_j)} for random "
    "users.",
]
report.record_figures(
    {
        "findings": findings,
        "ranking_split": rsplit.stats,
        "n_valid_users": len(val_users),
        "n_test_users": len(test_users),
        "n_fit_ratings": len(fit_table),
        "rules_params": best_rules,
        "rules_tag_weight": tag_weight,
        "ranking_variant": ranking_variant,
        "ranking_best_epoch": int(ranking_model.best_epoch_),
        f"val_ndcg_at_{K}": val_table[f"ndcg@{K}"].to_dict(),
        f"ndcg_at_{K}": test_table[f"ndcg@{K}"].to_dict(),
        "recall_at_20": test_table["recall@20"].to_dict(),
        "ndcg_at_100": test_table["ndcg@100"].to_dict(),
        f"coverage_at_{K}": test_table[f"coverage@{K}"].to_dict(),
        "best_rules": best_rules_name,
        "best_embedding": best_emb_name,
        "ranking_winner": winner,
        "embedding_vs_rules_ndcg_ratio": emb_vs_rules,
        "tie_margin": TIE_MARGIN,
        "split": split_source,
        "mf_source": mf_source,
        "collabfnet_source": cfn_source,
        "probe_genre_auc": auc.to_dict(),
        "probe_genre_auc_shuffled": auc_s.to_dict(),
        "probe_r2_log_popularity": probe_summary["R² log popularity"].to_dict(),
        "probe_r2_mean_rating": probe_summary["R² mean rating"].to_dict(),
        "probe_margin": PROBE_MARGIN,
        "genre_readable_for": genre_readable,
        "ladder_rmse": rmse.to_dict(),
        "rmse_seed_start": seed_start,
        "rmse_global_mean": mean_rmse,
        "rmse_bias_only": bias_rmse,
        "rmse_best": best_rmse,
        "share_of_gain_mean": share_mean,
        "share_of_gain_biases": share_bias,
        "share_of_gain_embeddings": share_emb,
        "similar_users_jaccard": overlap_summary["nearest users"].to_dict(),
        "random_users_jaccard": overlap_summary["random users"].to_dict(),
        "measured": claims["measured"].tolist(),
        "verdicts": claims["verdict"].tolist(),
    },
    table=claims.set_index("claim"),
    headline=True,
)
