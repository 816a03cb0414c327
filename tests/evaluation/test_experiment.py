"""The experiment's choices are made on validation users only, provably.

A tiny fixture runs every kind of entry the ranking bench uses (a grid, a grid with a
setting tried without refitting, models that stop early, a variant chosen per seed, blends
on a simplex) twice: once as it is, once with every TEST user's targets replaced by a
planted signal. Nothing chosen and no validation score may move; the test figures must.
A spy on the scorers' input shows that what reaches a model is only ever (part of) a
held-out user's liked movies, never a target. Each metric of the report is the
one-metric function at its own cut-off; the restored weights are the best epoch's;
seeded runs give identical figures; a result saves and loads back.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from recsys_utils.evaluation import experiment as ex
from recsys_utils.evaluation.ranking_protocol import HeldOut
from recsys_utils.metrics import hit_rate_at_k, ndcg_at_k, recall_at_k
from recsys_utils.models.base import Capabilities
from recsys_utils.models.ease import EASE
from recsys_utils.models.ranking import PooledSoftmax

PROTOCOL = ex.StrongGeneralisation(n_test=20, n_valid=15)
OURS = dict(dim=8, max_epochs=12, patience=3, min_epochs=0, num_threads=1, device="cpu", lr=0.02)


def synthetic(n_users=120, n_items=60, seed=0):
    rng = np.random.default_rng(seed)
    pop = rng.zipf(1.5, n_items).astype(float)
    rows = []
    for u in range(n_users):
        for i in rng.choice(n_items, rng.integers(8, 25), replace=False, p=pop / pop.sum()):
            rows.append((u + 1, int(i) + 1, float(rng.choice([3.0, 4.0, 5.0])), 0))
    return pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"])


class _Shift:
    """A model with a setting tried without refitting (like BPR's fold-in): EASE's scores
    plus ``shift`` times the item's popularity."""

    def __init__(self, lam=10.0):
        self.ease = EASE(lam=lam)
        self.shift = 0.0

    rating_scale = None
    history_ = None  # no epochs
    name = "shift"  # not registered: a Result keeps it in memory only
    capabilities = Capabilities()

    def fit(self, train, valid=None):
        self.ease.fit(train)
        self.item_map, self.pop_ = self.ease.item_map, self.ease.item_counts_
        return self

    def score(self, queries):
        return self.ease.score(queries) + self.shift * self.pop_


def _set_shift(model, setting):
    model.shift = setting["shift"]


def entries():
    return [
        ex.Grid("ease", EASE, {"lam": [1, 10, 100]}, seeded=False),
        ex.Grid(
            "shifted",
            _Shift,
            {"lam": [5, 50]},
            seeded=False,
            then=[{"shift": s} for s in (0.0, 0.01, 0.1)],
            apply=_set_shift,
        ),
        ex.Grid("ours-linear", PooledSoftmax, fixed=OURS),
        ex.Grid("ours-tanh", PooledSoftmax, {"lr": [0.01, 0.03]}, fixed={**OURS, "hidden": "tanh"}),
        ex.Best("ours(val-chosen)", ["ours-linear", "ours-tanh"]),
        ex.Best("best(any)", ["ease", "shifted", "ours-linear", "ours-tanh"]),
        ex.Grid(
            "ours-ease-init",
            PooledSoftmax,
            fixed={**OURS, "init": "ease", "max_epochs": 4, "lr": 1e-3},
            needs=lambda ctx: {"ease_lam": ctx.fitted["ease"].params["lam"]},
        ),
        ex.BlendOf("blend(ours,ease)", ["ours(val-chosen)", "ease"]),
        ex.BlendOf("blend(3)", ["ours(val-chosen)", "ease", "shifted"], step=0.25),
    ]


@dataclasses.dataclass(frozen=True)
class Planted(ex.StrongGeneralisation):
    """The protocol, with every test user's targets replaced by a planted signal: five
    movies they did not like, the last in the catalogue's order or the most popular.
    (``Aimed`` below plants signals aimed at the options validation did not choose.)"""

    n_test: int = PROTOCOL.n_test
    n_valid: int = PROTOCOL.n_valid
    name: str = "planted"
    popular: bool = False

    def split(self, ratings, seed):
        s = super().split(ratings, seed)
        te, n = s.test, s.n_items
        order = np.argsort(-np.asarray(s.train.sum(0)).ravel(), kind="stable")
        order = order if self.popular else np.arange(n)[::-1]
        rows, cols = [], []
        for r in range(len(te)):
            liked = set(te.history[r].indices)
            pick = [j for j in order if j not in liked][:5]
            rows += [r] * len(pick)
            cols += pick
        planted = sp.csr_matrix(
            (np.ones(len(rows), np.float32), (rows, cols)), shape=te.targets.shape
        )
        assert (planted != te.targets).nnz  # the signal does change the targets
        return dataclasses.replace(s, test=HeldOut(te.users, te.history, planted))


@dataclasses.dataclass(frozen=True)
class Aimed(ex.StrongGeneralisation):
    """The protocol, with every test user's targets replaced by the five movies a given
    scorer ranks first for them (their liked movies excluded): a signal aimed at an option
    validation did not choose, so a choice made on the test users would turn to it."""

    n_test: int = PROTOCOL.n_test
    n_valid: int = PROTOCOL.n_valid
    name: str = "aimed"
    scorer: object = None

    def split(self, ratings, seed):
        from recsys_utils.metrics import top_k

        s = super().split(ratings, seed)
        te = s.test
        top = top_k(self.scorer(te.history), 5, te.history)
        rows = np.repeat(np.arange(len(te)), top.shape[1])
        aimed = sp.csr_matrix(
            (np.ones(rows.size, np.float32), (rows, top.ravel())), shape=te.targets.shape
        )
        return dataclasses.replace(s, test=HeldOut(te.users, te.history, aimed))


def _aimed_at_what_was_not_chosen(a) -> list:
    """Protocols aimed at an option each choice left out: a variant of "best(any)" and of
    "ours(val-chosen)", and a blend weight vector of "blend(3)"."""
    out = []
    for name in ("best(any)", "ours(val-chosen)"):
        options = [c["params"]["variant"] for c in a.candidates if c["model"] == name]
        other = next(o for o in options if o != a.params[0][name]["variant"])
        out.append(Aimed(scorer=functools.partial(ex._score, a.model(other))))
    blend = a.params[0]["blend(3)"]
    other = next(
        c["params"]["weights"]
        for c in a.candidates
        if c["model"] == "blend(3)" and c["params"]["weights"] != blend["weights"]
    )
    members = [a.model(m) for m in blend["members"]]
    out.append(
        Aimed(
            scorer=lambda h: sum(
                w * ex.zscore(ex._score(m, h)) for w, m in zip(other, members, strict=True)
            )
        )
    )
    return out


def _run(protocol, seeds=(0,)):
    return ex.Experiment(protocol, entries(), seeds=seeds, time_foldin=False, log=None).run(
        synthetic()
    )


@pytest.fixture(scope="module")
def runs():
    a = _run(PROTOCOL)
    aimed = [_run(p) for p in _aimed_at_what_was_not_chosen(a)]
    return a, _run(Planted()), _run(Planted(popular=True)), *aimed


def _choices(res):
    return res.params, res.candidates, res.runs[["seed", "model", "val_ndcg@100"]]


def test_a_test_only_signal_changes_no_choice_and_no_validation_score(runs):
    a = runs[0]
    for b in runs[1:]:
        assert a.params == b.params  # hyperparameters, epochs, variants, blend weights
        assert a.candidates == b.candidates  # every validation score of every candidate
        pd.testing.assert_frame_equal(_choices(a)[2], _choices(b)[2])
        # the planted signal did reach the test figures
        assert not np.allclose(a.users["ndcg@10"], b.users["ndcg@10"])
    # and there were choices to make: several candidates with different scores
    for name in ("ease", "shifted", "ours-tanh", "blend(ours,ease)", "blend(3)"):
        vals = [c["val"] for c in a.candidates if c["model"] == name]
        assert len(set(vals)) > 1, name


def test_every_choice_is_recorded_as_plain_parameters(runs):
    a = runs[0]
    p = a.params[0]
    assert p["ease"]["lam"] in (1, 10, 100)
    assert p["shifted"]["shift"] in (0.0, 0.01, 0.1)
    assert p["ours(val-chosen)"]["variant"] in ("ours-linear", "ours-tanh")
    assert isinstance(p["ours-linear"]["best_epoch"], int)
    assert p["ours-ease-init"]["ease_lam"] == p["ease"]["lam"]
    for name in ("blend(ours,ease)", "blend(3)"):
        assert isinstance(p[name]["weights"], list)
    best = max(
        (c for c in a.candidates if c["model"] == "ease"), key=lambda c: c["val"]
    )  # the kept point is the best on validation
    assert best["params"]["lam"] == p["ease"]["lam"]


def test_blend_weights_sum_to_one_and_the_blend_is_their_sum_of_z_scores(runs):
    a = runs[0]
    split = PROTOCOL.split(synthetic(), 0)
    for name in ("blend(ours,ease)", "blend(3)"):
        w = a.params[0][name]["weights"]
        assert sum(w) == pytest.approx(1.0) and min(w) >= 0
        for c in a.candidates:
            if c["model"] == name:
                assert sum(c["params"]["weights"]) == pytest.approx(1.0)
        members = [a.model(m) for m in a.params[0][name]["members"]]
        expect = sum(
            wi * ex.zscore(ex._score(m, split.test.history))
            for wi, m in zip(w, members, strict=True)
        )
        np.testing.assert_allclose(
            ex._score(a.model(name), split.test.history), expect, rtol=1e-6, atol=1e-9
        )


def test_the_restored_weights_are_the_best_epochs(runs):
    a = runs[0]
    stopped = 0
    for row in a.runs.dropna(subset=["best_epoch_val"]).to_dict("records"):
        # the experiment's own validation score of the final model is the log's best
        assert row["val_ndcg@100"] == pytest.approx(row["best_epoch_val"], abs=1e-9), row["model"]
        stopped += row["epochs_run"] > a.params[row["seed"]][row["model"]]["best_epoch"]
    assert stopped  # some model trained past its best epoch, so restoring mattered


def _liked_rows(split):
    rows = set()
    for held in (split.valid, split.test):
        for r in range(len(held)):
            rows.add(frozenset(held.history[r].indices.tolist()))
    return rows


def test_no_test_target_ever_reaches_a_model(monkeypatch):
    """Every row a scorer is given is part of a held-out user's liked movies, and every
    fit sees the training users and the validation users only."""
    seen, fits = [], []
    score, fit = ex._score, ex._fit

    def spy_score(model, liked):
        seen.append(liked.copy())
        return score(model, liked)

    def spy_fit(model, split, train):
        fits.append((split, train))
        return fit(model, split, train)

    monkeypatch.setattr(ex, "_score", spy_score)
    monkeypatch.setattr(ex, "_fit", spy_fit)
    _run(PROTOCOL)
    split = PROTOCOL.split(synthetic(), 0)
    allowed = _liked_rows(split)
    assert seen and fits
    for liked in seen:
        for r in range(liked.shape[0]):
            row = set(liked[r].indices.tolist())
            assert any(row <= a for a in allowed), "a scorer was given a movie nobody typed in"
    held_out = set(split.test.users) | set(split.valid.users)
    for s, train in fits:
        assert s.test is None
        assert not set(s.train_users) & held_out and not set(train["user_id"]) & held_out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_each_metric_is_the_one_metric_function_at_its_own_cutoff(seed):
    rng = np.random.default_rng(seed)
    n_users, n_items = 40, 300
    scores = rng.normal(size=(n_users, n_items))
    targets = sp.csr_matrix((rng.random((n_users, n_items)) < 0.5).astype(np.float32))
    exclude = sp.csr_matrix(
        ((rng.random((n_users, n_items)) < 0.1) & (targets.toarray() == 0)).astype(np.float32)
    )
    assert (np.diff(targets.indptr) > 100).all()  # more targets than any k
    metrics = ("ndcg@100", "recall@20", "recall@50", "ndcg@10", "hr@10", "ndcg@3", "recall@7")
    got = ex.per_user_metrics(scores, targets, exclude, metrics)
    one = {"ndcg": ndcg_at_k, "recall": recall_at_k, "hr": hit_rate_at_k}
    for m in metrics:
        kind, k = m.split("@")
        np.testing.assert_allclose(got[m], one[kind](scores, targets, exclude, int(k)), err_msg=m)


def test_seeded_runs_give_identical_figures(runs):
    a = runs[0]
    b = _run(PROTOCOL)
    pd.testing.assert_frame_equal(a.users, b.users)
    pd.testing.assert_frame_equal(a.curves, b.curves)
    assert a.params == b.params


def test_a_result_saves_and_loads_back(runs, tmp_path):
    a = runs[0]
    a.save(tmp_path / "run")
    b = ex.Result.load(tmp_path / "run")
    assert b.params == a.params and b.candidates == a.candidates and b.seeds == a.seeds
    assert b.run_id == a.run_id and len(a.run_id) == 12
    assert b.quote() == a.quote()  # what notebooks quote is what the run holds
    quoted = {(q["model"], q["metric"]): q["value"] for q in a.quote()}
    assert quoted[("ease", "ndcg@10")] == pytest.approx(
        a.users.query("model == 'ease'")["ndcg@10"].mean()
    )
    assert ("ease", "ndcg@10 n=5") in quoted and ("ease", "fit_s") not in quoted
    pd.testing.assert_frame_equal(a.users, b.users)
    pd.testing.assert_frame_equal(a.runs, b.runs)
    # not a registered model, its blend (and "best(any)" where it chose it)
    assert (
        {"0/shifted", "0/blend(3)"} <= set(b.unsaved) <= {"0/shifted", "0/blend(3)", "0/best(any)"}
    )
    split = PROTOCOL.split(synthetic(), 0)
    for name in ("ease", "ours(val-chosen)", "ours-ease-init", "blend(ours,ease)"):
        np.testing.assert_allclose(
            ex._score(b.model(name), split.test.history),
            ex._score(a.model(name), split.test.history),
            rtol=1e-6,
        )
    assert b.model("ours(val-chosen)") is b.model(a.params[0]["ours(val-chosen)"]["variant"])
    assert not list((tmp_path / "run").rglob("*.pkl"))
    # the saved model is a whole package model: it recommends to a training user
    assert len(b.model("ease").recommend(split.train_users[0], k=3)) == 3


def test_the_rating_protocol_without_refit_fits_on_training_and_scores_validation():
    """Notebook 02's use: every model fitted on the training part only (validation steers
    the nets), each scored on validation; the table's RMSE is over every test rating."""
    from recsys_utils.data.splits import random_split
    from recsys_utils.metrics import rmse
    from recsys_utils.models import BiasOnly

    ratings = synthetic()
    protocol = ex.RandomRatings(valid_frac=0.2, test_frac=0.1, refit_with_valid=False)
    res = ex.Experiment(
        protocol, [ex.Grid("bias", BiasOnly, seeded=False)], seeds=(3,), log=None
    ).run(ratings)
    split = random_split(ratings, 0.2, 0.1, 3)
    run = res.runs.iloc[0]
    assert run["n_fit"] == len(split.train) and np.isfinite(run["val_rmse"])
    expect = BiasOnly().fit(split.train, split.valid)
    truth = split.test["rating"].to_numpy()
    pred = expect.predict(split.test["user_id"].to_numpy(), split.test["item_id"].to_numpy())
    assert res.table()["rmse"].iloc[0] == pytest.approx(rmse(truth, pred))
    assert run["rmse"] == pytest.approx(rmse(truth, pred))
