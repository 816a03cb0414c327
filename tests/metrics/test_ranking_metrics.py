"""``metrics.ranking``: hand-worked cases per metric, ties, empty slots, and random cases
against ranx (an independent implementation) and a plain per-user loop."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recsys_utils.metrics import (
    coverage_at_k,
    hit_rate_at_k,
    map_at_k,
    mrr_at_k,
    ndcg_at_k,
    parse_metric,
    per_user,
    per_user_from_top,
    precision_at_k,
    recall_at_k,
    recall_full_at_k,
    report,
    report_from_top,
    top_k,
    top_k_eligible,
)

ONE_METRIC = {
    "ndcg": ndcg_at_k,
    "recall": recall_at_k,
    "recall_full": recall_full_at_k,
    "hr": hit_rate_at_k,
    "precision": precision_at_k,
    "mrr": mrr_at_k,
    "map": map_at_k,
}
LOG3 = np.log2(3)


def csr(a):
    return sp.csr_matrix(np.asarray(a, dtype=np.float32))


# --- hand-worked, one user: scores 5 4 3 2 1 over items 0..4 ----------------------------
S = np.array([[5.0, 4, 3, 2, 1]])
T = csr([[0, 1, 0, 1, 1]])  # three targets, at ranks 2, 4 and 5


@pytest.mark.parametrize(
    ("name", "k", "want"),
    [
        ("ndcg", 2, (1 / LOG3) / (1 + 1 / LOG3)),  # one hit at rank 2; ideal: 2 hits
        # hits at ranks 2, 4, 5; ideal: 3 hits at ranks 1, 2, 3
        ("ndcg", 5, (1 / LOG3 + 1 / np.log2(5) + 1 / np.log2(6)) / (1 + 1 / LOG3 + 1 / 2)),
        ("recall", 1, 0.0),  # no hit at rank 1
        ("recall", 2, 1 / 2),  # 1 hit / min(2, 3)
        ("recall", 5, 1.0),  # 3 hits / min(5, 3)
        ("recall_full", 2, 1 / 3),  # 1 hit / 3 targets
        ("recall_full", 4, 2 / 3),
        ("hr", 1, 0.0),
        ("hr", 2, 1.0),
        ("precision", 2, 1 / 2),
        ("precision", 4, 2 / 4),
        ("mrr", 1, 0.0),
        ("mrr", 5, 1 / 2),  # first hit at rank 2
        ("map", 4, (1 / 2 + 2 / 4) / 3),  # precision at the hits 1/2, 2/4; over min(4, 3)
        ("map", 2, (1 / 2) / 2),  # over min(2, 3)
    ],
)
def test_each_metric_worked_by_hand(name, k, want):
    assert ONE_METRIC[name](S, T, None, k)[0] == pytest.approx(want, abs=1e-12)
    assert report(S, T, None, (f"{name}@{k}",))[f"{name}@{k}"] == pytest.approx(want, abs=1e-12)


def test_coverage_worked_by_hand():
    # two users; top-2 lists [0, 1] and [3, 1] (item 0 excluded for the second): 3 of 5
    s = np.array([[5.0, 4, 3, 2, 1], [9.0, 4, 3, 5, 1]])
    x = csr([[0, 0, 0, 0, 0], [1, 0, 0, 0, 0]])
    assert top_k(s, 2, x).tolist() == [[0, 1], [3, 1]]
    assert coverage_at_k(s, x, 2) == pytest.approx(3 / 5)
    assert report(s, csr(np.ones((2, 5))), x, ("coverage@2",)) == {"coverage@2": 0.6}


def test_the_protocol_report_by_hand():
    t = csr([[0, 1, 0, 1, 0]])  # hits at ranks 2 and 4
    ndcg = (1 / LOG3 + 1 / np.log2(5)) / (1 + 1 / LOG3)
    r = report(S, t)
    assert list(r) == ["recall@20", "recall@50", "ndcg@10", "ndcg@100", "hr@10", "coverage@10"]
    assert r["ndcg@10"] == pytest.approx(ndcg) and r["ndcg@100"] == pytest.approx(ndcg)
    assert r["hr@10"] == 1.0 and r["recall@20"] == 1.0 and r["coverage@10"] == 1.0


def test_excluded_items_take_no_slot_and_never_hit():
    s = np.array([[9.0, 8, 1, 0]])
    x = csr([[1, 1, 0, 0]])
    assert top_k(s, 2, x).tolist() == [[2, 3]]
    assert recall_at_k(s, csr([[1, 0, 0, 0]]), x, 2)[0] == 0.0
    # k beyond the eligible items: empty slots (-1), which hit nothing and cover nothing
    assert top_k(s, 4, x).tolist() == [[2, 3, -1, -1]]
    assert recall_at_k(s, csr([[1, 0, 0, 1]]), x, 4)[0] == 1 / 2
    assert coverage_at_k(s, x, 4) == 2 / 4
    # a boolean mask, and one row with item indices, say the same
    assert top_k(s, 2, x.toarray() > 0).tolist() == [[2, 3]]
    assert top_k(s[0], 2, np.array([0, 1])).tolist() == [2, 3]


def test_ties_go_to_the_lower_item_index_even_across_the_cut():
    s = np.array([[1.0, 3, 3, 3, 3, 0], [2.0, 2, 2, 2, 2, 2]])
    assert top_k(s, 2).tolist() == [[1, 2], [0, 1]]
    assert top_k(s, 3).tolist() == [[1, 2, 3], [0, 1, 2]]
    assert top_k(s[1], 4).tolist() == [0, 1, 2, 3]
    # NaN counts as -inf, an ordinary (low) score, so the tie goes to the lower index
    assert top_k(np.array([np.nan, -np.inf, 0.0]), 3).tolist() == [2, 0, 1]


def test_top_k_matches_a_full_stable_sort_on_random_ties():
    rng = np.random.default_rng(0)
    for _ in range(20):
        s = rng.integers(0, 4, size=(30, 25)).astype(float)  # many ties at every cut
        x = rng.random(s.shape) < 0.3
        k = int(rng.integers(1, 26))
        want = np.full((30, k), -1)
        for u in range(30):
            eligible = [
                i for i in sorted(range(25), key=lambda i, u=u: (-s[u, i], i)) if not x[u, i]
            ]
            want[u, : min(k, len(eligible))] = eligible[:k]
        assert (top_k(s, k, csr(x)) == want).all()


def test_top_k_eligible_refuses_too_few_items():
    assert top_k_eligible(np.array([1.0, 3, 2]), 2).tolist() == [1, 2]
    assert top_k_eligible(np.array([1.0, 3, 2]), 2, np.array([False, True, False])).tolist() == [
        2,
        0,
    ]
    with pytest.raises(ValueError, match="k=3 exceeds the 2 eligible"):
        top_k_eligible(np.array([1.0, 3, 2]), 3, np.array([1]))
    with pytest.raises(ValueError, match="k must be at least 1"):
        top_k(np.array([1.0]), 0)


def test_a_user_without_targets_has_no_value_and_is_left_out_of_the_mean():
    s = np.array([[5.0, 4, 3], [5.0, 4, 3]])
    t = csr([[1, 0, 0], [0, 0, 0]])
    values = per_user(s, t, None, ("ndcg@2", "recall@2"))
    assert values["ndcg@2"][0] == 1.0 and np.isnan(values["ndcg@2"][1])
    assert report(s, t, None, ("ndcg@2", "recall@2")) == {"ndcg@2": 1.0, "recall@2": 1.0}
    with pytest.raises(ValueError, match="no user has a relevant item"):
        report(s, csr(np.zeros((2, 3))), None, ("ndcg@2",))


def test_bad_names_and_shapes_are_refused():
    assert parse_metric("ndcg@100") == ("ndcg", 100)
    for bad in ("ndcg", "ndcg@0", "ndcg@x", "nDCG@10", "auc@5"):
        with pytest.raises(ValueError, match="metric"):
            parse_metric(bad)
    with pytest.raises(ValueError, match="not of one user"):
        per_user(S, T, None, ("coverage@2",))
    with pytest.raises(ValueError, match="cannot give a metric at k=5"):
        per_user_from_top(np.array([[0, 1]]), T, ("ndcg@5",))
    with pytest.raises(ValueError, match="2 top-k rows but 1 relevant"):
        per_user_from_top(np.array([[0], [1]]), [np.array([1])], ("ndcg@1",))
    with pytest.raises(ValueError, match="exclude has shape"):
        top_k(S, 2, csr([[1, 0]]))


def test_stored_zeros_and_duplicate_targets_count_once_or_not_at_all():
    # user 0: item 1 stored twice, item 2 stored as an explicit 0 -> one target, {1}
    t = sp.csr_matrix(
        (np.array([1.0, 1.0, 0.0]), (np.array([0, 0, 0]), np.array([1, 1, 2]))), (1, 4)
    )
    s = np.array([[1.0, 3, 4, 2]])  # ranking 2, 1, 3, 0
    assert recall_full_at_k(s, t, None, 2)[0] == 1.0  # 1 hit / 1 target
    assert ndcg_at_k(s, t, None, 2)[0] == pytest.approx(1 / LOG3)  # the hit at rank 2 of 1


def test_target_lists_and_a_target_matrix_agree():
    rng = np.random.default_rng(1)
    s = rng.normal(size=(8, 12))
    t = csr(rng.random((8, 12)) < 0.3)
    top = top_k(s, 5)
    lists = [t[u].indices for u in range(8)]
    names = ("ndcg@5", "map@3", "mrr@5")
    a = per_user_from_top(top, t, names)
    b = per_user_from_top(top, lists, names, n_items=12)
    for name in names:
        np.testing.assert_array_equal(a[name], b[name])


# --- random cases ---------------------------------------------------------------------
def random_case(seed, n_users=40, n_items=60, max_targets=25):
    """Tie-free scores, a random history excluded, 0..max_targets targets a user (so
    many users have more targets than k, and some none), disjoint from the history."""
    rng = np.random.default_rng(seed)
    s = rng.normal(size=(n_users, n_items))
    x = rng.random(s.shape) < 0.15
    t = np.zeros(s.shape, dtype=bool)
    for u in range(n_users):
        free = np.flatnonzero(~x[u])
        t[u, rng.choice(free, min(int(rng.integers(0, max_targets + 1)), free.size), False)] = 1
    t[0] = False  # at least one user without targets
    t[1, np.flatnonzero(~x[1])[:max_targets]] = True  # and one with many
    return s, csr(t), csr(x)


# our name -> ranx's; recall and map of ranx divide by |T| (rescaled below)
RANX = {
    "ndcg": "ndcg",
    "recall": "recall",
    "recall_full": "recall",
    "hr": "hit_rate",
    "precision": "precision",
    "mrr": "mrr",
    "map": "map",
}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_metric_agrees_with_ranx_on_random_cases(seed):
    ranx = pytest.importorskip("ranx")
    s, t, x = random_case(seed)
    ks = (1, 5, 10, 20)
    names = [f"{m}@{k}" for m in RANX for k in ks]
    ours = per_user(s, t, x, names)
    n = np.diff(t.indptr)
    users = np.flatnonzero(n > 0)
    assert (n > 20).any() and (n == 0).any()
    qrels = ranx.Qrels({f"u{u}": {f"i{i}": 1 for i in t[u].indices} for u in users})
    excluded = x.toarray() > 0
    run = ranx.Run(
        {
            f"u{u}": {f"i{i}": float(s[u, i]) for i in range(s.shape[1]) if not excluded[u, i]}
            for u in users
        }
    )
    ranx.evaluate(qrels, run, sorted({f"{RANX[m]}@{k}" for m in RANX for k in ks}))
    for name in names:  # ranx keeps each query's value in run.scores
        base, k = parse_metric(name)
        theirs = np.array([run.scores[f"{RANX[base]}@{k}"][f"u{u}"] for u in users])
        if base in ("recall", "map"):  # ranx: over |T|; ours: over min(k, |T|)
            theirs = theirs * n[users] / np.minimum(n[users], k)
        np.testing.assert_allclose(ours[name][users], theirs, rtol=0, atol=1e-12, err_msg=name)
        assert np.isnan(ours[name][n == 0]).all()


def _by_hand(s, t, x, name):
    """One user at a time from a full sort: the textbook definitions (module docstring)."""
    base, k = parse_metric(name)
    excluded = x.toarray() > 0
    out = []
    for u in range(s.shape[0]):
        target = set(t[u].indices.tolist())
        ranked = [i for i in np.lexsort((np.arange(s.shape[1]), -s[u])) if not excluded[u, i]]
        h = [1.0 if i in target else 0.0 for i in ranked[:k]]
        if not target:
            out.append(np.nan)
            continue
        cut = min(k, len(target))
        dcg = sum(v / np.log2(j + 2) for j, v in enumerate(h))
        value = {
            "ndcg": dcg / sum(1 / np.log2(j + 2) for j in range(cut)),
            "recall": sum(h) / cut,
            "recall_full": sum(h) / len(target),
            "hr": float(any(h)),
            "precision": sum(h) / k,
            "mrr": next((1 / (j + 1) for j, v in enumerate(h) if v), 0.0),
            "map": sum(v * sum(h[: j + 1]) / (j + 1) for j, v in enumerate(h)) / cut,
        }[base]
        out.append(value)
    return np.array(out)


@pytest.mark.parametrize("seed", [3, 4])
def test_every_metric_agrees_with_a_per_user_loop_with_ties(seed):
    s, t, x = random_case(seed)
    s = np.round(s * 2)  # integer scores: ties everywhere, broken by item index
    names = [f"{m}@{k}" for m in RANX for k in (1, 3, 10)]
    ours = per_user(s, t, x, names)
    for name in names:
        np.testing.assert_allclose(ours[name], _by_hand(s, t, x, name), atol=1e-12, err_msg=name)


@pytest.mark.parametrize("seed", [5, 6, 7])
def test_each_metric_of_a_report_equals_its_one_metric_function_at_its_own_k(seed):
    """One top-k at the largest cut-off serves every metric: each must still be computed
    at its own k, on users with more targets than that k."""
    s, t, x = random_case(seed, max_targets=40)
    assert (np.diff(t.indptr) > 20).sum() > 10
    names = [f"{m}@{k}" for m in ONE_METRIC for k in (1, 5, 20)] + ["coverage@5", "coverage@20"]
    rng = np.random.default_rng(seed)
    names = list(rng.permutation(names))  # the order of the names changes nothing
    got = report(s, t, x, names)
    rows = per_user(s, t, x, [n for n in names if not n.startswith("coverage")])
    assert list(got) == names
    for name in names:
        base, k = parse_metric(name)
        if base == "coverage":
            assert got[name] == coverage_at_k(s, x, k)
            continue
        alone = ONE_METRIC[base](s, t, x, k)
        np.testing.assert_array_equal(rows[name], alone)
        assert got[name] == pytest.approx(np.nanmean(alone), abs=1e-15)
    # a report computed at another largest cut-off gives the same figures
    assert report(s, t, x, [*names, "ndcg@50"])[names[0]] == got[names[0]]


def test_report_from_top_matches_report():
    s, t, x = random_case(8)
    top = top_k(s, 20, x)
    names = ("ndcg@10", "recall@20", "coverage@10")
    assert report_from_top(top, t, names, s.shape[1]) == report(s, t, x, names)
