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
# # 02 · Model building: baselines, MF, CollabFNet and a stronger model
#
# This notebook introduces the models. Every one honours the same small contract
# (`fit`, `predict`, `recommend`), so they line up in one table:
#
# - **global mean** and **bias-only** (`mu + b_u + b_i`): what any model must beat;
# - **popularity**: ranks by number of ratings, the baseline for ranking metrics;
# - **MF**: `mu + b_u + b_i + p_u . q_i` on `nn.Embedding` tables;
# - **CollabFNet**, the seed's network, written so that it actually trains:
#   `concat(p_u, q_i) -> dropout -> Linear -> ReLU -> Linear`;
# - **ImplicitMF**: MF whose user vector also sums the vectors of the movies the user
#   rated, and whose movie vector sums those of its audience (SVD++, both sides);
# - **blend**: a least-squares mix of ImplicitMF, MF and CollabFNet, its weights fitted
#   on the validation ratings.
#
# Nets train on the training part and stop early on the validation part, which also
# picks the "best" model; the test part is touched once, for the final table. We then
# check the seed's claim of an RMSE of 0.8, and save checkpoints for later notebooks.

# %% tags=["parameters"]
DATASET = "ml-latest-small"
SEED = 42
VALID_FRAC = 0.1
TEST_FRAC = 0.1
EPOCHS = 30  # CollabFNet's upper bound; early stopping picks the epoch
PATIENCE = 3
MF_EPOCHS = 6  # MF and ImplicitMF anneal the rate to 0 over their epochs (cosine)
BATCH_SIZE = 8192  # MF
LR = 0.03
MF_DIM = 64
MF_L2 = 0.1
CNET_EMB = 100  # the seed's published CollabFNet settings
CNET_HIDDEN = 10
CNET_DROPOUT = 0.1
CNET_BATCH_SIZE = 1024
CNET_LR = 0.005
IMF_DIM = 128
IMF_EPOCHS = 12
IMF_BATCH_SIZE = 4096
IMF_LR = 0.003
IMF_L2 = 0.2
K = 10
SEED_CLAIM_RMSE = 0.8
PROGRESS = False

# %%

import numpy as np
import pandas as pd

from recsys_utils.app import plots
from recsys_utils.app.figures import folded, tidy
from recsys_utils.app.figures import format_value as fmt
from recsys_utils.constants import RELEVANCE_THRESHOLD, checkpoint_dir, shown_path
from recsys_utils.data import splits
from recsys_utils.evaluation.experiment import Experiment, Grid, RandomRatings
from recsys_utils.evaluation.metrics import ranking_metrics, rating_metrics
from recsys_utils.models import (
    MF,
    BiasOnly,
    CollabFNet,
    GlobalMean,
    ImplicitMF,
    Popularity,
    checkpoints,
)
from recsys_utils.models.blend import Blend

common = {"seed": SEED, "patience": PATIENCE, "progress": PROGRESS}

# %% [markdown]
# ## The split
# The train/validation/test split notebook 01 saved (or the same seeded random split,
# computed here, when notebook 01 has not run).

# %%
try:
    split = splits.load_split(DATASET, seed=SEED)
    split_source = "notebook 01"
except FileNotFoundError:
    from recsys_utils.data.movielens import load_dataset

    ratings = load_dataset(DATASET).ratings
    split = splits.random_split(ratings, valid_frac=VALID_FRAC, test_frac=TEST_FRAC, seed=SEED)
    split_source = "computed here"
train, valid, test = split.train, split.valid, split.test
cold = splits.count_cold(split)
print(
    f"split ({split_source}): {split.sizes()}; test ratings with an unseen user or movie "
    f"(fallback): {cold['test']}"
)

# %% [markdown]
# ## Train
# One experiment (`evaluation.experiment`) on that split: each model is fitted on the
# training part; the nets evaluate the validation RMSE after every epoch and keep the
# best epoch's weights. The blend reuses the three fitted nets and only fits its four
# numbers (intercept and weights) on the validation ratings.

# %%
specs = {
    "global mean": (GlobalMean, {}),
    "bias-only": (BiasOnly, {}),
    "popularity": (Popularity, {}),
    "MF": (
        MF,
        dict(
            n_factors=MF_DIM,
            epochs=MF_EPOCHS,
            batch_size=BATCH_SIZE,
            lr=LR,
            l2=MF_L2,
            schedule="cosine",
            **common,
        ),
    ),
    "CollabFNet": (
        CollabFNet,
        dict(
            emb_size=CNET_EMB,
            n_hidden=CNET_HIDDEN,
            dropout=CNET_DROPOUT,
            epochs=EPOCHS,
            batch_size=CNET_BATCH_SIZE,
            lr=CNET_LR,
            **common,
        ),
    ),
    "ImplicitMF": (
        ImplicitMF,
        dict(
            n_factors=IMF_DIM,
            epochs=IMF_EPOCHS,
            batch_size=IMF_BATCH_SIZE,
            lr=IMF_LR,
            l2=IMF_L2,
            schedule="cosine",
            **common,
        ),
    ),
}
protocol = RandomRatings(valid_frac=VALID_FRAC, test_frac=TEST_FRAC, refit_with_valid=False)
result = Experiment(
    protocol,
    [Grid(name, cls, fixed=kw, seeded=False) for name, (cls, kw) in specs.items()],
    seeds=[SEED],
    curve_ns=(),
    log=None,
).run(pd.concat([train, valid, test], ignore_index=True))
# the same seeded split of the same ratings: the one notebook 01 saved
assert result.stats[SEED] == split.sizes(), (result.stats[SEED], split.sizes())
models = dict(result.models[SEED])
fit_s = result.runs.set_index("model")["fit_s"].to_dict()
print("fitted in " + ", ".join(f"{name} {fmt(s)} s" for name, s in fit_s.items()))

members = [models["ImplicitMF"], models["MF"], models["CollabFNet"]]
# the blend's four numbers are fitted on one half of the validation ratings; the other
# half picks the "best" model below, out of sample for every model
pick = np.random.default_rng(SEED).random(len(valid)) < 0.5
valid_weights, valid_pick = valid[pick], valid[~pick]
models["blend"] = Blend.from_members(members, valid_weights)
fit_s["blend"] = sum(fit_s[n] for n in ("ImplicitMF", "MF", "CollabFNet"))
labels = ["intercept", "ImplicitMF", "MF", "CollabFNet"]
weights = {k: round(float(w), 3) for k, w in zip(labels, models["blend"].weights_, strict=True)}
print("blend weights: " + ", ".join(f"{k} {fmt(w)}" for k, w in weights.items()))

# %% [markdown]
# ## Learning curves
# Training RMSE (the square root of the epoch's mean training loss, measured while the
# weights move and with dropout on) against validation RMSE, all three panels on one y
# axis. The dotted line marks the epoch whose weights were kept. Where the curves part,
# the model starts to memorise.

# %%
histories = {n: models[n].history_ for n in ("MF", "CollabFNet", "ImplicitMF")}
fig_curves = plots.learning_curves(histories)

# %% [markdown]
# ## Which model is best? Validation decides
# The model with the lowest RMSE on the half of the validation ratings the blend's
# weights did not see is "best" (`val_rmse`), so no model is judged in sample.

# %%
val_rmse = {name: rating_metrics(m, valid_pick)["rmse"] for name, m in models.items()}
best_name = min(val_rmse, key=val_rmse.get)
print(f"lowest validation RMSE: {best_name} ({fmt(val_rmse[best_name])})")

# %% [markdown]
# ## All models on the test split
# Rating error (RMSE, MAE) on every test rating, and ranking quality by the project's
# one rule: each user's top `K` over the whole catalogue minus every movie they rated
# in training or validation, against the test movies they rated 4 stars or more (the
# one definition of relevant in every notebook). This random-split ranking stays for
# continuity; notebook 03 ranks for new users on the protocol made for it.

# %%
rows = []
for name, model in models.items():
    rating = rating_metrics(model, test)
    ranking = ranking_metrics(
        model, train, test, k=K, relevance_threshold=RELEVANCE_THRESHOLD, exclude=valid
    )
    rows.append(
        {
            "model": name,
            "val_rmse": val_rmse[name],
            "rmse": rating["rmse"],
            "mae": rating["mae"],
            f"ndcg@{K}": ranking["ndcg"],
            f"recall@{K}": ranking["recall"],
            "fit_s": fit_s[name],
        }
    )
table = pd.DataFrame(rows).set_index("model")
tidy(table)

# %% [markdown]
# ## The seed's claim: RMSE 0.8
# The blog post reports an RMSE of about 0.8 on this data set for CollabFNet.

# %%
best_rmse = float(table.loc[best_name, "rmse"])
cnet_rmse = float(table.loc["CollabFNet", "rmse"])
claim_met = bool(best_rmse <= SEED_CLAIM_RMSE)
claim_sentence = (
    f"CollabFNet, trained for real, reaches a test RMSE of {fmt(cnet_rmse)}; the seed claims "
    f"{SEED_CLAIM_RMSE}. Our best model by validation, {best_name}, reaches {fmt(best_rmse)}, "
    f"{'within' if claim_met else 'short of'} the claim by {fmt(abs(best_rmse - SEED_CLAIM_RMSE))}; "
    f"bias-only alone gets {fmt(table.loc['bias-only', 'rmse'])} and the global mean "
    f"{fmt(table.loc['global mean', 'rmse'])}."
)
print(claim_sentence)

# %% [markdown]
# ## Checkpoints for the later notebooks
# `mf`, `collabfnet` and `best` (the validation winner), each a JSON sidecar plus
# safetensors weights, with the test figures stored beside them.

# %%
saved = {}
for stem, name in (("mf", "MF"), ("collabfnet", "CollabFNet"), ("best", best_name)):
    metrics = {k: float(v) for k, v in table.loc[name].items()}
    saved[stem] = checkpoints.save(
        models[name], checkpoint_dir() / stem, dataset=DATASET, metrics={"model": name, **metrics}
    )
reloaded = checkpoints.load(saved["best"], expect_dataset=DATASET)
pairs = test.head(100)
same = np.allclose(
    reloaded.predict(pairs["user_id"], pairs["item_id"]),
    models[best_name].predict(pairs["user_id"], pairs["item_id"]),
)
folded(
    "checkpoints written",
    {stem: shown_path(path) for stem, path in saved.items()} | {"reload identical": same},
)

# %% [markdown]
# ## What this run found

# %%
from recsys_utils.app.report import record_figures

by_rmse = table["rmse"].sort_values()
findings = [
    f"Lowest test RMSE: {by_rmse.index[0]} {fmt(by_rmse.iloc[0])}, then {by_rmse.index[1]} "
    f"{fmt(by_rmse.iloc[1])}; bias-only {fmt(table.loc['bias-only', 'rmse'])} and the global mean "
    f"{fmt(table.loc['global mean', 'rmse'])} are what any model must beat.",
    claim_sentence,
    f"On ranking (top {K}, relevant = rated 4 or more), popularity scores NDCG@{K} "
    f"{fmt(table.loc['popularity', f'ndcg@{K}'])} against MF's {fmt(table.loc['MF', f'ndcg@{K}'])}"
    " and the blend's "
    f"{fmt(table.loc['blend', f'ndcg@{K}'])}: models trained to predict ratings do not rank well,"
    " which is why notebook 03 trains for ranking.",
    f"The blend weighs ImplicitMF {fmt(weights['ImplicitMF'])}, MF {fmt(weights['MF'])} and "
    f"CollabFNet {fmt(weights['CollabFNet'])} (intercept {fmt(weights['intercept'])}).",
]
record_figures(
    {
        "findings": findings,
        "dataset": DATASET,
        **split.sizes(),
        "n_test_fallback": cold["test"],
        "val_rmse": {n: float(v) for n, v in val_rmse.items()},
        "rmse": table["rmse"].to_dict(),
        "mae": table["mae"].to_dict(),
        f"ndcg_at_{K}": table[f"ndcg@{K}"].to_dict(),
        f"recall_at_{K}": table[f"recall@{K}"].to_dict(),
        "fit_s": table["fit_s"].to_dict(),
        "best_model": best_name,
        "best_test_rmse": best_rmse,
        "seed_claim_rmse": SEED_CLAIM_RMSE,
        "seed_claim_met": claim_met,
        "blend_weights": weights,
        "checkpoint_reload_identical": bool(same),
        "best_epoch": {
            n: int(h.loc[h["val_rmse"].idxmin(), "epoch"]) for n, h in histories.items()
        },
    },
    table=table[["rmse", "mae", f"ndcg@{K}", f"recall@{K}"]],
    headline=True,
)
