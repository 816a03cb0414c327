"""bench.ranking end to end on a small synthetic table (tiny grids, a few epochs)."""

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("implicit")

from recsys_utils.bench import ranking as bench  # noqa: E402
from recsys_utils.evaluation.experiment import StrongGeneralisation  # noqa: E402


def synthetic(n_users=120, n_items=60, seed=0):
    rng = np.random.default_rng(seed)
    pop = rng.zipf(1.5, n_items).astype(float)
    rows = []
    for u in range(n_users):
        for i in rng.choice(n_items, rng.integers(8, 25), replace=False, p=pop / pop.sum()):
            rows.append((u + 1, int(i) + 1, float(rng.choice([3.0, 4.0, 5.0])), 0))
    return pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"])


def test_run_rows_and_curve(tmp_path):
    result = bench.run(
        synthetic(),
        (0,),
        protocol=StrongGeneralisation(n_test=20, n_valid=20),
        log=lambda *_: None,
        ease_grid=[10, 100],
        als_grid=dict(factors=[8], regularization=[1], alpha=[5]),
        bpr_grid=dict(factors=[8], learning_rate=[0.05]),
        ours_variants={"ours": dict(dim=8, num_threads=1)},
        ensemble=True,
        max_epochs=3,
        ease_init_kw={**bench.OURS_EASE_INIT, "dim": 8, "max_epochs": 2},
    )
    rows = bench.rows(result)
    names = [r["model"] for r in rows]
    assert names == [
        "popularity",
        "ease",
        "ials",
        "bpr",
        "ours",
        "ours(val-chosen)",
        "ours-twin",
        "ours-2seeds",
        "ours-ease-init",
        "ours-ease-exact",
        "blend(ours,ease)",
        "blend(ials,ease)",
        "blend(ours,ease,ials)",
        "blend(all)",
    ]
    assert rows[1]["params"]["lam"] in (10, 100)  # plain dicts, not JSON strings
    assert rows[3]["params"]["fold"] in ("ls", "mean")  # a setting tried without refitting
    assert rows[-1]["params"]["members"] == ["ours", "ease", "ials"]
    for r in rows:
        assert 0 <= r["ndcg@100"] <= 1 and 0 <= r["recall@20"] <= 1 and r["foldin_ms"] >= 0
    assert set(result.curves["n"]) == set(bench.NEW_USER_NS)
    table = bench.summarise(rows)
    assert "±" in table.loc["ease", "ndcg@100"]
    assert 0 < result.stats[0]["n_train_users"] <= 120 - 40  # under 5 positives: dropped
    md = bench.write_report(result, tmp_path, "synthetic")
    text = md.read_text()
    assert md.name == "bench_ranking.md" and (tmp_path / "bench_ranking.csv").is_file()
    assert "Strong generalisation" in text and "'lam': [10, 100]" in text
    assert "| ours(val-chosen) |" in text and "ndcg@10 n=1" in text
    assert "four conventions" in text
    conv = bench.conventions_table(result.curves)
    assert {"protocol", "rest"} <= set(conv.columns) and "ease" in conv.index
    assert len(pd.read_csv(tmp_path / "bench_ranking.csv")) == len(rows)


def test_the_default_grids_are_read_only_and_nobody_assigns_them():
    """Grids are arguments; the module constants are defaults that nothing overwrites."""
    import re
    from pathlib import Path

    with pytest.raises(TypeError):
        bench.ALS_GRID["factors"] = (8,)
    with pytest.raises(TypeError):
        bench.OURS_VARIANTS["ours-linear"]["dim"] = 8
    root = Path(__file__).resolve().parents[2]
    names = "EASE_GRID|ALS_GRID|BPR_GRID|BPR_FOLD_GRID|OURS_VARIANTS|OURS_TRAIN|OURS_EASE_INIT"
    assign = re.compile(rf"\.({names})\s*=[^=]|setattr\([^)]*[\"']({names})[\"']")
    offenders = [
        str(p.relative_to(root))
        for p in [
            *root.glob("notebooks/*.py"),
            *root.glob("tests/**/*.py"),
            *root.glob("recsys_utils/**/*.py"),
        ]
        if assign.search(p.read_text())
    ]
    assert offenders == []


def test_bench_ranking_command_line_takes_comma_separated_seeds():
    from recsys_utils.cli import build_parser

    args = build_parser().parse_args(["bench", "ranking", "--seeds", "0,2", "--dataset", "ml-100k"])
    assert args.seeds == (0, 2) and args.dataset == "ml-100k"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["bench", "ranking", "--seeds", "a,b"])


def test_simplex_grid():
    from recsys_utils.evaluation.experiment import simplex

    grid = [tuple(w) for w in simplex(3, 0.5)]
    assert sorted(grid) == sorted(
        [(0, 0, 1), (0, 0.5, 0.5), (0, 1, 0), (0.5, 0, 0.5), (0.5, 0.5, 0), (1, 0, 0)]
    )
    assert len(simplex(3, 0.1)) == 66


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


def test_bpr_gives_the_same_model_at_a_seed():
    """implicit's BPR on two threads is not reproducible (Hogwild); ours trains on one."""
    from recsys_utils.models.implicit_peers import BPR

    rng = np.random.default_rng(0)
    users, items = np.nonzero(rng.random((80, 40)) < 0.2)
    liked = pd.DataFrame({"user_id": users + 1, "item_id": items + 1, "rating": 5.0})
    a, b = (BPR(factors=8, iterations=20, seed=3).fit(liked) for _ in range(2))
    np.testing.assert_array_equal(a.V_, b.V_)
    with pytest.raises(ValueError):
        BPR(num_threads=2)
