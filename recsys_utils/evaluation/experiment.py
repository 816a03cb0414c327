"""One experiment: a protocol, models with their grids, metrics and seeds in; a ``Result`` out.

    result = Experiment(StrongGeneralisation(), [
        Grid("ease", EASE, {"lam": [50, 200]}, seeded=False),
        Grid("ours-linear", PooledSoftmax, fixed={"dim": 64}),
        Best("ours(val-chosen)", ["ours-linear", "ours-tanh"]),
        BlendOf("blend(ours,ease)", ["ours(val-chosen)", "ease"]),
    ], seeds=(0, 1)).run(ratings)

Two protocols: ``StrongGeneralisation`` (ranking for new people) and ``RandomRatings``
(rating prediction, ``data.splits.protocol_split``, the rating bench's). Per seed the
ranking protocol splits the ratings into training users and held-out validation and
test users (each held-out user gives their *liked* movies as input and is scored on the
rest, the *targets*). Entries run in order, each on the training users only:

- ``Grid``: one model per point of its grid (and of ``then``: settings of a fitted model
  that need no refit, e.g. a fold-in), the point with the best validation NDCG@100 kept;
  a model that stops early picks its epochs on the validation users' targets too;
- ``Best``: the entry among ``among`` with the best validation score (a variant);
- ``BlendOf``: per-user z-scores of members, weights on a simplex chosen on validation.

Every choice reads validation users only. The test users are then scored once per entry:
their liked movies go in, their targets are used only by the metrics. ``Result`` holds
the fitted models per seed, the chosen parameters (plain dicts), the validation score of
every candidate, one row per (seed, model, user) with every metric, a row per (seed,
model) of figures that are not per user (fit seconds, fold-in ms, coverage, epochs), and
the new-user curves; ``Result.save`` / ``Result.load`` keep it in a folder, and
``Result.quote`` gives its figures as records that notebooks keep and a test compares
(one model, protocol, run and metric: one value, whichever notebook shows it).

Models are reached through two adapters only, ``_fit`` and ``_score``.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys_utils.constants import ITEM_COL, RATING_COL, USER_COL
from recsys_utils.evaluation import newuser_curve
from recsys_utils.evaluation.ranking_protocol import RankingSplit, strong_generalization_split
from recsys_utils.metrics import coverage_at_k, mae, per_user, rmse
from recsys_utils.models.blend import ZScoreBlend, zscore

METRICS = ("ndcg@100", "recall@20", "recall@50", "ndcg@10", "hr@10")
OBJECTIVE = "ndcg@100"  # every choice maximises the validation users' mean of this
NEW_USER_NS = (1, 2, 5, 10, 20)


# --- the two adapters: the only places a model is touched ------------------------------
LIKED = newuser_curve.LIKED  # the rating a 0/1 "liked" cell is given to a model (>= its threshold)


def _fit(model, split: RankingSplit, train: pd.DataFrame):
    """``model.fit`` on the training users' ratings of the split's movies; the validation
    users as held-out people (their liked movies given, their targets scored) steer it.

    ``train`` is the training users' ratings: the model keeps what its contract keeps
    (id maps, liked and rated movies, the fallback biases), so the fitted model is the one
    saved and served. Its movie index is the split's (every split movie has a positive)."""
    from recsys_utils.models.base import people_table

    va = split.valid
    mine = train[train[USER_COL].isin(split.train_users) & train[ITEM_COL].isin(split.items)]
    valid = pd.concat(
        [
            people_table(va.history * LIKED, va.users, split.items, given=True),
            people_table(va.targets * LIKED, va.users, split.items, given=False),
        ]
    )
    model.fit(mine, valid)
    if not np.array_equal(model.item_map.ids, split.items):
        raise ValueError("the model's movies differ from the split's: scores would not align")
    return model


def _score(model, liked: sp.csr_matrix) -> np.ndarray:
    """(n, n_items) scores for new people given as 0/1 rows of liked movies."""
    from recsys_utils.models.base import Queries

    return model.score(Queries.from_matrix(liked * LIKED))


def _fit_ratings(model, train: pd.DataFrame, valid: pd.DataFrame | None = None):
    """Fit a rating model on a ratings table; ``valid`` steers it (epochs, blend weights)."""
    return model.fit(train) if valid is None else model.fit(train, valid)


def _predict(model, ratings: pd.DataFrame) -> np.ndarray:
    """The model's rating estimates of these (user, movie) pairs."""
    return model.predict(ratings[USER_COL].to_numpy(), ratings[ITEM_COL].to_numpy())


def _selected(model) -> dict:
    """The parameters that refit a model without validation, keeping what it chose."""
    return model.selected_params()


def _epochs(model) -> pd.DataFrame | None:
    """The per-epoch log of a model that trains in epochs, else None."""
    return model.history_


# --- metrics ---------------------------------------------------------------------------


def held_out_rows(name: str, seed: int, f, scores, held, metrics, **extra):
    """One row per test user with every metric (``model``, ``seed``, ``user`` first) and the
    run's row (validation score, coverage@10, fit seconds, ``extra``, the fit's own extras):
    what a ranking protocol's ``test`` returns for the users ``held`` (history, targets, users),
    scored once in ``scores``."""
    u = per_user_metrics(scores, held.targets, held.history, metrics)
    u.insert(0, "user", held.users)
    u.insert(0, "model", name)
    u.insert(0, "seed", seed)
    run = {
        "seed": seed,
        "model": name,
        f"val_{OBJECTIVE}": f.val,
        "coverage@10": coverage_at_k(scores, held.history, 10),
        "fit_s": f.fit_s,
        **extra,
        **f.extra,
    }
    return u, run


def per_user_metrics(
    scores: np.ndarray, targets: sp.csr_matrix, exclude: sp.csr_matrix, metrics=METRICS
) -> pd.DataFrame:
    """One row per user, one column per metric (any of ``metrics.ranking``: "ndcg@k",
    "recall@k", "hr@k", ...), binary relevance, the excluded movies never ranked; recall
    is normalised by min(k, targets); NaN for a user without targets."""
    return pd.DataFrame(per_user(scores, targets, exclude, metrics))


def _objective(scores: np.ndarray, held) -> float:
    """The held-out users' mean NDCG@100 for these scores, their liked movies excluded."""
    return float(
        per_user_metrics(scores, held.targets, held.history, [OBJECTIVE])[OBJECTIVE].mean()
    )


def validation_score(model, split: RankingSplit) -> float:
    """Mean NDCG@100 of the validation users (their liked movies in, targets scored)."""
    return _objective(_score(model, split.valid.history), split.valid)


# --- protocols -------------------------------------------------------------------------
@dataclass(frozen=True)
class StrongGeneralisation:
    """Held-out users (``ranking_protocol.strong_generalization_split``) per seed."""

    n_test: int = 100
    n_valid: int = 100
    threshold: float = 4.0
    history_frac: float = 0.8
    min_positives: int = 5
    name: str = "strong_generalisation"

    def split(self, ratings: pd.DataFrame, seed: int) -> RankingSplit:
        return strong_generalization_split(
            ratings,
            n_test=self.n_test,
            n_valid=self.n_valid,
            seed=seed,
            threshold=self.threshold,
            min_positives=self.min_positives,
            history_frac=self.history_frac,
        )

    maximise = True  # the validation objective, NDCG@100
    objective = OBJECTIVE

    def describe(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    def context(self, split: RankingSplit, ratings: pd.DataFrame, seed: int) -> Context:
        """What the entries see: training and validation users only, no test user."""
        train = ratings[ratings[USER_COL].isin(split.train_users)]
        return Context(seed, self, dataclasses.replace(split, test=None), train, {})

    def fit(self, model, ctx: Context, uses_validation: bool = True):
        return _fit(model, ctx.split, ctx.train)

    def validate(self, model, ctx: Context, uses_validation: bool = True) -> float:
        return validation_score(model, ctx.split)

    def refit(self, make, model, ctx: Context, uses_validation: bool = True):
        """Held-out users are new people: the model fitted on the training users is final."""
        return model, {}

    def test(self, name: str, f: Fitted, split: RankingSplit, seed: int, exp: Experiment):
        """The test users, scored once: liked movies in, targets read by the metrics only."""
        te = split.test
        scores = _score(f.model, te.history)
        foldin_ms = _foldin_ms(f.model, te.history) if exp.time_foldin else np.nan
        u, run = held_out_rows(name, seed, f, scores, te, exp.metrics, foldin_ms=foldin_ms)
        curves = []
        if exp.curve_ns:
            curve = newuser_curve.new_user_curve(
                {name: lambda h, m=f.model: _score(m, h)}, te, exp.curve_ns, seed, rest=True
            )
            curves = [{"seed": seed, **row} for row in curve.to_dict("records")]
        return u, run, curves, None

    @staticmethod
    def summary(users: pd.DataFrame) -> pd.DataFrame:
        """(seed, model) rows: the test users' mean of every metric."""
        return users.drop(columns="user").groupby(["seed", "model"], sort=False).mean()


@dataclass(frozen=True)
class RandomRatings:
    """The rating protocol (``data.splits.random_split``; by default the rating bench's
    ``protocol_split``): a random ``test_frac`` of the ratings as test, ``valid_frac`` as
    validation. With ``refit_with_valid`` (the bench), a model that learns from validation (epochs,
    blend weights) is fitted on training with it, then refitted on training + validation
    with what it chose, and any other model is fitted once on training + validation;
    without (notebook 02), every model is fitted on training, validation steering it. The
    test ratings are predicted once: RMSE and MAE, overall and per user."""

    valid_frac: float = 0.1
    test_frac: float = 0.1
    refit_with_valid: bool = True
    name: str = "random_ratings"
    maximise = False  # the validation objective, RMSE
    objective = "rmse"

    def describe(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    def split(self, ratings: pd.DataFrame, seed: int):
        from recsys_utils.data.splits import random_split

        return random_split(ratings, self.valid_frac, self.test_frac, seed)

    def context(self, split, ratings: pd.DataFrame, seed: int) -> Context:
        """What the entries see: the training and validation ratings, no test rating."""
        return Context(seed, self, dataclasses.replace(split, test=None), split.train, {})

    @staticmethod
    def _full(ctx: Context) -> pd.DataFrame:
        return pd.concat([ctx.split.train, ctx.split.valid], ignore_index=True)

    def fit(self, model, ctx: Context, uses_validation: bool = True):
        if uses_validation or not self.refit_with_valid:
            return _fit_ratings(model, ctx.split.train, ctx.split.valid)
        return _fit_ratings(model, self._full(ctx))

    def validate(self, model, ctx: Context, uses_validation: bool = True) -> float:
        """Validation RMSE; NaN for a model that was fitted on the validation ratings."""
        if not uses_validation and self.refit_with_valid:
            return float("nan")
        valid = ctx.split.valid
        return rmse(valid[RATING_COL].to_numpy(), _predict(model, valid))

    def refit(self, make, model, ctx: Context, uses_validation: bool = True):
        """The chosen model again on training + validation, with what validation chose."""
        if not self.refit_with_valid:
            return model, {"n_fit": len(ctx.split.train)}
        full = self._full(ctx)
        if not uses_validation:
            return model, {"n_fit": len(full)}
        params = _selected(model)
        t = time.perf_counter()
        final = _fit_ratings(make(**params), full)
        return final, {"chosen": params, "refit_s": time.perf_counter() - t, "n_fit": len(full)}

    def test(self, name: str, f: Fitted, split, seed: int, exp: Experiment):
        test = split.test
        t = time.perf_counter()
        pred = _predict(f.model, test)
        predict_s = time.perf_counter() - t
        err = pred - test[RATING_COL].to_numpy()
        per = pd.DataFrame({"user": test[USER_COL].to_numpy(), "se": err**2, "ae": np.abs(err)})
        g = per.groupby("user", sort=True)
        u = pd.DataFrame(
            {"n": g.size(), "rmse": np.sqrt(g["se"].mean()), "mae": g["ae"].mean()}
        ).reset_index()
        u.insert(0, "model", name)
        u.insert(0, "seed", seed)
        run = {
            "seed": seed,
            "model": name,
            "val_rmse": f.val,
            "rmse": rmse(test[RATING_COL].to_numpy(), pred),
            "mae": mae(test[RATING_COL].to_numpy(), pred),
            "fit_s": f.fit_s,
            "predict_s": predict_s,
            **f.extra,
        }
        return u, run, [], pred

    @staticmethod
    def summary(users: pd.DataFrame) -> pd.DataFrame:
        """(seed, model) rows: RMSE and MAE over every test rating (users weighted by n)."""
        w = users.assign(sse=users["n"] * users["rmse"] ** 2, sae=users["n"] * users["mae"])
        g = w.groupby(["seed", "model"], sort=False)[["n", "sse", "sae"]].sum()
        return pd.DataFrame(
            {"rmse": np.sqrt(g["sse"] / g["n"]), "mae": g["sae"] / g["n"], "n_test": g["n"]}
        )


# --- entries: models with their grids ----------------------------------------------------
def grid_points(grid: Mapping[str, Sequence] | Sequence[dict]) -> list[dict]:
    """Every point of a grid given as {name: values} (their product) or a list of dicts."""
    if isinstance(grid, Mapping):
        keys = list(grid)
        return [dict(zip(keys, v, strict=True)) for v in itertools.product(*grid.values())]
    return [dict(p) for p in grid]


def simplex(n: int, step: float = 0.1) -> list[np.ndarray]:
    """Weight vectors of ``n`` members on a grid of ``step``, each summing to 1."""
    k = round(1 / step)
    return [
        np.array([*c, k - sum(c)]) / k
        for c in itertools.product(range(k + 1), repeat=n - 1)
        if sum(c) <= k
    ]


@dataclass
class Fitted:
    """One entry of one seed: the model, what validation chose, and how it got there."""

    model: Any
    params: dict
    val: float
    fit_s: float
    candidates: list = field(default_factory=list)  # [(params, validation score)]
    extra: dict = field(default_factory=dict)


@dataclass
class Context:
    """What an entry sees: the seed, the split (it reads only training and validation
    users) and the entries fitted before it."""

    seed: int
    protocol: Any
    split: Any  # the protocol's split without its test part
    train: pd.DataFrame  # the training ratings
    fitted: dict[str, Fitted]


@dataclass
class Grid:
    """A model and its grid; each point fitted, the best validation NDCG@100 kept.

    Args:
        name: the row name.
        make: ``make(**params)`` gives an unfitted model (a class will do).
        grid: {name: values} or a list of parameter dicts (default: one point, ``{}``).
        fixed: passed to every point and recorded with the choice.
        seeded: pass ``seed`` (the run's seed plus ``seed_offset``).
        then: settings of a fitted model tried without refitting, ``apply(model, setting)``.
        needs: ``needs(context)`` -> parameters taken from earlier choices, or None to
            skip this entry in that seed.
    """

    name: str
    make: Callable[..., Any]
    grid: Mapping[str, Sequence] | Sequence[dict] = ({},)
    fixed: dict = field(default_factory=dict)
    seeded: bool = True
    seed_offset: int = 0
    then: Sequence[dict] = ()
    apply: Callable[[Any, dict], None] | None = None
    needs: Callable[[Context], dict | None] | None = None
    uses_validation: bool = True

    def run(self, ctx: Context) -> Fitted | None:
        base = dict(self.fixed)
        if self.needs is not None:
            extra = self.needs(ctx)
            if extra is None:
                return None
            base.update(extra)
        if self.seeded:
            base["seed"] = ctx.seed + self.seed_offset
        proto, points = ctx.protocol, grid_points(self.grid)
        if not self.uses_validation and len(points) * max(len(self.then), 1) > 1:
            raise ValueError(f"{self.name}: a grid needs a model fitted without validation")
        best, candidates = None, []
        for point in points:
            params = {**base, **point}
            t = time.perf_counter()
            model = proto.fit(self.make(**params), ctx, self.uses_validation)
            fit_s = time.perf_counter() - t
            for setting in self.then or [{}]:
                if setting:
                    self.apply(model, setting)
                v = proto.validate(model, ctx, self.uses_validation)
                candidates.append(({**params, **setting}, v))
                if best is None or _better(v, best[2], proto.maximise):
                    best = (model, setting, v, fit_s, {**params, **setting})
        model, setting, v, fit_s, params = best
        if setting:
            self.apply(model, setting)
        model, refit = proto.refit(self.make, model, ctx, self.uses_validation)
        params = refit.pop("chosen", params)
        extra = refit
        log = _epochs(model)
        if log is not None and "val_ndcg@100" in log:
            scored = log.dropna(subset=["val_ndcg@100"])
            top = scored.loc[scored["val_ndcg@100"].idxmax()]
            params["best_epoch"] = int(top["epoch"])
            extra |= {"epochs_run": len(log), "best_epoch_val": float(top["val_ndcg@100"])}
        return Fitted(model, params, v, fit_s, candidates, extra)


def _better(a: float, b: float, maximise: bool) -> bool:
    """``a`` beats ``b`` on the validation objective (NaN never does; equals never do)."""
    return a > b if maximise else a < b


@dataclass
class Best:
    """The entry among ``among`` with the best validation score: a variant chosen per seed."""

    name: str
    among: Sequence[str]

    def run(self, ctx: Context) -> Fitted:
        options = [n for n in self.among if n in ctx.fitted]
        sign = 1 if ctx.protocol.maximise else -1
        pick = max(options, key=lambda n: sign * ctx.fitted[n].val)  # first of equals wins
        f = ctx.fitted[pick]
        candidates = [({"variant": n}, ctx.fitted[n].val) for n in options]
        return Fitted(f.model, {"variant": pick, **f.params}, f.val, f.fit_s, candidates, f.extra)


ZBlend = ZScoreBlend  # sum_m w_m z(model_m): members' per-user z-scores (models.blend)


@dataclass
class BlendOf:
    """Per-user z-score blend of earlier entries; weights on the ``step`` simplex (or the
    given ``weights``), chosen on validation users, the members' scores computed once."""

    name: str
    members: Sequence[str]
    step: float = 0.1
    weights: Sequence[Sequence[float]] | None = None

    def run(self, ctx: Context) -> Fitted:
        fitted = [ctx.fitted[n] for n in self.members]
        va = ctx.split.valid
        z = [zscore(_score(f.model, va.history)) for f in fitted]
        grid = self.weights or simplex(len(fitted), self.step)
        candidates = []
        for w in grid:
            s = sum(wi * zi for wi, zi in zip(w, z, strict=True))
            v = _objective(s, va)
            candidates.append(({"weights": [float(x) for x in w]}, v))
        weights, v = max(candidates, key=lambda c: c[1])  # first of equals wins
        blend = ZBlend([f.model for f in fitted], weights["weights"])
        params = {"members": list(self.members), **weights}
        for n, f in zip(self.members, fitted, strict=True):
            if "variant" in f.params:
                params[f"{n}.variant"] = f.params["variant"]
        return Fitted(blend, params, v, sum(f.fit_s for f in fitted), candidates)


# --- the experiment ---------------------------------------------------------------------
class Experiment:
    """``Experiment(protocol, entries, metrics, seeds).run(ratings)`` -> ``Result``.

    Args:
        protocol: splits ratings per seed (``StrongGeneralisation``).
        models: entries (``Grid``, ``Best``, ``BlendOf``), run in order.
        metrics: per-user metrics of the test rows ("ndcg@k", "recall@k", "hr@k").
        seeds: one split and one set of model seeds each.
        curve_ns: the new-user curve's n (empty: no curve).
        time_foldin: time a fold-in per user (``foldin_ms``; off keeps runs identical).
        log: called with a line per entry and seed.
    """

    def __init__(
        self,
        protocol,
        models: Sequence,
        metrics: Sequence[str] = METRICS,
        seeds: Sequence[int] = (0,),
        curve_ns: Sequence[int] = NEW_USER_NS,
        time_foldin: bool = True,
        log: Callable[[str], None] | None = print,
    ):
        names = [e.name for e in models]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate entry names in {names}")
        self.protocol, self.models = protocol, list(models)
        self.metrics, self.seeds = tuple(metrics), tuple(seeds)
        self.curve_ns, self.time_foldin, self.log = tuple(curve_ns), time_foldin, log

    def run(self, ratings: pd.DataFrame) -> Result:
        res = Result(
            protocol=self.protocol.describe(), seeds=list(self.seeds), run_id=uuid.uuid4().hex[:12]
        )
        users, runs, curves = [], [], []
        for seed in self.seeds:
            split = self.protocol.split(ratings, seed)
            res.stats[seed] = dict(getattr(split, "stats", None) or split.sizes())
            # the entries see no test user and no test rating: the context has none
            ctx = self.protocol.context(split, ratings, seed)
            for entry in self.models:
                f = entry.run(ctx)
                if f is None:
                    continue
                ctx.fitted[entry.name] = f
                u, r, c, pred = self.protocol.test(entry.name, f, split, seed, self)
                users.append(u)
                runs.append(r)
                curves += c
                if pred is not None:
                    res.predictions[(seed, entry.name)] = pred
                if self.log is not None:
                    shown = [m for m in (*self.metrics, "rmse", "mae") if m in u]
                    figures = " ".join(f"{m} {r.get(m, u[m].mean()):.4f}" for m in shown)
                    self.log(f"seed {seed} {entry.name}: {figures} val {f.val:.4f} {f.params}")
            res.models[seed] = {n: f.model for n, f in ctx.fitted.items()}
            res.params[seed] = {n: f.params for n, f in ctx.fitted.items()}
            res.candidates += [
                {"seed": seed, "model": n, "params": p, "val": v}
                for n, f in ctx.fitted.items()
                for p, v in f.candidates
            ]
        res.users = pd.concat(users, ignore_index=True)
        res.runs = pd.DataFrame(runs)
        res.curves = pd.DataFrame(curves)
        return res


def _foldin_ms(model, liked: sp.csr_matrix, n_users: int = 50) -> float:
    """Mean wall time to fold one person in and score the whole catalogue."""
    rows = [liked[r] for r in range(min(n_users, liked.shape[0]))]
    _score(model, rows[0])  # warm
    t = time.perf_counter()
    for h in rows:
        _score(model, h)
    return 1000 * (time.perf_counter() - t) / len(rows)


# --- the result ---------------------------------------------------------------------------
@dataclass
class Result:
    """What ``Experiment.run`` gives back; ``save`` / ``load`` keep it in a folder."""

    protocol: dict
    seeds: list
    run_id: str = ""  # names this run wherever its figures are quoted
    models: dict = field(default_factory=dict)  # seed -> name -> fitted model
    params: dict = field(default_factory=dict)  # seed -> name -> chosen parameters
    candidates: list = field(default_factory=list)  # {seed, model, params, val}
    users: pd.DataFrame = field(default_factory=pd.DataFrame)  # (seed, model, user) rows
    runs: pd.DataFrame = field(default_factory=pd.DataFrame)  # (seed, model) rows
    curves: pd.DataFrame = field(default_factory=pd.DataFrame)
    stats: dict = field(default_factory=dict)  # seed -> split counts
    unsaved: list = field(default_factory=list)  # "seed/name" of models not restored
    predictions: dict = field(default_factory=dict)  # (seed, name) -> test predictions

    def table(self) -> pd.DataFrame:
        """One row per (seed, model): the protocol's summary of the user rows (means of
        ranking metrics; RMSE and MAE over every rating) beside ``runs``."""
        protocol = _PROTOCOLS.get(self.protocol.get("name"), StrongGeneralisation)
        summary = protocol.summary(self.users).reset_index()
        runs = self.runs.drop(
            columns=[c for c in summary if c in self.runs and c not in ("seed", "model")]
        )
        return summary.merge(runs, on=["seed", "model"], how="left")

    def quote(
        self, models=None, metrics=None, curve_metrics=("ndcg@10", "recall@20"), seeds=None
    ) -> list:
        """This run's figures as records a notebook keeps (``record_figures``) and a test
        compares across notebooks: {model, protocol, run, seeds, metric, value}, the mean
        over ``seeds`` (default all) of the table (``metrics``, default every metric
        column) and of the new-user curve ("ndcg@10 n=5", ...)."""
        seeds = list(self.seeds if seeds is None else seeds)
        table = self.table().query("seed in @seeds")
        names = list(dict.fromkeys(table["model"])) if models is None else list(models)
        means = table.groupby("model", sort=False).mean(numeric_only=True)
        cols = [c for c in means if c != "seed"] if metrics is None else list(metrics)
        protocol, out = self.protocol.get("name", "?"), []
        for m in names:
            out += [
                {"model": m, "protocol": protocol, "run": self.run_id, "seeds": seeds,
                 "metric": c, "value": float(means.loc[m, c])}
                for c in cols
                if c in means and pd.notna(means.loc[m, c]) and not c.endswith(("_s", "_ms"))
            ]  # fmt: skip
        if len(self.curves):
            curves = self.curves[self.curves["seed"].isin(seeds)]
            curve = curves.groupby(["model", "n"], sort=False).mean(numeric_only=True)
            for (m, n), row in curve.iterrows():
                if m in names:
                    out += [
                        {"model": m, "protocol": f"{protocol}, new user given n",
                         "run": self.run_id, "seeds": seeds, "metric": f"{c} n={n}",
                         "value": float(row[c])}
                        for c in curve_metrics
                    ]  # fmt: skip
        return out

    def model(self, name: str, seed: int | None = None):
        """A fitted model of the run (default: the first seed)."""
        return self.models[self.seeds[0] if seed is None else seed][name]

    def save(self, folder: str | Path) -> Path:
        """``result.json`` (protocol, seeds, parameters, candidates, stats, which model is
        which checkpoint), ``users/runs/curves.parquet`` and one checkpoint per fitted
        model under ``models/`` (safetensors + JSON, ``models.checkpoints``)."""
        from recsys_utils.models import checkpoints
        from recsys_utils.models.registry import MODELS

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        saved, stems = {}, {}
        for seed, models in self.models.items():
            saved[str(seed)] = {}
            for name, m in models.items():
                if id(m) in stems:  # the same object under two names ("ours(val-chosen)")
                    saved[str(seed)][name] = stems[id(m)]
                elif m.capabilities.checkpointable and MODELS.get(m.name) is type(m):
                    stem = f"models/seed{seed}/m{len(saved[str(seed)])}"
                    checkpoints.save(m, folder / stem)
                    saved[str(seed)][name] = stems[id(m)] = stem
        meta = {
            "protocol": self.protocol,
            "seeds": self.seeds,
            "run_id": self.run_id,
            "params": {str(s): p for s, p in self.params.items()},
            "candidates": self.candidates,
            "stats": {str(s): v for s, v in self.stats.items()},
            "checkpoints": saved,
        }
        (folder / "result.json").write_text(json.dumps(meta, indent=1, default=_plain))
        for table in ("users", "runs", "curves"):
            getattr(self, table).to_parquet(folder / f"{table}.parquet", index=False)
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> Result:
        """A saved result; checkpoints are checked on load (``models.checkpoints.load``).
        Blends are rebuilt from their members and weights; models that could not be saved
        are listed in ``unsaved``."""
        from recsys_utils.models import checkpoints

        folder = Path(folder)
        meta = json.loads((folder / "result.json").read_text())
        seeds = [int(s) for s in meta["seeds"]]
        res = cls(protocol=meta["protocol"], seeds=seeds, run_id=meta.get("run_id", ""))
        res.params = {int(s): p for s, p in meta["params"].items()}
        res.candidates = meta["candidates"]
        res.stats = {int(s): v for s, v in meta["stats"].items()}
        for table in ("users", "runs", "curves"):
            setattr(res, table, pd.read_parquet(folder / f"{table}.parquet"))
        for seed in seeds:
            stems, models, loaded = meta["checkpoints"].get(str(seed), {}), {}, {}
            for name, params in res.params[seed].items():
                if name in stems:
                    stem = stems[name]
                    loaded.setdefault(stem, None)
                    loaded[stem] = loaded[stem] or checkpoints.load(folder / stem)
                    models[name] = loaded[stem]
                elif "weights" in params and all(m in models for m in params["members"]):
                    models[name] = ZBlend([models[m] for m in params["members"]], params["weights"])
                else:
                    res.unsaved.append(f"{seed}/{name}")
            res.models[seed] = models
        return res


_PROTOCOLS = {"strong_generalisation": StrongGeneralisation, "random_ratings": RandomRatings}


def _plain(value):
    """JSON for numpy scalars and arrays in parameters."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")
