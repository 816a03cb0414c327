"""Ranking bench: the table's entries for ``evaluation.experiment``, and its report.

``entries(...)`` lists every model of the table with its grid (the module constants below
are the defaults; pass other grids as arguments, never overwrite them); ``run(ratings,
seeds)`` runs them through one ``Experiment`` on the strong-generalisation protocol and
returns its ``Result``; ``rows(result)`` gives one row per (seed, model), ``summarise``
the mean +- std table, ``write_report`` the files.

Ours: each variant of ``OURS_VARIANTS`` (linear, tanh), "ours(val-chosen)" (the variant
with the better validation NDCG@100 in that seed), "ours-2seeds" (``ensemble``: that
variant with a second seed, z-scores averaged), "ours-ease-init" (tables from a rank-600
SVD of EASE's B, fine-tuned, epochs incl. 0 on validation), "ours-ease-exact" (the same
from EASE's exact dual tables, one dimension per training user: epoch 0 is EASE's ranking
for every new user, so it asks whether the softmax can improve on EASE). Blends: per-user
z-scores, weights on validation only: (ours, EASE), (iALS, EASE) on 0..1 by 0.1, the 3-way
(ours, EASE, iALS) on the 0.1 simplex (66 points) and "blend(all)" (every variant of ours,
EASE and iALS on one simplex). "hybrid" (``models.hybrid.HybridPooled``: ours with movie
vectors pooled from the data set's features plus id vectors; ``HYBRID_GRID`` on validation
users, ours' training budget) where the data set has a feature table (``features``).

    python -m recsys_utils bench ranking [--dataset ml-latest-small] [--seeds 0,1,2,3,4]
        [--models ease,ours-linear,hybrid] [--ensemble] [--save DIR] [--from-run DIR]

``select`` keeps the named entries and those they are built from (a blend's members, the
variants ``Best`` picks among, EASE for the EASE-initialised ones). ``paired_table``
compares, on the test users' NDCG@100, each model with EASE and ours with the hybrid
(``evaluation.stats``: paired t-test, Holm over the table's pairs, the verdict word).

``write_report`` writes ``bench_ranking.csv`` (a row per seed and model), ``_curves.csv``
and ``bench_ranking.md`` (the mean +- std table, the paired comparisons, the protocol and
the grids, the new-user curve, and n = 10 under the four conventions of ``CONVENTIONS``);
it reads only what ``Result.save`` keeps, so a saved run's report is rebuilt without
retraining (``--from-run``).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pandas as pd

from recsys_utils.bench.peers import to_markdown
from recsys_utils.evaluation import stats
from recsys_utils.evaluation.experiment import (
    NEW_USER_NS,
    Best,
    BlendOf,
    Experiment,
    Grid,
    Result,
    StrongGeneralisation,
)
from recsys_utils.metrics import top_k
from recsys_utils.models.base import Queries
from recsys_utils.models.baselines import Popularity
from recsys_utils.models.ease import EASE
from recsys_utils.models.hybrid import HybridPooled
from recsys_utils.models.implicit_peers import ALS, BPR
from recsys_utils.models.ranking import PooledSoftmax

# Defaults only: pass other grids to ``entries`` / ``run`` (read-only, so none is overwritten)
EASE_GRID = (50, 100, 200, 500, 1000)
ALS_GRID = MappingProxyType(
    dict(factors=(64, 128, 256), regularization=(1, 10, 50), alpha=(5, 20, 40))
)
BPR_GRID = MappingProxyType(dict(factors=(64, 128), learning_rate=(0.01, 0.05)))
BPR_FOLD_GRID = (("mean", 0, 0),) + tuple(("ls", r, a) for r in (1, 10, 100) for a in (5, 20))
# chosen from the seed-0 validation exploration (results/explore_seed0.jsonl); per seed,
# validation picks one of them ("ours(val-chosen)")
OURS_VARIANTS = MappingProxyType(
    {
        "ours-linear": MappingProxyType({}),
        "ours-tanh": MappingProxyType(dict(hidden="tanh", lr=3e-3)),
    }
)
# training budget of every learned variant: larger batches, higher lr, validation every
# 2 epochs, patience 10 (fit time; see docs of bench ranking for the figures)
OURS_TRAIN = MappingProxyType(dict(batch_size=128, lr=1e-3, patience=10, eval_every=2))
# EASE-initialised: tables from a rank-600 SVD of EASE's B (the validation-chosen lam),
# fine-tuned by the softmax at a small lr; epochs (0 = the initial tables) on validation
OURS_EASE_INIT = MappingProxyType(
    dict(init="ease", init_scale=3.0, lr=1e-4, max_epochs=8, patience=4, min_epochs=0, eval_every=2)
)
# "ours-ease-exact": the same fine-tuning from EASE's exact dual tables
# (``models.ease.dual_tables``), where the training users are few enough to be dimensions
EASE_EXACT_MAX_USERS = 5000
BLEND_STEP = 0.1
# the hybrid: ours' training budget (``OURS_TRAIN``, ``max_epochs``); validation picks one of
# two points chosen from the seed-0 validation exploration (val NDCG@100, ours-linear 0.3625,
# EASE 0.3622): id dropout 0.1 at dim 600 (0.3673) and 0.2 at dim 300 (0.3689); dropout 0.0
# (0.3582), 0.5 (0.3477) and genres + years without tags (0.3576) were below
HYBRID = "hybrid"
HYBRID_GRID = (
    MappingProxyType(dict(id_dropout=0.1, dim=600)),
    MappingProxyType(dict(id_dropout=0.2, dim=300)),
)
# the paired table: every model against this one on this metric, and ours against the hybrid
BASELINE, PAIRED_METRIC = "ease", "ndcg@100"


def _set_fold(model, setting: dict) -> None:
    """BPR's fold-in for new people, tried on the fitted model without refitting."""
    model.params.update(
        fold=setting["fold"], fold_reg=setting["fold_reg"], fold_alpha=setting["fold_alpha"]
    )


def entries(
    ease_grid=EASE_GRID,
    als_grid=ALS_GRID,
    bpr_grid=BPR_GRID,
    bpr_fold_grid=BPR_FOLD_GRID,
    ours_variants=OURS_VARIANTS,
    ours_train=OURS_TRAIN,
    max_epochs: int = 150,
    ensemble: bool = False,
    ease_init: bool = True,
    ease_init_kw=OURS_EASE_INIT,
    features=None,
    hybrid: bool | None = None,
    hybrid_grid=HYBRID_GRID,
) -> list:
    """The table's models, each with its grid, in the order the table shows them.

    ``features`` (a ``data.features.MovieFeatures``) adds the "hybrid" entry; ``hybrid``
    overrides that (``True`` without features only lists the names: the entry cannot run).
    """
    ours_train = dict(ours_train)
    out = [
        Grid("popularity", Popularity, seeded=False),
        Grid("ease", EASE, {"lam": list(ease_grid)}, seeded=False),
        Grid("ials", ALS, {k: list(v) for k, v in als_grid.items()}),
        Grid(
            "bpr",
            BPR,
            {k: list(v) for k, v in bpr_grid.items()},
            then=[dict(fold=f, fold_reg=r, fold_alpha=a) for f, r, a in bpr_fold_grid],
            apply=_set_fold,
        ),
    ]
    variants = {
        n: {"max_epochs": max_epochs, **ours_train, **kw} for n, kw in ours_variants.items()
    }
    out += [Grid(n, PooledSoftmax, fixed=kw) for n, kw in variants.items()]
    out.append(Best("ours(val-chosen)", list(variants)))
    if features is not None if hybrid is None else hybrid:
        hybrid_fixed = {"max_epochs": max_epochs, **ours_train}
        grid = [{**hybrid_fixed, **p} for p in hybrid_grid]
        out.append(Grid(HYBRID, functools.partial(HybridPooled, features), grid))
    if ensemble:
        out += [
            Grid(
                "ours-twin",
                PooledSoftmax,
                seed_offset=1000,
                needs=lambda ctx: variants[ctx.fitted["ours(val-chosen)"].params["variant"]],
            ),
            BlendOf("ours-2seeds", ["ours(val-chosen)", "ours-twin"], weights=[(0.5, 0.5)]),
        ]
    if ease_init:  # from EASE's B (rank-600 SVD), and from its exact dual tables
        init = dict(ease_init_kw)

        def from_ease(ctx):
            return {"ease_lam": ctx.fitted["ease"].params["lam"]}

        def from_ease_exact(ctx):
            n_train = ctx.split.train.shape[0]
            if n_train > EASE_EXACT_MAX_USERS:  # one dimension per training user
                return None
            dim = max(init.get("dim", PooledSoftmax.DEFAULTS["dim"]), n_train)
            return {**from_ease(ctx), "init": "ease_dual", "dim": dim}

        out += [
            Grid("ours-ease-init", PooledSoftmax, fixed=init, needs=from_ease),
            Grid("ours-ease-exact", PooledSoftmax, fixed=init, needs=from_ease_exact),
        ]
    out += [
        BlendOf("blend(ours,ease)", ["ours(val-chosen)", "ease"], BLEND_STEP),
        BlendOf("blend(ials,ease)", ["ials", "ease"], BLEND_STEP),
        BlendOf("blend(ours,ease,ials)", ["ours(val-chosen)", "ease", "ials"], BLEND_STEP),
        BlendOf("blend(all)", [*variants, "ease", "ials"], BLEND_STEP),
    ]
    return out


# entries whose ``needs`` read an earlier entry's choice (the others declare theirs)
NEEDS = MappingProxyType(
    {"ours-ease-init": ("ease",), "ours-ease-exact": ("ease",), "ours-twin": ("ours(val-chosen)",)}
)


def _needed(entry) -> tuple:
    """The entries this one is built from."""
    if isinstance(entry, Best):
        return tuple(entry.among)
    if isinstance(entry, BlendOf):
        return tuple(entry.members)
    return NEEDS.get(entry.name, ())


def select(table_entries: list, names) -> list:
    """The entries named, with every entry they are built from, in the table's order.

    Raises:
        ValueError: a name that is no entry's (one line, listing the names).
    """
    known = [e.name for e in table_entries]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(
            f"unknown model(s) {', '.join(map(repr, unknown))} for bench ranking; "
            f"the names: {', '.join(known)}"
        )
    by_name, keep, todo = {e.name: e for e in table_entries}, set(), list(names)
    while todo:
        name = todo.pop()
        if name not in keep:
            keep.add(name)
            todo += _needed(by_name[name])
    return [e for e in table_entries if e.name in keep]


def run(
    ratings: pd.DataFrame,
    seeds=(0, 1, 2, 3, 4),
    protocol: StrongGeneralisation | None = None,
    log=print,
    cornac_check: bool = False,
    time_foldin: bool = True,
    models=None,
    **entries_kw,
) -> Result:
    """Every entry over ``seeds`` through one ``Experiment``; ``entries_kw`` go to
    ``entries`` (grids, variants, epochs, ``features``); ``models``: only these entries
    (and what they are built from, ``select``). ``cornac_check``: cornac's EASE beside
    ours on the first seed (``cornac_agreement``, added to that seed's "ease" row)."""
    protocol = protocol or StrongGeneralisation()
    table_entries = entries(**entries_kw)
    if models is not None:
        table_entries = select(table_entries, models)
    experiment = Experiment(protocol, table_entries, seeds=seeds, time_foldin=time_foldin, log=log)
    result = experiment.run(ratings)
    if cornac_check and "ease" in result.params[result.seeds[0]]:
        seed = result.seeds[0]
        check = cornac_agreement(
            protocol.split(ratings, seed), result.params[seed]["ease"]["lam"], result.model("ease")
        )
        for key, value in check.items():
            result.runs.loc[
                (result.runs["seed"] == seed) & (result.runs["model"] == "ease"), key
            ] = value
    return result


def rows(result: Result) -> list[dict]:
    """One row per (seed, model): the test users' mean of every metric, the figures of the
    run (fit s, fold-in ms, coverage, validation score, epochs) and the chosen parameters."""
    table = result.table()
    out = table.to_dict("records")
    for row in out:
        row["params"] = result.params[row["seed"]][row["model"]]
    return out


def cornac_agreement(split, lam, ease):
    """cornac.models.EASE (posB=False) on the same positives: max |B diff|, same top-20."""
    try:
        import cornac
    except ImportError as e:  # pragma: no cover
        return {"cornac": f"not installed: {e}"}
    X = split.train.tocoo()
    uir = [(str(u), str(i), 1.0) for u, i in zip(X.row, X.col, strict=True)]
    ds = cornac.data.Dataset.from_uir(uir, seed=0)
    cm = cornac.models.EASE(lamb=lam, posB=False, verbose=False).fit(ds)
    order = np.array([ds.iid_map[str(j)] for j in range(split.n_items)])  # ours -> cornac
    Bc = cm.B[np.ix_(order, order)]
    s_ours = ease.score(Queries.from_matrix(split.test.history * 5.0))  # 5.0: liked
    s_cornac = np.asarray(split.test.history @ Bc)
    same = float(
        (top_k(s_ours, 20, split.test.history) == top_k(s_cornac, 20, split.test.history)).mean()
    )
    return {"cornac_max_abs_B_diff": float(np.abs(Bc - ease.B_).max()), "cornac_same_top20": same}


def summarise(
    rows,
    metrics=(
        "ndcg@100",
        "recall@20",
        "recall@50",
        "ndcg@10",
        "hr@10",
        "coverage@10",
        "fit_s",
        "foldin_ms",
    ),
) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    g = df.groupby("model", sort=False)
    out = pd.DataFrame(index=g.size().index)
    for m in metrics:
        out[m] = [
            f"{a:.4f} ± {b:.4f}" if m not in ("fit_s", "foldin_ms") else f"{a:.2f} ± {b:.2f}"
            for a, b in zip(g[m].mean(), g[m].std(ddof=1).fillna(0), strict=True)
        ]
    return out


PROTOCOL = (
    "Strong generalisation (Liang et al. 2018): positives are ratings >= 4.0; users with at "
    "least 5 positives; per seed 100 test and 100 validation users held out of training "
    "entirely; each held-out user gives 80% of their positives as history (the fold-in "
    "input) and 20% are scored; items unseen in training are dropped from held-out sets. "
    "Full ranking over the catalogue, the history excluded, no sampled negatives. Recall@k "
    "is normalised by min(k, number held out); NDCG binary; coverage = share of the "
    "catalogue in any top-10. Every hyperparameter, epoch count and blend weight is chosen "
    "on the validation users; test users play no part in any choice."
)


def grids_text(result: Result) -> str:
    """The validation grids the run searched (read from its candidates), as printed with
    the table: the values each parameter took, or how many points a blend tried."""
    seed = result.seeds[0]
    tried: dict[str, dict[str, list]] = {}
    for c in result.candidates:
        if c["seed"] != seed:
            continue
        values = tried.setdefault(c["model"], {})
        for k, v in c["params"].items():
            if k == "weights":
                values.setdefault("weight points", []).append(None)
            elif v not in values.setdefault(k, []):
                values[k].append(v)
    parts = []
    for model, values in tried.items():
        varied = {
            k: (len(v) if k == "weight points" else v)
            for k, v in values.items()
            if len(v) > 1 or k == "weight points"
        }
        if varied:
            parts.append(f"{model} {varied}")
    return "; ".join(parts) + " (epochs by early stopping on validation NDCG@100)"


CONVENTIONS = (
    "protocol: the 20% targets, the whole history excluded (all held-out users; those "
    "with fewer than n history movies give all they have); rest: every held-out positive "
    "not given is a target, only the n given excluded; full_: the same two on the users "
    f"whose history holds at least {max(NEW_USER_NS)} movies, who are given exactly n at "
    "every n."
)


def conventions_table(curves, n: int = 10) -> pd.DataFrame:
    """Mean NDCG@10 per model, new users given ``n`` movies, under the four conventions of
    ``CONVENTIONS`` (and users_full: how many users the full_ columns hold)."""
    cols = {
        "ndcg@10": "protocol",
        "rest_ndcg@10": "rest",
        "full_ndcg@10": "full_protocol",
        "full_rest_ndcg@10": "full_rest",
        "n_full": "users_full",
    }
    frame = pd.DataFrame(curves)
    frame = frame[frame["n"] == n]
    present = [c for c in cols if c in frame]
    return frame.groupby("model", sort=False)[present].mean().rename(columns=cols)


def _counts_as_text(table: pd.DataFrame) -> pd.DataFrame:
    """users_full is a count averaged over seeds: one decimal, not a metric's four."""
    if "users_full" not in table:
        return table
    return table.assign(users_full=table["users_full"].map(lambda v: f"{v:.1f}"))


def _flat(curve: pd.DataFrame) -> pd.DataFrame:
    """(metric, n) columns as "metric n=…" strings, for a flat markdown header."""
    out = curve.copy()
    out.columns = [f"{metric} n={n}" for metric, n in curve.columns]
    return out


def _ours(models) -> str | None:
    """The row that stands for ours: the validation-chosen variant, else the first variant."""
    return next((m for m in ("ours(val-chosen)", *OURS_VARIANTS) if m in models), None)


def paired_comparisons(
    users: pd.DataFrame, baseline: str = BASELINE, metric: str = PAIRED_METRIC
) -> list[stats.Paired]:
    """Each model against ``baseline``, and ours against the hybrid, on the same test users
    (``stats.paired``: users the unit, pooled over seeds, paired t-test), the p-values
    Holm-adjusted over all of these pairs together. Pairs whose models are absent are left
    out."""
    models = list(dict.fromkeys(users["model"]))
    pairs = [(m, baseline) for m in models if m != baseline] if baseline in models else []
    ours = _ours(models)
    if ours is not None and HYBRID in models:
        pairs.append((ours, HYBRID))
    return list(stats.holm_family(stats.paired(users, a, b, metric) for a, b in pairs))


def paired_table(comparisons: list[stats.Paired]) -> pd.DataFrame:
    """One row per pair: a - b, its 95% interval, p, Holm's p, the verdict word, counts."""
    cols = ["a", "b", "diff", "low", "high", "p", "p_holm", "n_users", "n_seeds"]
    table = pd.DataFrame([[getattr(c, k) for k in cols] for c in comparisons], columns=cols)
    table.insert(7, "verdict", [stats.verdict_word(c) for c in comparisons])
    return table.rename(columns={"diff": "a - b", "n_users": "users", "n_seeds": "seeds"})


def paired_text(table: pd.DataFrame) -> pd.DataFrame:
    """``paired_table`` as printed: 4 decimals, the interval in one column, p in 3 digits."""

    def p(v: float) -> str:
        return "< 0.001" if v < 0.001 else f"{v:.3f}"

    return pd.DataFrame({
        "a": table["a"],
        "b": table["b"],
        "a - b": table["a - b"].map(lambda v: f"{v:+.4f}"),
        "95% interval": [f"[{lo:+.4f}, {hi:+.4f}]" for lo, hi in zip(table["low"], table["high"],
                                                                       strict=True)],
        "p": table["p"].map(p),
        "p (Holm)": table["p_holm"].map(p),
        "verdict": table["verdict"],
        "users": table["users"],
    })  # fmt: skip


def paired_intro(comparisons: list[stats.Paired]) -> str:
    """What the paired table holds and how it was computed (printed above it)."""
    if not comparisons:
        return "No pair to compare (EASE and the hybrid are not in this run)."
    c = comparisons[0]
    return (
        f"{c.metric} on the test users, each model against {c.b}"
        + (f" and ours against the {HYBRID}" if any(x.b == HYBRID for x in comparisons) else "")
        + ". Users are the unit, pooled over seeds: a user's difference a - b is taken in "
        "each seed that held them out (both models scored them there), then averaged over "
        f"those seeds ({c.n_seeds} seeds; 'users' counts distinct people). Mean difference "
        "with its 95% t-interval, the paired t-test (scipy.stats.ttest_rel), Holm's "
        f"correction over the {len(comparisons)} pairs of this table, and the verdict word "
        "of evaluation.stats.verdict: 'ahead' or 'behind' only where the interval excludes 0 "
        "and Holm's p is below 0.05, else 'on par'."
    )


def write_report(result: Result, out: Path, dataset: str) -> Path:
    """``bench_ranking.csv``, ``bench_ranking_curves.csv``, ``bench_ranking.md``; the .md path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    table_rows, curves, seeds = rows(result), result.curves, result.seeds
    pd.DataFrame(table_rows).assign(
        params=lambda d: d["params"].map(lambda p: json.dumps(p, default=str))
    ).to_csv(out / "bench_ranking.csv", index=False)
    curves.to_csv(out / "bench_ranking_curves.csv", index=False)
    split_stats = json.dumps({str(k): v for k, v in result.stats.items()}, indent=1, default=int)
    (out / "bench_ranking_split_stats.json").write_text(split_stats)
    table = summarise(table_rows)
    comparisons = paired_comparisons(result.users)
    curve = (
        pd.DataFrame(curves)
        .groupby(["model", "n"], sort=False)[["ndcg@10", "recall@20"]]
        .mean()
        .unstack("n")
    )
    lines = [
        f"# bench ranking: {dataset}, seeds {', '.join(map(str, seeds))}",
        "",
        PROTOCOL,
        "",
        f"Validation grids: {grids_text(result)}.",
        "",
        "## Test users, mean ± std over seeds",
        "",
        to_markdown(table.reset_index()),
        "",
        f"## Paired comparisons on {PAIRED_METRIC}, users as the unit, pooled over seeds",
        "",
        paired_intro(comparisons),
        "",
        to_markdown(paired_text(paired_table(comparisons))) if comparisons else "",
        "",
        *[f"- {stats.verdict(c)}." for c in comparisons if HYBRID in (c.a, c.b)],
        "",
        "## New users given n of their liked movies (same users, same targets at every n)",
        "",
        to_markdown(_flat(curve).reset_index()),
        "",
        "## New users with 10 liked movies, NDCG@10 under four conventions",
        "",
        CONVENTIONS,
        "",
        to_markdown(_counts_as_text(conventions_table(curves)).reset_index()),
        "",
    ]
    path = out / "bench_ranking.md"
    path.write_text("\n".join(lines))
    return path
