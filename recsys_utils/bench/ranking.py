"""Ranking bench: every model over seeds, hyperparameters chosen on validation users.

``run(ratings, seeds)`` returns one row per (seed, model) with the test metrics, fit
seconds, fold-in ms per user and the chosen hyperparameters, plus the new-user curve
rows; ``summarise`` turns rows into a mean +- std table.

Ours: each variant of ``OURS_VARIANTS`` (linear, tanh), "ours(val-chosen)" (the variant
with the better validation NDCG@100 in that seed), "ours-2seeds" (``--ensemble``: that
variant with a second seed, z-scores averaged), "ours-ease-init" (tables from a rank-600
SVD of EASE's B, fine-tuned, epochs incl. 0 on validation), "ours-ease-exact" (the same
from EASE's exact dual tables, one dimension per training user: epoch 0 is EASE's ranking
for every new user, so it asks whether the softmax can improve on EASE). Blends: per-user z-scores,
weights on validation only: (ours, EASE), (iALS, EASE) on 0..1 by 0.1, the 3-way
(ours, EASE, iALS) on the 0.1 simplex (66 points) and "blend(all)" (every variant of ours,
EASE and iALS on one simplex).

    python -m recsys_utils bench ranking [--dataset ml-latest-small] [--seeds 0,1,2,3,4] [--ensemble]

``write_report`` writes ``bench_ranking.csv`` (a row per seed and model), ``_curves.csv``
and ``bench_ranking.md`` (the mean +- std table, the protocol and the grids, the new-user
curve, and n = 10 under the four conventions of ``CONVENTIONS``).

Length: over 300 lines because one seed's run (``run_seed``) fits and chooses every model
in one place, so the protocol can be read top to bottom; the peers' adapters are in
``ranking_peers`` and the metrics in ``metrics.ranking``.
"""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from recsys_utils.bench.peers import to_markdown
from recsys_utils.bench.ranking_peers import ALS, BPR, Popularity
from recsys_utils.evaluation import newuser_curve
from recsys_utils.evaluation.ranking_protocol import (
    strong_generalization_split,
)
from recsys_utils.metrics import report, top_k
from recsys_utils.models.ease import EASE, gram
from recsys_utils.models.ranking import PooledSoftmax

EASE_GRID = [50, 100, 200, 500, 1000]
ALS_GRID = dict(factors=[64, 128, 256], regularization=[1, 10, 50], alpha=[5, 20, 40])
BPR_GRID = dict(factors=[64, 128], learning_rate=[0.01, 0.05])
BPR_FOLD_GRID = [("mean", 0, 0)] + [("ls", r, a) for r in (1, 10, 100) for a in (5, 20)]
# chosen from the seed-0 validation exploration (results/explore_seed0.jsonl); per seed,
# validation picks one of them ("ours(val-chosen)")
OURS_VARIANTS = {
    "ours-linear": dict(),
    "ours-tanh": dict(hidden="tanh", lr=3e-3),
}
# training budget of every learned variant: larger batches, higher lr, validation every
# 2 epochs, patience 10 (fit time; see docs of bench ranking for the figures)
OURS_TRAIN = dict(batch_size=128, lr=1e-3, patience=10, eval_every=2)
# EASE-initialised: tables from a rank-600 SVD of EASE's B (the validation-chosen lam),
# fine-tuned by the softmax at a small lr; epochs (0 = the initial tables) on validation
OURS_EASE_INIT = dict(
    init="ease", init_scale=3.0, lr=1e-4, max_epochs=8, patience=4, min_epochs=0, eval_every=2
)
# "ours-ease-exact": the same fine-tuning from EASE's exact dual tables
# (``models.ease.dual_tables``), where the training users are few enough to be dimensions
EASE_EXACT_MAX_USERS = 5000
BLEND_WEIGHTS = np.round(np.linspace(0, 1, 11), 2)
NEW_USER_NS = (1, 2, 5, 10, 20)


def _grid(d):
    keys = list(d)
    for vals in itertools.product(*(d[k] for k in keys)):
        yield dict(zip(keys, vals, strict=True))


def val_score(model, held) -> float:
    s = model.score_history(held.history)
    return report(s, held.targets, held.history, ("ndcg@100",))["ndcg@100"]


def foldin_ms(model, held, n_users=50) -> float:
    """Mean wall time to fold in one user and score the whole catalogue."""
    rows = [held.history[r] for r in range(min(n_users, len(held)))]
    model.score_history(rows[0])  # warm
    t = time.perf_counter()
    for h in rows:
        model.score_history(h)
    return 1000 * (time.perf_counter() - t) / len(rows)


def zscore(s):
    return (s - s.mean(1, keepdims=True)) / (s.std(1, keepdims=True) + 1e-12)


class Blend:
    """sum_m w_m z(model_m), per-user z-scores; weights chosen on validation.

    ``Blend(a, b, w)`` is w * z(a) + (1 - w) * z(b); ``Blend.of(models, weights)`` any
    number of members."""

    def __init__(self, a=None, b=None, w=None):
        self.a, self.b, self.w = a, b, w
        self.members, self.weights = [a, b], [w, 1 - w]

    @classmethod
    def of(cls, members, weights):
        out = cls.__new__(cls)
        out.members, out.weights = list(members), [float(w) for w in weights]
        return out

    def score_history(self, H):
        return sum(
            w * zscore(m.score_history(H))
            for m, w in zip(self.members, self.weights, strict=True)
            if w
        )


def simplex(n: int, step: float = 0.1):
    """Weight vectors of ``n`` members on a grid of ``step``, summing to 1."""
    k = round(1 / step)
    for c in itertools.product(range(k + 1), repeat=n - 1):
        if sum(c) <= k:
            yield np.round(np.array([*c, k - sum(c)]) / k, 4)


def choose_blend(members, held, grid):
    """The weights of ``grid`` with the best validation NDCG@100 (scores computed once)."""
    z = [zscore(m.score_history(held.history)) for m in members]

    def val(w):
        s = sum(wi * zi for wi, zi in zip(w, z, strict=True))
        return report(s, held.targets, held.history, ("ndcg@100",))["ndcg@100"]

    return max(grid, key=val)


def new_user_curve(model, held, seed, ns=NEW_USER_NS):
    """NDCG@10 / Recall@20 with the first n history items as the only input
    (``evaluation.newuser_curve``: the same users and 20% targets at every n, the whole
    history excluded), and the "rest" convention beside it for comparison only."""
    curve = newuser_curve.new_user_curve({"model": model.score_history}, held, ns, seed, rest=True)
    return curve.drop(columns=["model", "ndcg@100"]).to_dict("records")


def run_seed(
    ratings,
    seed,
    ours_variants=OURS_VARIANTS,
    log=print,
    cornac_check=False,
    split_kw=None,
    max_epochs=150,
    ensemble=False,
    ease_init=True,
):
    """One seed: split, validation grids, every model's test row and new-user curve."""
    split = strong_generalization_split(ratings, seed=seed, **(split_kw or {}))
    va, te = split.valid, split.test
    rows, curves, chosen = [], [], {}

    def record(name, model, fit_s, params, extra=None):
        m = report(model.score_history(te.history), te.targets, te.history)
        row = {
            "seed": seed,
            "model": name,
            **m,
            "fit_s": fit_s,
            "foldin_ms": foldin_ms(model, te),
            "params": json.dumps(params),
            **(extra or {}),
        }
        rows.append(row)
        for c in new_user_curve(model, te, seed):
            curves.append({"seed": seed, "model": name, **c})
        chosen[name] = model
        log(
            f"seed {seed} {name}: ndcg@100 {m['ndcg@100']:.4f} recall@20 {m['recall@20']:.4f} "
            f"ndcg@10 {m['ndcg@10']:.4f} fit {fit_s:.1f}s {params}"
        )

    t = time.perf_counter()
    pop = Popularity().fit_matrix(split.train)
    record("popularity", pop, time.perf_counter() - t, {})

    G = gram(split.train)
    best = max(EASE_GRID, key=lambda lam: val_score(EASE(lam=lam).fit_matrix(split.train, G=G), va))
    t = time.perf_counter()
    ease = EASE(lam=best).fit_matrix(split.train)
    ease_fit_s = time.perf_counter() - t
    record("ease", ease, ease_fit_s, {"lam": best})
    if cornac_check:
        rows[-1].update(cornac_agreement(split, best, ease))

    grid = []
    for g in _grid(ALS_GRID):
        m = ALS(**g, seed=seed).fit_matrix(split.train)
        grid.append((val_score(m, va), g))
    best = max(grid, key=lambda x: x[0])[1]
    t = time.perf_counter()
    als = ALS(**best, seed=seed).fit_matrix(split.train)
    als_fit_s = time.perf_counter() - t
    record("ials", als, als_fit_s, best)

    grid = []
    for g in _grid(BPR_GRID):
        m = BPR(**g, seed=seed).fit_matrix(split.train)
        for fold, reg, a in BPR_FOLD_GRID:
            m.fold, m.fold_reg, m.fold_alpha = fold, reg, a
            grid.append((val_score(m, va), {**g, "fold": fold, "fold_reg": reg, "fold_alpha": a}))
    best = max(grid, key=lambda x: x[0])[1]
    t = time.perf_counter()
    bpr = BPR(**best, seed=seed).fit_matrix(split.train)
    record("bpr", bpr, time.perf_counter() - t, best)

    # ours: each learned variant, then the one validation prefers, two seeds of it, and
    # the EASE-initialised model (its epochs, 0 = the initial tables, chosen on validation)
    fitted = {}
    for name, kw in ours_variants.items():
        m = PooledSoftmax(
            **{"seed": seed, "max_epochs": max_epochs, **OURS_TRAIN, **kw}
        ).fit_matrix(split.train, va.history, va.targets)
        fitted[name] = (m, kw)
        record(
            name,
            m,
            m.fit_seconds_,
            {**kw, "best_epoch": m.best_epoch_},
            {"val_ndcg@100": m.best_val_ndcg100_, "epochs_run": len(m.history_)},
        )
    best_name = max(fitted, key=lambda n: fitted[n][0].best_val_ndcg100_)
    best_ours, best_kw = fitted[best_name]
    extra = {"val_ndcg@100": best_ours.best_val_ndcg100_}
    chosen_params = {"variant": best_name, **best_kw, "best_epoch": best_ours.best_epoch_}
    record("ours(val-chosen)", best_ours, best_ours.fit_seconds_, chosen_params, extra)
    if ensemble:
        twin = PooledSoftmax(
            **{"seed": seed + 1000, "max_epochs": max_epochs, **OURS_TRAIN, **best_kw}
        ).fit_matrix(split.train, va.history, va.targets)
        record(
            "ours-2seeds",
            Blend(best_ours, twin, 0.5),
            best_ours.fit_seconds_ + twin.fit_seconds_,
            {"variant": best_name, "seeds": [seed, seed + 1000]},
        )
    if ease_init:  # from EASE's B (rank-600 SVD), and from its exact dual tables
        base = {**OURS_EASE_INIT, "ease_lam": ease.params["lam"]}
        starts = {"ours-ease-init": base}
        n_train = split.train.shape[0]
        if n_train <= EASE_EXACT_MAX_USERS:  # one dimension per training user
            dim = max(base.get("dim", PooledSoftmax.DEFAULTS["dim"]), n_train)
            starts["ours-ease-exact"] = {**base, "init": "ease_dual", "dim": dim}
        for name, kw in starts.items():
            m = PooledSoftmax(**{"seed": seed, **kw}).fit_matrix(
                split.train, va.history, va.targets
            )
            record(
                name,
                m,
                m.fit_seconds_,
                {**kw, "best_epoch": m.best_epoch_},
                {"val_ndcg@100": m.best_val_ndcg100_, "epochs_run": len(m.history_)},
            )

    w = max(BLEND_WEIGHTS, key=lambda w: val_score(Blend(best_ours, ease, w), va))
    record(
        "blend(ours,ease)",
        Blend(best_ours, ease, float(w)),
        best_ours.fit_seconds_ + ease_fit_s,
        {"w_ours": float(w), "ours": best_name},
    )
    wa = max(BLEND_WEIGHTS, key=lambda w: val_score(Blend(als, ease, w), va))
    record(
        "blend(ials,ease)",
        Blend(als, ease, float(wa)),
        als_fit_s + ease_fit_s,
        {"w_ials": float(wa)},
    )
    w3 = choose_blend([best_ours, ease, als], va, list(simplex(3, 0.1)))
    record(
        "blend(ours,ease,ials)",
        Blend.of([best_ours, ease, als], w3),
        best_ours.fit_seconds_ + ease_fit_s + als_fit_s,
        {"w_ours": float(w3[0]), "w_ease": float(w3[1]), "w_ials": float(w3[2]), "ours": best_name},
    )
    # every variant of ours beside the peers that rank best, one simplex on validation
    names = [*fitted, "ease", "ials"]
    members = [fitted[n][0] for n in fitted] + [ease, als]
    wa = choose_blend(members, va, list(simplex(len(members), 0.1)))
    record(
        "blend(all)",
        Blend.of(members, wa),
        sum(fitted[n][0].fit_seconds_ for n in fitted) + ease_fit_s + als_fit_s,
        {f"w_{n}": float(w) for n, w in zip(names, wa, strict=True)},
    )
    return rows, curves, split.stats


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
    s_ours = ease.score_history(split.test.history)
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


def grids_text() -> str:
    """The validation grids, as printed with the table."""
    return (
        f"EASE lambda {EASE_GRID}; iALS {ALS_GRID}; BPR {BPR_GRID} with fold-in "
        f"{[f[0] for f in BPR_FOLD_GRID][:2]}...; ours {sorted(OURS_VARIANTS)} (variant, "
        "epochs by early stopping on validation NDCG@100); blends on a 0.1 grid / simplex"
    )


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


def write_report(rows, curves, stats, out: Path, dataset: str, seeds) -> Path:
    """``bench_ranking.csv``, ``bench_ranking_curves.csv``, ``bench_ranking.md``; the .md path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(out / "bench_ranking.csv", index=False)
    pd.DataFrame(curves).to_csv(out / "bench_ranking_curves.csv", index=False)
    (out / "bench_ranking_split_stats.json").write_text(json.dumps(stats, indent=1, default=int))
    table = summarise(rows)
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
        f"Validation grids: {grids_text()}.",
        "",
        "## Test users, mean ± std over seeds",
        "",
        to_markdown(table.reset_index()),
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


def run(ratings, seeds=(0, 1, 2, 3, 4), **kw):
    """All seeds: (rows, curve rows, split stats by seed); ``write_report`` saves them."""
    rows, curves, stats = [], [], {}
    for s in seeds:
        r, c, st = run_seed(ratings, s, cornac_check=(s == seeds[0]), **kw)
        rows += r
        curves += c
        stats[s] = st
    return rows, curves, stats
