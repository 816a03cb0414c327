"""bench.ranking end to end on a small synthetic table (tiny grids, a few epochs)."""

import json

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("implicit")

from recsys_utils.bench import ranking as bench  # noqa: E402


def synthetic(n_users=120, n_items=60, seed=0):
    rng = np.random.default_rng(seed)
    pop = rng.zipf(1.5, n_items).astype(float)
    rows = []
    for u in range(n_users):
        for i in rng.choice(n_items, rng.integers(8, 25), replace=False, p=pop / pop.sum()):
            rows.append((u + 1, int(i) + 1, float(rng.choice([3.0, 4.0, 5.0])), 0))
    return pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"])


def test_run_seed_rows_and_curve(monkeypatch, tmp_path):
    monkeypatch.setattr(bench, "EASE_GRID", [10, 100])
    monkeypatch.setattr(bench, "ALS_GRID", dict(factors=[8], regularization=[1], alpha=[5]))
    monkeypatch.setattr(bench, "BPR_GRID", dict(factors=[8], learning_rate=[0.05]))
    monkeypatch.setattr(
        bench, "OURS_EASE_INIT", {**bench.OURS_EASE_INIT, "dim": 8, "max_epochs": 2}
    )
    rows, curves, stats = bench.run_seed(
        synthetic(),
        0,
        ours_variants={"ours": dict(dim=8, num_threads=1)},
        ensemble=True,
        log=lambda *_: None,
        split_kw=dict(n_test=20, n_valid=20),
        max_epochs=3,
    )
    names = [r["model"] for r in rows]
    assert names == [
        "popularity",
        "ease",
        "ials",
        "bpr",
        "ours",
        "ours(val-chosen)",
        "ours-2seeds",
        "ours-ease-init",
        "ours-ease-exact",
        "blend(ours,ease)",
        "blend(ials,ease)",
        "blend(ours,ease,ials)",
        "blend(all)",
    ]
    w = json.loads(rows[-2]["params"])
    assert w["w_ours"] + w["w_ease"] + w["w_ials"] == pytest.approx(1.0)
    w = json.loads(rows[-1]["params"])
    assert set(w) == {"w_ours", "w_ease", "w_ials"} and sum(w.values()) == pytest.approx(1.0)
    for r in rows:
        assert 0 <= r["ndcg@100"] <= 1 and 0 <= r["recall@20"] <= 1 and r["foldin_ms"] >= 0
    assert {c["n"] for c in curves} == set(bench.NEW_USER_NS)
    table = bench.summarise(rows)
    assert "±" in table.loc["ease", "ndcg@100"]
    assert 0 < stats["n_train_users"] <= 120 - 40  # users under 5 positives are dropped
    md = bench.write_report(rows, curves, {0: stats}, tmp_path, "synthetic", (0,))
    text = md.read_text()
    assert md.name == "bench_ranking.md" and (tmp_path / "bench_ranking.csv").is_file()
    assert "Strong generalisation" in text and "EASE lambda" in text
    assert "| ours(val-chosen) |" in text and "ndcg@10 n=1" in text
    assert "four conventions" in text
    conv = bench.conventions_table(curves)
    assert {"protocol", "rest"} <= set(conv.columns) and "ease" in conv.index
    assert len(pd.read_csv(tmp_path / "bench_ranking.csv")) == len(rows)


def test_bench_ranking_command_line_takes_comma_separated_seeds():
    from recsys_utils.cli import build_parser

    args = build_parser().parse_args(["bench", "ranking", "--seeds", "0,2", "--dataset", "ml-100k"])
    assert args.seeds == (0, 2) and args.dataset == "ml-100k"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["bench", "ranking", "--seeds", "a,b"])


def test_simplex_grid_and_blend_choice_on_validation():
    grid = list(bench.simplex(3, 0.5))
    assert sorted(map(tuple, grid)) == sorted(
        [(0, 0, 1), (0, 0.5, 0.5), (0, 1, 0), (0.5, 0, 0.5), (0.5, 0.5, 0), (1, 0, 0)]
    )
    assert len(list(bench.simplex(3, 0.1))) == 66

    import scipy.sparse as sp

    from recsys_utils.evaluation.ranking_protocol import HeldOut

    class Fixed:  # a "model" whose scores are given
        def __init__(self, s):
            self.s = s

        def score_history(self, H):
            return self.s

    rng = np.random.default_rng(0)
    targets = sp.csr_matrix((rng.random((30, 40)) < 0.1).astype(np.float32))
    held = HeldOut(np.arange(30), sp.csr_matrix((30, 40), dtype=np.float32), targets)
    oracle, noise = (
        Fixed(targets.toarray() + 0.01 * rng.random((30, 40))),
        Fixed(rng.random((30, 40))),
    )
    w = bench.choose_blend([noise, oracle, noise], held, grid)
    assert tuple(w) == (0, 1, 0)  # the weights that rank the targets first
    blend = bench.Blend.of([noise, oracle], [0.0, 1.0])
    np.testing.assert_allclose(blend.score_history(None), bench.zscore(oracle.s))


def test_conventions_table_means_over_seeds_and_prints_the_user_count_as_a_count():
    """Two seeds at n = 10 (and one row at n = 5, left out): the means, and users_full
    (67 and 68 users) written 67.5 in the markdown, not 67.5000."""
    row = {"model": "m", "ndcg@10": 0.2, "rest_ndcg@10": 0.4, "full_ndcg@10": 0.3}
    curves = [
        {**row, "seed": 0, "n": 10, "full_rest_ndcg@10": 0.5, "n_full": 67},
        {**row, "seed": 1, "n": 10, "full_rest_ndcg@10": 0.6, "n_full": 68},
        {**row, "seed": 0, "n": 5, "full_rest_ndcg@10": 0.9, "n_full": 67},
    ]
    table = bench.conventions_table(curves)
    assert table.loc["m", "full_rest"] == pytest.approx(0.55)
    assert table.loc["m", "users_full"] == pytest.approx(67.5)
    text = bench.to_markdown(bench._counts_as_text(table).reset_index())
    assert "| m | 0.2000 | 0.4000 | 0.3000 | 0.5500 | 67.5 |" in text
