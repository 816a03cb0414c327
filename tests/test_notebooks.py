"""Every notebook in notebooks/ runs with smoke parameters and records the right figures.

The session fixture runs all notebooks once, in numeric order (later notebooks read what
earlier ones saved), with ``RECSYS_DATA_DIR`` in a session tmp folder and the data from
the mirror. Each notebook then gets its own test, which checks the figures its last cell
recorded. A notebook without an entry in ``NOTEBOOKS`` fails: add its smoke parameters
and a check function there.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import pytest

from recsys_utils.app import report
from recsys_utils.app.index import write_index
from recsys_utils.constants import DATA_DIR_ENV, MIRROR_ENV, NOTEBOOKS_DIR, PROJECT_ROOT

MIRROR = PROJECT_ROOT.parent / "shared" / "data" / "movielens"
CELL_TIMEOUT_S = 900

Figures = dict[str, Any]


def assert_verdicts(fig: Figures) -> None:
    """Every comparison word of the findings stands inside a ``stats.verdict`` marker (so a
    paired test backs it), and some finding carries one."""
    from recsys_utils.app.figures import findings_of, unbacked_comparisons

    found = findings_of(fig)
    assert [w for s in found for w in unbacked_comparisons(s)] == []
    assert any('<span class="verdict"' in s for s in found)


def check_01_data_cleaning(fig: Figures) -> None:
    # ml-latest-small as published (constants.DATASETS holds the same sizes); 18 movies of
    # movies.csv have no rating, so 9,724 movies are rated
    assert fig["n_ratings"] == 100_836
    assert fig["n_users"] == 610
    assert fig["n_movies"] == 9_742
    assert fig["n_movies_rated"] == 9_724
    # with the default k-core of 0 nothing is dropped, and the split partitions the ratings
    assert fig["n_ratings_clean"] == 100_836 - fig["duplicates_dropped"]
    assert fig["n_train"] + fig["n_valid"] + fig["n_test"] == fig["n_ratings_clean"]


def check_07_blog_claims(fig: Figures) -> None:
    import re

    from recsys_utils.app.figures import format_value as fmt

    # every comparison sentence of the findings is a verdict with its paired test
    assert_verdicts(fig)
    assert '<span class="verdict"' in fig["takeaway"]
    fit = " (histories in fit)"
    ours, pop = "ranking model (03's run)", "popularity (03's run)"
    rules, blog = "rules" + fit, "MF or CollabFNet" + fit
    options = ["rules: genres", "rules: genres + tags", "MF", "CollabFNet"]
    models = {ours, pop, rules, blog, *(o + fit for o in options)}
    for key in ("ndcg_at_100", "ndcg_at_10", "recall_at_20", "coverage_at_10"):
        assert set(fig[key]) == models and all(0 <= v <= 1 for v in fig[key].values()), key
    for m, (low, high) in fig["ndcg_at_100_interval"].items():
        assert low <= fig["ndcg_at_100"][m] <= high
    # 07 trains no ranking model: ours and popularity are notebook 03's run, on its test users
    # (smoke: one random seed of 50); the rules and the rating models are paired with them
    assert fig["same_test_users_as_run"] is True and fig["n_test_users"] == 50
    quoted = {(q["model"], q["metric"]): q["value"] for q in fig["quoted"]}
    assert abs(quoted[("ours(val-chosen)", "ndcg@100")] - fig["ndcg_at_100"][ours]) < 1e-9
    assert {q["run"] for q in fig["quoted"]} == {fig["run_id"]}
    # each family's member is chosen per random seed on validation users, among its options
    assert set(fig["rules_chosen"].values()) <= {"rules: genres", "rules: genres + tags"}
    assert set(fig["blog_model_chosen"].values()) <= {"MF", "CollabFNet"}
    val = fig["val_ndcg_at_100"]
    if len(fig["run_seeds"]) == 1:
        assert val[blog] == max(val["MF" + fit], val["CollabFNet" + fit])
        assert val[rules] == max(val[o + fit] for o in options[:2])

    def word(diff, low, high, p_holm, better_if_positive=True):
        clear = not low <= 0 <= high and p_holm < 0.05
        ahead = diff > 0 if better_if_positive else diff < 0
        return ("supported" if ahead else "contradicted") if clear else "not shown"

    # each claim's word on each model follows that model's interval and Holm's p
    for m in (blog, ours):
        assert f"{word(*fig['claim1_vs_rules'][m])} on {m}" in fig["verdicts"][0]
    for m, test in fig["claim2_vs_shuffled"].items():
        assert f"{word(*test)} on {m}" in fig["verdicts"][1]
    for m, test in fig["claim4_nearest_vs_random"].items():
        assert f"{word(*test)} on {m}" in fig["verdicts"][3]
    assert len(fig["claim2_vs_shuffled"]) == len(fig["claim4_nearest_vs_random"]) == 3
    assert all('<span class="verdict"' in t for t in fig["tests"])
    for model in fig["probe_genre_auc_shuffled"]:  # shuffled labels: chance, about 0.5
        assert 0.35 < fig["probe_genre_auc_shuffled"][model] < 0.65
    assert fig["probe_genre_auc"]["MF"] > fig["probe_genre_auc_shuffled"]["MF"] + 0.03
    assert fig["rmse_blog_start"] > 2.0  # an untrained net whose output starts at 0
    assert 0.9 < fig["rmse_global_mean"] < 1.2
    assert fig["rmse_bias_only"] < fig["rmse_global_mean"]
    assert fig["rmse_best"] < fig["rmse_global_mean"]
    shares = (
        fig["share_of_gain_mean"],
        fig["share_of_gain_biases"],
        fig["share_of_gain_embeddings"],
    )
    assert abs(sum(shares) - 1) < 1e-9
    # the claim-3 row quotes the very figures its shares are computed from
    for key in ("rmse_blog_start", "rmse_global_mean", "rmse_bias_only", "rmse_best"):
        assert fmt(fig[key]) in fig["measured"][2], key
    assert f"{fig['share_of_gain_mean']:.0%}" in fig["verdicts"][2]
    assert set(fig["claim3_vs_biases"]) == {"MF", "CollabFNet"}
    # claim 4 says its n: 30 users in the smoke run
    assert fig["n_query_users"] == 30 and "30 users" in fig["findings"][3]
    assert all(0 <= v <= 1 for v in fig["similar_users_jaccard"].values())
    assert len(fig["verdicts"]) == 4
    assert 3 <= len(fig["findings"]) <= 5
    # no number on the page with more than 6 significant digits, no constant names
    text = " ".join(fig["findings"] + fig["measured"] + fig["verdicts"])
    assert not re.search(r"\d\.\d{7,}|\d{7,}", text.replace(",", ""))
    assert "RELEVANCE_THRESHOLD" not in text and "seed's" not in text


def check_04_hyperparameter_sweeps(fig: Figures) -> None:
    # smoke grid: one batch size x two learning rates, 1 epoch, for MF and CollabFNet
    assert fig["n_points"] == 2
    for name in ("mf", "collabfnet"):
        assert fig[f"{name}_n_trials"] == fig["n_points"]  # every grid point exactly once
        assert 0.5 < fig[f"{name}_best_val_rmse"] < 1.5
        assert fig[f"{name}_best_params"]["lr"] in (0.01, 0.03)
    # notebook 02's setting is a candidate, and the page says the later notebooks load it
    candidates = fig["candidates_val_rmse"]
    assert set(candidates) == {"mf", "collabfnet", fig["later_notebooks_load"]}
    assert candidates[fig["later_notebooks_load"]] == fig["reference_val_rmse"]
    assert 0.5 < fig["reference_val_rmse"] < 1.5
    assert fig["reference_setting"]["batch_size"] == 8192  # models.recipes.TUNED["mf"]
    assert any("later notebooks (05, 06) load notebook 02" in s for s in fig["findings"])
    chosen = fig["chosen_model"]
    assert chosen == min(candidates, key=candidates.get)
    # retraining the chosen candidate with its trial's seed reproduces its validation RMSE
    assert abs(fig["retrained_val_rmse"] - candidates[chosen]) < 1e-3
    assert 0.5 < fig["test_rmse"] < 1.5
    assert fig["prune_same_best"] is True  # nothing can be pruned in a 1-epoch smoke run
    assert fig["pruned_trials"] == 0
    # the choice is tested per validation user: within noise unless every interval of the
    # difference to the chosen one excludes 0 (Holm over the pairs)
    assert set(fig["choice_diff"]) == set(candidates) - {chosen}
    clear = [
        (high < 0 or low > 0) and p < 0.05 for diff, low, high, p in fig["choice_diff"].values()
    ]
    assert all(
        low <= diff <= high and 0 <= p <= 1 for diff, low, high, p in fig["choice_diff"].values()
    )
    assert fig["choice_within_noise"] == (not all(clear))
    choice = next(s for s in fig["findings"] if s.startswith("Chosen by validation RMSE"))
    assert choice.count('<span class="verdict"') == len(candidates) - 1
    assert ("within noise" in choice) == fig["choice_within_noise"]
    pair = fig["mf_vs_collabfnet"]  # in the choice's sentence, or a sentence of its own
    word = "on par" if not pair["significant"] else "ahead" if pair["diff"] < 0 else "behind"
    names = {"mf": "MF (sweep best)", "collabfnet": "CollabFNet (sweep best)"}
    said = [s for s in fig["findings"] if names[pair["a"]] in s and names[pair["b"]] in s]
    assert any(f'data-verdict="{word}">{names[pair["a"]]}' in s for s in said)
    assert_verdicts(fig)


def check_02_model_building(fig: Figures) -> None:
    members = ("ImplicitMF", "MF", "CollabFNet")
    rankers = {"global mean", "bias-only", "popularity", *members, "blend"}
    names = rankers | {"Surprise SVD"}  # the Surprise peer predicts ratings, does not rank
    assert set(fig["rmse"]) == set(fig["val_rmse"]) == set(fig["ndcg_at_10"]) == names
    assert all(0.5 < v < 1.5 for v in fig["rmse"].values())
    assert fig["rmse"]["bias-only"] < fig["rmse"]["global mean"]
    assert all(0 <= fig[k][m] <= 1 for k in ("ndcg_at_10", "recall_at_10") for m in rankers)
    # the best model is chosen on validation, never on test
    assert fig["best_model"] == min(fig["val_rmse"], key=fig["val_rmse"].get)
    assert fig["best_test_rmse"] == fig["rmse"][fig["best_model"]]
    assert fig["seed_claim_met"] == (fig["best_test_rmse"] <= fig["seed_claim_rmse"])
    # least squares on validation can always pick a single member: never worse there
    assert fig["val_rmse"]["blend"] <= min(fig["val_rmse"][m] for m in members) + 1e-9
    assert fig["checkpoint_reload_identical"] is True
    # user-level intervals: every model's interval holds its mean; each pair is tested
    for key, models in (("user_rmse", names), ("user_ndcg_at_10", rankers)):
        assert set(fig[key]) == models
        assert all(v["low"] <= v["mean"] <= v["high"] for v in fig[key].values())
    assert set(fig["rmse_vs_best"]) == names - {fig["best_model"]}
    assert set(fig["ndcg_at_10_vs_popularity"]) == rankers - {"popularity"}
    diff, low, high, p = fig["choice_diff"]
    assert low <= diff <= high and fig["choice_within_noise"] == (low <= 0 <= high)
    chosen = next(s for s in fig["findings"] if s.startswith("Chosen on validation"))
    assert ("within noise" in chosen) == fig["choice_within_noise"]
    # each comparison sentence carries its verdicts: the choice, the chosen model against
    # each model quoted on test RMSE, MF against CollabFNet, two models against popularity
    assert 2 <= len(fig["quoted_vs_best"]) <= 3
    assert set(fig["quoted_vs_best"]) <= set(fig["rmse_vs_best"])
    counts = [s.count('<span class="verdict"') for s in fig["findings"]]
    assert sum(counts) == 1 + len(fig["quoted_vs_best"]) + 1 + 2, counts
    assert_verdicts(fig)


def check_03_ranking(fig: Figures) -> None:
    ours = fig["ours"]
    assert ours == "ours(val-chosen)" and fig["ours_variant"] == "ours-linear"  # one variant
    models = {"popularity", "ease", "ials", "bpr", "ours-linear", ours, "blend(ours,ease)"}
    keys = ("ndcg_at_100", "recall_at_20", "recall_at_50", "ndcg_at_10", "hr_at_10")
    for key in (*keys, "coverage_at_10"):
        assert models <= set(fig[key]) and all(0 <= v <= 1 for v in fig[key].values()), key
    assert fig["ndcg_at_100"][ours] == fig["ndcg_at_100"]["ours-linear"]  # the only choice
    assert all(fig["fit_s"][m] >= 0 and fig["foldin_ms"][m] > 0 for m in models)
    # 50 + 50 held out of the 610 users (fewer if some have under 5 positives)
    assert fig["n_train_users"] <= 510 and fig["test_dropped_users"] == 0
    assert fig["ndcg_at_100"]["ease"] > fig["ndcg_at_100"]["popularity"]
    assert fig["ndcg_at_100"]["ials"] > fig["ndcg_at_100"]["popularity"]
    # the notebook's refit of the chosen variant is the bench's run (same seed and data)
    assert abs(fig["history_val_ndcg_at_100_best"] - fig["bench_val_ndcg_at_100"]) < 1e-6
    assert 1 <= fig["ours_best_epoch"] <= fig["ours_epochs_run"] <= 4
    # every comparison sentence is a verdict with its paired test (users, random seeds pooled)
    assert_verdicts(fig)
    gap = fig["gap_to_ease"]  # ours - EASE on the same users, from the table's comparisons
    assert gap["low"] <= gap["diff"] <= gap["high"] and 0 <= gap["p"] <= gap["p_holm"] <= 1
    table = fig["vs_ease_ndcg_at_100"][ours]
    assert all(gap[k] == table[k] for k in ("diff", "low", "high", "p_holm"))
    if len(fig["seeds"]) == 1:  # one random seed: the users' mean difference is the table's
        assert abs(gap["diff"] - (fig["ndcg_at_100"][ours] - fig["ndcg_at_100"]["ease"])) < 1e-9
    # the sentence's word follows the interval and Holm's p: "on par" unless both are clear
    clear = not gap["low"] <= 0 <= gap["high"] and gap["p_holm"] < 0.05
    expected = ("ahead" if gap["diff"] > 0 else "behind") if clear else "on par"
    assert table["significant"] == clear
    first = next(s for s in fig["findings"] if s.startswith("Our model")).split("<span")[1]
    assert f'data-verdict="{expected}">ours' in first and "EASE" in first
    for m, (low, high) in fig["ndcg_at_100_interval"].items():
        assert low <= fig["ndcg_at_100"][m] <= high
    assert '<span class="verdict"' in fig["takeaway"]
    # the curve's ends, per user, reproduce the run's curve points
    assert fig["curve_ends_max_difference"] < 1e-9
    assert set(fig["curve_ends"]) == {"1", "20"}
    # the curve keeps users and targets fixed: popularity ignores the input, so it is flat
    assert fig["new_user_ns"] == [1, 2, 5, 10, 20]
    assert len(set(fig["new_user_ndcg_at_10"]["popularity"].values())) == 1
    ease = fig["new_user_ndcg_at_10"]["ease"]
    assert ease["20"] > ease["1"]
    assert fig["checkpoint"].endswith("ranking.json") and fig["checkpoint_reload_identical"]
    assert 0 <= fig["checkpoint_test_ndcg_at_100"] <= 1
    # EASE as a pooled model of one dimension per training user reproduces its scores
    assert fig["ease_dual_dimensions"] == fig["n_train_users"]
    assert fig["ease_dual_max_relative_difference"] < 1e-4
    assert fig["ease_exact_best_epochs"] == []  # EASE_INIT off in the smoke run
    assert any(f"{fig['ease_dual_dimensions']} dimensions" in s for s in fig["findings"])
    # the run is saved and its figures quoted: the table's NDCG@100 is the quoted one
    quoted = {(q["model"], q["metric"]): q["value"] for q in fig["quoted"]}
    assert quoted[(ours, "ndcg@100")] == fig["ndcg_at_100"][ours]
    assert {q["run"] for q in fig["quoted"]} == {fig["run_id"]}


def check_05_embedding_space(fig: Figures) -> None:
    assert fig["mf_source"].endswith("mf.json")  # notebook 02's checkpoint, not a fallback
    assert fig["projection"] == "pca"
    assert fig["n_movies_mapped"] > 8_000 and fig["n_users_mapped"] == 610
    for key in (
        "genre_agreement",
        "genre_chance",
        "collabfnet_genre_agreement",
        "ranking_genre_agreement",
    ):
        assert 0 < fig[key] < 1
    assert 0 < fig["overlap_chance"] < fig["mf_cf_overlap_at_10"] <= 1
    assert all(-1 <= fig[k] <= 1 for k in ("bias_norm_spearman", "popularity_norm_spearman"))
    assert all(fig[k] <= 1 for k in ("popularity_r2", "mean_rating_r2", "user_mean_rating_r2"))
    # the maps set apart the movies a single example moved, and the findings say how many
    assert fig["min_training"] == 2
    assert 0 < fig["n_thin_mf"] < fig["n_movies_mapped"] and 0 <= fig["n_thin_ranking"]
    assert any(f"{fig['n_thin_mf']:,} of" in s for s in fig["findings"])
    # the R² sentence says no more than the number: "little" below 0.25
    assert ("reads little" in fig["r2_words"]) == (fig["popularity_r2"] < 0.25)
    assert not any("Popularity lies along a direction" in s for s in fig["findings"])
    # genre agreement per movie, each model against MF on the same movies
    gap = fig["ranking_genre_agreement"] - fig["genre_agreement"]
    diff, low, high, p = fig["genre_share_vs_mf"]["ranking model"]
    assert abs(diff - gap) < 1e-9 and low <= diff <= high and 0 <= p <= 1
    assert set(fig["genre_share_vs_mf"]) == {"ranking model", "CollabFNet"}
    assert_verdicts(fig)


def check_05b_movie_features(fig: Figures) -> None:
    from recsys_utils.app.figures import unbacked_comparisons

    by_kind = fig["n_features_by_kind"]
    assert sum(by_kind.values()) == fig["n_features"]
    # ml-latest-small: 19 genres ("(no genres listed)" is no genre), no genome
    assert by_kind["genre"] == 19 and by_kind["genome"] == 0
    assert by_kind["tag"] > 0 and 0 < fig["n_tagged_movies"] < 9_742
    assert fig["seeds"] == [0] and fig["n_users"] > 50  # smoke: one seed
    models = {"hybrid (ours)", "content kNN", "popularity in genre"}
    models |= {"LightFM"} if fig["lightfm"] else set()
    recall = fig["cold_recall_at_20"]
    assert set(recall) == models
    assert all(0 <= lo <= m <= hi <= 1 for m, lo, hi in recall.values())
    # the hybrid is compared with every other model, on both candidate sets
    for cand in ("cold", "catalogue"):
        versus = fig["hybrid_vs"][cand]
        assert set(versus) == models - {"hybrid (ours)"}
        assert all(lo <= d <= hi and 0 <= p <= 1 for d, lo, hi, p in versus.values())
    diff = fig["hybrid_vs"]["cold"]["content kNN"][0]
    assert abs(diff - (recall["hybrid (ours)"][0] - recall["content kNN"][0])) < 1e-9
    # every comparison sentence comes from stats.verdict
    verdicts = [s for s in fig["findings"] if '<span class="verdict"' in s]
    assert len(verdicts) == len(models) - 1
    assert [w for s in fig["findings"] for w in unbacked_comparisons(s)] == []
    assert '<span class="verdict"' in fig["takeaway"]
    # every movie is on the map, the untrained ones apart; each genre a point
    assert 0 < fig["n_untrained_on_map"] < 9_742
    assert fig["n_genre_points"] == by_kind["genre"]
    assert 0 < fig["genre_chance"] < 1 and 0 <= fig["untrained_genre_agreement"] <= 1
    assert 0 < fig["year_chance"] < 1 and 0 <= fig["year_agreement"] <= 1
    organised = [s for s in fig["findings"] if s.startswith("The hybrid's space is organised")]
    first = "release period" if fig["year_agreement"] > fig["trained_genre_agreement"] else "genre"
    assert len(organised) == 1 and f"by {first} first" in organised[0]
    # three movies typed in by hand: neighbours listed, an audience counted, on the map
    assert fig["hybrid_source"] == "fitted here on every rating"  # smoke: no app checkpoint
    new = {"zombie horror", "Pixar-like family film", "space opera"}
    assert set(fig["new_movie_neighbours"]) == set(fig["new_movie_in_top_20"]) == new
    assert all(len(titles) == 8 for titles in fig["new_movie_neighbours"].values())
    assert all(0 <= n <= 610 for n in fig["new_movie_in_top_20"].values())
    assert fig["n_new_movie_points"] == 3
    assert len(fig["first_movie_no_year_neighbours"]) == 8  # the year's weight, shown
    assert sum(s.startswith("Described without its year") for s in fig["findings"]) == 1
    # the app's New movie tab, set to the first of them, lists the notebook's neighbours
    assert fig["app_new_movie_agrees"] is True and fig["app_new_movie_has_map"] is True
    assert all(any(f"the {name} (" in s for s in fig["findings"]) for name in new)


def check_06_recommendation_demo(fig: Figures) -> None:
    assert set(fig["people_top1"]) == {"horror lover", "Pixar lover", "Star Wars fan"}
    assert fig["people_given_excluded"] is True  # nobody is recommended a movie they gave
    assert all(0 <= j <= 1 for j in fig["people_jaccard"].values())
    # the scripted app: "toy story" added Toy Story, then the five scripted ratings (one repeat)
    assert fig["app_new_user_rated"] == 5 and 1 <= fig["app_search_matches"] <= 20
    assert fig["app_html_has_table"] is True and fig["app_explains"] is True
    grid = fig["fold_in_reg_grid"]  # chosen on validation users, by NDCG@10
    assert set(grid) == {"1.0", "3.0"} and grid[str(fig["fold_in_reg"])] == max(grid.values())
    ndcg = fig["ndcg_at_10"]
    assert set(ndcg) == {"ranking model", "MF fold-in", "popularity"}
    assert all(
        set(v) == {"1", "10"} and all(0 <= x <= 1 for x in v.values()) for v in ndcg.values()
    )
    assert len(set(ndcg["popularity"].values())) == 1  # ignores what the user gave
    assert set(fig["curve_rises"]) == set(ndcg)
    assert 0 < fig["curve_test_users"] <= 50  # notebook 03's run: 50 test users (smoke)
    # the ranking model's curve is the run's, quoted from it
    quoted = {(q["model"], q["metric"]): q["value"] for q in fig["quoted"]}
    for n in ("1", "10"):
        assert quoted[("ours(val-chosen)", f"ndcg@10 n={n}")] == ndcg["ranking model"][n]
    # each n is tested against popularity and MF fold-in, each step against the previous n
    for other in ("popularity", "MF fold-in"):
        tests = fig["versus"][other]
        assert set(tests) == {"1", "10"}
        for n, (diff, low, high, p) in tests.items():
            gap = ndcg["ranking model"][n] - ndcg[other][n]
            assert abs(diff - gap) < 1e-9 and low <= diff <= high and 0 <= p <= 1
    below = [
        int(n)
        for n, (diff, low, high, p) in fig["versus"]["popularity"].items()
        if high < 0 and p < 0.05
    ]
    assert fig["below_popularity_at"] == below
    assert set(fig["steps"]) == {"1->10"}
    # the curve sentence follows the test at each n: one verdict per n and per step
    versus = next(s for s in fig["findings"] if "against popularity at each number" in s)
    assert versus.count('<span class="verdict"') == 2
    for n in below:
        assert f'with {n}, <span class="verdict" data-verdict="behind">' in versus
    step = next(s for s in fig["findings"] if s.startswith("Step by step"))
    assert step.count('<span class="verdict"') == 1
    assert "rising at every step" not in " ".join(fig["findings"])
    assert_verdicts(fig)


# name -> (smoke parameters injected by papermill, check of the recorded figures)
NOTEBOOKS: dict[str, tuple[dict[str, Any], Callable[[Figures], None]]] = {
    "01_data_cleaning": ({}, check_01_data_cleaning),
    "02_model_building": (
        {"EPOCHS": 1, "MF_EPOCHS": 1, "IMF_EPOCHS": 1, "IMF_DIM": 16, "CNET_EMB": 16},
        check_02_model_building,
    ),
    "03_ranking": (
        {
            "SEEDS": [0],
            "N_TEST_USERS": 50,
            "N_VALID_USERS": 50,
            "EASE_LAMBDAS": [200],
            "ALS_GRID": {"factors": [32], "regularization": [10], "alpha": [20], "iterations": [5]},
            "BPR_GRID": {"factors": [32], "learning_rate": [0.05], "iterations": [20]},
            "OURS_VARIANTS": {"ours-linear": {"dim": 64}},
            "MAX_EPOCHS": 4,
            "PATIENCE": 2,
            "EASE_INIT": False,
            "CORNAC_CHECK": False,
        },
        check_03_ranking,
    ),
    "04_hyperparameter_sweeps": (
        {"BATCH_SIZES": [4096], "LEARNING_RATES": [0.01, 0.03], "EPOCHS": 1, "WORKERS": 1},
        check_04_hyperparameter_sweeps,
    ),
    "05_embedding_space": (
        {"PROJECTION": "pca", "FALLBACK_EPOCHS": 1, "INTERACTIVE_MAX_POINTS": 300},
        check_05_embedding_space,
    ),
    "05b_movie_features": (
        {
            "SEEDS": [0],
            "MAX_GRID_POINTS": 1,
            "HYBRID_DIM": 16,
            "HYBRID_MAX_EPOCHS": 2,
            "LIGHTFM_MAX_EPOCHS": 2,
            "PROJECTION": "pca",
            "APP_MODEL": None,
        },
        check_05b_movie_features,
    ),
    "06_recommendation_demo": (
        {
            "CURVE_NS": [1, 10],
            "MF_EPOCHS": 2,
            "FALLBACK_EPOCHS": 1,
            "TIMING_REPEATS": 2,
            "FOLD_IN_REG_GRID": [1.0, 3.0],
        },
        check_06_recommendation_demo,
    ),
    "07_blog_claims": (
        {
            "EPOCHS": 1,
            "RULES_GRID": {"min_count": [20], "match_weight": [0.5]},
            "TAG_WEIGHTS": [0.0, 1.0],
            "PROBE_FOLDS": 3,
            "PROBE_MIN_RATINGS": 20,
            "N_QUERY_USERS": 30,
        },
        check_07_blog_claims,
    ),
}


def discovered() -> list[str]:
    return [p.stem for p in report.find_notebooks(folder=NOTEBOOKS_DIR)]


@dataclass
class NotebookRuns:
    """What the session run produced: executed notebooks, HTML reports, errors."""

    reports_dir: Path
    executed: dict[str, Path] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def mirror_dir() -> Path:
    """``$RECSYS_DATA_MIRROR`` if set, else ``<repo>/../shared/data/movielens``."""
    mirror = Path(os.environ.get(MIRROR_ENV, MIRROR))
    if not mirror.is_dir():
        message = f"MovieLens mirror not found at {mirror} (set {MIRROR_ENV})"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return mirror


def run_notebooks(root: Path) -> NotebookRuns:
    """All listed notebooks executed in numeric order; HTML exported under ``root``.

    Called once a session by the ``notebook_runs`` fixture in conftest.py, which this
    file and test_browser.py share.
    """
    runs = NotebookRuns(reports_dir=root / "reports")
    entries = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(DATA_DIR_ENV, str(root / "data"))
        mp.setenv(MIRROR_ENV, str(mirror_dir()))
        for path in report.find_notebooks(folder=NOTEBOOKS_DIR):
            if path.stem not in NOTEBOOKS:
                continue  # its own test fails and says what to add
            entry, err = report.report_one(
                path, runs.reports_dir, NOTEBOOKS[path.stem][0], timeout=CELL_TIMEOUT_S
            )
            entries.append(entry)
            if err is not None:
                runs.errors[path.stem] = str(err)
            if entry["executed"] is not None:
                runs.executed[path.stem] = entry["executed"]
    write_index(runs.reports_dir, entries, {"smoke parameters": "tests/test_notebooks.py"})
    return runs


@pytest.mark.notebook
@pytest.mark.parametrize("name", sorted(set(discovered()) | set(NOTEBOOKS)))
def test_notebook_records_expected_figures(name, request):
    if name not in NOTEBOOKS:
        pytest.fail(
            f"notebooks/{name}.ipynb has no entry in NOTEBOOKS (tests/test_notebooks.py): "
            "add its smoke parameters and a check of its recorded figures"
        )
    if name not in discovered():
        pytest.fail(f"NOTEBOOKS lists {name} but notebooks/{name}.ipynb does not exist")
    runs: NotebookRuns = request.getfixturevalue("notebook_runs")
    if name in runs.errors:
        pytest.fail(runs.errors[name])
    figures = report.read_figures(runs.executed[name])
    assert figures, f"{name} recorded no figures: its last cell must call report.record_figures"
    NOTEBOOKS[name][1](figures)


def quoted_conflicts(figures: dict[str, Figures]) -> tuple[list[str], int]:
    """Figures that two notebooks quote for the same model, protocol, run and metric
    with different values (the ``quoted`` records of ``experiment.Result.quote``), and
    how many such figures more than one notebook quotes."""
    first: dict[tuple, tuple[str, float]] = {}
    conflicts, shared = [], set()
    for name, fig in figures.items():
        for q in fig.get("quoted", []):
            key = (q["model"], q["protocol"], q["run"], tuple(q.get("seeds", ())), q["metric"])
            if key in first and first[key][0] != name:
                shared.add(key)
                if abs(first[key][1] - q["value"]) > 1e-9:
                    conflicts.append(
                        f"{key}: {first[key][0]} says {first[key][1]}, {name} says {q['value']}"
                    )
            first.setdefault(key, (name, q["value"]))
    return conflicts, len(shared)


def test_quoted_conflicts_by_hand():
    q = {"model": "ours", "protocol": "sg", "run": "r1", "metric": "ndcg@10", "value": 0.3}
    same = {"a": {"quoted": [q]}, "b": {"quoted": [q]}}
    assert quoted_conflicts(same) == ([], 1)
    other = {"a": {"quoted": [q]}, "b": {"quoted": [{**q, "value": 0.31}]}}
    assert len(quoted_conflicts(other)[0]) == 1
    another_run = {"a": {"quoted": [q]}, "b": {"quoted": [{**q, "run": "r2", "value": 0.31}]}}
    assert quoted_conflicts(another_run) == ([], 0)  # another run may say another thing


@pytest.mark.notebook
def test_no_two_notebooks_quote_different_values_for_one_figure(request):
    """Every notebook's quoted figures of one model, protocol and run agree; and some
    figure is quoted by more than one notebook (else this test could not fail)."""
    runs: NotebookRuns = request.getfixturevalue("notebook_runs")
    figures = {name: report.read_figures(path) for name, path in runs.executed.items()}
    conflicts, shared = quoted_conflicts(figures)
    assert conflicts == []
    assert shared > 0


@pytest.mark.parametrize("name", discovered())
def test_notebook_follows_conventions(name):
    """One parameters cell of UPPER_CASE constants, a paired .py, no committed outputs."""
    nb = nbformat.read(str(NOTEBOOKS_DIR / f"{name}.ipynb"), as_version=4)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{name}: {len(tagged)} cells tagged 'parameters', expected 1"
    for node in ast.parse(tagged[0].source).body:
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        names = [t.id for t in targets if isinstance(t, ast.Name)]
        assert names and all(n.isupper() for n in names), (
            f"{name}: the parameters cell holds only UPPER_CASE assignments, not "
            f"{ast.unparse(node)!r}"
        )
    assert (NOTEBOOKS_DIR / f"{name}.py").is_file(), f"{name}: no paired py:percent script"
    with_outputs = [i for i, c in enumerate(nb.cells) if c.get("outputs")]
    assert not with_outputs, f"{name}: cells {with_outputs} have committed outputs"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and "record_figures" in code[-1].source, (
        f"{name}: the last code cell must call report.record_figures"
    )
