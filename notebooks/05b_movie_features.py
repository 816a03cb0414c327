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
# # 05b · Movie vectors from what a movie is: genres, tags, year
#
# The models of notebooks 02-05 learn a movie only from who rated it. A movie nobody has
# rated yet has no vector: it cannot be recommended, looked up or drawn on a map. The
# blog post this workbench tests says its movie vectors came from "the genre, general
# impression, cast, soundtrack, etc.". This notebook builds movie vectors from what a
# movie *is*, as far as MovieLens says it: its genres, the tags users gave it, its release
# year, and, in the larger releases, the tag genome.
#
# It introduces the **hybrid model** (`models.hybrid`): our ranking model of notebook 03,
# whose movie vector is the sum of its features' vectors plus, where the movie had
# training positives, its own id vector (LightFM's idea, on our loss and training loop).
# We ask three questions:
#
# 1. **What are the features?** How many of each kind, and how many movies carry them.
# 2. **Can it rank movies nobody rated?** The *item cold-start* protocol holds 10% of the
#    movies out of training entirely, then asks each model to rank them for the people
#    who liked them: the hybrid against LightFM (the same features), a content
#    nearest-neighbour ranker and popularity within genre, with intervals over random
#    seeds and users and a paired test for every comparison.
# 3. **Where does a new movie land?** A map where movie vectors and feature vectors (each
#    genre a labelled point) share one space, and movies without training signal are
#    drawn apart.

# %% tags=["parameters"]
DATASET = "ml-latest-small"
SEEDS = [0, 1, 2, 3, 4]
MAX_GRID_POINTS = 2  # bench coldstart tries 3 (the third: features only, LightFM with ids)
HYBRID_DIM = 128  # bench coldstart: 200
HYBRID_MAX_EPOCHS = 30  # bench coldstart: 80
LIGHTFM_MAX_EPOCHS = 40
PROJECTION = "umap"
N_TOP_TAGS = 25
NEW_MOVIES = {
    "zombie horror": {"genres": ["Horror", "Thriller"],
                      "tags": ["zombies", "bloody", "post apocalyptic", "survival"], "year": 2018},
    "Pixar-like family film": {"genres": ["Animation", "Children", "Comedy", "Adventure"],
                               "tags": ["pixar", "animation", "funny", "emotional"], "year": 2018},
    "space opera": {"genres": ["Sci-Fi", "Adventure", "Action"],
                    "tags": ["space", "star wars", "epic", "aliens"], "year": 2018},
}  # fmt: skip
NEIGHBOURS_K = 8
NEIGHBOURS_MIN_RATINGS = 20
N_FANS = 5
APP_MODEL = "hybrid"
SEED = 42

# %%
import html

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import scipy.sparse as sp
from IPython.display import Markdown, display

from recsys_utils import embeddings
from recsys_utils.app import map_plots, plots, report, widgets
from recsys_utils.app.figures import folded, tidy
from recsys_utils.app.figures import format_value as fmt
from recsys_utils.bench import coldstart as bench
from recsys_utils.constants import (
    ITEM_COL,
    RATING_COL,
    TIMESTAMP_COL,
    TITLE_COL,
    USER_COL,
    YEAR_COL,
)
from recsys_utils.data.features import KINDS, movie_features, year_bucket
from recsys_utils.data.movielens import load_dataset
from recsys_utils.embeddings import maps, with_titles
from recsys_utils.evaluation import stats
from recsys_utils.evaluation.coldstart import CUTOFF, cold_start_split
from recsys_utils.models import checkpoints, recipes
from recsys_utils.models.hybrid import HybridPooled

dataset = load_dataset(DATASET)
ratings, movies = dataset.ratings, dataset.movies
features = movie_features(DATASET)
# this run's grids: bench coldstart's (the first MAX_GRID_POINTS points) at this run's budget
grids = {name: [dict(p) for p in grid[:MAX_GRID_POINTS]] for name, grid in bench.GRIDS.items()}
for p in grids["hybrid_pooled"]:
    p.update(dim=HYBRID_DIM, max_epochs=HYBRID_MAX_EPOCHS, min_epochs=min(20, HYBRID_MAX_EPOCHS))
for p in grids["lightfm"]:
    p["epochs"] = min(p["epochs"], LIGHTFM_MAX_EPOCHS)
has_lightfm = bench.lightfm_available()
model_names = {"hybrid_pooled": "hybrid (ours)", "lightfm": "LightFM",
          "content_knn": "content kNN", "genre_popularity": "popularity in genre"}  # fmt: skip
metric = f"recall@{CUTOFF}"
shown_params = ("dim", "lr", "batch_size", "max_epochs", "id_dropout", "use_id")
print(f"{DATASET}: {len(ratings):,} ratings, {features.n_movies:,} movies; seeds {SEEDS}")

# %% [markdown]
# ## 1. The features
# One table per data set (`data.features`), one row per movie of the movies table, rated
# or not:
#
# - **genre**: 1 where the movie has the genre (every movie of MovieLens has a genre list,
#   a few say "(no genres listed)").
# - **tag**: the tags users typed, cleaned (lower case, accents and apostrophes dropped,
#   punctuation one space) and merged across spellings ("sci-fi", "Sci Fi" and "scifi" are
#   one tag), kept when at least 3 different users used it; weighted by tf-idf (how many
#   users put it on this movie, times how rare it is across movies), each movie's tags
#   scaled to length 1.
# - **year**: the release year from the title, in buckets (decades before 1990, then five
#   years), with an "unknown" bucket of its own for a title without a year.
# - **genome**: the tag genome's 1,128 relevance scores, in the releases that have it
#   (ml-25m, ml-32m); ml-latest-small has none.
#
# A movie whose only feature is "year: unknown" is flagged as having **no features**.

# %%
coo = features.matrix.tocoo()
kind_of = features.kinds[coo.col]
vocab = pd.DataFrame(
    {
        "features": [len(features.columns(k)) for k in KINDS],
        "movies with one": [np.unique(coo.row[kind_of == k]).size for k in KINDS],
        "entries": [int((kind_of == k).sum()) for k in KINDS],
    },
    index=pd.Index(KINDS, name="kind"),
)
vocab["share of movies"] = vocab["movies with one"] / features.n_movies
n_no_features = int(features.no_features.sum())
n_tagged = int(vocab.loc["tag", "movies with one"])
display(tidy(vocab))
print(
    f"{features.n_movies:,} movies, {features.matrix.shape[1]:,} features; "
    f"{n_tagged:,} movies carry a kept tag; {n_no_features:,} have no features at all."
)

# %% [markdown]
# How many movies carry each feature: every genre, every year bucket and the most used
# tags (a tag's bar counts movies, not users).

# %%
per_feature = pd.Series(np.bincount(coo.col, minlength=features.matrix.shape[1]),
                        index=features.names)  # fmt: skip
fig_vocab, axes = plt.subplots(1, 3, figsize=(14, 6), layout="constrained")
for ax, kind, title in zip(
    axes,
    ("genre", "year", "tag"),
    ("genres", "release year buckets", f"the {N_TOP_TAGS} most used tags"),
    strict=True,
):
    counts = per_feature.iloc[features.columns(kind)]
    counts = counts.nlargest(N_TOP_TAGS) if kind == "tag" else counts
    counts.index = counts.index.str.split(":", n=1).str[1]
    counts[::-1].plot.barh(ax=ax, color=plots.distinct_colors(3)[KINDS.index(kind) % 3])
    ax.set(title=title, xlabel="movies")
    ax.tick_params(axis="y", labelsize=8)

# %% [markdown]
# ## 2. Ranking movies nobody rated: the item cold-start protocol
# Per random seed (`evaluation.coldstart`):
#
# - A **positive** is a rating of 4 or more. Among the movies with at least 5 positives,
#   10% are drawn as **cold test movies** and another 10% as **cold validation movies**.
# - **Every** rating of a cold movie leaves the training table: no model sees its id.
#   It keeps its features (its genres, year and the tags users put on it; a movie new to
#   the catalogue would have fewer tags).
# - Each user who liked a cold movie (and has a training positive) ranks (a) the cold
#   movies only ("cold") and (b) the whole catalogue with the cold movies in it
#   ("catalogue", training positives excluded). Recall@20 and NDCG@20 score where the
#   movies they liked land.
# - Each model's grid point is chosen on the **validation movies** (best mean Recall@20),
#   then that fitted model ranks the test movies once.
#
# The models: **content kNN** (a movie's score is its cosine to the movies the person
# liked, on the feature vectors), **popularity in genre** (how popular the movie's genres
# are, tilted to the person's genres), **LightFM** (Kula 2015: a movie is the sum of its
# feature vectors, trained with the WARP loss) and our **hybrid**. The first seed's split:

# %%
split0 = cold_start_split(ratings, seed=SEEDS[0])
split_labels = {
    "n_eligible": "movies with at least 5 positives",
    "n_test_items": "cold test movies",
    "n_valid_items": "cold validation movies",
    "n_train_ratings": "training ratings",
    "n_train_items": "movies with a training rating",
    "test_users": "test users (liked a cold test movie)",
    "test_target_positives": "their liked cold test movies",
    "test_dropped_users": "test users dropped (no training positive)",
    "valid_users": "validation users",
    "valid_target_positives": "their liked cold validation movies",
    "valid_dropped_users": "validation users dropped",
}
display(tidy(pd.Series(split0.stats, name="count").rename(split_labels).to_frame()))
if not has_lightfm:
    print(bench.LIGHTFM_MISSING)

# %% [markdown]
# Every seed, every model's grid: the long cell (each grid point is trained once per seed).
# It is `bench coldstart`'s run (`python -m recsys_utils bench coldstart` prints the same
# table) with a smaller budget, set in the parameters: the first `MAX_GRID_POINTS` points
# of each grid, the hybrid at `HYBRID_DIM` dimensions for `HYBRID_MAX_EPOCHS` epochs.

# %%
rows, choices, split_stats = bench.run(ratings, features, seeds=SEEDS, grids=grids)
rows["model"] = rows["model"].map(model_names)
summary = bench.summarise(rows, baseline=model_names["content_knn"])
names = [label for m, label in model_names.items() if m != "lightfm" or has_lightfm]  # hybrid first
display(folded("the grid point each model chose on the validation movies, per seed",
               pd.DataFrame(choices).assign(params=lambda c: c["params"].astype(str))))  # fmt: skip

# %% [markdown]
# The table: mean over users (pooled over the seeds) with its 95% t-interval; "cold" ranks
# the held-out movies among themselves, "catalogue" among every movie.

# %%
summary["value"] = [f"{m:.3f} [{lo:.3f}, {hi:.3f}]"
                    for m, lo, hi in summary[["mean", "low", "high"]].to_numpy()]  # fmt: skip
cold_table = summary.pivot_table(
    index="model", columns=["candidates", "metric"], values="value", aggfunc="first"
).reindex(index=names)
cold_table.columns = [f"{m} ({c})" for c, m in cold_table.columns]
cold_table = cold_table[[f"{m} ({c})" for c in ("cold", "catalogue")
                         for m in (metric, f"ndcg@{CUTOFF}")]]  # fmt: skip
n_users = int(summary["n_users"].max())
seeds_text = f"{len(SEEDS)} random seeds" if len(SEEDS) > 1 else "one random seed"
print(f"{seeds_text}, {n_users:,} distinct users")
display(tidy(cold_table, index=True))
cold = summary[(summary["candidates"] == "cold") & (summary["metric"] == metric)]
fig_cold = plots.interval_dots(
    cold.set_index("model").reindex(names),
    title=f"{metric} on the held-out movies (cold), 95% interval over users",
    xlabel=metric,
)

# %% [markdown]
# ### Is the hybrid ahead?
# Paired on the same users (each user's difference averaged over the seeds that scored
# them), a paired t-test with Holm's correction over every pair of models; "ahead" only
# where the interval of the difference excludes 0.

# %%
candidate_text = {"cold": "ranking the held-out movies among themselves (cold)",
                  "catalogue": "ranking every movie, the held-out ones among them (catalogue)"}  # fmt: skip
verdicts = {}
for cand in ("cold", "catalogue"):
    sub = rows[rows["candidates"] == cand]
    table = stats.compare_table(sub, metric, names)
    verdicts[cand] = {c.b: c for c in table.comparisons if c.a == model_names["hybrid_pooled"]}
    display(Markdown(f"**{candidate_text[cand]}**"))
    for c in verdicts[cand].values():
        display(Markdown("- " + stats.verdict(c)))
if not has_lightfm:
    display(Markdown("LightFM is not installed here, so the hybrid is not compared with it."))

# %% [markdown]
# ## 3. Three new movies, typed in by hand
# From here on the hybrid is the app's (`models.recipes`, checkpoint `hybrid`: trained
# once on every rating and the feature table, then loaded by the app, `recommend` and
# `similar`; trained here if it is missing). A movie nobody has rated is described by hand, as the
# app's "New movie" tab does: a few genres, a few tags (each one the feature table kept)
# and a year (`MovieFeatures.describe` weighs them as the table's own rows). Its vector
# is the sum of its features' vectors: no retraining. The data end in 2018, so the new
# movies are given that year (the 2020s bucket holds almost no movie, and its vector
# learned next to nothing).
#
# For each: its **nearest movies** (cosine between its vector and each movie's; movies
# with at least `NEIGHBOURS_MIN_RATINGS` ratings, so the lists show movies a reader
# knows), and **who would like it**: the users whose own ranking of the catalogue would
# put it highest, with the movies they rated highest.

# %%
if APP_MODEL:
    hybrid = checkpoints.load(recipes.ensure_checkpoint(APP_MODEL, DATASET))
    hybrid_source = f"the app's {APP_MODEL} checkpoint"
else:  # the tests: the first seed's chosen point, fitted here at their small budget
    chosen = next(c["params"] for c in choices if c["model"] == "hybrid_pooled")
    hybrid = HybridPooled(features, seed=SEED, **chosen).fit(ratings)
    hybrid_source = "fitted here on every rating"
print(f"hybrid: {hybrid_source}; {len(hybrid.item_map):,} movies with training ratings")
described = {name: features.describe(**spec) for name, spec in NEW_MOVIES.items()}
typed = pd.DataFrame(NEW_MOVIES).T  # the year as typed, not a count with a separator
display(tidy(typed.map(lambda v: ", ".join(v) if isinstance(v, list) else str(v)), index=True))
neighbours = {
    name: with_titles(hybrid.neighbours(row, NEIGHBOURS_K, NEIGHBOURS_MIN_RATINGS), movies)
    for name, row in described.items()
}
display(tidy(pd.DataFrame({name: n[TITLE_COL].to_numpy() for name, n in neighbours.items()})))

# %% [markdown]
# How much does the year weigh? The first movie again, described without a year (its row
# then has no year entry at all):

# %%
first_name, first = next(iter(NEW_MOVIES.items()))
no_year = features.describe(genres=first["genres"], tags=first["tags"])
no_year_titles = with_titles(
    hybrid.neighbours(no_year, NEIGHBOURS_K, NEIGHBOURS_MIN_RATINGS), movies
)[TITLE_COL].tolist()
display(tidy(pd.DataFrame({f"{first_name}, {first['year']}": neighbours[first_name][TITLE_COL],
                           f"{first_name}, no year": no_year_titles})))  # fmt: skip

# %%
n_users_all = len(hybrid.user_map)
audiences = {name: hybrid.audience(row, k=n_users_all) for name, row in described.items()}
in_top_20 = {name: int((a["rank"] <= 20).sum()) for name, a in audiences.items()}
favourites = (
    ratings.sort_values([RATING_COL, TIMESTAMP_COL], ascending=False)
    .groupby(USER_COL)[ITEM_COL]
    .agg(lambda ids: list(ids[:3]))
)
title_of = movies.set_index(ITEM_COL)[TITLE_COL]
for name, fans in audiences.items():
    top = fans.head(N_FANS).assign(
        rated_highest=lambda f: ["; ".join(title_of[i] for i in favourites[u]) for u in f[USER_COL]]
    )
    print(f"{name}: {in_top_20[name]:,} of {n_users_all:,} users would have it in their top 20")
    display(tidy(top[[USER_COL, "rank", "rated_highest"]].rename(
        columns={USER_COL: "user", "rank": "its place in their list",
                 "rated_highest": "three movies they rated highest"})))  # fmt: skip

# %% [markdown]
# The app's **New movie** tab does the same for any movie you describe: choose genres,
# type a few tags and a year, and it lists the nearest movies, who would like it and
# where it lands. Here it is set to the first movie above. On this page it is a
# snapshot; `make demo DEMO_ARGS="--checkpoint hybrid"` serves it live.

# %%
app = widgets.RecommenderApp(hybrid, movies, ratings, k=NEIGHBOURS_K,
                             min_ratings=NEIGHBOURS_MIN_RATINGS, map_method=PROJECTION)  # fmt: skip
app.new_genres.value = tuple(first["genres"])
app.new_tags.value = ", ".join(first["tags"])
app.new_year.value = first["year"]
app.tabs.selected_index = 3
app_titles = neighbours[first_name][TITLE_COL].tolist()
app_agrees = all(html.escape(t, quote=True) in app.new_movie_html.value for t in app_titles)
app

# %% [markdown]
# ## 4. Where movies and features sit: one map
# Every movie of the feature table has a vector: a movie with training ratings its own
# (id and features), any other one from its features alone. Each genre's own learned
# vector is drawn in the same space as a black diamond (a movie described only by that
# genre would add this vector), the three new movies as red stars, and the movies
# without a training positive in grey, under the rest. The second panel colours the same
# map by release years: where its clusters are periods rather than genres, the year is
# what the space holds first (measured below).

# %%
genre_labels = features.labels("genre")
fmap = maps.feature_map(
    hybrid,
    movies,
    ratings,
    {
        "genre": (genre_labels, hybrid.F_out_[features.columns("genre")]),
        "new movie": (
            list(described),
            hybrid.movie_vectors(sp.vstack(list(described.values())))[0],
        ),
    },
    method=PROJECTION,
    seed=SEED,
)
untrained = ~fmap.movies["trained"].to_numpy()
n_untrained = int(untrained.sum())
fmap.movies["release years"] = (
    fmap.movies[ITEM_COL].map(movies.set_index(ITEM_COL)[YEAR_COL]).map(year_bucket)
)
fig_map = map_plots.static_maps(
    fmap.movies, colors=("genre", "release years"), what="hybrid movie", untrained=untrained,
    figsize=(17, 7.5),
)  # fmt: skip
ax = fig_map.axes[0]
genres = fmap.points[fmap.points["group"] == "genre"]
new_points = fmap.points[fmap.points["group"] == "new movie"]
known = fmap.movies[~untrained]
landmarks = known[known[TITLE_COL].isin(maps.label_titles(known, 8))]
ax.scatter(genres["x"], genres["y"], marker="D", s=40, c="black")
ax.scatter(new_points["x"], new_points["y"], marker="*", s=260, c="#d62728", edgecolors="black")
ax.scatter(landmarks["x"], landmarks["y"], s=18, facecolors="none", edgecolors="black")
map_plots.place_labels(
    ax,
    np.vstack([p[["x", "y"]].to_numpy(float) for p in (new_points, genres, landmarks)]),
    [f"NEW: {n}" for n in new_points["label"]]
    + genres["label"].str.upper().tolist()
    + landmarks[TITLE_COL].str.slice(0, 25).tolist(),
    fontsize=8,
)
by_source = fmap.movies.groupby("vector_from").size()
print(
    f"{len(fmap.movies):,} movies on the map; {n_untrained:,} had no training positive "
    f"(grey): {by_source.get('features only', 0):,} of them have no rating at all and get "
    "their vector from their features alone."
)

# %% [markdown]
# What organises this space, and do the movies without training signal sit among movies
# like them rather than in one blob? For every movie, the share of its 10 nearest movies
# (cosine, in the full space, not the 2-D map) that share its most distinctive genre, and
# that share its release-year bucket, against two random movies.

# %%
vectors = hybrid.movie_vectors(fmap.movies[ITEM_COL].to_numpy())[0]
near = embeddings.neighbour_lists(vectors, np.arange(len(vectors)), 10)
genre_col, years_col = "sharing its most distinctive genre", "in its release-year bucket"
shares = {}
for column, label in ((genre_col, fmap.movies["genre"]), (years_col, fmap.movies["release years"])):
    label = label.to_numpy()
    same = (label[near] == label[:, None]).mean(axis=1)
    sizes = pd.Series(label).value_counts().to_numpy()
    chance = float((sizes * (sizes - 1)).sum() / (len(label) * (len(label) - 1)))
    shares[column] = [same[~untrained].mean(), same[untrained].mean(), chance]
rows_shown = ["movies with a training positive", "movies without one", "two random movies"]
neighbourhood = pd.DataFrame(shares, index=rows_shown)
genre_chance = neighbourhood.loc["two random movies", genre_col]
display(tidy(neighbourhood))

# %%
year_share = neighbourhood.loc["movies with a training positive", years_col]
genre_share = neighbourhood.loc["movies with a training positive", genre_col]
first_by = "release period" if year_share > genre_share else "genre"
print(f"The space is organised by {first_by} first: {year_share:.0%} of a trained movie's 10 "
      f"nearest movies share its year bucket, {genre_share:.0%} its genre.")  # fmt: skip

# %% [markdown]
# ## What this run found

# %%
hyb = cold.set_index("model").loc[model_names["hybrid_pooled"]]
findings = [
    f"Features: {features.matrix.shape[1]:,} in all, "
    + ", ".join(f"{int(vocab.loc[k, 'features']):,} {k}" for k in KINDS if vocab.loc[k, "features"])
    + f"; {n_tagged:,} of {features.n_movies:,} movies carry a tag kept by at least 3 users, "
    f"{n_no_features:,} have no feature at all.",
    f"Item cold start ({seeds_text}, {n_users:,} users): the hybrid's {metric} on "
    f"movies held out of training is {fmt(hyb['mean'])} [{fmt(hyb['low'])}, "
    f"{fmt(hyb['high'])}].",
    *[stats.verdict(c) + "." for c in verdicts["cold"].values()],
    *[
        f"Typed in by hand, the {name} ({', '.join(NEW_MOVIES[name]['genres'])}; tags "
        f"{', '.join(NEW_MOVIES[name]['tags'])}) lands next to "
        + "; ".join(neighbours[name][TITLE_COL].head(3))
        + f"; {in_top_20[name]:,} of {n_users_all:,} users would have it in their top 20."
        for name in NEW_MOVIES
    ],
    f"Described without its year, the {first_name} lands next to "
    + "; ".join(no_year_titles[:3])
    + f" instead ({len(set(no_year_titles) & set(neighbours[first_name][TITLE_COL]))} of "
    f"{NEIGHBOURS_K} neighbours in common).",
    f"The hybrid's space is organised by {first_by} first: {year_share:.0%} of a movie's 10 "
    f"nearest movies share its release-year bucket "
    f"({neighbourhood.loc['two random movies', years_col]:.0%} for two random movies), "
    f"{genre_share:.0%} its most distinctive genre ({genre_chance:.0%}).",
    f"Of the 10 nearest movies of a movie without a training positive ({n_untrained:,} of "
    f"them, grey on the map), {neighbourhood.loc['movies without one', genre_col]:.0%} share its "
    f"most distinctive genre ({neighbourhood.loc['movies with a training positive', genre_col]:.0%}"
    f" for the movies with one, {genre_chance:.0%} for two random movies)"
    + (
        ": their features place them among movies like them."
        if neighbourhood.loc["movies without one", genre_col] > 2 * genre_chance
        else ": their features do not place them by genre (under twice chance)."
    ),
]
report.record_figures(
    {
        "findings": findings,
        "takeaway": "Movies nobody rated (notebook 05b): "
        + stats.verdict(verdicts["cold"][model_names["content_knn"]])
        + ".",
        "dataset": DATASET,
        "seeds": SEEDS,
        "n_features": int(features.matrix.shape[1]),
        "n_features_by_kind": {k: int(vocab.loc[k, "features"]) for k in KINDS},
        "n_tagged_movies": n_tagged,
        "n_no_features": n_no_features,
        "lightfm": has_lightfm,
        "n_users": n_users,
        "cold_recall_at_20": {
            r["model"]: [r["mean"], r["low"], r["high"]] for _, r in cold.iterrows()
        },
        "hybrid_vs": {
            cand: {b: [c.diff, c.low, c.high, c.p_holm] for b, c in v.items()}
            for cand, v in verdicts.items()
        },
        "hybrid_source": hybrid_source,
        "hybrid_params": {k: v for k, v in hybrid.params.items() if k in shown_params},
        "new_movie_neighbours": {n: f[TITLE_COL].tolist() for n, f in neighbours.items()},
        "new_movie_in_top_20": in_top_20,
        "first_movie_no_year_neighbours": no_year_titles,
        "n_new_movie_points": len(new_points),
        "app_new_movie_agrees": bool(app_agrees),
        "app_new_movie_has_map": "data:image/png;base64," in app.new_movie_html.value,
        "n_untrained_on_map": n_untrained,
        "untrained_genre_agreement": neighbourhood.loc["movies without one", genre_col],
        "trained_genre_agreement": neighbourhood.loc["movies with a training positive", genre_col],
        "year_agreement": year_share,
        "year_chance": neighbourhood.loc["two random movies", years_col],
        "genre_chance": genre_chance,
        "n_genre_points": len(genres),
    },
    table=cold_table,
)
