"""Intervals, paired tests, Holm and the verdict words, against hand-worked answers."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest

from recsys_utils.evaluation.stats import (
    compare_table,
    holm,
    holm_family,
    interval,
    paired,
    r2_words,
    rating_rows,
    verdict,
    verdict_word,
)

# Five users; ours = base + d with d = 0.02, 0.04, 0.01, 0.03, 0.05.
BASE = [0.30, 0.25, 0.40, 0.35, 0.20]
D = [0.02, 0.04, 0.01, 0.03, 0.05]
T_975_DF4 = 2.776445  # Student's t table, 97.5% quantile, 4 degrees of freedom


def rows_of(values: dict[str, list[float]], metric="ndcg@100", seed=0) -> pd.DataFrame:
    return pd.concat(
        pd.DataFrame({"seed": seed, "model": m, "user": range(len(v)), metric: v})
        for m, v in values.items()
    )


def five_users() -> pd.DataFrame:
    return rows_of({"ours": [b + d for b, d in zip(BASE, D, strict=True)], "base": BASE})


def shifted(names: tuple[str, str, str], gain: float, noise: float, n: int, seed: int):
    """Three models on ``n`` users: a base, one ``gain`` above it, one equal to it, each with
    per-user ``noise``."""
    rng = np.random.default_rng(seed)
    base = rng.uniform(0.1, 0.5, n)
    better = base + gain + rng.normal(0, noise, n)
    return rows_of(dict(zip(names, (base, better, base + rng.normal(0, noise, n)), strict=True)))


def test_paired_t_by_hand_on_five_users():
    # mean d = 0.03; squared deviations sum 0.001 -> s = sqrt(0.001 / 4); se = s / sqrt(5)
    se = math.sqrt(0.001 / 4) / math.sqrt(5)
    t = 0.03 / se  # = 3 sqrt(2)
    assert t == pytest.approx(3 * math.sqrt(2))
    # Student's t CDF with 4 degrees of freedom in closed form
    x = t / math.sqrt(1 + t * t / 4)
    cdf = 0.5 + 3 / 8 * x * (1 - t * t / (12 * (1 + t * t / 4)))
    c = paired(five_users(), "ours", "base", "ndcg@100")
    assert c.diff == pytest.approx(0.03)
    assert c.low == pytest.approx(0.03 - T_975_DF4 * se, abs=1e-6)
    assert c.high == pytest.approx(0.03 + T_975_DF4 * se, abs=1e-6)
    assert c.p == pytest.approx(2 * (1 - cdf), rel=1e-6)  # 0.01324
    assert (c.n_users, c.n_seeds) == (5, 1)


def test_t_interval_by_hand_on_five_users():
    # BASE: mean 0.30, squared deviations 0 + 0.0025 + 0.01 + 0.0025 + 0.01 = 0.025
    se = math.sqrt(0.025 / 4) / math.sqrt(5)
    iv = interval(five_users(), "base", "ndcg@100")
    assert iv.mean == pytest.approx(0.30)
    assert (iv.low, iv.high) == pytest.approx((0.30 - T_975_DF4 * se, 0.30 + T_975_DF4 * se))
    assert type(iv.low) is float and type(iv.high) is float  # plain floats: JSON-ready


def test_the_bootstrap_interval_holds_the_mean_and_is_near_the_t_interval():
    rng = np.random.default_rng(0)
    rows = rows_of({"m": list(rng.normal(0.3, 0.1, 400))})
    t, b = interval(rows, "m", "ndcg@100"), interval(rows, "m", "ndcg@100", method="bootstrap")
    assert b.low < b.mean < b.high
    assert b.low == pytest.approx(t.low, abs=0.004) and b.high == pytest.approx(t.high, abs=0.004)


def test_users_are_the_unit_pooled_over_seeds_with_the_pairing_kept():
    # user 0 in both seeds (one person, averaged); user 1 only in seed 1; user 2 only scored by
    # "a" in seed 0 and by "b" in seed 1: no pair, left out of the difference.
    rows = pd.DataFrame(
        [(0, "a", 0, 0.5), (0, "b", 0, 0.3), (1, "a", 0, 0.7), (1, "b", 0, 0.3),
         (1, "a", 1, 0.4), (1, "b", 1, 0.4), (0, "a", 2, 0.9), (1, "b", 2, 0.1),
         (0, "a", 3, 0.2), (0, "b", 3, 0.2)],
        columns=["seed", "model", "user", "m"],
    )  # fmt: skip
    iv = interval(rows, "a", "m")
    assert iv.n_users == 4 and iv.n_seeds == 2
    assert iv.mean == pytest.approx(np.mean([0.6, 0.4, 0.9, 0.2]))
    c = paired(rows, "a", "b", "m")
    assert c.n_users == 3  # users 0, 1, 3
    assert c.diff == pytest.approx(np.mean([0.3, 0.0, 0.0]))


def test_the_wilcoxon_option_gives_its_own_p():
    c = paired(five_users(), "ours", "base", "ndcg@100", test="wilcoxon")
    assert c.p == pytest.approx(1 / 16)  # exact: all 5 differences positive, 2 / 2^5
    assert c.test == "wilcoxon"


def test_holm_on_a_worked_example():
    # sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 -> 0.02, 0.03, 0.06, 0.04 -> monotone 0.06
    p = [0.01, 0.04, 0.03, 0.005]
    assert holm(p) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert list(holm(p) < 0.05) == [True, False, False, True]
    assert holm([0.6, 0.5]) == pytest.approx([1.0, 1.0])  # capped at 1


def test_compare_table_marks_what_survives_holm():
    rows = shifted(("base", "better", "same"), gain=0.05, noise=0.02, n=200, seed=1)
    table = compare_table(rows, "ndcg@100", baseline="base")
    assert list(table.models.index) == ["base", "better", "same"]
    assert list(table.pairs["a"]) == ["better", "same"]
    assert list(table.pairs["significant"]) == [True, False]
    assert all(table.pairs["p_holm"] >= table.pairs["p"])
    shown = table.display()
    assert shown.loc["better", "vs base"].endswith("*")
    assert not shown.loc["same", "vs base"].endswith("*")
    assert len(compare_table(rows, "ndcg@100").pairs) == 3  # no baseline: every pair


def test_verdict_words_for_a_clear_win_a_clear_loss_and_a_tie():
    rows = shifted(("ours", "ease", "twin"), gain=0.03, noise=0.01, n=100, seed=2)
    win = paired(rows, "ease", "ours", "ndcg@100")
    loss = paired(rows, "ours", "ease", "ndcg@100")
    tie = paired(rows, "twin", "ours", "ndcg@100")
    assert [verdict_word(c) for c in (win, loss, tie)] == ["ahead", "behind", "on par"]
    text = verdict(win, a="EASE")
    assert re.fullmatch(
        r'<span class="verdict" data-verdict="ahead">EASE is ahead of ours on ndcg@100 by '
        r"0\.0\d{2,3} \[0\.0\d{2,3}, 0\.0\d{2,3}\], p < 0\.001 \(paired t, 100 users\)</span>",
        text,
    ), text
    assert "on par" in verdict(tie) and "ahead" not in verdict(tie) and tie.low < 0 < tie.high
    assert "ours is behind EASE on ndcg@100 by" in verdict(loss, b="EASE")  # not "behind of"
    assert verdict(loss, unit="genres").endswith("100 genres)</span>")
    # a loss states its gap and interval as positive numbers, like a win
    assert verdict(loss).replace("behind", "ahead").split(" by ")[1] == text.split(" by ")[1]


def test_for_an_error_metric_lower_is_ahead():
    rows = rows_of({"mf": [0.80, 0.90, 0.85, 0.95], "mean": [1.0, 1.1, 1.02, 1.12]}, metric="rmse")
    c = paired(rows, "mf", "mean", "rmse")
    assert verdict_word(c) == "ahead" and c.diff < 0
    gap = re.search(r"by (\S+) \[(\S+), (\S+)\]", verdict(c)).groups()
    assert 0 < float(gap[1].rstrip(",")) < float(gap[0]) < float(gap[2])


def test_a_pair_clear_alone_can_be_on_par_after_holm():
    c = paired(five_users(), "ours", "base", "ndcg@100")  # p = 0.013
    assert verdict_word(c) == "ahead"
    from dataclasses import replace

    adjusted = replace(c, p_holm=float(holm([c.p, 0.5, 0.6, 0.7, 0.8])[0]), n_pairs=5)
    assert verdict_word(adjusted) == "on par"
    assert "Holm-adjusted p = 0.066 over 5 pairs" in verdict(adjusted)


def test_too_few_users_or_unknown_options_are_refused():
    with pytest.raises(ValueError, match="at least 2"):
        interval(rows_of({"m": [0.3]}), "m", "ndcg@100")
    with pytest.raises(ValueError, match="test must be"):
        paired(five_users(), "ours", "base", "ndcg@100", test="z")
    with pytest.raises(ValueError, match="no rows"):
        paired(five_users(), "ours", "nobody", "ndcg@100")


def test_one_result_agrees_with_ranx():
    ranx = pytest.importorskip("ranx", reason="ranx is not installed yet (the dev extra adds it)")
    rng = np.random.default_rng(3)
    n_users, n_items = 40, 30
    qrels = {f"u{u}": {f"i{i}": 1 for i in rng.choice(n_items, 4, replace=False)}
             for u in range(n_users)}  # fmt: skip
    runs = []
    for name, noise in (("a", 0.5), ("b", 2.0)):
        run = {}
        for u in range(n_users):
            score = rng.normal(0, noise, n_items)
            for i in qrels[f"u{u}"]:
                score[int(i[1:])] += 1.0
            run[f"u{u}"] = {f"i{i}": float(s) for i, s in enumerate(score)}
        runs.append(ranx.Run(run, name=name))
    q = ranx.Qrels(qrels)
    per_user = {r.name: ranx.evaluate(q, r, "ndcg@10", return_mean=False) for r in runs}
    rows = rows_of({k: list(v) for k, v in per_user.items()}, metric="ndcg@10")
    report = ranx.compare(q, runs, metrics=["ndcg@10"], stat_test="student")
    ours = paired(rows, "a", "b", "ndcg@10")
    assert ours.p == pytest.approx(report.comparisons["a", "b"]["ndcg@10"]["p_value"], rel=1e-6)
    assert ours.diff == pytest.approx(
        report.results["a"]["ndcg@10"] - report.results["b"]["ndcg@10"], abs=1e-9
    )


def test_the_verdict_marker_survives_the_html_export_of_a_markdown_output():
    nbformat = pytest.importorskip("nbformat")
    nbconvert = pytest.importorskip("nbconvert")
    text = verdict(paired(five_users(), "ours", "base", "ndcg@100"))
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("display(Markdown(text))")
    cell.outputs = [nbformat.v4.new_output("display_data", data={"text/markdown": text})]
    nb.cells = [cell]
    html, _ = nbconvert.HTMLExporter().from_notebook_node(nb)
    assert '<span class="verdict" data-verdict="ahead">ours is ahead of base' in html


def test_rating_rows_give_each_users_own_rmse():
    from recsys_utils.constants import ITEM_COL, RATING_COL, USER_COL

    class Constant:
        def __init__(self, value):
            self.value = value

        def predict(self, users, items):
            return np.full(len(users), self.value)

    ratings = pd.DataFrame(
        {USER_COL: [1, 1, 2], ITEM_COL: [10, 11, 10], RATING_COL: [2.0, 4.0, 3.5]}
    )
    rows = rating_rows({"three": Constant(3.0), "four": Constant(4.0)}, ratings)
    three = rows[rows["model"] == "three"].set_index("user")
    # user 1: errors 1, -1 -> RMSE 1, MAE 1; user 2: error -0.5
    assert three.loc[1, "rmse"] == pytest.approx(1.0) and three.loc[2, "rmse"] == pytest.approx(0.5)
    assert list(three["n_ratings"]) == [2, 1]
    four = rows[rows["model"] == "four"].set_index("user")
    assert four.loc[1, "rmse"] == pytest.approx(math.sqrt(2))  # errors 2, 0
    assert four.loc[2, "mae"] == pytest.approx(0.5)
    assert verdict_word(paired(rows, "three", "four", "rmse")) == "on par"  # 2 users: no power


def test_holm_family_gives_each_test_its_adjusted_p_and_the_family_size():
    c = paired(five_users(), "ours", "base", "ndcg@100")  # p = 0.013
    flat = paired(rows_of({"x": [0.1, 0.2, 0.3], "y": [0.1, 0.25, 0.28]}), "x", "y", "ndcg@100")
    family = holm_family(iter([c, flat]))  # any iterable of tests
    assert [t.p_holm for t in family] == pytest.approx(list(holm([c.p, flat.p])))
    assert [t.n_pairs for t in family] == [2, 2]
    assert (family[0].a, family[0].diff, family[0].p) == (c.a, c.diff, c.p)  # the rest kept
    assert holm_family([]) == ()
    # compare_table adjusts through the same function
    table = compare_table(five_users(), "ndcg@100", baseline="base")
    assert table.comparisons == holm_family([c])


def test_r2_words_by_band():
    assert r2_words(0.1) == "a line through the space reads little of it"
    assert r2_words(0.25) == "a line through the space reads part of it"  # bands start at 0.25
    assert r2_words(0.59) == "a line through the space reads part of it"
    assert r2_words(0.6) == "a line through the space reads most of it"
    assert r2_words(-0.3) == "a line through the space reads little of it"  # worse than the mean
