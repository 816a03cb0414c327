"""``bench coldstart``: ranking movies nobody rated in training, from their features alone.

The protocol is ``evaluation.coldstart`` (per seed, 10% of the movies with at least 5
positives held out of training entirely, another 10% for validation). Each model is fit on
the training ratings once per grid point; the point with the best mean Recall@20 over the
validation movies (cold candidates) is kept, and the same fitted model ranks the test
movies: (a) among themselves, (b) in the whole catalogue. Means and 95% t-intervals are
over users (``evaluation.stats``), pooled over seeds; paired differences against content
kNN on the same users.

Models: content kNN and popularity within genre (``models.content``), our hybrid
(``models.hybrid``: the pooled-softmax model with feature-built movie vectors), and LightFM 1.17
(WARP loss, item features = the same feature table, with or without an identity block),
which runs only when installed: it is not in the lock (see pyproject.toml's ``lightfm``
extra for how it installs).

``bench coldstart --timing`` instead times how long the hybrid app model (``models.recipes``,
checkpoint ``hybrid``) takes to place one new movie from its features (`placement_timing`),
against the issue's 5 ms.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys_utils.constants import ITEM_COL, RATING_COL, USER_COL
from recsys_utils.data.features import MovieFeatures
from recsys_utils.evaluation.coldstart import (
    CUTOFF,
    ColdStartSplit,
    cold_start_report,
    cold_start_split,
)
from recsys_utils.evaluation.stats import compare_table
from recsys_utils.models.base import Queries
from recsys_utils.models.registry import MODELS

# the hybrid's training budget: fixed epochs (no validation users here; the grid's
# points are chosen on the validation movies like every other model's)
HYBRID_TRAIN = {"dim": 200, "lr": 3e-3, "batch_size": 128, "max_epochs": 80}
GRIDS = {
    "content_knn": [{"k": None}, {"k": 20}, {"k": None, "kinds": ("genre", "year", "genome")}],
    "genre_popularity": [{"alpha": 1.0}, {"alpha": 20.0}],
    "hybrid_pooled": [
        {**HYBRID_TRAIN, "id_dropout": 0.5},
        {**HYBRID_TRAIN, "id_dropout": 0.9},
        {**HYBRID_TRAIN, "use_id": False},
    ],
    "lightfm": [
        {"no_components": 32, "epochs": 20, "identity": False},
        {"no_components": 64, "epochs": 40, "identity": False},
        {"no_components": 64, "epochs": 40, "identity": True},
    ],
}
LIGHTFM_MISSING = (
    "LightFM is not installed, so its rows are left out; it builds only without build "
    "isolation: pip install setuptools wheel cython numpy scipy && "
    "pip install --no-build-isolation lightfm==1.17"
)
PROTOCOL = (
    "Item cold start: per seed, 10% of the movies with at least 5 positives (rating >= 4) "
    "are held out of training entirely (every rating), and another 10% choose each model's "
    "hyperparameters (best mean Recall@20 over them). Users who liked a held-out movie and "
    "have a training positive rank (cold) the held-out movies only, (catalogue) every "
    "movie with a training rating plus the held-out ones, training positives excluded. "
    "Features are the release's: a held-out movie keeps the tags users put on it."
)


def lightfm_available() -> bool:
    """True when ``lightfm`` imports (it is an optional, unlocked extra)."""
    try:
        import lightfm  # noqa: F401
    except ImportError:
        return False
    return True


class LightFMScorer:
    """LightFM (Kula 2015) with the movie feature table as item features.

    A movie's vector is the sum of its feature embeddings (rows scaled to sum 1, as
    LightFM's own ``Dataset`` does), plus its own id embedding with ``identity``; users
    are identity only. A cold movie's id embedding is never trained, so with ``identity``
    it keeps its small random start. WARP loss, one thread, seeded: reproducible.
    """

    def __init__(self, features: MovieFeatures, no_components=32, epochs=20, identity=False,
                 learning_rate=0.05, item_alpha=1e-6, threshold=4.0, seed=0):  # fmt: skip
        self.features = features
        self.params = dict(no_components=no_components, epochs=epochs, identity=identity,
                           learning_rate=learning_rate, item_alpha=item_alpha)  # fmt: skip
        self.threshold, self.seed = threshold, seed

    def fit(self, train: pd.DataFrame) -> LightFMScorer:
        from lightfm import LightFM

        pos = train.loc[train[RATING_COL] >= self.threshold, [USER_COL, ITEM_COL]]
        self.users_ = pd.Index(np.unique(pos[USER_COL]))
        cols = self.features.rows(pos[ITEM_COL].to_numpy())
        keep = cols >= 0
        n = self.features.n_movies
        X = sp.coo_matrix(
            (np.ones(int(keep.sum()), np.float32),
             (self.users_.get_indexer(pos[USER_COL])[keep], cols[keep])),
            shape=(len(self.users_), n),
        )  # fmt: skip
        F = self.features.normalised()
        if self.params["identity"]:
            F = sp.hstack([sp.identity(n, np.float32, format="csr"), F], format="csr")
        sums = np.asarray(F.sum(1)).ravel()
        F = sp.csr_matrix(sp.diags(1.0 / np.where(sums > 0, sums, 1.0)) @ F, dtype=np.float32)
        p = self.params
        model = LightFM(no_components=p["no_components"], loss="warp", item_alpha=p["item_alpha"],
                        learning_rate=p["learning_rate"], random_state=self.seed)  # fmt: skip
        model.fit(X.tocsr(), item_features=F, epochs=p["epochs"], num_threads=1)
        self.item_bias_, self.item_emb_ = model.get_item_representations(F)
        self.user_bias_, self.user_emb_ = model.get_user_representations()
        return self

    def __call__(self, users, items) -> np.ndarray:
        u = self.users_.get_indexer(users)
        r = self.features.rows(items)
        out = self.user_emb_[u] @ self.item_emb_[r].T + self.item_bias_[r][None, :]
        out[:, r < 0] = -np.inf
        return out


def _fit(name: str, features: MovieFeatures, params: dict, train: pd.DataFrame, seed: int):
    """The fitted model as a cold-start scorer ``(users, items) -> scores``."""
    if name == "lightfm":
        return LightFMScorer(features, seed=seed, **params).fit(train)
    model = MODELS[name](features, **params).fit(train)  # the registered feature models
    return lambda users, items: model.score_movies(Queries.known(users), items)


def run_seed(split: ColdStartSplit, features: MovieFeatures, grids=None, k: int = CUTOFF):
    """One seed: every model's grid scored on the validation movies, the best point's
    per-user test rows. Returns (rows, choices), choices one dict per model."""
    grids = GRIDS if grids is None else grids
    rows, choices = [], []
    metric = f"recall@{k}"
    for name, grid in grids.items():
        if name == "lightfm" and not lightfm_available():
            continue
        best = None
        for params in grid:
            start = time.perf_counter()
            scorer = _fit(name, features, params, split.train, split.seed)
            fit_s = time.perf_counter() - start
            valid = cold_start_report(split, scorer, part="valid", k=k)
            score = float(valid.loc[valid["candidates"] == "cold", metric].mean())
            if best is None or score > best[0]:
                best = (score, params, scorer, fit_s)
        score, params, scorer, fit_s = best
        test = cold_start_report(split, scorer, part="test", k=k)
        rows.append(test.assign(model=name, seed=split.seed))
        choices.append({"model": name, "seed": split.seed, "params": dict(params),
                        f"valid_{metric}": score, "fit_s": fit_s})  # fmt: skip
    return pd.concat(rows, ignore_index=True), choices


def run(ratings: pd.DataFrame, features: MovieFeatures, seeds=(0, 1, 2, 3, 4), grids=None,
        k: int = CUTOFF):  # fmt: skip
    """Every seed; returns (per-user rows, choices, split stats per seed)."""
    rows, choices, stats = [], [], []
    for seed in seeds:
        split = cold_start_split(ratings, seed=seed)
        r, c = run_seed(split, features, grids, k)
        rows.append(r)
        choices += c
        stats.append({"seed": seed, **split.stats})
    return pd.concat(rows, ignore_index=True), choices, stats


def summarise(rows: pd.DataFrame, k: int = CUTOFF, baseline: str = "content_knn") -> pd.DataFrame:
    """Per candidate set and model: mean and 95% interval over users of Recall@k and
    NDCG@k, and the paired difference of each from ``baseline`` (Holm-adjusted p)."""
    out = []
    for cand in ("cold", "catalogue"):
        sub = rows[rows["candidates"] == cand]
        models = list(dict.fromkeys(sub["model"]))
        for metric in (f"recall@{k}", f"ndcg@{k}"):
            cmp = compare_table(sub, metric, models,
                                baseline=baseline if baseline in models else None)  # fmt: skip
            for model, r in cmp.models.iterrows():
                pair = cmp.pairs[cmp.pairs["a"] == model]
                out.append({
                    "candidates": cand, "metric": metric, "model": model,
                    "mean": r["mean"], "low": r["low"], "high": r["high"],
                    "n_users": int(r["n_users"]), "n_seeds": int(r["n_seeds"]),
                    f"diff_vs_{baseline}": pair["diff"].iloc[0] if len(pair) else np.nan,
                    "diff_low": pair["low"].iloc[0] if len(pair) else np.nan,
                    "diff_high": pair["high"].iloc[0] if len(pair) else np.nan,
                    "p_holm": pair["p_holm"].iloc[0] if len(pair) else np.nan,
                })  # fmt: skip
    return pd.DataFrame(out)


def to_markdown(table: pd.DataFrame) -> str:
    """A pipe table, figures to three decimals, intervals as [low, high]."""
    base = [c for c in table.columns if c.startswith("diff_vs_")]
    lines = ["| candidates | metric | model | mean [95% CI] | users | seeds | "
             f"{base[0] if base else 'diff'} [95% CI] | p (Holm) |", "|---" * 8 + "|"]  # fmt: skip
    for _, r in table.iterrows():
        diff = "" if pd.isna(r.get(base[0], np.nan)) else (
            f"{r[base[0]]:+.3f} [{r['diff_low']:+.3f}, {r['diff_high']:+.3f}]")  # fmt: skip
        p = "" if pd.isna(r.get("p_holm", np.nan)) else f"{r['p_holm']:.3g}"
        lines.append(f"| {r['candidates']} | {r['metric']} | {r['model']} | {r['mean']:.3f} "
                     f"[{r['low']:.3f}, {r['high']:.3f}] | {r['n_users']} | {r['n_seeds']} | "
                     f"{diff} | {p} |")  # fmt: skip
    return "\n".join(lines)


def write_report(rows, choices, stats, out: Path, dataset: str, seeds, seconds: float) -> Path:
    """``bench_coldstart.csv`` (per-user rows) and ``bench_coldstart.md``; the .md path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows.to_csv(out / "bench_coldstart.csv", index=False)
    lines = [
        f"# bench coldstart: {dataset}, seeds {', '.join(map(str, seeds))}",
        "",
        PROTOCOL,
        "",
        to_markdown(summarise(rows)),
        "",
        "## Chosen on the validation movies",
        "",
        *[
            f"- {c['model']}, seed {c['seed']}: {c['params']} (validation "
            f"{next(v for key, v in c.items() if key.startswith('valid_')):.3f}, "
            f"fit {c['fit_s']:.1f} s)"
            for c in choices
        ],
        "",
        f"Split sizes per seed: {stats}",
        "",
        ("" if lightfm_available() else LIGHTFM_MISSING + "\n")
        + f"{seconds:.0f} s for the whole run.",
        "",
    ]
    path = out / "bench_coldstart.md"
    path.write_text("\n".join(lines))
    return path


# --- how long placing one new movie takes ------------------------------------------------
PLACE_TARGET_MS = 5.0  # issue 24: "a movie that arrives after training ... within 5 ms"


def random_descriptions(features: MovieFeatures, n: int, seed: int = 0) -> list[dict]:
    """``n`` new movies as a person would type them: 1-3 genres, 0-3 kept tags and a
    year (1920-2030) drawn from the table's vocabulary; ``MovieFeatures.describe``'s
    keyword arguments."""
    rng = np.random.default_rng(seed)
    genres, tags = features.labels("genre"), features.labels("tag")
    out = []
    for _ in range(n):
        g = rng.choice(genres, size=int(rng.integers(1, min(3, len(genres)) + 1)), replace=False)
        n_tags = int(rng.integers(0, min(3, len(tags)) + 1)) if tags else 0
        t = rng.choice(tags, size=n_tags, replace=False) if n_tags else []
        out.append({"genres": list(g), "tags": list(t), "year": int(rng.integers(1920, 2031))})
    return out


def placement_timing(model, n: int = 200, seed: int = 0, k: int = 10) -> dict:
    """Milliseconds to place one new movie with a fitted hybrid model, one at a time.

    "Place": ``features.describe(...)`` then ``model.movie_vectors(row)``, the vector from
    the features alone (no retraining). Also timed, apart: its ``k`` neighbours among every
    training movie (``model.neighbours``). Each of ``n`` random descriptions
    (`random_descriptions`) is timed once after one untimed warm-up; the load average
    (1 min) is read before and after.

    Returns:
        a dict: n, k, place_median_ms, place_p95_ms, place_max_ms, neighbours_median_ms,
        neighbours_p95_ms, target_ms, met (median and p95 under the target), load_before,
        load_after, n_features, dim, n_movies.
    """
    import os

    features = model.features
    movies = random_descriptions(features, n + 1, seed)
    model.movie_vectors(features.describe(**movies[0]))  # warm-up: lazy vocabulary, caches
    load_before = os.getloadavg()[0]
    place, near = [], []
    for kw in movies[1:]:
        t0 = time.perf_counter()
        row = features.describe(**kw)
        model.movie_vectors(row)
        t1 = time.perf_counter()
        model.neighbours(row, k=k)
        place.append(t1 - t0)
        near.append(time.perf_counter() - t1)
    place_ms, near_ms = np.asarray(place) * 1e3, np.asarray(near) * 1e3
    out = {
        "n": n,
        "k": k,
        "place_median_ms": float(np.median(place_ms)),
        "place_p95_ms": float(np.percentile(place_ms, 95)),
        "place_max_ms": float(place_ms.max()),
        "neighbours_median_ms": float(np.median(near_ms)),
        "neighbours_p95_ms": float(np.percentile(near_ms, 95)),
        "target_ms": PLACE_TARGET_MS,
        "load_before": load_before,
        "load_after": os.getloadavg()[0],
        "n_features": features.n_features,
        "dim": int(model.F_out_.shape[1]),
        "n_movies": len(model.item_map),
    }
    out["met"] = out["place_median_ms"] < PLACE_TARGET_MS and out["place_p95_ms"] < PLACE_TARGET_MS
    return out


def timing_lines(t: dict, cpus: int | None = None) -> list[str]:
    """`placement_timing`'s figures in words, against the target."""
    import os

    verdict = "meets" if t["met"] else "MISSES"
    return [
        f"placing one new movie (describe + its vector from its features, no retraining), "
        f"{t['n']} random new movies, one at a time:",
        f"  median {t['place_median_ms']:.3f} ms, p95 {t['place_p95_ms']:.3f} ms, max "
        f"{t['place_max_ms']:.3f} ms: {verdict} the {t['target_ms']:g} ms target (median "
        "and p95)",
        f"  its {t['k']} neighbours among the {t['n_movies']:,} training movies, apart: median "
        f"{t['neighbours_median_ms']:.3f} ms, p95 {t['neighbours_p95_ms']:.3f} ms",
        f"  model: {t['n_features']:,} features x {t['dim']} dimensions; load average (1 min) "
        f"{t['load_before']:.1f} before, {t['load_after']:.1f} after, on "
        f"{cpus or os.cpu_count()} CPUs",
    ]
