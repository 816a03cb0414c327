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
# This notebook opens the trained models of notebook 02 and looks inside. Every movie
# is a vector q_i and every user a vector p_u; MF predicts r = mu + b_u + b_i + p_u·q_i.
# We ask what those vectors encode: which movies sit next to each other ("more like
# this", cosine similarity), what a 2-D UMAP map of all movies shows when coloured by
# genre, popularity and mean rating, whether popularity lies along a direction of the
# space, how the learned bias relates to the vector's length, and whether MF and
# CollabFNet — trained on the same ratings — agree on who a movie's neighbours are.
# The same maps are drawn for users. Coordinates are cached on disk, so re-running is fast.

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
INTERACTIVE_MAX_POINTS = 4000
FALLBACK_EPOCHS = 15
SEED = 42

# %%
import numpy as np
import pandas as pd
from IPython.display import display
from scipy.stats import spearmanr

from recsys_utils import data, embeddings
from recsys_utils.app import demo, map_plots, report
from recsys_utils.constants import ITEM_COL, TITLE_COL
from recsys_utils.embeddings import maps

umap_params = (
    {"n_neighbors": UMAP_NEIGHBORS, "min_dist": UMAP_MIN_DIST} if PROJECTION == "umap" else {}
)
dataset = data.load_dataset(DATASET)
ratings, movies = dataset.ratings, dataset.movies

# %% [markdown]
# ## The models
# Notebook 02 saves `data/checkpoints/mf.json` and `collabfnet.json`. When this notebook
# runs on its own and they are missing, `demo.load_or_train` trains a small model on all
# ratings instead (said below), so the maps are always of a real trained model.

# %%
mf = demo.load_or_train("mf", DATASET, epochs=FALLBACK_EPOCHS, seed=SEED)
cf = demo.load_or_train(
    "collabfnet", DATASET, model="collabfnet", epochs=FALLBACK_EPOCHS, seed=SEED
)
emb_mf, emb_cf = embeddings.extract(mf), embeddings.extract(cf)
for name, model, emb in (("MF", mf, emb_mf), ("CollabFNet", cf, emb_cf)):
    print(
        f"{name}: {model.loaded_from}; {emb.item.shape[0]:,} movie vectors and "
        f"{emb.user.shape[0]:,} user vectors of {emb.item.shape[1]} dimensions"
    )

# %% [markdown]
# ## More like this
# The nearest movies by cosine similarity of their vectors, among movies with at least
# `NEIGHBOURS_MIN_RATINGS` ratings (rarely rated movies have vectors that barely moved
# from their random start, and would crowd the lists with noise).

# %%
landmarks = [m for m in LANDMARKS if m in mf.item_map and m in cf.item_map]
for movie_id in landmarks:
    title = movies.loc[movies[ITEM_COL] == movie_id, TITLE_COL].iloc[0]
    side = [
        embeddings.similar_movies(m, movie_id, NEIGHBOURS_K, NEIGHBOURS_MIN_RATINGS, movies)[
            [TITLE_COL, embeddings.SIMILARITY_COL]
        ].rename(columns={TITLE_COL: f"{name} neighbour", "similarity": f"{name} cos"})
        for name, m in (("MF", mf), ("CollabFNet", cf))
    ]
    print(title)
    display(pd.concat(side, axis=1).round(3))

# %% [markdown]
# ## A map of every movie
# UMAP (cosine metric) squeezes the vectors into two dimensions while keeping each
# movie's nearest neighbours close. Three colourings of the same map: primary genre, how
# many ratings the movie has (log scale), and its mean rating. The most-rated titles are
# labelled as landmarks.

# %%
coords = embeddings.project(emb_mf.item, PROJECTION, seed=SEED, **umap_params)
movie_map = maps.movie_frame(mf, coords, movies, ratings)
labels = maps.label_titles(movie_map, N_LABELS)
fig_movies = map_plots.static_maps(movie_map, labels=labels, what="MF movie")

# %% [markdown]
# ## What the map suggests, measured
# Pictures can mislead, so each impression gets a number, on the movies with at least
# `ANALYSIS_MIN_RATINGS` ratings:
# - **genre clusters**: how often a movie's 10 nearest neighbours (in the full space, not
#   the 2-D map) share its primary genre, against the rate for random pairs;
# - **a popularity direction**: cross-validated R² of a linear (ridge) regression of log
#   popularity, and of mean rating, on the vectors;
# - **bias against norm**: rank correlations of the learned bias b_i and of log
#   popularity with the vector length |q_i|.

# %%
well_known = np.flatnonzero(movie_map["n_ratings"].to_numpy() >= ANALYSIS_MIN_RATINGS)
genre_agree, genre_chance = embeddings.label_agreement(
    emb_mf.item, movie_map["genre"].to_numpy(), k=10, rows=well_known
)
sub = movie_map.iloc[well_known]
pop_r2 = embeddings.linear_r2(emb_mf.item[well_known], sub["log_popularity"].to_numpy(), seed=SEED)
mean_r2 = embeddings.linear_r2(emb_mf.item[well_known], sub["mean_rating"].to_numpy(), seed=SEED)
bias_norm_rho = float(spearmanr(movie_map["bias"], movie_map["norm"]).statistic)
pop_norm_rho = float(spearmanr(movie_map["log_popularity"], movie_map["norm"]).statistic)
print(
    f"{len(well_known):,} movies with >= {ANALYSIS_MIN_RATINGS} ratings.\n"
    f"Genre: {genre_agree:.1%} of nearest neighbours share the primary genre (random pairs: "
    f"{genre_chance:.1%}, so {genre_agree / genre_chance:.1f}x chance).\n"
    f"Popularity: a linear direction explains R² = {pop_r2:.2f} of log popularity; "
    f"mean rating R² = {mean_r2:.2f}.\n"
    f"Bias vs norm: Spearman rho = {bias_norm_rho:.2f}; log popularity vs norm: rho = {pop_norm_rho:.2f}."
)
fig_bias = map_plots.bias_vs_norm(movie_map)

# %% [markdown]
# ## MF against CollabFNet
# Do two models trained on the same ratings put the same movies next to each other? The
# overlap is the mean Jaccard index of the two models' 10-nearest-neighbour lists over the
# well-known movies; two unrelated spaces would score about k/n.

# %%
shared_known = movie_map.loc[well_known, ITEM_COL].to_numpy()
shared_known = shared_known[np.isin(shared_known, cf.item_map.ids)]
overlap = embeddings.neighbour_overlap(mf, cf, k=10, items=shared_known)
overlap_chance = 10 / len(np.intersect1d(emb_mf.item_ids, emb_cf.item_ids))
cf_agree, cf_chance = embeddings.label_agreement(
    emb_cf.item,
    movie_map.set_index(ITEM_COL)["genre"].reindex(emb_cf.item_ids).fillna("(none)").to_numpy(),
    k=10,
    rows=np.searchsorted(emb_cf.item_ids, shared_known),
)
print(
    f"Neighbour overlap MF vs CollabFNet: {overlap:.3f} (unrelated spaces: about {overlap_chance:.4f}). "
    f"CollabFNet's neighbours share the primary genre {cf_agree:.1%} of the time "
    f"(MF {genre_agree:.1%}, chance {cf_chance:.1%})."
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
    title="MF movie embeddings (UMAP), coloured by primary genre",
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
user_mean_r2 = embeddings.linear_r2(emb_mf.user, user_map["mean_rating"].to_numpy(), seed=SEED)
user_bias_rho = float(spearmanr(user_map["bias"], user_map["mean_rating"]).statistic)
print(
    f"Users' mean rating from their vector: R² = {user_mean_r2:.2f}; "
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
print(
    f"Genre: neighbours share a movie's primary genre {genre_agree / genre_chance:.1f}x as often as "
    f"random pairs ({genre_agree:.1%} vs {genre_chance:.1%}).\n"
    f"Popularity: a linear direction explains R² {pop_r2:.2f} of log popularity and "
    f"{mean_r2:.2f} of mean rating; rank correlation of the vector norm with log popularity "
    f"{pop_norm_rho:.2f}, with the learned bias {bias_norm_rho:.2f}.\n"
    f"MF and CollabFNet agree on {overlap:.1%} of each movie's 10 neighbours "
    f"({overlap / overlap_chance:.0f}x chance)."
)

# %%
report.record_figures(
    {
        "mf_source": mf.loaded_from,
        "projection": PROJECTION,
        "n_movies_mapped": int(np.isfinite(coords).all(axis=1).sum()),
        "n_users_mapped": int(np.isfinite(user_coords).all(axis=1).sum()),
        "n_well_known": len(well_known),
        "genre_agreement": genre_agree,
        "genre_chance": genre_chance,
        "popularity_r2": pop_r2,
        "mean_rating_r2": mean_r2,
        "bias_norm_spearman": bias_norm_rho,
        "popularity_norm_spearman": pop_norm_rho,
        "mf_cf_overlap_at_10": overlap,
        "overlap_chance": overlap_chance,
        "collabfnet_genre_agreement": cf_agree,
        "user_mean_rating_r2": user_mean_r2,
    }
)
