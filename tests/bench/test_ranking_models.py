"""bench ranking: the ``--models`` filter, the hybrid entry chosen on validation users only,
the paired table against scipy.stats on the same rows, and the report of a saved run."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from helpers import side_features
from scipy import stats as sps
from test_bench_ranking import synthetic

from recsys_utils.bench import ranking as bench
from recsys_utils.evaluation import experiment as ex
from recsys_utils.evaluation.ranking_protocol import HeldOut

SIZES = dict(n_test=20, n_valid=15)
PROTOCOL = ex.StrongGeneralisation(**SIZES)
TINY = dict(dim=8, max_epochs=10, patience=3, min_epochs=0, num_threads=1, device="cpu", lr=0.02)
HYBRID_GRID = [{**TINY, "id_dropout": 0.1}, {**TINY, "id_dropout": 0.5, "dim": 4}]


# --- the --models filter ------------------------------------------------------------------
def test_the_filter_keeps_the_named_entries_and_what_they_are_built_from():
    every = bench.entries(ensemble=True, hybrid=True)
    names = [e.name for e in bench.select(every, ["ease", "ours-linear", "hybrid"])]
    assert names == ["ease", "ours-linear", "hybrid"]
    # a blend brings its members, a chosen variant its variants, the EASE init EASE
    names = [e.name for e in bench.select(every, ["blend(ours,ease)", "ours-ease-init"])]
    assert names == [
        "ease",
        "ours-linear",
        "ours-tanh",
        "ours(val-chosen)",
        "ours-ease-init",
        "blend(ours,ease)",
    ]
    assert [e.name for e in bench.select(every, ["ours-twin"])] == [
        "ours-linear",
        "ours-tanh",
        "ours(val-chosen)",
        "ours-twin",
    ]


def test_the_hybrid_is_an_entry_only_where_features_are_given():
    assert "hybrid" not in [e.name for e in bench.entries()]
    assert "hybrid" in [e.name for e in bench.entries(features=side_features())]


def test_an_unknown_model_name_is_one_line_listing_the_names_and_exit_2(capsys):
    from recsys_utils.cli import main

    with pytest.raises(ValueError, match="unknown model") as err:
        bench.select(bench.entries(hybrid=True), ["ease", "nope"])
    assert "\n" not in str(err.value) and "'nope'" in str(err.value)
    assert "hybrid" in str(err.value) and "ours(val-chosen)" in str(err.value)
    # the command line checks the names before it reads any data
    code = main(["bench", "ranking", "--models", "ease,nope", "--dataset", "ml-100k"])
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and "'nope'" in lines[0] and "popularity" in lines[0]


def test_the_command_line_takes_models_and_from_run():
    from recsys_utils.cli import build_parser

    args = build_parser().parse_args(
        ["bench", "ranking", "--models", "ease, hybrid", "--from-run", "x"]
    )
    assert args.models == ("ease", "hybrid") and str(args.from_run) == "x"
    assert build_parser().parse_args(["bench", "ranking"]).models is None


# --- the hybrid's choices: validation users only --------------------------------------
@dataclasses.dataclass(frozen=True)
class Replaced(ex.StrongGeneralisation):
    """The protocol with every test user's targets replaced: by the five movies ``scorer``
    ranks first for them (a signal aimed at an option validation did not choose), or, with
    no scorer, by the five least popular movies they did not like."""

    scorer: object = None

    def split(self, ratings, seed):
        from recsys_utils.metrics import top_k

        s = super().split(ratings, seed)
        held = s.test
        if self.scorer is None:  # least popular first
            scores = -np.tile(np.asarray(s.train.sum(0)).ravel(), (len(held), 1))
        else:
            scores = self.scorer(held.history)
        cols = top_k(scores, 5, held.history).ravel()
        indptr = np.arange(0, cols.size + 1, 5)
        new = sp.csr_matrix((np.ones(cols.size, np.float32), cols, indptr), held.targets.shape)
        assert (new != held.targets).nnz
        return dataclasses.replace(s, test=HeldOut(held.users, held.history, new))


def _hybrid_run(protocol):
    return bench.run(
        synthetic(),
        (0,),
        protocol=protocol,
        log=None,
        time_foldin=False,
        models=["ease", "hybrid"],
        ease_grid=[10, 100],
        features=side_features(),
        hybrid_grid=HYBRID_GRID,
    )


@pytest.fixture(scope="module")
def hybrid_runs():
    a = _hybrid_run(PROTOCOL)
    chosen = a.params[0]["hybrid"]
    other = next(p for p, _ in _candidates(a) if p["id_dropout"] != chosen["id_dropout"])
    # the option validation left out, fitted alone: the aimed signal is its top five
    unchosen = bench.run(
        synthetic(), (0,), protocol=PROTOCOL, log=None, time_foldin=False, models=["hybrid"],
        features=side_features(), hybrid_grid=[{k: v for k, v in other.items() if k != "seed"}],
    ).model("hybrid")  # fmt: skip
    aimed = Replaced(**SIZES, scorer=lambda h: ex._score(unchosen, h))
    return a, _hybrid_run(Replaced(**SIZES)), _hybrid_run(aimed)


def _candidates(res):
    return [(c["params"], c["val"]) for c in res.candidates if c["model"] == "hybrid"]


def test_the_hybrid_entry_chooses_on_validation_users_only(hybrid_runs):
    a = hybrid_runs[0]
    vals = [v for _, v in _candidates(a)]
    assert len(vals) == 2 and len(set(vals)) == 2  # a choice to make
    assert a.params[0]["hybrid"]["id_dropout"] in (0.1, 0.5)
    assert isinstance(a.params[0]["hybrid"]["best_epoch"], int)  # epochs on validation
    best = max(_candidates(a), key=lambda c: c[1])[0]
    assert best["id_dropout"] == a.params[0]["hybrid"]["id_dropout"]
    for b in hybrid_runs[1:]:
        assert b.params == a.params and b.candidates == a.candidates
        # the replaced targets did reach the test figures
        h = "model == 'hybrid'"
        assert not np.allclose(a.users.query(h)["ndcg@100"], b.users.query(h)["ndcg@100"])


def test_the_report_says_how_the_hybrid_compares_with_ease(hybrid_runs, tmp_path):
    text = bench.write_report(hybrid_runs[0], tmp_path, "synthetic").read_text()
    assert "| hybrid | ease |" in text
    assert text.count('<span class="verdict"') == 1 and "hybrid" in text.split("<span")[1]


# --- the paired table ---------------------------------------------------------------------
def _rows(seed=0):
    """Per-user rows of three models over two seeds that share some users."""
    rng = np.random.default_rng(seed)
    out = []
    for s, users in ((0, range(0, 30)), (1, range(20, 50))):
        base = rng.random(len(users))
        for model, shift in (("ease", 0.0), ("ours-linear", -0.03), ("hybrid", 0.01)):
            vals = np.clip(base + shift + rng.normal(0, 0.05, len(users)), 0, 1)
            out += [{"seed": s, "model": model, "user": u, "ndcg@100": v}
                    for u, v in zip(users, vals, strict=True)]  # fmt: skip
    return pd.DataFrame(out)


def test_the_paired_table_is_scipy_stats_on_the_same_rows():
    rows = _rows()
    table = bench.paired_table(bench.paired_comparisons(rows))
    pairs = [("ours-linear", "ease"), ("hybrid", "ease"), ("ours-linear", "hybrid")]
    assert list(zip(table["a"], table["b"], strict=True)) == pairs
    wide = rows.pivot_table(index=["seed", "user"], columns="model", values="ndcg@100")
    ps = []
    for (a, b), row in zip(pairs, table.itertuples(index=False), strict=True):
        d = (wide[a] - wide[b]).groupby(level="user").mean()  # per user, over seeds
        assert len(d) == 50 and row.users == 50 and row.seeds == 2
        t = sps.ttest_rel(
            wide[a].groupby(level="user").mean(), wide[b].groupby(level="user").mean()
        )
        lo, hi = sps.t.interval(0.95, len(d) - 1, loc=d.mean(), scale=sps.sem(d))
        assert row[2] == pytest.approx(d.mean()) and row.p == pytest.approx(t.pvalue)
        assert (row.low, row.high) == pytest.approx((lo, hi))
        ps.append(t.pvalue)
    # Holm by hand: the k-th smallest of m times (m - k + 1), kept monotone
    order = np.argsort(ps)
    holm = np.minimum(np.maximum.accumulate([(3 - k) * ps[i] for k, i in enumerate(order)]), 1)
    np.testing.assert_allclose(table["p_holm"].to_numpy()[order], holm)
    for row in table.itertuples(index=False):
        clear = (row.low > 0 or row.high < 0) and row.p_holm < 0.05
        word = ("ahead" if row[2] > 0 else "behind") if clear else "on par"
        assert row.verdict == word
    assert table.loc[0, "verdict"] == "behind"  # ours 0.03 below on 50 users: clear
    text = bench.paired_text(table)
    assert text.loc[0, "95% interval"].startswith("[-0.0")


def test_no_pair_without_ease_or_the_hybrid():
    rows = _rows().query("model != 'ease' and model != 'hybrid'")
    assert bench.paired_comparisons(rows) == []
    assert "No pair" in bench.paired_intro([])


# --- a saved run's report, rebuilt without training --------------------------------------
def test_a_saved_runs_report_is_rebuilt_without_training(tmp_path, monkeypatch):
    from recsys_utils.cli import main

    result = bench.run(
        synthetic(), (0, 1), protocol=PROTOCOL, log=None, time_foldin=False,
        models=["popularity", "ease"], ease_grid=[10, 100],
    )  # fmt: skip
    first = bench.write_report(result, tmp_path / "a", "synthetic").read_text()
    assert "## Paired comparisons on ndcg@100" in first and "| popularity | ease |" in first
    assert "pooled over seeds" in first
    result.save(tmp_path / "run")

    def no_training(*a, **k):
        raise AssertionError("--from-run trained a model")

    monkeypatch.setattr(ex.Experiment, "run", no_training)
    out = tmp_path / "b"
    code = main(["bench", "ranking", "--from-run", str(tmp_path / "run"), "--out", str(out),
                 "--dataset", "ml-latest-small"])  # fmt: skip
    assert code == 0
    again = (out / "bench_ranking.md").read_text()
    assert again == first.replace("synthetic", "ml-latest-small", 1)
