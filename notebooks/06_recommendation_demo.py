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
# # 06 · Recommendations: three very different people, an app to play with, and a curve
#
# This notebook puts the ranking model of notebook 03 to work where people meet it. A
# person the model has never seen gives a handful of movies they liked; the model pools
# the vectors of those movies into their user vector (no retraining, no gradient step)
# and ranks every movie they have not given. Ratings under 4 stars never count as liking.
# Each recommendation says which of the person's movies it comes from, with their share.
#
# We try three very different people (a horror lover, a Pixar lover, a Star Wars fan),
# set their lists beside what the rating model MF gives them, play the ipywidgets app
# (an existing user, a new user built with sliders, a movie's neighbours; `make demo`
# serves the same app live), time it, and test the blog post's promise *"the more movies you
# watch, the better it learns what you like"* on the ranking protocol: users held out of
# training, given 1, 2, 5, 10 and 20 of their liked movies, scored on the same others.

# %% tags=["parameters"]
DATASET = "ml-latest-small"
K = 10
MIN_RATINGS = 10
PEOPLE = {
    "horror lover": {1258: 5.0, 1387: 4.5, 1997: 5.0, 1982: 4.5, 2710: 4.0},
    "Pixar lover": {1: 5.0, 3114: 5.0, 4886: 4.5, 6377: 5.0},
    "Star Wars fan": {260: 5.0, 1196: 5.0, 1210: 4.5},
}
SCRIPTED_RATINGS = {1: 5.0, 260: 4.5, 2571: 4.0, 4993: 4.5, 2959: 1.0}
SEARCH_TEXT = "toy story"
NEIGHBOUR_SEARCH = "matrix"
EXISTING_USER = 1
FALLBACK_EPOCHS = 25
CURVE_NS = [1, 2, 5, 10, 20]  # among the n of notebook 03's run
MF_EPOCHS = 25
FOLD_IN_REG_GRID = [0.3, 1.0, 3.0, 10.0]  # chosen among on validation users only
TIMING_REPEATS = 20
SEED = 3

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import HTML, display

from recsys_utils import data, embeddings, recommend
from recsys_utils.app import report, widgets
from recsys_utils.app.figures import folded, tidy
from recsys_utils.app.figures import format_value as fmt
from recsys_utils.bench.embeddings import median_ms
from recsys_utils.bench.personalisation import mean_pairwise_jaccard
from recsys_utils.constants import ITEM_COL, TITLE_COL, data_dir
from recsys_utils.evaluation import newuser_curve, stats
from recsys_utils.evaluation.experiment import Result, StrongGeneralisation
from recsys_utils.models import checkpoints, fit_early_stopped, recipes
from recsys_utils.recommend.explain import because_you_liked

dataset = data.load_dataset(DATASET)
ratings, movies = dataset.ratings, dataset.movies
titles = movies.set_index(ITEM_COL)[TITLE_COL]
ranking = checkpoints.load(recipes.ensure_checkpoint("ranking", DATASET))
mf = recipes.load_or_train("mf", DATASET, epochs=FALLBACK_EPOCHS, seed=SEED)
print(
    f"ranking model: {type(ranking).__name__} from notebook 03's checkpoint, "
    f"{len(ranking.item_map):,} movies; MF: {mf.loaded_from}"
)


def top_for(model, given: dict, k: int = K) -> pd.DataFrame:
    """A new person's top-k (titles, and for the ranking model the movies behind each)."""
    user = recommend.fold_in(model, given)
    out = recommend.recommend_new_user(model, user, k=k, min_ratings=MIN_RATINGS, movies=movies)
    if not model.capabilities.predicts_ratings:
        items = model.item_map.encode(out[ITEM_COL].to_numpy())
        out["because you liked"] = because_you_liked(
            model, recommend.liked_indices(model, user), items, titles
        )
    return out


# %% [markdown]
# ## Three very different people
# Each gives a few movies they loved. The ranking model's top five, with the movies each
# comes from; then MF's (fold-in of a rating model) for the same people.

# %%
lists = {"ranking model": {}, "MF": {}}
for person, given in PEOPLE.items():
    liked = ", ".join(str(titles[m]) for m in given)
    top = top_for(ranking, given)
    lists["ranking model"][person] = top
    lists["MF"][person] = top_for(mf, given)
    display(HTML(f"<b>{person}</b> gave: {liked}"))
    shown = top.head(5)[[TITLE_COL, "score", "because you liked"]]
    display(tidy(shown.rename(columns={"score": "score (higher first; not stars)"})))

# %%
side = pd.DataFrame(
    {
        f"{person}, {name}": frame[TITLE_COL].head(5).to_numpy()
        for person in PEOPLE
        for name, frame in ((n, lists[n][person]) for n in lists)
    }
)
jaccard = {
    name: mean_pairwise_jaccard([set(frame[ITEM_COL]) for frame in per.values()])
    for name, per in lists.items()
}
print(
    "overlap of the three people's top-10s (mean pairwise Jaccard: 0 = nothing shared, "
    "1 = the same list): " + ", ".join(f"{name} {fmt(j)}" for name, j in jaccard.items())
)
tidy(side)

# %% [markdown]
# ## The app
# Three tabs: an existing user's best-rated movies and recommendations; a new user built
# by searching titles, pressing *+ Add* and moving the sliders (a movie rated under 4 stars
# is no liking); a movie's neighbours. Run live (in Jupyter, or `make demo` in the
# browser), the lists recompute as you go. On this exported page the app is a snapshot:
# the cells after it drove it from code before the export, and its controls do nothing
# here.

# %%
app = widgets.RecommenderApp(ranking, movies, ratings, k=K, min_ratings=MIN_RATINGS)
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
    f"searched {SEARCH_TEXT!r}: {len(app.matches.options)} matches; rated {len(app.sliders)} "
    f"movies, {sum(r >= 4 for r in SCRIPTED_RATINGS.values())} of them liked"
)
display(HTML(app.new_recs_html.value))

# %% [markdown]
# ## How fast?
# Median over repeated calls on this machine: a new person (ten movies) folded in and
# their top-10 over the whole catalogue, for both models, and one movie's neighbours.

# %%
ten = dict(
    list(SCRIPTED_RATINGS.items()) + [(318, 4.0), (296, 3.5), (356, 4.0), (593, 4.5), (480, 3.0)]
)
timings = {
    "ranking model: fold-in + top-10": median_ms(
        lambda: recommend.recommend_new_user(ranking, ten, k=10), TIMING_REPEATS
    ),
    "MF: fold-in + top-10": median_ms(
        lambda: recommend.recommend_new_user(mf, ten, k=10), TIMING_REPEATS
    ),
    "ranking model: a movie's neighbours": median_ms(
        lambda: embeddings.similar_movies(ranking, 1, k=10), TIMING_REPEATS
    ),
}
tidy(pd.Series(timings, name="milliseconds"))

# %% [markdown]
# ## "The more movies you watch, the better it learns what you like"
# On the ranking protocol of notebook 03: test users are held out of training entirely;
# each is given the first n of a fixed shuffle of the movies they liked (n = 1, 2, 5,
# 10, 20; a user with fewer gives all they have) and scored on the same 20% of their
# liked movies at every n, everything they liked outside the input excluded from the
# ranking, so only the input changes. Relevant = rated 4 stars or more. Three models,
# all fitted on the training users only. The ranking model and popularity are notebook
# 03's run (`data/runs/ranking/`, its first seed: the same split, and the same model the
# app above serves; their curves are read from the run, not trained or measured again).
# MF is folded in from the user's own ratings of the given movies (its fold-in
# regularisation chosen among a small grid on the validation users, at n = 10, never on
# the test users); popularity ignores the input.

# %%
run = Result.load(data_dir() / "runs" / "ranking")  # notebook 03's run: run it first
run_seed = run.seeds[0]
protocol = StrongGeneralisation(**{k: v for k, v in run.protocol.items() if k != "name"})
split = protocol.split(ratings, run_seed)
ours = "ours(val-chosen)"  # the run's model of that seed, which the app serves
curve_mf = fit_early_stopped(
    "mf", newuser_curve.training_ratings(ratings, split), seed=run_seed, epochs=MF_EPOCHS
)
reg_grid = {
    reg: newuser_curve.new_user_curve(
        {
            "MF": newuser_curve.rating_model_scorer(
                curve_mf, ratings, split.valid, split.items, reg=reg
            )
        },
        split.valid,
        ns=[10],
        seed=run_seed,
    )["ndcg@10"].iloc[0]
    for reg in FOLD_IN_REG_GRID
}
fold_in_reg = max(reg_grid, key=reg_grid.get)
display(
    folded(
        f"MF fold-in regularisation: {fold_in_reg:g}, chosen on {len(split.valid)} validation users",
        pd.Series(reg_grid, name="validation NDCG@10 at n = 10").rename_axis("reg"),
    )
)
mf_scorer = newuser_curve.rating_model_scorer(
    curve_mf, ratings, split.test, split.items, reg=fold_in_reg
)
from_run = run.curves.query("seed == @run_seed and n in @CURVE_NS")
curve = pd.concat(
    [
        from_run.query("model == @ours").assign(model="ranking model"),
        from_run.query("model == 'popularity'"),
        newuser_curve.new_user_curve({"MF fold-in": mf_scorer}, split.test, CURVE_NS, run_seed),
    ],
    ignore_index=True,
)
ndcg = curve.pivot(index="n", columns="model", values="ndcg@10")
recall = curve.pivot(index="n", columns="model", values="recall@20")
tidy(curve.pivot(index="n", columns="model", values=["ndcg@10", "recall@20"]))

# %% [markdown]
# ## Is the model ahead of popularity at every n, and does it rise at every step?
# A curve of means can mislead with a few dozen users, so each point gets its test. The
# same users are scored again, one value per held-out user (`newuser_curve.new_user_rows`;
# their means are the curve above, checked below), and at each n the ranking model is set
# against popularity and MF fold-in by a paired t-test on the same users; each step of its
# own curve (n against the previous n) is tested the same way. Holm's correction runs over
# the steps of each family ("ahead" only where the interval of the difference excludes 0).
# In the table, `diff` is the ranking model's NDCG@10 minus the other's (or minus its own
# at the previous n), with its 95% interval `low`-`high`.

# %%
scorers = {  # the run's own fitted models for the two curves read from it
    "ranking model": newuser_curve.ranking_model_scorer(run.model(ours, run_seed)),
    "MF fold-in": mf_scorer,
    "popularity": newuser_curve.ranking_model_scorer(run.model("popularity", run_seed)),
}
user_rows = newuser_curve.new_user_rows(scorers, split.test, CURVE_NS, run_seed)
means = user_rows.groupby(["model", "n"])["ndcg@10"].mean().unstack("model")
# the per-user terms are the curve's: the run's model, users and targets, scored again
assert np.allclose(means[ndcg.columns].to_numpy(), ndcg.to_numpy(), atol=1e-9), (means, ndcg)

at_n = {n: user_rows[user_rows["n"] == n] for n in CURVE_NS}
against = {
    other: stats.holm_family(
        [stats.paired(at_n[n], "ranking model", other, "ndcg@10") for n in CURVE_NS]
    )
    for other in ("popularity", "MF fold-in")
}
own = user_rows[user_rows["model"] == "ranking model"].assign(
    model=lambda f: "n = " + f["n"].astype(str)
)
step_pairs = list(zip(CURVE_NS[:-1], CURVE_NS[1:], strict=True))
steps = stats.holm_family(
    [stats.paired(own, f"n = {b}", f"n = {a}", "ndcg@10") for a, b in step_pairs]
)
step_table = pd.DataFrame(
    [
        {"n": n, "vs": other, "diff": t.diff, "low": t.low, "high": t.high, "p_holm": t.p_holm,
         "verdict": stats.verdict_word(t)}
        for other, tests in against.items()
        for n, t in zip(CURVE_NS, tests, strict=True)
    ]
    + [
        {"n": f"{a} -> {b}", "vs": "previous n", "diff": t.diff, "low": t.low, "high": t.high,
         "p_holm": t.p_holm, "verdict": stats.verdict_word(t)}
        for (a, b), t in zip(step_pairs, steps, strict=True)
    ]
)  # fmt: skip
tidy(step_table)

# %% [markdown]
# A line per model, each point with its 95% t-interval over the held-out users; the x axis
# is the number of liked movies given (log scale). Look at whether each line rises from
# left to right, and where the ranking model's intervals leave popularity's (flat: it
# ignores what the user gave).

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
for ax, metric, label in ((axes[0], "ndcg@10", "NDCG@10"), (axes[1], "recall@20", "Recall@20")):
    for k, name in enumerate(scorers):
        ivs = [stats.interval(at_n[n], name, metric) for n in CURVE_NS]
        mean = np.array([i.mean for i in ivs])
        err = [mean - [i.low for i in ivs], [i.high for i in ivs] - mean]
        shift = np.array(CURVE_NS) * 1.04 ** (k - 1)  # side by side, so the bars do not overlap
        ax.errorbar(shift, mean, yerr=err, marker="o", capsize=3, label=name)
    ax.set(xscale="log", xlabel="liked movies given (n)", ylabel=label, ylim=(0, None))
    ax.set_xticks(CURVE_NS, [str(n) for n in CURVE_NS])
    ax.minorticks_off()
    ax.grid(alpha=0.3)
axes[0].legend()
fig.suptitle(f"The more you give, the better it knows you? ({len(split.test)} held-out users)")
plt.show()

# %% [markdown]
# ## What this run found

# %%
rises = {name: bool((np.diff(ndcg[name].to_numpy()) > 0).all()) for name in ndcg.columns}
n_ref = 10 if 10 in CURVE_NS else max(CURVE_NS)
first = {person: str(frame[TITLE_COL].iloc[0]) for person, frame in lists["ranking model"].items()}
findings = [
    "The ranking model gives three very different people three different lists: "
    + "; ".join(f"the {p} gets {t} first" for p, t in first.items())
    + f". Their top-10s overlap {fmt(jaccard['ranking model'])} (mean pairwise Jaccard); "
    f"MF's overlap {fmt(jaccard['MF'])}.",
    f"Given {n_ref} liked movies, the ranking model scores NDCG@10 "
    f"{fmt(ndcg.loc[n_ref, 'ranking model'])} on held-out users, MF fold-in "
    f"{fmt(ndcg.loc[n_ref, 'MF fold-in'])} and popularity {fmt(ndcg.loc[n_ref, 'popularity'])}; "
    f"against MF fold-in there, "
    f"{stats.verdict(against['MF fold-in'][CURVE_NS.index(n_ref)], a='the ranking model')}.",
    "The ranking model against popularity at each number of liked movies given (NDCG@10 per "
    f"held-out user, paired t-test, Holm over the {len(CURVE_NS)} values of n): "
    + "; ".join(
        f"with {n}, {stats.verdict(t, a='the ranking model')}"
        for n, t in zip(CURVE_NS, against["popularity"], strict=True)
    )
    + ".",
    "Step by step, the ranking model's own curve (each n against the previous one, same "
    f"users, Holm over {len(steps)} step{'s' * (len(steps) != 1)}): "
    + "; ".join(
        stats.verdict(t, a=f"given {b}", b=f"given {a}")
        for (a, b), t in zip(step_pairs, steps, strict=True)
    )
    + f". Over the whole range it goes from {fmt(ndcg['ranking model'].iloc[0])} to "
    f"{fmt(ndcg['ranking model'].iloc[-1])}; MF fold-in from {fmt(ndcg['MF fold-in'].iloc[0])} "
    f"to {fmt(ndcg['MF fold-in'].iloc[-1])}.",
    f"A new person's fold-in and top-10 takes {fmt(timings['ranking model: fold-in + top-10'])} "
    "ms with the ranking model on this machine.",
]
report.record_figures(
    {
        "findings": findings,
        "ranking_source": "notebook 03's checkpoint",
        "mf_source": mf.loaded_from,
        "people_top1": first,
        "people_jaccard": jaccard,
        "people_given_excluded": bool(
            all(
                not set(frame[ITEM_COL]) & set(PEOPLE[p])
                for per in lists.values()
                for p, frame in per.items()
            )
        ),
        "app_new_user_rated": len(app.sliders),
        "app_search_matches": len(app.matches.options),
        "app_html_has_table": "<table" in app.new_recs_html.value,
        "app_explains": "because you liked" in app.new_recs_html.value,
        "fold_in_top10_ms": timings["ranking model: fold-in + top-10"],
        "mf_fold_in_top10_ms": timings["MF: fold-in + top-10"],
        "neighbour_ms": timings["ranking model: a movie's neighbours"],
        "fold_in_reg": fold_in_reg,
        "fold_in_reg_grid": {str(k): v for k, v in reg_grid.items()},
        "curve_test_users": len(split.test),
        "run_id": run.run_id,
        "quoted": run.quote(models=[ours, "popularity"], seeds=[run_seed]),
        "curve_valid_users": len(split.valid),
        "ndcg_at_10": {name: ndcg[name].to_dict() for name in ndcg.columns},
        "recall_at_20": {name: recall[name].to_dict() for name in recall.columns},
        "curve_rises": rises,
        "versus": {
            other: {
                str(n): [t.diff, t.low, t.high, t.p_holm]
                for n, t in zip(CURVE_NS, tests, strict=True)
            }
            for other, tests in against.items()
        },
        "steps": {
            f"{a}->{b}": [t.diff, t.low, t.high, t.p_holm]
            for (a, b), t in zip(step_pairs, steps, strict=True)
        },  # fmt: skip
        "below_popularity_at": [
            n
            for n, t in zip(CURVE_NS, against["popularity"], strict=True)
            if stats.verdict_word(t) == "behind"
        ],
    },
    table=curve.pivot(index="n", columns="model", values="ndcg@10"),
)
