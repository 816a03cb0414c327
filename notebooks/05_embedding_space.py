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
# # 05 · The embedding space: what the movie and user vectors learned
#
# This notebook opens the trained models of notebooks 02 and 03 and looks inside. Every
# movie is a vector; in MF (q_i) it predicts ratings, r = mu + b_u + b_i + p_u·q_i; in the
# ranking model of notebook 03 (o_i) it is what a person's pooled taste vector is scored
# against. We ask what those vectors encode: which movies sit next to each other ("more
# like this"), whether neighbours share a genre more often than chance, for the ranking
# model and MF side by side, what a 2-D UMAP map of all movies shows when coloured by
# genre, popularity and mean rating, whether popularity lies along a direction of the
# space, how the learned bias relates to the vector's length, and whether MF and
# CollabFNet, trained on the same ratings, agree on who a movie's neighbours are. The same
# maps are drawn for users. Coordinates are cached on disk, so re-running is fast.
#
# A movie's genre, for colouring and for the agreement measure, is its **most distinctive
# genre**: the rarest of its MovieLens genres (Toy Story: Animation, not the
# alphabetically first Adventure); the eight most common such labels are kept, the rest
# are "other".

# %% tags=["parameters"]
DATASET = "ml-latest-small"
PROJECTION = "umap"
UMAP_NEIGHBORS = 15
UMAP_MIN_DIST = 0.1
LANDMARKS = [1, 2571, 858, 4306]
NEIGHBOURS_K = 8
NEIGHBOURS_MIN_RATINGS = 20
ANALYSIS_MIN_RATINGS = 20
N_LABELS = 12
MIN_TRAINING = 2  # movies with fewer training ratings (positives) are drawn apart on the maps
INTERACTIVE_MAX_POINTS = 4000
FALLBACK_EPOCHS = 15
SEED = 42

# %%
import numpy as np
import pandas as pd
from IPython.display import Markdown, display
from scipy.stats import spearmanr

from recsys_utils import data, embeddings
from recsys_utils.app import map_plots, report
from recsys_utils.app.figures import format_value as fmt
from recsys_utils.app.figures import tidy
from recsys_utils.constants import ITEM_COL, TITLE_COL
from recsys_utils.embeddings import maps
from recsys_utils.evaluation import stats
from recsys_utils.models import checkpoints, recipes

umap_params = (
    {"n_neighbors": UMAP_NEIGHBORS, "min_dist": UMAP_MIN_DIST} if PROJECTION == "umap" else {}
)
dataset = data.load_dataset(DATASET)
ratings, movies = dataset.ratings, dataset.movies

# %% [markdown]
# ## The models
# Notebook 02 saves `data/checkpoints/mf.json` and `collabfnet.json`, notebook 03
# `ranking.json`. When this notebook runs on its own and they are missing, a small model is
# trained on all ratings instead (said below), so the maps are always of a real model.

# %%
mf = recipes.load_or_train("mf", DATASET, epochs=FALLBACK_EPOCHS, seed=SEED)
cf = recipes.load_or_train(
    "collabfnet", DATASET, model="collabfnet", epochs=FALLBACK_EPOCHS, seed=SEED
)
ranking = checkpoints.load(recipes.ensure_checkpoint("ranking", DATASET))
ranking.loaded_from = "notebook 03's checkpoint (or trained here)"
emb_mf, emb_cf, emb_rk = embeddings.extract(mf), embeddings.extract(cf), embeddings.extract(ranking)
for name, model, emb in (
    ("ranking model", ranking, emb_rk),
    ("MF", mf, emb_mf),
    ("CollabFNet", cf, emb_cf),
):
    print(
        f"{name}: {model.loaded_from}; {emb.item.shape[0]:,} movie vectors and "
        f"{emb.user.shape[0]:,} user vectors of {emb.item.shape[1]} dimensions"
    )

# %% [markdown]
# ## More like this
# For the ranking model, what it recommends to a person who liked only that movie (its
# own terms); for MF and CollabFNet, the nearest movies by cosine of their vectors. Only
# movies with a minimum number of ratings are listed (rarely rated movies have vectors
# that barely moved from their random start, and would crowd the lists with noise).

# %%
print(f"neighbours among movies with at least {NEIGHBOURS_MIN_RATINGS} ratings")
landmarks = [
    m for m in LANDMARKS if m in mf.item_map and m in cf.item_map and m in ranking.item_map
]
for movie_id in landmarks:
    title = movies.loc[movies[ITEM_COL] == movie_id, TITLE_COL].iloc[0]
    side = [
        embeddings.similar_movies(m, movie_id, NEIGHBOURS_K, NEIGHBOURS_MIN_RATINGS, movies)[
            [TITLE_COL]
        ].rename(columns={TITLE_COL: name})
        for name, m in (("ranking model", ranking), ("MF", mf), ("CollabFNet", cf))
    ]
    print(title)
    display(tidy(pd.concat(side, axis=1)))

# %% [markdown]
# ## A map of every movie
# UMAP (cosine metric) squeezes the vectors into two dimensions while keeping each
# movie's nearest neighbours close. Three colourings of the same MF map: most distinctive
# genre, how many ratings the movie has (log scale), and its mean rating; then the ranking
# model's map by genre. Well-known titles are labelled as landmarks.
#
# **Movies with almost no training signal are drawn apart, in light grey under the
# rest.** A movie's vector moves only when the training data hold it: MF learns from each
# training rating of the movie, the ranking model from each training user who liked it (a
# positive). A movie with fewer than `MIN_TRAINING` of them (one rating, or one positive)
# has a vector that a single example moved from its random start; thousands of such movies
# form clumps that say nothing about taste, and would hide the rest. Each title says how
# many were set apart.

# %%
thin_label = f"under {MIN_TRAINING} training ratings"
coords = embeddings.project(emb_mf.item, PROJECTION, seed=SEED, **umap_params)
movie_map = maps.movie_frame(mf, coords, movies, ratings)
thin_mf = maps.thin_movies(mf, movie_map, MIN_TRAINING)
labels = maps.label_titles(movie_map[~thin_mf], N_LABELS)
fig_movies = map_plots.static_maps(
    movie_map, labels=labels, what="MF movie", untrained=thin_mf, untrained_label=thin_label
)

# %%
rk_coords = embeddings.project(emb_rk.item, PROJECTION, seed=SEED, **umap_params)
rk_map = maps.movie_frame(ranking, rk_coords, movies, ratings)
thin_rk = maps.thin_movies(ranking, rk_map, MIN_TRAINING)
fig_rk = map_plots.static_maps(
    rk_map, colors=("genre", "log_popularity"), labels=maps.label_titles(rk_map[~thin_rk], N_LABELS),
    what="ranking-model movie", untrained=thin_rk,
    untrained_label=f"under {MIN_TRAINING} training positives",
)  # fmt: skip
print(
    f"drawn apart: {int(thin_mf.sum()):,} of {len(movie_map):,} movies on MF's map, "
    f"{int(thin_rk.sum()):,} of {len(rk_map):,} on the ranking model's"
)

# %% [markdown]
# Where the ranking model's map still shows tight islands or a dense clump of dark points
# (few ratings) away from the rest, those are movies that only a few training users liked
# (often the same few users, so they land together). Its loss is a softmax
# over the whole catalogue, so every movie's vector is also pushed away from every user
# who did not pick it; for a movie almost nobody picked that common push is most of what
# it learned, so such movies end up alike. Read an island as "rarely liked", not as a
# genre or a taste.

# %% [markdown]
# ## What the map suggests, measured
# Pictures can mislead, so each impression gets a number, on the movies with at least
# `ANALYSIS_MIN_RATINGS` ratings:
# - **genre clusters**: how often a movie's 10 nearest neighbours (cosine, in the full
#   space, not the 2-D map) share its most distinctive genre, against the rate for random
#   pairs, for the ranking model, MF and CollabFNet on the same movies;
# - **is popularity a direction?** cross-validated R² of a linear (ridge) regression of log
#   popularity, and of mean rating, on the vectors (1: a straight line through the space
#   reads it exactly; 0: no better than guessing the average);
# - **bias against norm**: rank correlations of the learned bias b_i and of log
#   popularity with the vector length |q_i|.

# %%
well_known = np.flatnonzero(movie_map["n_ratings"].to_numpy() >= ANALYSIS_MIN_RATINGS)
genre_of = movie_map.set_index(ITEM_COL)["genre"]
shared_known = movie_map.loc[well_known, ITEM_COL].to_numpy()
shared_known = shared_known[
    np.isin(shared_known, cf.item_map.ids) & np.isin(shared_known, ranking.item_map.ids)
]
agreement, shares = {}, []
for name, emb in (("ranking model", emb_rk), ("MF", emb_mf), ("CollabFNet", emb_cf)):
    labels_of = genre_of.reindex(emb.item_ids).fillna("(none)").to_numpy()
    rows = np.searchsorted(emb.item_ids, shared_known)
    agree, chance = embeddings.label_agreement(emb.item, labels_of, k=10, rows=rows)
    agreement[name] = {"neighbours sharing the genre": agree, "random pairs": chance,
                       "times chance": agree / chance}  # fmt: skip
    # the same figure per movie (its mean is ``agree``), for a paired test between models
    near = embeddings.neighbour_lists(emb.item[rows], np.arange(len(rows)), 10)
    own = labels_of[rows]
    shares.append(pd.DataFrame(
        {"model": name, "user": shared_known, "genre share": (own[near] == own[:, None]).mean(1)}
    ))  # fmt: skip
agreement = pd.DataFrame(agreement).T
genre_agree, genre_chance = agreement.loc["MF", ["neighbours sharing the genre", "random pairs"]]
rk_agree = agreement.loc["ranking model", "neighbours sharing the genre"]
# each model against MF on the same movies: paired t-test over movies, Holm over the 2 pairs
by_genre = stats.compare_table(
    pd.concat(shares, ignore_index=True), "genre share", models=list(agreement.index),
    baseline="MF",
)  # fmt: skip
genre_verdicts = {c.a: stats.verdict(c, unit="movies") for c in by_genre.comparisons}
display(tidy(agreement))
for text in genre_verdicts.values():
    display(Markdown(text))
sub = movie_map.iloc[well_known]
pop_r2 = embeddings.linear_r2(emb_mf.item[well_known], sub["log_popularity"].to_numpy(), seed=SEED)
mean_r2 = embeddings.linear_r2(emb_mf.item[well_known], sub["mean_rating"].to_numpy(), seed=SEED)
bias_norm_rho = float(spearmanr(movie_map["bias"], movie_map["norm"]).statistic)
pop_norm_rho = float(spearmanr(movie_map["log_popularity"], movie_map["norm"]).statistic)
print(
    f"{len(well_known):,} movies with at least {ANALYSIS_MIN_RATINGS} ratings "
    f"({len(shared_known):,} known to all three models for the genre table).\n"
    f"MF: a linear direction explains R² = {pop_r2:.2f} of log popularity; mean rating "
    f"R² = {mean_r2:.2f}. Bias vs norm: Spearman rho = {bias_norm_rho:.2f}; log popularity "
    f"vs norm: rho = {pop_norm_rho:.2f}."
)
fig_bias = map_plots.bias_vs_norm(movie_map)

# %% [markdown]
# The two dark bands are the movies with a single training rating: their bias b_i is pulled
# up or down by that one rating (above or below the mean), and their vector barely moved,
# so they say little about the relation between bias and norm. The rank correlations above
# count them; the colour shows where they are.

# %% [markdown]
# ## MF against CollabFNet
# Do two models trained on the same ratings put the same movies next to each other? The
# overlap is the mean Jaccard index |A ∩ B| / |A ∪ B| of the two models' 10-nearest
# neighbour lists over the well-known movies (1: the same lists). Two unrelated spaces
# share about k²/n of k neighbours, a Jaccard index of about (k/n) / (2 - k/n).

# %%
overlap = embeddings.neighbour_overlap(mf, cf, k=10, items=shared_known)
share = 10 / len(np.intersect1d(emb_mf.item_ids, emb_cf.item_ids))
overlap_chance = share / (2 - share)
cf_agree = agreement.loc["CollabFNet", "neighbours sharing the genre"]
print(
    f"MF vs CollabFNet: mean Jaccard index of the 10-neighbour lists {fmt(overlap)} (unrelated "
    f"spaces: about {overlap_chance:.2g}, so {overlap / overlap_chance:.0f}x chance)."
)

# %% [markdown]
# ## Interactive map
# Hover a point for its title, rating count and mean rating; zoom with the mouse. It works
# in the exported HTML report offline (plotly.js is embedded). The most-rated
# `INTERACTIVE_MAX_POINTS` movies are drawn to keep the page light.

# %%
map_plots.interactive_map(
    movie_map,
    "genre",
    max_points=INTERACTIVE_MAX_POINTS,
    title="MF movie embeddings (UMAP), coloured by most distinctive genre",
    untrained=thin_mf,
    untrained_label=thin_label,
).show()

# %% [markdown]
# ## Users
# The same for users: coloured by the genre they most often rate 4 stars or more, by how
# many ratings they gave, and by their mean rating.

# %%
user_coords = embeddings.project(emb_mf.user, PROJECTION, seed=SEED, **umap_params)
user_map = maps.user_frame(mf, user_coords, movies, ratings)
fig_users = map_plots.static_maps(
    user_map, colors=("favourite_genre", "log_popularity", "mean_rating"), what="MF user"
)

# %%
user_mean_r2 = embeddings.linear_r2(emb_mf.user, user_map["mean_rating"].to_numpy(), seed=SEED)
user_bias_rho = float(spearmanr(user_map["bias"], user_map["mean_rating"]).statistic)
print(
    f"Users' mean rating from their MF vector: R² = {user_mean_r2:.2f}; "
    f"their learned bias vs mean rating: rho = {user_bias_rho:.2f}"
)
map_plots.interactive_map(
    user_map.assign(title="user " + user_map["user_id"].astype(str)),
    "favourite_genre",
    title="MF user embeddings (UMAP)",
).show()

# %% [markdown]
# ## What this run found

# %%
findings = [
    f"Neighbours share a movie's most distinctive genre {fmt(rk_agree)} of the time in the "
    f"ranking model's space and {fmt(genre_agree)} in MF's, against {fmt(genre_chance)} for random "
    f"pairs ({rk_agree / genre_chance:.1f}x and {genre_agree / genre_chance:.1f}x chance). Per "
    "movie (the share of its 10 neighbours with its genre, paired t-test over the same movies, "
    "Holm over 2 pairs): " + "; ".join(genre_verdicts.values()) + ".",
    f"A linear direction of MF's space explains R² = {fmt(pop_r2)} of log popularity "
    f"(cross-validated): {stats.r2_words(pop_r2)}; it explains {fmt(mean_r2)} of the mean rating "
    f"({stats.r2_words(mean_r2)}). The vector norm's rank correlation with log popularity is "
    f"{fmt(pop_norm_rho)}, with the learned bias {fmt(bias_norm_rho)}.",
    f"On the maps, movies with under {MIN_TRAINING} training ratings (MF: "
    f"{int(thin_mf.sum()):,} of {len(movie_map):,}) or positives (ranking model: "
    f"{int(thin_rk.sum()):,} of {len(rk_map):,}) are drawn apart in grey: a single example "
    "moved their vectors, so where they land says nothing about taste.",
    f"MF and CollabFNet, trained on the same ratings, have a mean Jaccard index of "
    f"{fmt(overlap)} between their 10-neighbour lists, {overlap / overlap_chance:.0f}x what "
    "unrelated spaces would share.",
]
report.record_figures(
    {
        "findings": findings,
        "mf_source": mf.loaded_from,
        "projection": PROJECTION,
        "n_movies_mapped": int(np.isfinite(coords).all(axis=1).sum()),
        "n_users_mapped": int(np.isfinite(user_coords).all(axis=1).sum()),
        "n_well_known": len(well_known),
        "genre_agreement": genre_agree,
        "genre_chance": genre_chance,
        "ranking_genre_agreement": rk_agree,
        "popularity_r2": pop_r2,
        "mean_rating_r2": mean_r2,
        "bias_norm_spearman": bias_norm_rho,
        "popularity_norm_spearman": pop_norm_rho,
        "mf_cf_overlap_at_10": overlap,
        "overlap_chance": overlap_chance,
        "collabfnet_genre_agreement": cf_agree,
        "user_mean_rating_r2": user_mean_r2,
        "genre_share_vs_mf": {c.a: [c.diff, c.low, c.high, c.p_holm] for c in by_genre.comparisons},
        "min_training": MIN_TRAINING,
        "n_thin_mf": int(thin_mf.sum()),
        "n_thin_ranking": int(thin_rk.sum()),
        "r2_words": stats.r2_words(pop_r2),
    },
    table=agreement,
)
