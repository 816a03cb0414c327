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
# The blog post this workbench grew from makes four claims. This notebook puts each to
# a measurement on one split, and ends with a table of claim, measurement and verdict
# built from this run's numbers:
#
# 1. *"Rules-based systems are limited by the rules."* A real rules-based recommender
#    (favourite genres weighted by the user's ratings, then the best damped-mean movies
#    of those genres, optionally tags) against the popularity baseline and the embedding
#    models, on precision/recall/NDCG@k, catalogue coverage and novelty.
# 2. *"The movie vector's direction depends on genre, general impression, ..."* Linear
#    probes of the learned movie vectors (MF and CollabFNet) to each genre, to the mean
#    rating and to popularity, each against the same probe on shuffled labels.
# 3. *"Initial RMS = 10, after training 0.8: 15 times better."* The honest ladder: an
#    untrained net, the global mean, biases only, MF, CollabFNet, the best model.
# 4. *"Movies one user enjoyed are likely to satisfy users with similar tastes."* Nearest
#    users in embedding space against random users: overlap of what they rated highly.

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
RULES_GRID = {"min_count": [10, 20, 50, 100], "match_weight": [0.25, 0.5, 1.0], "n_genres": [2, 3]}
TAG_WEIGHTS = [0.0, 0.5, 1.0, 2.0]
PROBE_MIN_RATINGS = 10
PROBE_FOLDS = 5
N_QUERY_USERS = 30
LIKED_THRESHOLD = 4.0
TIE_MARGIN = 0.1

# %%
import numpy as np
import pandas as pd
from IPython.display import display

from recsys_utils import data
from recsys_utils.app import plots, report
from recsys_utils.constants import RELEVANCE_THRESHOLD
from recsys_utils.data import splits
from recsys_utils.data.tags import load_tags
from recsys_utils.evaluation import metrics, probes
from recsys_utils.models import make_model
from recsys_utils.tuning.rules_grid import tune as tune_rules

train_kw = {"epochs": EPOCHS, "device": DEVICE, "seed": SEED, "progress": False}

# %% [markdown]
# ## The split and the models
# The split notebook 01 saved, if there is one (so the checkpoints of notebook 02 were
# trained on this very training set), else a fresh seeded random split. A checkpoint is
# used only if its id maps equal this training set's; otherwise the model is trained
# here.

# %%
dataset = data.load_dataset(DATASET)
movies = dataset.movies
try:
    split = splits.load_split(DATASET)
    split_source = "notebook 01's saved split"
except FileNotFoundError:
    split = splits.random_split(dataset.ratings, VALID_FRAC, TEST_FRAC, seed=SEED)
    split_source = f"a fresh random split (seed {SEED})"
train, valid, test = split.train, split.valid, split.test
print(f"{split_source}: {split.sizes()}")


def checkpoint_or_fit(stem, name, **params):
    model = probes.load_matching(stem, train, DATASET) if USE_CHECKPOINTS else None
    if model is not None:
        return model, f"checkpoint {stem}.json"
    return make_model(name, **params).fit(train, valid), "trained here"


mf, mf_source = checkpoint_or_fit("mf", "mf", **MF_PARAMS, **train_kw)
cfn, cfn_source = checkpoint_or_fit("collabfnet", "collabfnet", **COLLABFNET_PARAMS, **train_kw)
popularity = make_model("popularity").fit(train)
bias = make_model("bias").fit(train)
print(f"MF: {mf_source}; CollabFNet: {cfn_source}")

# %% [markdown]
# ## Claim 1: rules against embeddings
# The rules get their knobs chosen on the validation set, as the networks get their
# epoch by early stopping. Relevant = a test rating of at least `RELEVANCE_THRESHOLD`.

# %%
best_rules, rules_grid = tune_rules(
    train, valid, movies, RULES_GRID, k=K, relevance_threshold=RELEVANCE_THRESHOLD
)
tags = load_tags(DATASET)
if tags is not None:
    best_tags, tags_grid = tune_rules(
        train,
        valid,
        movies,
        {**{p: [v] for p, v in best_rules.items()}, "tag_weight": TAG_WEIGHTS},
        tags=tags,
        k=K,
        relevance_threshold=RELEVANCE_THRESHOLD,
    )
else:
    best_tags = {**best_rules, "tag_weight": 0.0}
print(f"rules chosen on validation: {best_rules}; tag weight: {best_tags['tag_weight']}")
rules_model = make_model("rules", movies=movies, **best_rules).fit(train)
rules_tags = make_model("rules", movies=movies, tags=tags, **best_tags).fit(train)

# %%
contenders = {
    "popularity": popularity,
    "rules (genres)": rules_model,
    "rules (genres + tags)": rules_tags,
    "MF": mf,
    "CollabFNet": cfn,
}
# the one rule: candidates exclude each user's training and validation movies
ranking = probes.compare_recommenders(
    contenders, test, k=K, relevance_threshold=RELEVANCE_THRESHOLD, exclude=valid
)
display(ranking.round(4))
plots.metric_bars(ranking, ["precision", "recall", "ndcg", "coverage"], title=f"Top-{K} on test")

# %%
winner = ranking["ndcg"].idxmax()
best_rules_name = ranking.loc[["rules (genres)", "rules (genres + tags)"], "ndcg"].idxmax()
best_emb_name = ranking.loc[["MF", "CollabFNet"], "ndcg"].idxmax()
rules_ndcg = ranking.loc[best_rules_name, "ndcg"]
emb_ndcg = ranking.loc[best_emb_name, "ndcg"]
pop_ndcg = ranking.loc["popularity", "ndcg"]
emb_vs_rules = emb_ndcg / rules_ndcg
print(
    f"NDCG@{K}: {winner} wins with {ranking.loc[winner, 'ndcg']:.4f}. Best rules "
    f"({best_rules_name}) {rules_ndcg:.4f}, best embedding model ({best_emb_name}) "
    f"{emb_ndcg:.4f}: the embeddings reach {emb_vs_rules:.2f}x the rules' NDCG; "
    f"popularity {pop_ndcg:.4f}. Coverage@{K}: rules "
    f"{ranking.loc[best_rules_name, 'coverage']:.3f}, {best_emb_name} "
    f"{ranking.loc[best_emb_name, 'coverage']:.3f}, popularity "
    f"{ranking.loc['popularity', 'coverage']:.3f}."
)

# %% [markdown]
# ## Claim 2: what the movie vectors encode
# Probes run on movies with at least `PROBE_MIN_RATINGS` training ratings (rarer movies
# keep vectors close to their random start). The shuffled columns are what the same
# probe finds when the labels are permuted across movies: chance, measured.

# %%
probe_results = {}
for label, model in (("MF", mf), ("CollabFNet", cfn)):
    genre_probe, target_probe = probes.probe_model(
        model, train, movies, min_ratings=PROBE_MIN_RATINGS, folds=PROBE_FOLDS, seed=SEED
    )
    probe_results[label] = (genre_probe, target_probe)
    print(label)
    display(genre_probe.round(3))
    display(target_probe.round(3))
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
probe_summary.round(3)

# %% [markdown]
# ## Claim 3: the honest ladder
# The seed's network started from zero output (our CollabFNet starts its output bias
# at the training mean instead); both untrained starts are shown. Predictions are
# clipped to the rating scale, so no model here can be off by 10 stars.

# %%
valid_rmse = {
    label: metrics.rating_metrics(m, valid)["rmse"]
    for label, m in (("MF", mf), ("CollabFNet", cfn))
}
best_name = min(valid_rmse, key=valid_rmse.get)
best_model = probes.load_matching("best", train, DATASET) if USE_CHECKPOINTS else None
if best_model is not None:
    best_source = f"checkpoint best.json, {best_model.name}"
else:
    best_model, best_source = (
        {"MF": mf, "CollabFNet": cfn}[best_name],
        f"lower validation RMSE: {best_name}",
    )
rungs = {
    "untrained CollabFNet, output from 0 (the seed's start)": probes.untrained(
        make_model("collabfnet", **COLLABFNET_PARAMS, **train_kw), train, mu=0.0
    ),
    "global mean": make_model("global_mean").fit(train),
    "untrained CollabFNet, output from the mean": probes.untrained(
        make_model("collabfnet", **COLLABFNET_PARAMS, **train_kw), train
    ),
    "bias only": bias,
    "MF": mf,
    "CollabFNet": cfn,
    f"best ({best_source})": best_model,
}
ladder = probes.ladder(rungs, test)
display(ladder.round(4))
plots.metric_bars(ladder, ["rmse"], title="Test RMSE, rung by rung (lower is better)")

# %%
rmse = ladder["rmse"]
seed_start, mean_rmse, bias_rmse = rmse.iloc[0], rmse["global mean"], rmse["bias only"]
best_rmse = rmse.iloc[-1]
emb_rmse = min(rmse["MF"], rmse["CollabFNet"])
total_gain = seed_start - emb_rmse
share_mean = (seed_start - mean_rmse) / total_gain
share_bias = (mean_rmse - bias_rmse) / total_gain
share_emb = (bias_rmse - emb_rmse) / total_gain
print(
    f"From the seed's start ({seed_start:.3f}) to the best embedding model ({emb_rmse:.3f}) is "
    f"{seed_start / emb_rmse:.1f}x: predicting the mean takes {share_mean:.0%} of that gain, "
    f"per-user and per-movie biases {share_bias:.0%}, the embeddings themselves {share_emb:.0%}. "
    f"Over the global mean the best model is {mean_rmse / best_rmse:.2f}x better, over biases "
    f"{bias_rmse / best_rmse:.3f}x."
)

# %% [markdown]
# ## Claim 4: similar users like the same movies
# For a seeded sample of users, their `K` nearest users by cosine of the MF user vectors,
# and `K` random users; the overlap (Jaccard) of the movies each rated at least
# `LIKED_THRESHOLD`, read from the training ratings the vectors were learned from.

# %%
rng = np.random.default_rng(SEED)
query_users = rng.choice(mf.user_map.ids, size=min(N_QUERY_USERS, len(mf.user_map)), replace=False)
overlaps = {
    label: probes.similar_users_overlap(
        model, train, query_users, k=K, threshold=LIKED_THRESHOLD, seed=SEED
    )
    for label, model in (("MF", mf), ("CollabFNet", cfn))
}
display(overlaps["MF"].round(3).head(10))
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
display(overlap_summary.round(3))
neighbour_j, random_j = (
    overlap_summary.loc["MF", "nearest users"],
    overlap_summary.loc["MF", "random users"],
)
print(
    f"MF: mean Jaccard with nearest users {neighbour_j:.3f} vs random users {random_j:.3f} "
    f"({neighbour_j / random_j if random_j else float('inf'):.2f}x) over {len(query_users)} users"
)

# %% [markdown]
# ## Verdicts
# Each line is computed from the figures above.

# %%
mf_auc, mf_auc_s = (
    probe_summary.loc["MF", "mean genre AUC"],
    probe_summary.loc["MF", "mean genre AUC, shuffled"],
)
cfn_auc = probe_summary.loc["CollabFNet", "mean genre AUC"]
if emb_vs_rules >= 1 + TIE_MARGIN:
    rules_verdict = f"supported: embeddings beat the rules by {emb_vs_rules - 1:.0%} NDCG"
elif emb_vs_rules <= 1 - TIE_MARGIN:
    rules_verdict = (
        f"contradicted: the rules beat the embeddings by {1 / emb_vs_rules - 1:.0%} NDCG"
    )
else:
    rules_verdict = f"not shown: embeddings and rules within {TIE_MARGIN:.0%} NDCG"
if winner == "popularity":
    rules_verdict += (
        f"; popularity beats both ({pop_ndcg / max(emb_ndcg, rules_ndcg) - 1:.0%} over the better)"
    )
claims = pd.DataFrame(
    [
        {
            "claim": "rules-based systems are limited by the rules",
            "measured": f"NDCG@{K}: best rules {rules_ndcg:.4f}, best embedding {emb_ndcg:.4f} "
            f"({best_emb_name}), popularity {pop_ndcg:.4f}; winner {winner}",
            "verdict": rules_verdict,
        },
        {
            "claim": "movie vectors encode genre, impression, popularity",
            "measured": f"mean genre AUC MF {mf_auc:.3f} (shuffled {mf_auc_s:.3f}), CollabFNet "
            f"{cfn_auc:.3f}; R² popularity MF "
            f"{probe_summary.loc['MF', 'R² log popularity']:.2f}, mean rating "
            f"{probe_summary.loc['MF', 'R² mean rating']:.2f}",
            "verdict": "supported: genre is linearly readable well above chance"
            if mf_auc > mf_auc_s + 0.05
            else "weak: genre barely above chance",
        },
        {
            "claim": "15x better RMSE after training",
            "measured": f"seed start {seed_start:.2f} -> best {best_rmse:.3f} ({seed_start / best_rmse:.1f}x); "
            f"global mean {mean_rmse:.3f}, biases {bias_rmse:.3f}",
            "verdict": ("misleading" if share_mean > 0.5 else "fair")
            + f": the mean alone gives {share_mean:.0%} of the gain, biases {share_bias:.0%}, "
            f"embeddings {share_emb:.0%}",
        },
        {
            "claim": "similar users enjoy the same movies",
            "measured": f"Jaccard nearest {neighbour_j:.3f} vs random {random_j:.3f}",
            "verdict": f"supported: {neighbour_j / random_j:.1f}x the random overlap"
            if neighbour_j > (1 + TIE_MARGIN) * random_j
            else "not supported: nearest users overlap no more than random ones",
        },
    ]
)
with pd.option_context("display.max_colwidth", None):
    display(claims)

# %%
report.record_figures(
    {
        "split": split_source,
        "mf_source": mf_source,
        "collabfnet_source": cfn_source,
        "rules_params": best_rules,
        "rules_tag_weight": best_tags["tag_weight"],
        "ndcg_at_k": ranking["ndcg"].to_dict(),
        "precision_at_k": ranking["precision"].to_dict(),
        "recall_at_k": ranking["recall"].to_dict(),
        "coverage_at_k": ranking["coverage"].to_dict(),
        "mean_log_popularity": ranking["mean_log_popularity"].to_dict(),
        "ranking_winner": winner,
        "embedding_vs_rules_ndcg_ratio": emb_vs_rules,
        "probe_genre_auc": probe_summary["mean genre AUC"].to_dict(),
        "probe_genre_auc_shuffled": probe_summary["mean genre AUC, shuffled"].to_dict(),
        "probe_r2_log_popularity": probe_summary["R² log popularity"].to_dict(),
        "probe_r2_mean_rating": probe_summary["R² mean rating"].to_dict(),
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
        "verdicts": claims["verdict"].tolist(),
    }
)
