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
# # 01 · The MovieLens data: load, validate, clean, explore, split
#
# This notebook introduces the data every later notebook trains on. It fetches a
# MovieLens release (md5-checked, cached), parses it into one tidy ratings table
# (`user_id, item_id, rating, timestamp`) and one movies table, validates it, drops
# duplicate ratings (optionally keeping only a k-core), looks at its shape — the rating
# distribution, the long tail of ratings per user and per movie, genres, time — then
# maps raw ids to contiguous indices and saves a seeded train/validation/test split
# for notebook 02 onwards.

# %% tags=["parameters"]
DATASET = "ml-latest-small"
MIN_USER_RATINGS = 0
MIN_ITEM_RATINGS = 0
VALID_FRAC = 0.1
TEST_FRAC = 0.1
SEED = 42
TOP_N_MIN_COUNT = 50

# %%
import pandas as pd
from IPython.display import display

from recsys_utils import data
from recsys_utils.app import plots
from recsys_utils.app.figures import format_value as fmt
from recsys_utils.app.figures import tidy
from recsys_utils.constants import ITEM_COL, USER_COL, get_spec
from recsys_utils.data import splits
from recsys_utils.data.cleaning import clean
from recsys_utils.data.encoding import IdMap
from recsys_utils.data.validation import summarize, validate_ratings

spec = get_spec(DATASET)
print(
    f"{spec.name}: ratings {spec.rating_min:g} to {spec.rating_max:g} in steps of {spec.rating_step:g}"
)

# %% [markdown]
# ## Load and validate
# `load_dataset` downloads the zip on first use (from GroupLens, or the folder or URL
# in `$RECSYS_DATA_MIRROR`), checks its md5, unzips it safely and caches the parsed
# tables as parquet. Any malformed row stops here with a one-line error naming the
# file, the line and the problem.

# %%
dataset = data.load_dataset(DATASET)
ratings, movies = dataset.ratings, dataset.movies
validate_ratings(ratings, spec)
raw_summary = summarize(ratings)
display(ratings.head())
display(movies.head())
tidy(raw_summary)

# %% [markdown]
# ## Clean
# Exact duplicate rows go, then repeated (user, movie) pairs keeping the latest rating;
# with `MIN_USER_RATINGS`/`MIN_ITEM_RATINGS` above zero, users and movies under the
# minimum are removed repeatedly until none is left (the k-core).

# %%
ratings, cleaning_report = clean(ratings, MIN_USER_RATINGS, MIN_ITEM_RATINGS)
tidy(cleaning_report)

# %% [markdown]
# ## Explore
# Ratings cluster on whole stars; most users rate few movies and most movies get few
# ratings (note the log scales) — the sparsity every embedding model has to live with.

# %%
fig = plots.rating_distribution(ratings)

# %%
fig = plots.ratings_per_user_and_movie(ratings)

# %%
fig = plots.genre_counts(movies[movies[ITEM_COL].isin(ratings[ITEM_COL])])

# %%
fig = plots.ratings_over_time(ratings)

# %% [markdown]
# The best-rated movies, among those with a minimum number of ratings (without a
# minimum, movies rated 5 by a single user top the list).

# %%
top = data.top_movies(ratings, movies, min_count=TOP_N_MIN_COUNT, n=10)
print(f"the ten best-rated movies with at least {TOP_N_MIN_COUNT} ratings")
tidy(top)

# %% [markdown]
# ## Encode
# Embedding tables need contiguous indices. An `IdMap` holds the sorted raw ids; index
# `i` stands for `ids[i]`, and an id it has never seen encodes to -1. Models build
# their maps from the **training** part, so a user or movie seen only in validation or
# test gets the documented fallback prediction (global mean plus the known side's
# bias) instead of a silent shape mismatch; we count those ratings below.

# %%
user_map, item_map = IdMap.from_values(ratings[USER_COL]), IdMap.from_values(ratings[ITEM_COL])
encoded = item_map.encode(ratings[ITEM_COL])
assert (item_map.decode(encoded) == ratings[ITEM_COL].to_numpy()).all()
print(
    f"{len(user_map):,} users -> 0..{len(user_map) - 1}; {len(item_map):,} movies -> 0..{len(item_map) - 1}"
)

# %% [markdown]
# ## Split
# A seeded random split (the same seed gives the same split on any machine), saved for
# the next notebooks. For comparison, the sizes a per-user temporal split and a
# leave-last-one-out split would give.

# %%
split = splits.random_split(ratings, valid_frac=VALID_FRAC, test_frac=TEST_FRAC, seed=SEED)
cold = splits.count_cold(split)
splits.save_split(split, DATASET, seed=SEED)
alternatives = {
    "random": split.sizes(),
    "temporal": splits.temporal_split(ratings, VALID_FRAC, TEST_FRAC).sizes(),
    "leave last 1": splits.leave_last_k(ratings, k=1).sizes(),
}
display(tidy(pd.DataFrame(alternatives).T))
print(
    f"cold ratings (user or movie unseen in train): valid {cold['valid']:,}, test {cold['test']:,}"
)

# %% [markdown]
# ## What this run found
# The data set's size in two counts: the movies that have at least one rating (what the
# models can learn) and the catalogue of `movies.csv` (what GroupLens publishes; a few
# movies there have no rating).

# %%
from recsys_utils.app.report import record_figures

clean_summary = summarize(ratings)
duplicates = int(
    cleaning_report.loc["exact duplicates", "before"]
    + cleaning_report.loc["user-movie duplicates", "before"]
)
removed_k_core = int(cleaning_report.loc["removed by k-core", "before"])
findings = [
    f"{DATASET} holds {fmt(raw_summary['n_ratings'])} ratings by {fmt(raw_summary['n_users'])} "
    f"users on {fmt(raw_summary['n_movies'])} rated movies ({fmt(len(movies))} in the catalogue): "
    f"{raw_summary['density']:.2%} of all user-movie pairs, mean rating "
    f"{fmt(raw_summary['mean_rating'])} stars.",
    f"Cleaning dropped {fmt(duplicates)} duplicate ratings and {fmt(removed_k_core)} outside the "
    f"k-core (minimum {MIN_USER_RATINGS} ratings per user, {MIN_ITEM_RATINGS} per movie).",
    f"The seeded split (seed {SEED}) has {fmt(len(split.train))} train, "
    f"{fmt(len(split.valid))} validation and {fmt(len(split.test))} test ratings; "
    f"{fmt(cold['test'])} test ratings involve a user or movie unseen in training and get the "
    "fallback prediction.",
    f"Best-rated movie with at least {TOP_N_MIN_COUNT} ratings: "
    f"{top['title'].iloc[0] if len(top) else 'none'}.",
]
record_figures(
    {
        "findings": findings,
        "dataset": DATASET,
        "n_ratings": raw_summary["n_ratings"],
        "n_users": raw_summary["n_users"],
        "n_movies": len(movies),  # the catalogue (movies file), as GroupLens publishes it
        "n_movies_rated": raw_summary["n_movies"],
        "density": raw_summary["density"],
        "mean_rating": raw_summary["mean_rating"],
        "duplicates_dropped": duplicates,
        "n_ratings_clean": clean_summary["n_ratings"],
        "n_train": len(split.train),
        "n_valid": len(split.valid),
        "n_test": len(split.test),
        "cold_valid": cold["valid"],
        "cold_test": cold["test"],
        "top_movie": top["title"].iloc[0] if len(top) else None,
    },
    table=pd.DataFrame(alternatives).T,
)
