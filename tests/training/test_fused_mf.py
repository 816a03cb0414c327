"""The compiled MF step (``_fused_mf``): the same updates as the generic row-sparse step,
its shuffle, and when training uses it. Speed is measured by ``bench scale``, not here."""

from __future__ import annotations

import itertools
from collections import Counter

import numpy as np
import pytest
import torch

from recsys_utils.training import _fused_mf, nets
from recsys_utils.training._rowsparse import RowSparseOptimizer
from recsys_utils.training.loop import TrainConfig, TrainingDiverged, train

pytestmark = pytest.mark.skipif(_fused_mf.numba is None, reason="numba is not installed")


def _net(seed=0, n_users=6, n_items=5, dim=3):
    torch.manual_seed(seed)
    return nets.MFNet(n_users, n_items, n_factors=dim, mu=3.0, init_std=0.3)


# three batches with repeated users and movies in each (their gradients must be summed),
# rows that sit out a batch (lazy updates leave them alone) and a short last batch
USERS = [0, 0, 1, 2, 3, 3, 1, 5, 5, 5, 4, 0, 2, 2]
ITEMS = [0, 1, 2, 0, 1, 2, 0, 4, 3, 4, 3, 0, 1, 1]
RATINGS = [4.0, 3.0, 5.0, 2.0, 4.5, 1.0, 3.5, 5.0, 0.5, 4.0, 3.0, 2.5, 4.0, 3.5]
BATCHES = [[0, 1, 2, 3, 4, 5], [6, 7, 8, 9, 10, 11], [12, 13]]


def _data():
    return (
        torch.tensor(USERS, dtype=torch.long),
        torch.tensor(ITEMS, dtype=torch.long),
        torch.tensor(RATINGS, dtype=torch.float32),
    )


def _generic_step(net, opt, users, items, ratings, idx, l2):
    view, u, i = opt.gather(users[idx], items[idx])
    loss = torch.nn.functional.mse_loss(view(u, i), ratings[idx])
    sse = float(loss.detach()) * len(idx)
    if l2:
        loss = loss + l2 * view.penalty(u, i) / len(idx)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return sse


@pytest.mark.parametrize("kind", ["sgd", "adagrad", "adam"])
def test_fused_steps_match_the_generic_steps_one_by_one(kind):
    a, b = _net(), _net()
    opt_a = RowSparseOptimizer(a, kind, lr=0.05, weight_decay=0.1)
    opt_b = RowSparseOptimizer(b, kind, lr=0.05, weight_decay=0.1)
    step = _fused_mf.MFStep(a, opt_a, max_batch=6)
    data = _data()
    for _ in range(2):  # two epochs: Adam's per-row step counts differ by then
        for batch in BATCHES:
            idx = torch.tensor(batch)
            sse_a = step.step(idx, *data, l2=0.2)
            sse_b = _generic_step(b, opt_b, *data, idx, l2=0.2)
            assert sse_a == pytest.approx(sse_b, rel=1e-5)
    for (name, pa), pb in zip(a.named_parameters(), b.parameters(), strict=True):
        assert torch.allclose(pa, pb, atol=1e-5), name
    twin = dict(zip(a.parameters(), b.parameters(), strict=True))
    compared = 0
    for pa, sa in opt_a.state.items():
        if pa.dim() == 2:  # the four tables' row state: m, v, t (Adam) or sum (Adagrad)
            sb = opt_b.state[twin[pa]]
            assert sa.keys() == sb.keys()
            for key in sa:
                assert torch.allclose(sa[key], sb[key], atol=1e-5), key
                compared += 1
    assert compared == {"sgd": 0, "adagrad": 4, "adam": 12}[kind]


def test_fused_steps_continue_where_generic_adam_steps_left_off():
    # Adam's per-row step counts from the generic epoch carry into the fused one
    a, b = _net(), _net()
    opt_a = RowSparseOptimizer(a, "adam", lr=0.05)
    opt_b = RowSparseOptimizer(b, "adam", lr=0.05)
    data = _data()
    for batch in BATCHES:
        for net, opt in ((a, opt_a), (b, opt_b)):
            _generic_step(net, opt, *data, torch.tensor(batch), l2=0.0)
    step = _fused_mf.MFStep(a, opt_a, max_batch=6)
    for batch in BATCHES:
        step.step(torch.tensor(batch), *data)
        _generic_step(b, opt_b, *data, torch.tensor(batch), l2=0.0)
    assert int(opt_a.state[a.user_emb.weight]["t"].max()) == 4  # user 0: in 2 batches a time
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.allclose(pa, pb, atol=1e-5)


def test_one_fused_sgd_step_by_hand():
    # p_0 = (1, 0), q_0 = (0.5, 0.5), biases 0, mu 0, one rating r = 1: prediction 0.5,
    # d(loss)/d(pred) = 2 (0.5 - 1) = -1, so with lr 0.1: p_0 <- p_0 + 0.1 q_0 = (1.05, 0.05),
    # q_0 <- q_0 + 0.1 p_0 = (0.6, 0.5), b_u0 = b_i0 = mu = 0.1; user 1 and movie 1 untouched
    net = nets.MFNet(2, 2, n_factors=2, mu=0.0)
    with torch.no_grad():
        net.user_emb.weight.copy_(torch.tensor([[1.0, 0.0], [7.0, 7.0]]))
        net.item_emb.weight.copy_(torch.tensor([[0.5, 0.5], [9.0, 9.0]]))
    opt = RowSparseOptimizer(net, "sgd", lr=0.1)
    sse = _fused_mf.MFStep(net, opt, 1).step(
        torch.tensor([0]), torch.tensor([0]), torch.tensor([0]), torch.tensor([1.0])
    )
    assert sse == pytest.approx(0.25)
    assert net.user_emb.weight.flatten().tolist() == pytest.approx([1.05, 0.05, 7.0, 7.0])
    assert net.item_emb.weight.flatten().tolist() == pytest.approx([0.6, 0.5, 9.0, 9.0])
    assert net.user_bias.weight[:, 0].tolist() == pytest.approx([0.1, 0.0])
    assert net.item_bias.weight[:, 0].tolist() == pytest.approx([0.1, 0.0])
    assert net.mu.item() == pytest.approx(0.1)


@pytest.mark.parametrize("optimizer", ["sparse_sgd", "sparse_adam"])
def test_training_fused_or_not_gives_the_same_model_in_one_batch(optimizer):
    # with the whole data in one batch the shuffles cannot differ
    a, b = _net(), _net()
    hist = {}
    for net, fused in ((a, True), (b, False)):
        cfg = TrainConfig(
            optimizer=optimizer,
            lr=0.05,
            l2=0.1,
            batch_size=64,
            epochs=3,
            patience=None,
            progress=False,
            fused=fused,
        )
        hist[fused] = train(net, _data(), _data(), cfg, clip=(0.5, 5.0))
    assert np.allclose(hist[True]["train_loss"], hist[False]["train_loss"], rtol=1e-5)
    assert np.allclose(hist[True]["val_rmse"], hist[False]["val_rmse"], rtol=1e-5)
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.allclose(pa, pb, atol=1e-5)


def test_training_takes_the_fused_step_only_where_it_applies(monkeypatch):
    calls = Counter()
    real = _fused_mf.MFStep.step

    def counting(self, *args, **kw):
        calls["step"] += 1
        return real(self, *args, **kw)

    monkeypatch.setattr(_fused_mf.MFStep, "step", counting)
    base = {"lr": 0.05, "batch_size": 4, "epochs": 2, "patience": None, "progress": False}
    train(_net(), _data(), None, TrainConfig(optimizer="sparse_adam", **base), clip=(0.5, 5))
    assert calls["step"] == 2 * 4  # 14 ratings in batches of 4: 4 batches an epoch
    for cfg in (
        TrainConfig(optimizer="sparse_adam", fused=False, **base),
        TrainConfig(optimizer="adamw", **base),
    ):
        train(_net(), _data(), None, cfg, clip=(0.5, 5))
    collab = nets.CollabFNetModule(6, 5, emb_size=3, n_hidden=4, dropout=0.0, mu=3.0)
    train(collab, _data(), None, TrainConfig(optimizer="sparse_adam", **base), clip=(0.5, 5))
    assert calls["step"] == 8  # none of the other three did


def test_supports_only_a_float32_cpu_mfnet_with_a_row_sparse_optimiser():
    net = _net()
    assert _fused_mf.supports(net, RowSparseOptimizer(net, "adam"))
    assert not _fused_mf.supports(net, torch.optim.Adam(net.parameters()))
    collab = nets.CollabFNetModule(6, 5, emb_size=3, n_hidden=4, dropout=0.0)
    assert not _fused_mf.supports(collab, RowSparseOptimizer(collab, "adam"))
    double = _net().double()
    assert not _fused_mf.supports(double, RowSparseOptimizer(double, "adam"))
    with pytest.raises(ValueError, match="MFNet"):
        _fused_mf.MFStep(collab, RowSparseOptimizer(collab, "adam"), 4)


def test_indices_outside_the_tables_are_refused_before_any_step():
    net = _net()  # 6 users, 5 movies
    step = _fused_mf.MFStep(net, RowSparseOptimizer(net, "adam"), max_batch=4)
    users, items, ratings = _data()
    with pytest.raises(IndexError, match=r"user indices must lie in \[0, 6\).*got 0\.\.6"):
        step.prepare(torch.cat([users, torch.tensor([6])]), items, ratings)
    with pytest.raises(IndexError, match=r"item indices .* got -1\.\.4"):
        step.prepare(users, torch.cat([items, torch.tensor([-1])]), ratings)
    cfg = TrainConfig(optimizer="sparse_adam", batch_size=4, epochs=1, progress=False)
    with pytest.raises(IndexError, match="user indices"):
        train(net, (users + 1, items, ratings), None, cfg, clip=(0.5, 5))


def test_a_nan_rating_stops_fused_training_as_divergence():
    users, items, ratings = _data()
    ratings[3] = float("nan")
    cfg = TrainConfig(optimizer="sparse_adam", batch_size=4, epochs=2, progress=False)
    with pytest.raises(TrainingDiverged, match="epoch 1"):
        train(_net(), (users, items, ratings), None, cfg, clip=(0.5, 5))


def test_a_batch_larger_than_the_step_was_built_for_is_refused():
    net = _net()
    step = _fused_mf.MFStep(net, RowSparseOptimizer(net, "sgd"), max_batch=2)
    with pytest.raises(ValueError, match="built for 2"):
        step.step(torch.arange(3), *_data())


@pytest.mark.parametrize("n", [0, 1, 2, 7, 1000, 123_457])
def test_shuffle_is_a_permutation(n):
    perm = _fused_mf.shuffle(n, seed=5)
    assert perm.dtype == torch.int64
    assert torch.equal(torch.sort(perm).values, torch.arange(n))


def test_shuffle_depends_on_the_seed_not_on_the_thread_count():
    import numba

    first = _fused_mf.shuffle(200_000, seed=1)
    threads = numba.get_num_threads()
    try:
        _fused_mf.set_threads(1)
        one_thread = _fused_mf.shuffle(200_000, seed=1)
    finally:
        numba.set_num_threads(threads)
    assert torch.equal(first, one_thread)
    assert not torch.equal(first, _fused_mf.shuffle(200_000, seed=2))


def test_shuffle_draws_every_order_about_equally_often():
    # 3 items: 6 orders, 3,000 seeds, 500 expected each (sd 20); 400-600 is five sd
    counts = Counter(tuple(_fused_mf.shuffle(3, seed=s).tolist()) for s in range(3000))
    assert set(counts) == set(itertools.permutations(range(3)))
    assert all(400 <= c <= 600 for c in counts.values()), counts


def test_shuffle_mixes_across_buckets():
    # 200k indices use 4 buckets; the first batch must draw evenly from all of the range
    perm = _fused_mf.shuffle(200_000, seed=3)[:20_000].numpy()
    quarters = np.bincount(perm // 50_000, minlength=4) / 20_000
    assert np.all(np.abs(quarters - 0.25) < 0.02), quarters


def test_hugepage_copy_copies_large_tensors_and_keeps_small_ones():
    big = torch.randn(1024, 1024)  # 4 MB
    copy = _fused_mf.hugepage_copy(big)
    assert torch.equal(copy, big)
    copy[0, 0] += 1.0
    assert not torch.equal(copy, big)  # a copy, not a view
    small = torch.randn(10)
    assert _fused_mf.hugepage_copy(small) is small
