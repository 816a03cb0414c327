"""Mutations the test suite must catch: each is applied to a scratch copy of the project
and the test named beside it is run there; it must fail.

    .venv/bin/python tests/mutations.py            # all of them
    .venv/bin/python tests/mutations.py curve_no_threshold bench_peers_see_test

Each mutation is (name, file, old text, new text, the test that must fail). The script
prints one line per mutation, ``CAUGHT`` or ``MISSED``, and exits 1 if any is missed or
no longer applies (its old text is gone: update the mutation with the code).
Every one of these passed the whole suite before the "Evaluation you can trust" issue.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CURVE = "recsys_utils/evaluation/foldin_curve.py"
PEERS = "recsys_utils/bench/peers.py"
BLEND = "recsys_utils/models/blend.py"
T_CURVE = "tests/evaluation/test_foldin_curve.py::test_fold_in_ranks_the_liked_unseen_movies_first"
T_PLANT = "tests/bench/test_peers_protocol.py::test_a_test_only_signal_changes_no_choice_and_no_prediction"
T_REFIT = (
    "tests/bench/test_peers_protocol.py::test_every_final_model_is_fitted_on_train_plus_validation"
)
EXPERIMENT = "recsys_utils/evaluation/experiment.py"
T_EXP = "tests/evaluation/test_experiment.py::"
COLD = "recsys_utils/evaluation/coldstart.py"
T_COLD = "tests/evaluation/test_coldstart.py"
T_BLEND = "tests/models/test_blend.py::test_blend_ranks_by_what_it_predicts_members_clipped"

MUTATIONS = [
    # --- the fold-in curve -------------------------------------------------------------
    (
        "curve_no_threshold",
        CURVE,
        "idx[rest] if relevance_threshold is None else idx[rest][r[rest] >= relevance_threshold]",
        "idx[rest]",
        T_CURVE,
    ),
    ("curve_own_movies_candidates", CURVE, "mask[idx[first]] = False", "pass", T_CURVE),
    (
        "curve_rank_by_item_bias",
        CURVE,
        '("fold_in", scores[idx[rest]], scores)',
        '("fold_in", scores[idx[rest]], b_i)',
        T_CURVE,
    ),
    (
        "curve_popularity_reversed",
        CURVE,
        '("popularity", base.mu_ + b_i[idx[rest]], pop)',
        '("popularity", base.mu_ + b_i[idx[rest]], -pop)',
        T_CURVE,
    ),
    (
        "fold_in_reg_1e6",
        "recsys_utils/models/_foldin.py",
        "FOLD_IN_REG = 1.0\n",
        "FOLD_IN_REG = 1e6\n",
        T_CURVE,
    ),
    # --- bench_peers' protocol ---------------------------------------------------------
    (
        "bench_choices_on_test",  # early stopping and blend weights read the test ratings
        EXPERIMENT,
        "return Context(seed, self, dataclasses.replace(split, test=None), split.train, {})",
        "return Context(seed, self, dataclasses.replace(split, valid=split.test, test=None), "
        "split.train, {})",
        T_PLANT,
    ),
    (
        "bench_skip_refit",
        EXPERIMENT,
        "final = _fit_ratings(make(**params), full)",
        "final = model",
        T_REFIT,
    ),
    (
        "bench_peers_see_test",
        EXPERIMENT,
        "return Context(seed, self, dataclasses.replace(split, test=None), split.train, {})",
        "return Context(seed, self, dataclasses.replace(split, "
        "valid=pd.concat([split.valid, split.test]), test=None), split.train, {})",
        T_PLANT,
    ),
    # --- splits, blend, fold-in scorers, candidates --------------------------------------
    (
        "random_split_int",
        "recsys_utils/data/splits.py",
        "n_test, n_valid = round(n * test_frac), round(n * valid_frac)",
        "n_test, n_valid = int(n * test_frac), int(n * valid_frac)",
        "tests/bench/test_peers_protocol.py::test_protocol_split_sizes_are_rounded_not_truncated",
    ),
    (
        "blend_predict_unclipped",
        BLEND,
        "return [np.clip(m._predict_idx(u, i), *self.rating_scale) for m in self.members_]",
        "return [m._predict_idx(u, i) for m in self.members_]",
        T_BLEND,
    ),
    (
        "blend_rank_unclipped",
        BLEND,
        "np.clip(np.asarray(m.score_items(user_indices), dtype=np.float64), *self.rating_scale)",
        "np.asarray(m.score_items(user_indices), dtype=np.float64)",
        T_BLEND,
    ),
    (
        "implicit_mf_folded_as_mf",
        "recsys_utils/models/torch_models.py",
        "    def fold_in_linear(self, rated: np.ndarray) -> tuple[np.ndarray, np.ndarray]:\n"
        '        """As the net scores',
        "    def _unused(self, rated: np.ndarray) -> tuple[np.ndarray, np.ndarray]:\n"
        '        """As the net scores',
        "tests/recommend/test_foldin_scorers.py",
    ),
    (
        "ranking_ignores_exclude",
        "recsys_utils/evaluation/metrics.py",
        "excluded[row] = ~candidate_mask(model, user, extra)",
        "excluded[row] = ~candidate_mask(model, user, None)",
        "tests/evaluation/test_metrics.py::test_exclude_removes_the_validation_movies_from_the_candidates",
    ),
    # --- the experiment: every choice on validation users ------------------------------
    (
        "experiment_choices_on_test_users",
        EXPERIMENT,
        "return Context(seed, self, dataclasses.replace(split, test=None), train, {})",
        "return Context(seed, self, dataclasses.replace(split, valid=split.test, test=None), train, {})",
        T_EXP + "test_a_test_only_signal_changes_no_choice_and_no_validation_score",
    ),
    (
        "experiment_epochs_on_test_users",
        EXPERIMENT,
        (
            "return Context(seed, self, dataclasses.replace(split, test=None), train, {})",
            "    va = split.valid\n",
        ),
        ("return Context(seed, self, split, train, {})", "    va = split.test\n"),
        T_EXP + "test_a_test_only_signal_changes_no_choice_and_no_validation_score",
    ),
    (
        "experiment_variant_on_test_users",
        EXPERIMENT,
        (
            "return Context(seed, self, dataclasses.replace(split, test=None), train, {})",
            "pick = max(options, key=lambda n: sign * ctx.fitted[n].val)",
        ),
        (
            "return Context(seed, self, split, train, {})",
            "pick = max(options, key=lambda n: _objective("
            "_score(ctx.fitted[n].model, ctx.split.test.history), ctx.split.test))",
        ),
        T_EXP + "test_a_test_only_signal_changes_no_choice_and_no_validation_score",
    ),
    (
        "experiment_blend_weights_on_test_users",
        EXPERIMENT,
        (
            "return Context(seed, self, dataclasses.replace(split, test=None), train, {})",
            "        va = ctx.split.valid\n",
        ),
        ("return Context(seed, self, split, train, {})", "        va = ctx.split.test\n"),
        T_EXP + "test_a_test_only_signal_changes_no_choice_and_no_validation_score",
    ),
    (
        "experiment_best_epoch_not_restored",
        "recsys_utils/training/loop.py",
        "        net.load_state_dict(best_state)\n",
        "        pass\n",
        T_EXP + "test_the_restored_weights_are_the_best_epochs",
    ),
    (
        "experiment_test_targets_in_the_input",
        EXPERIMENT,
        "scores = _score(f.model, te.history)",
        "scores = _score(f.model, te.history + te.targets)",
        T_EXP + "test_no_test_target_ever_reaches_a_model",
    ),
    (
        "experiment_blend_weights_not_summing_to_one",
        EXPERIMENT,
        "np.array([*c, k - sum(c)]) / k",
        "np.array([*c, k - sum(c) + 1]) / k",
        T_EXP + "test_blend_weights_sum_to_one_and_the_blend_is_their_sum_of_z_scores",
    ),
    (
        "metrics_report_at_the_largest_cutoff",
        "recsys_utils/metrics/ranking.py",
        "PER_USER[base](hits[:, :k], n, k)",
        "PER_USER[base](hits[:, : hits.shape[1]], n, hits.shape[1])",
        "tests/metrics/test_ranking_metrics.py::"
        "test_each_metric_of_a_report_equals_its_one_metric_function_at_its_own_k",
    ),
    (
        "metrics_recall_over_all_targets",
        "recsys_utils/metrics/ranking.py",
        "return hits.sum(1) / np.maximum(np.minimum(n, k), 1)",
        "return hits.sum(1) / np.maximum(n, 1)",
        "tests/metrics/test_ranking_metrics.py::test_every_metric_agrees_with_ranx_on_random_cases",
    ),
    (
        "metrics_ties_left_to_argpartition",
        "recsys_utils/metrics/ranking.py",
        "redo = ((s == kth).sum(1) != (ps == kth).sum(1)) | (n_eligible < width)",
        "redo = n_eligible < width",
        "tests/metrics/test_ranking_metrics.py::test_top_k_matches_a_full_stable_sort_on_random_ties",
    ),
    (
        "experiment_grid_keeps_the_worst_point",
        EXPERIMENT,
        "return a > b if maximise else a < b",
        "return a < b if maximise else a > b",
        T_EXP + "test_every_choice_is_recorded_as_plain_parameters",
    ),
    # --- the item cold-start protocol ----------------------------------------------------
    (
        "coldstart_test_movie_leaks",
        COLD,
        "train = ratings[~ratings[ITEM_COL].isin(cold)]",
        "train = ratings[~ratings[ITEM_COL].isin(valid_items)]",
        f"{T_COLD}::test_no_rating_of_a_cold_movie_is_in_training",
    ),
    (
        "coldstart_valid_overlaps_test",
        COLD,
        "np.sort(order[n_test : n_test + n_valid])",
        "np.sort(order[:n_valid])",
        f"{T_COLD}::test_shares_are_disjoint_eligible_and_seeded",
    ),
    (
        "coldstart_low_ratings_are_targets",
        COLD,
        "test=_share(pos, test_items",
        "test=_share(ratings, test_items",
        f"{T_COLD}::test_targets_by_hand_and_users_without_training_positives_dropped",
    ),
    (
        "coldstart_history_not_excluded",
        COLD,
        '("catalogue", all_scores, all_targets, history)',
        '("catalogue", all_scores, all_targets, None)',
        f"{T_COLD}::test_scoring_by_hand_both_candidate_sets",
    ),
    (
        "coldstart_bench_chooses_on_test",
        "recsys_utils/bench/coldstart.py",
        'valid = cold_start_report(split, scorer, part="valid", k=k)',
        'valid = cold_start_report(split, scorer, part="test", k=k)',
        "tests/bench/test_bench_coldstart.py::test_choices_ignore_the_test_movies",
    ),
]


def run(name, path, old, new, test) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp) / "project"
        scratch.mkdir()
        for part in ("recsys_utils", "tests"):
            shutil.copytree(
                ROOT / part, scratch / part, ignore=shutil.ignore_patterns("__pycache__")
            )
        shutil.copy(ROOT / "pyproject.toml", scratch / "pyproject.toml")
        target = scratch / path
        text = target.read_text()
        pairs = zip(old, new, strict=True) if isinstance(old, tuple) else [(old, new)]
        for before, after in pairs:  # a tuple: several edits in the one file
            if text.count(before) != 1:
                return "STALE (old text not found once)"
            text = text.replace(before, after)
        target.write_text(text)
        cmd = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", test]
        env = {"PYTHONPATH": str(scratch), "PATH": "/usr/bin:/bin", "HOME": tmp}
        res = subprocess.run(cmd, cwd=scratch, capture_output=True, text=True, env=env)
        return "CAUGHT" if res.returncode == 1 else f"MISSED (pytest exit {res.returncode})"


def main(names: list[str]) -> int:
    chosen = [m for m in MUTATIONS if not names or m[0] in names]
    bad = 0
    for name, path, old, new, test in chosen:
        verdict = run(name, path, old, new, test)
        bad += verdict != "CAUGHT"
        print(f"{name:32s} {verdict:10s} {test}", flush=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
