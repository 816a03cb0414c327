"""How sure a figure is: intervals per model, paired tests between models, and the verdict words.

Input is the experiment's per-user table: one row per ``seed``, ``model`` and ``user``, with one
column per metric (``ndcg@100``, ``recall@20``, ``rmse``...). A table without a ``seed`` column is
one seed.

**The unit is the user.** Test users differ from seed to seed (each seed holds out its own users),
and a user held out by several seeds is still one person, so a user's value is the mean of their
values over the seeds that scored them; the interval and the test then run over users. For a paired
comparison only the seeds where *both* models scored the user count, so the pairing is kept: the
difference a - b is taken per (seed, user) first, then averaged per user. Counts say both:
"5 seeds x 61 users" means 61 distinct users, pooled over 5 seeds.

**Which interval the tables use.** Student's t-interval on the user means (``scipy.stats.t``),
and for a pair the paired t-test (``scipy.stats.ttest_rel``) with the t-interval of the mean
difference, so "the interval excludes 0" and "p < 0.05" agree. The bias-corrected (BCa)
bootstrap (``scipy.stats.bootstrap``, ``method="bootstrap"``) and the Wilcoxon signed-rank test
(``test="wilcoxon"``) are options. A table of many pairs adjusts its p-values with Holm's method.

``verdict`` is the one function that turns a comparison into the words the reports use;
``holm_family`` the one place a family of tests gets its Holm-adjusted p-values; ``r2_words``
the words for how much a linear read-out of a space explains.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from itertools import combinations

import numpy as np
import pandas as pd
from scipy import stats as sps

from recsys_utils.constants import ITEM_COL, RATING_COL, USER_COL

CONFIDENCE = 0.95
ALPHA = 1 - CONFIDENCE
# Metrics where lower is better; every other metric (NDCG, recall, AUC, R²...) is higher-better.
LOWER_IS_BETTER = ("rmse", "mae", "mse", "loss")
# The marker a page test finds around every verdict sentence; it survives nbconvert's markdown.
VERDICT_CLASS = "verdict"


@dataclass(frozen=True)
class Interval:
    """A model's mean metric over users with its interval."""

    model: str
    metric: str
    mean: float
    low: float
    high: float
    n_users: int
    n_seeds: int
    method: str


@dataclass(frozen=True)
class Paired:
    """The paired difference ``a - b`` on the same users, its interval and p-value.

    ``p_holm`` and ``n_pairs`` are set when the pair is one of several compared in a table.
    """

    a: str
    b: str
    metric: str
    diff: float
    low: float
    high: float
    p: float
    n_users: int
    n_seeds: int
    test: str
    method: str
    higher_is_better: bool = True
    p_holm: float | None = None
    n_pairs: int = 1

    @property
    def significant(self) -> bool:
        """The interval excludes 0 and the p-value (Holm's, in a table of several pairs) is
        below 5%; with the t-test the two conditions are the same one."""
        clear = self.low > 0 or self.high < 0
        return clear and (self.p if self.p_holm is None else self.p_holm) < ALPHA


@dataclass(frozen=True)
class Comparison:
    """``compare_table``'s answer: one row per model, one row per pair compared."""

    metric: str
    models: pd.DataFrame
    pairs: pd.DataFrame
    comparisons: tuple[Paired, ...]

    def display(self, digits: int = 3) -> pd.DataFrame:
        """One row per model: ``mean [low, high]`` and, vs the baseline or the best, the verdict
        word with a ``*`` where the difference is significant after Holm."""
        out = pd.DataFrame(index=self.models.index)
        fmt = f"{{:.{digits}f}}"
        out[self.metric] = [
            f"{fmt.format(r['mean'])} [{fmt.format(r['low'])}, {fmt.format(r['high'])}]"
            for _, r in self.models.iterrows()
        ]
        out["users"] = self.models["n_users"]
        by_model = {c.a: c for c in self.comparisons}
        if by_model and len({c.b for c in self.comparisons}) == 1:
            base = self.comparisons[0].b
            out[f"vs {base}"] = [_cell(by_model.get(m), fmt) for m in out.index]
        return out


def _cell(c: Paired | None, fmt: str) -> str:
    if c is None:
        return ""
    star = "*" if c.significant else ""
    return f"{c.diff:+.3f} [{fmt.format(c.low)}, {fmt.format(c.high)}]{star}"


def lower_is_better(metric: str) -> bool:
    """True for error metrics (RMSE, MAE, loss, and names ending so: ``val_rmse``), by name."""
    return metric.lower().split("@")[0].endswith(LOWER_IS_BETTER)


def rating_rows(models, ratings: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """The per-user table for rating models: each user's RMSE and MAE on ``ratings``.

    Args:
        models: ``{name: fitted rating model}``; each predicts with ``predict(users, items)``.
        ratings: the held-out ratings (validation or test).
        seed: the value of the ``seed`` column.

    Returns:
        One row per model and user: ``seed``, ``model``, ``user``, ``rmse``, ``mae``,
        ``n_ratings``; a user's RMSE is over that user's own ratings.
    """
    users, items = ratings[USER_COL].to_numpy(), ratings[ITEM_COL].to_numpy()
    truth = ratings[RATING_COL].to_numpy(float)
    out = []
    for name, model in models.items():
        err = pd.DataFrame({"user": users, "e": np.asarray(model.predict(users, items)) - truth})
        g = err.groupby("user")["e"]
        per_user = pd.DataFrame({
            "rmse": np.sqrt(g.apply(lambda e: np.mean(e**2))),
            "mae": g.apply(lambda e: np.mean(np.abs(e))),
            "n_ratings": g.size(),
        })  # fmt: skip
        out.append(per_user.reset_index().assign(seed=seed, model=name))
    cols = ["seed", "model", "user", "rmse", "mae", "n_ratings"]
    return pd.concat(out, ignore_index=True)[cols]


def _seeded(rows: pd.DataFrame) -> pd.DataFrame:
    return rows if "seed" in rows else rows.assign(seed=0)


def user_values(rows: pd.DataFrame, model: str, metric: str) -> pd.Series:
    """One value per user: the mean of ``metric`` over the seeds that scored this user."""
    rows = _seeded(rows)
    sel = rows.loc[rows["model"] == model, ["seed", "user", metric]].dropna()
    if sel.empty:
        raise ValueError(f"no rows for model {model!r} with {metric!r}")
    return sel.groupby("user")[metric].mean()


def user_differences(rows: pd.DataFrame, a: str, b: str, metric: str) -> tuple[pd.Series, int]:
    """Per user, the mean over seeds of ``a - b`` where both models scored the user in that
    seed (pairing kept); and the number of seeds that contributed."""
    rows = _seeded(rows)
    sel = rows.loc[rows["model"].isin([a, b]), ["seed", "user", "model", metric]]
    wide = sel.pivot_table(index=["seed", "user"], columns="model", values=metric, aggfunc="mean")
    if a not in wide or b not in wide:
        raise ValueError(f"no rows for both {a!r} and {b!r} with {metric!r}")
    both = wide[[a, b]].dropna()
    if both.empty:
        raise ValueError(f"{a!r} and {b!r} share no (seed, user)")
    d = (both[a] - both[b]).groupby(level="user").mean()
    return d, both.index.get_level_values("seed").nunique()


def _mean_interval(x: np.ndarray, method: str, confidence: float, seed: int):
    n = len(x)
    if n < 2:
        raise ValueError(f"an interval needs at least 2 users, got {n}")
    mean = float(np.mean(x))
    if np.ptp(x) == 0:  # every user alike: no spread, the interval is the point
        return mean, mean, mean
    if method == "t":
        half = sps.t.ppf(0.5 + confidence / 2, n - 1) * np.std(x, ddof=1) / math.sqrt(n)
        return mean, float(mean - half), float(mean + half)
    if method == "bootstrap":
        res = sps.bootstrap(
            (x,), np.mean, confidence_level=confidence, n_resamples=4999, method="BCa",
            rng=np.random.default_rng(seed),
        )  # fmt: skip
        return mean, float(res.confidence_interval.low), float(res.confidence_interval.high)
    raise ValueError(f"method must be 't' or 'bootstrap', not {method!r}")


def interval(
    rows: pd.DataFrame,
    model: str,
    metric: str,
    *,
    method: str = "t",
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> Interval:
    """Mean of ``metric`` for ``model`` over users, with its interval.

    Args:
        rows: per-user table (``seed``, ``model``, ``user``, metric columns).
        model: the model's name in ``rows["model"]``.
        metric: the metric column.
        method: ``"t"`` (Student's t-interval, what the tables use) or ``"bootstrap"`` (BCa).
        confidence: the interval's level.
        seed: the bootstrap's random seed.

    Returns:
        An ``Interval``; ``n_users`` distinct users pooled over ``n_seeds`` seeds.
    """
    vals = user_values(rows, model, metric)
    mean, low, high = _mean_interval(vals.to_numpy(float), method, confidence, seed)
    n_seeds = _seeded(rows).loc[lambda r: r["model"] == model, "seed"].nunique()
    return Interval(model, metric, mean, low, high, len(vals), n_seeds, method)


def paired(
    rows: pd.DataFrame,
    a: str,
    b: str,
    metric: str,
    *,
    test: str = "t",
    method: str = "t",
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> Paired:
    """The difference ``a - b`` of ``metric`` on the same users, its interval and p-value.

    Args:
        rows: per-user table (``seed``, ``model``, ``user``, metric columns).
        a, b: the two models' names.
        metric: the metric column; RMSE, MAE and losses are read as lower-is-better.
        test: ``"t"`` (paired t-test, ``scipy.stats.ttest_rel``) or ``"wilcoxon"``.
        method: the interval of the mean difference, ``"t"`` or ``"bootstrap"``.
        confidence: the interval's level.
        seed: the bootstrap's random seed.

    Returns:
        A ``Paired`` whose ``diff`` is the mean over users of a - b.
    """
    d, n_seeds = user_differences(rows, a, b, metric)
    x = d.to_numpy(float)
    diff, low, high = _mean_interval(x, method, confidence, seed)
    if np.ptp(x) == 0:  # no spread: the difference is exact
        p = 1.0 if diff == 0 else 0.0
    elif test == "t":
        p = float(sps.ttest_rel(x, np.zeros_like(x)).pvalue)
    elif test == "wilcoxon":
        p = float(sps.wilcoxon(x).pvalue) if np.any(x != 0) else 1.0
    else:
        raise ValueError(f"test must be 't' or 'wilcoxon', not {test!r}")
    return Paired(a, b, metric, diff, low, high, p, len(x), n_seeds, test, method,
                  higher_is_better=not lower_is_better(metric))  # fmt: skip


def holm(pvalues) -> np.ndarray:
    """Holm's step-down adjustment: the k-th smallest of m p-values times (m - k + 1), made
    monotone and capped at 1; reject where the adjusted p is below alpha."""
    p = np.asarray(pvalues, float)
    order = np.argsort(p)
    m = len(p)
    steps = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out = np.empty(m)
    out[order] = np.minimum(steps, 1.0)
    return out


def holm_family(tests) -> tuple[Paired, ...]:
    """The paired tests of one family, each carrying its Holm-adjusted p-value (``holm`` over
    the family's p-values) and the family's size, so that ``verdict`` says no more than the
    family allows. Any tests make a family: pairs against one baseline, the same pair at
    several sizes, consecutive steps of a curve."""
    tests = tuple(tests)
    adjusted = holm([t.p for t in tests]) if tests else []
    return tuple(
        replace(t, p_holm=float(h), n_pairs=len(tests))
        for t, h in zip(tests, adjusted, strict=True)
    )


def compare_table(
    rows: pd.DataFrame,
    metric: str,
    models=None,
    baseline: str | None = None,
    *,
    test: str = "t",
    method: str = "t",
    confidence: float = CONFIDENCE,
) -> Comparison:
    """Every model's mean and interval, and paired tests with Holm's correction.

    Args:
        rows: per-user table.
        metric: the metric column.
        models: the models, in the table's order (default: every model in ``rows``).
        baseline: compare each other model with this one; ``None``: every pair.
        test, method, confidence: as in ``paired``.

    Returns:
        A ``Comparison``: ``models`` (mean, low, high, n_users, n_seeds per model), ``pairs``
        (a, b, diff, low, high, p, p_holm, significant) and the ``Paired`` objects, each carrying
        its Holm-adjusted p so that ``verdict`` says no more than the table.
    """
    models = list(dict.fromkeys(rows["model"])) if models is None else list(models)
    ivs = [interval(rows, m, metric, method=method, confidence=confidence) for m in models]
    table = pd.DataFrame(
        [(i.mean, i.low, i.high, i.n_users, i.n_seeds) for i in ivs],
        index=pd.Index(models, name="model"),
        columns=["mean", "low", "high", "n_users", "n_seeds"],
    )
    if baseline is None:
        pairs = list(combinations(models, 2))
    else:
        pairs = [(m, baseline) for m in models if m != baseline]
    tests = holm_family(
        paired(rows, a, b, metric, test=test, method=method, confidence=confidence)
        for a, b in pairs
    )
    cols = ["a", "b", "diff", "low", "high", "p", "p_holm", "significant"]
    pair_table = pd.DataFrame(
        [(t.a, t.b, t.diff, t.low, t.high, t.p, t.p_holm, t.significant) for t in tests],
        columns=cols,
    )
    return Comparison(metric, table, pair_table, tests)


def _decimals(low: float, high: float) -> int:
    """Enough decimals to show the interval's width with 2 significant digits (at least 3)."""
    width = (high - low) or max(abs(low), abs(high)) or 1.0
    return max(3, 1 - math.floor(math.log10(width)))


def _p_text(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}" if p < 0.1 else f"p = {p:.2f}"


def r2_words(r2: float) -> str:
    """What a cross-validated R² of a linear read-out supports, in words: under 0.25 "a line
    through the space reads little of it", under 0.6 "part of it", else "most of it"."""
    if r2 < 0.25:
        amount = "little"
    elif r2 < 0.6:
        amount = "part"
    else:
        amount = "most"
    return f"a line through the space reads {amount} of it"


def verdict_word(comparison: Paired) -> str:
    """``"ahead"``, ``"behind"`` or ``"on par"``: a is ahead of b only where the interval of the
    difference excludes 0 on the better side (and Holm's p, in a table, is below 5%)."""
    if not comparison.significant:
        return "on par"
    better = comparison.diff > 0 if comparison.higher_is_better else comparison.diff < 0
    return "ahead" if better else "behind"


def verdict(
    comparison: Paired, *, a: str | None = None, b: str | None = None, unit: str = "users"
) -> str:
    """The sentence the reports print for a paired comparison, wrapped in a marker.

    "ahead" only where the interval of the difference excludes 0 (and "behind" symmetrically),
    "on par" where it does not; the sentence carries the difference, its interval, the p-value
    and the test, e.g. ``EASE is ahead of ours by 0.012 [0.004, 0.020], p = 0.003 (paired t,
    5 seeds x 61 users)``. It is wrapped in ``<span class="verdict" data-verdict="ahead">``,
    which nbconvert keeps when the string is shown with ``IPython.display.Markdown``, so a page
    test can check every comparison sentence came from here.

    Args:
        comparison: a ``Paired`` from ``paired`` or ``compare_table``.
        a, b: names to print instead of the models' keys (e.g. "ours" for "pooled_softmax").
        unit: what the paired rows are ("users"; "genres" where a probe is paired per genre).
    """
    c = comparison
    a, b = a or c.a, b or c.b
    dec = _decimals(c.low, c.high)
    iv = f"[{c.low:.{dec}f}, {c.high:.{dec}f}]"
    word = verdict_word(c)
    if word == "on par":
        head = f"{a} and {b} are on par on {c.metric}: {a} - {b} = {c.diff:+.{dec}f} {iv}"
    else:  # "by" a gap and its interval, both as positive numbers
        lo, hi = (c.low, c.high) if c.diff > 0 else (-c.high, -c.low)
        rel = "ahead of" if word == "ahead" else "behind"  # "behind b", not "behind of b"
        head = (
            f"{a} is {rel} {b} on {c.metric} by {abs(c.diff):.{dec}f} [{lo:.{dec}f}, {hi:.{dec}f}]"
        )
    test = "paired t" if c.test == "t" else "Wilcoxon signed-rank"
    p = _p_text(c.p)
    if c.p_holm is not None and c.n_pairs > 1:
        p += f", Holm-adjusted {_p_text(c.p_holm)} over {c.n_pairs} pairs"
    seeds = f"{c.n_seeds} seeds x " if c.n_seeds > 1 else ""
    text = f"{head}, {p} ({test}, {seeds}{c.n_users} {unit})"
    return f'<span class="{VERDICT_CLASS}" data-verdict="{word}">{text}</span>'
