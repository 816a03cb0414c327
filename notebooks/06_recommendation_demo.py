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
# # 06 · Recommendations: a new user in a few ratings, and an app to play with
#
# This notebook puts the trained MF to work. A person the model has never seen rates a
# handful of movies; their user vector and bias are fitted against the frozen movie
# vectors (fold-in: a closed-form ridge regression for MF, no retraining), and the
# unseen movies with the highest predicted rating are recommended — with the reason
# for each (the prediction's parts, and the movies they liked that sit closest).
# An ipywidgets app lets you do the same by hand: pick an existing user, build a new
# one with sliders, or look up a movie's neighbours. Finally we test the seed's promise,
# *"the more movies you watch, the better it learns what you like"*: users held out of
# training are folded in from 1, 2, 5, 10 and 20 of their ratings and scored on the rest.

# %% tags=["parameters"]
DATASET = "ml-latest-small"
K = 10
MIN_RATINGS = 20
SCRIPTED_RATINGS = {1: 5.0, 260: 4.5, 2571: 4.0, 4993: 4.5, 2959: 1.0}
SEARCH_TEXT = "toy story"
NEIGHBOUR_SEARCH = "matrix"
EXISTING_USER = 1
HELDOUT_USERS = 60
HELDOUT_MIN_RATINGS = 40
CURVE_KS = [1, 2, 5, 10, 20]
FOLD_IN_REG_GRID = [0.3, 1.0, 3.0, 10.0]  # chosen among on validation users only
FOLD_IN_BIAS_REG = 5.0
FALLBACK_EPOCHS = 25
CURVE_EPOCHS = 25
TIMING_REPEATS = 20
SEED = 3

# %%
import pandas as pd
from IPython.display import HTML, display

from recsys_utils import data, embeddings, recommend
from recsys_utils.app import demo, map_plots, report, widgets
from recsys_utils.constants import TITLE_COL
from recsys_utils.embeddings import maps  # noqa: F401
from recsys_utils.evaluation import foldin_curve
from recsys_utils.recommend import explain as explanations

dataset = data.load_dataset(DATASET)
ratings, movies = dataset.ratings, dataset.movies
mf = demo.load_or_train("mf", DATASET, epochs=FALLBACK_EPOCHS, seed=SEED)
print(f"MF: {mf.loaded_from}; {len(mf.item_map):,} movies, {len(mf.user_map):,} users")

# %% [markdown]
# ## A new user, folded in
# The scripted user below rates a few movies (ids from MovieLens). `fold_in` fits their
# bias and vector; `recommend_new_user` ranks every movie they have not rated, among
# movies with at least `MIN_RATINGS` ratings.

# %%
rated = embeddings.with_titles(
    pd.DataFrame({"item_id": list(SCRIPTED_RATINGS), "rating": list(SCRIPTED_RATINGS.values())}),
    movies,
)
display(rated)
new_user = recommend.fold_in(mf, SCRIPTED_RATINGS)
recs = recommend.recommend_new_user(mf, new_user, k=K, min_ratings=MIN_RATINGS, movies=movies)
display(recs.round(3))

# %% [markdown]
# ### Why the first one?
# The prediction splits into the global mean, the user's bias, the movie's bias and what
# the embeddings add (p_u·q_i); beside it, the movies this user liked that sit closest to
# it in embedding space.

# %%
why = explanations.explain(mf, new_user, int(recs["item_id"].iloc[0]), movies, k=3)
print(
    f"{why['title']}: predicted {why['prediction']:.2f} = "
    + " + ".join(f"{name} {value:+.2f}" for name, value in why["parts"].items())
)
display(why["neighbours"].round(3))

# %% [markdown]
# ## The app
# Three tabs: an existing user's best-rated movies and recommendations; a new user built
# by searching titles, pressing *Add* and moving the sliders (recommendations update as
# you go); a movie's nearest neighbours. The cells after it drive the app from code, so
# the exported report shows a real result even without a running kernel.

# %%
app = widgets.RecommenderApp(mf, movies, ratings, k=K, min_ratings=MIN_RATINGS)
display(app)

# %%
app.user_id.value = EXISTING_USER
app.search.value = SEARCH_TEXT
app.add_button.click()
for movie_id, rating in SCRIPTED_RATINGS.items():
    app.add_movie(movie_id, rating)
app.movie_search.value = NEIGHBOUR_SEARCH
app.tabs.selected_index = 1
print(
    f"searched {SEARCH_TEXT!r}: {len(app.matches.options)} matches; rated {len(app.sliders)} movies"
)
display(HTML(app.new_recs_html.value))

# %% [markdown]
# ## How fast?
# Median over `TIMING_REPEATS` calls on this machine: a fold-in plus top-10 over the whole
# catalogue, and one movie's neighbour query.

# %%
ten = dict(
    list(SCRIPTED_RATINGS.items()) + [(318, 4.0), (296, 3.5), (356, 4.0), (593, 4.5), (480, 3.0)]
)
fold_ms = demo.median_ms(lambda: recommend.recommend_new_user(mf, ten, k=10), TIMING_REPEATS)
near_ms = demo.median_ms(lambda: embeddings.similar_movies(mf, 1, k=10), TIMING_REPEATS)
print(
    f"fold-in from {len(ten)} ratings + top-10 of {len(mf.item_map):,} movies: {fold_ms:.1f} ms; "
    f"neighbour query: {near_ms:.1f} ms"
)

# %% [markdown]
# ## "The more movies you watch, the better it learns what you like"
# `HELDOUT_USERS` users (with at least `HELDOUT_MIN_RATINGS` ratings) are set aside and an
# MF is trained on everybody else (early stopping on 10% of its ratings). Each held-out
# user's ratings are shuffled; they are folded in from their first k, and scored on the
# ratings after their first 20 — the same ratings for every k. Beside fold-in: the
# bias-only baseline (movie bias from training, the user's bias from the same k ratings)
# and popularity (ignores the k ratings). RMSE on the scored ratings, and NDCG@10 of a
# top-10 over movies with at least `MIN_RATINGS` ratings, the movies the user gave
# excluded, relevant = rated `RELEVANCE_THRESHOLD` (4) or more (the project's one rule).
# The held-out users are halved: fold-in's vector regularisation is chosen from
# `FOLD_IN_REG_GRID` on the first half (lowest fold-in RMSE over the ks), and the curve
# is reported on the other half only (`chosen_on` refuses an overlap). The bias weight
# is `FOLD_IN_BIAS_REG`, BiasOnly's own.

# %%
train, held = foldin_curve.split_heldout_users(ratings, HELDOUT_USERS, HELDOUT_MIN_RATINGS, SEED)
curve_mf = demo.fit_early_stopped("mf", train, seed=SEED, epochs=CURVE_EPOCHS)
fold_kw = {"bias_reg": FOLD_IN_BIAS_REG, "min_ratings": MIN_RATINGS}
choose_on, report_on = foldin_curve.halve_users(held, SEED)
FOLD_IN_REG, reg_grid = foldin_curve.select_fold_in_reg(
    curve_mf, train, choose_on, FOLD_IN_REG_GRID, ks=CURVE_KS, seed=SEED, **fold_kw
)
print(f"fold-in reg chosen on {choose_on['user_id'].nunique()} validation users: {FOLD_IN_REG:g}")
display(reg_grid.round(4))
curve = foldin_curve.fold_in_curve(
    curve_mf,
    train,
    report_on,
    CURVE_KS,
    seed=SEED,
    reg=FOLD_IN_REG,
    chosen_on=choose_on,
    **fold_kw,
)
display(curve.pivot(index="k", columns="method", values=["rmse", "ndcg"]).round(4))
k_ref = 10 if 10 in CURVE_KS else max(CURVE_KS)
fig_curve = map_plots.fold_in_curve_plot(curve)

# %%
rmse = curve.pivot(index="k", columns="method", values="rmse")
ndcg = curve.pivot(index="k", columns="method", values="ndcg")
fold_at, bias_at = rmse.loc[k_ref, "fold_in"], rmse.loc[k_ref, "bias_only"]
k_min, k_max = min(CURVE_KS), max(CURVE_KS)
print(
    f"{curve['n_users'].iloc[0]} held-out users, {curve['n_ratings'].iloc[0]:,} scored ratings; "
    f"fold-in reg {FOLD_IN_REG:g}.\n"
    f"RMSE of fold-in: {rmse.loc[k_min, 'fold_in']:.4f} from {k_min} rating(s) -> "
    f"{rmse.loc[k_max, 'fold_in']:.4f} from {k_max}; bias-only {rmse.loc[k_min, 'bias_only']:.4f} -> "
    f"{rmse.loc[k_max, 'bias_only']:.4f}; popularity {rmse.loc[k_min, 'popularity']:.4f}.\n"
    f"At k = {k_ref}: fold-in {fold_at:.4f} vs bias-only {bias_at:.4f} "
    f"({'beats' if fold_at < bias_at else 'does not beat'} it by {bias_at - fold_at:+.4f}).\n"
    f"NDCG@10: fold-in {ndcg.loc[k_min, 'fold_in']:.3f} -> {ndcg.loc[k_max, 'fold_in']:.3f}, "
    f"popularity {ndcg.loc[k_min, 'popularity']:.3f}, bias-only {ndcg.loc[k_min, 'bias_only']:.3f}."
)

# %%
report.record_figures(
    {
        "mf_source": mf.loaded_from,
        "n_recommendations": len(recs),
        "top_recommendation": str(recs[TITLE_COL].iloc[0]),
        "recommended_unseen": bool(not set(recs["item_id"]) & set(SCRIPTED_RATINGS)),
        "explain_parts_sum": sum(why["parts"].values()),
        "explain_score": recommend.score_folded(
            mf, new_user, [mf.item_map.encode([why["item_id"]])[0]]
        )[0],
        "app_new_user_rated": len(app.sliders),
        "app_search_matches": len(app.matches.options),
        "app_html_has_table": "<table" in app.new_recs_html.value,
        "fold_in_top10_ms": fold_ms,
        "neighbour_ms": near_ms,
        "fold_in_reg": FOLD_IN_REG,
        "fold_in_reg_grid": reg_grid.set_index("reg")["rmse"].to_dict(),
        "fold_in_reg_users": int(choose_on["user_id"].nunique()),
        "heldout_users": int(curve["n_users"].iloc[0]),
        "rmse_fold_in": rmse["fold_in"].to_dict(),
        "rmse_bias_only": rmse["bias_only"].to_dict(),
        "rmse_popularity": rmse["popularity"].to_dict(),
        "ndcg_fold_in": ndcg["fold_in"].to_dict(),
        "ndcg_popularity": ndcg["popularity"].to_dict(),
        "fold_in_rmse_at_10": fold_at,
        "bias_only_rmse_at_10": bias_at,
        "fold_in_beats_bias_at_10": bool(fold_at < bias_at),
    }
)
