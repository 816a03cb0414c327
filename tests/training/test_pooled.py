"""The ranking model's step (``training.pooled``) and its net's loss
(``ranking_net.PooledNet.forward``): hand-worked losses, the compiled CPU loops against
the torch formulas, the row-sparse batches, and seeded determinism."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from recsys_utils.training import _row_kernels
from recsys_utils.training.loop import TrainConfig, fit
from recsys_utils.training.pooled import PooledStep, distinct_rows, log_q
from recsys_utils.training.ranking_net import PooledBatch, PooledNet

LONG = dict(dtype=torch.long)


def tiny_net() -> PooledNet:
    """dim 1, 3 movies: input e = (1, 0, 2), output o = (1, 2, 0), bias c = (0, 0, ln 2)."""
    net = PooledNet(3, 1)
    with torch.no_grad():
        net.inp.weight.copy_(torch.tensor([[1.0], [0.0], [2.0]]))
        net.out.weight.copy_(torch.tensor([[1.0], [2.0], [0.0]]))
        net.out_bias.copy_(torch.tensor([0.0, 0.0, math.log(2)]))
    return net


def one_user(neg=None, lq=None) -> PooledBatch:
    """A user whose input is movie 0 (weight 1, so z = 1) and whose target is movie 2."""
    lq = torch.zeros(3) if lq is None else lq
    return PooledBatch(
        idx=torch.tensor([0], **LONG),
        offsets=torch.tensor([0], **LONG),
        weights=torch.tensor([1.0]),
        rows=torch.tensor([0], **LONG),
        cols=torch.tensor([2], **LONG),
        n_users=1,
        neg=None if neg is None else torch.tensor(neg, **LONG),
        lq_cols=lq[[2]],
        lq_neg=None if neg is None else lq[neg],
    )


def test_full_softmax_loss_by_hand():
    # logits z o + c = (1, 2, ln 2): -log softmax_2 = log(e + e^2 + 2) - ln 2
    loss = tiny_net()(one_user()).detach()
    assert float(loss) == pytest.approx(math.log(math.e + math.e**2 + 2) - math.log(2), rel=1e-6)


@pytest.mark.parametrize("compiled", [True, False])
def test_sampled_softmax_loss_by_hand(compiled, monkeypatch):
    # log-Q (ln 1/2, ln 1/4, ln 1/4): target logit ln 2 - ln 1/4 = ln 8; negatives 0, 1:
    # 1 + ln 2 and 2 + ln 4; loss log(2e + 4e^2 + 8) - ln 8
    if not compiled:
        monkeypatch.setattr(_row_kernels, "usable", lambda *t: False)
    lq = torch.log(torch.tensor([0.5, 0.25, 0.25]))
    loss = tiny_net()(one_user(neg=[0, 1], lq=lq)).detach()
    want = math.log(2 * math.e + 4 * math.e**2 + 8) - math.log(8)
    assert float(loss) == pytest.approx(want, rel=1e-6)


def random_batch(rng, n_items=40, n_users=6, dim=5, n_neg=7):
    counts = rng.integers(1, 6, n_users)
    idx = np.concatenate([rng.choice(n_items, c, replace=False) for c in counts])
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rows = np.repeat(np.arange(n_users), counts)  # targets: the inputs, plus repeats
    lq = torch.from_numpy(log_q(rng.integers(0, 9, n_items))).float()
    neg = rng.choice(n_items, n_neg)  # with repeats, as drawn
    t = torch.from_numpy
    return PooledBatch(
        idx=t(idx),
        offsets=t(offsets),
        weights=t(rng.random(idx.size).astype(np.float32)),
        rows=t(rows),
        cols=t(idx.copy()),
        n_users=n_users,
        neg=t(neg),
        lq_cols=lq[t(idx)],
        lq_neg=lq[t(neg)],
    )


@pytest.mark.parametrize("hidden, tie", [("linear", False), ("tanh", True)])
def test_compiled_loops_give_the_torch_loss_and_gradients(hidden, tie, monkeypatch):
    rng = np.random.default_rng(0)
    batch = random_batch(rng)
    torch.manual_seed(0)
    nets = [PooledNet(40, 5, hidden, init_std=0.5, tie=tie) for _ in range(2)]
    nets[1].load_state_dict(nets[0].state_dict())
    with torch.no_grad():
        nets[0].out_bias.normal_()
        nets[1].out_bias.copy_(nets[0].out_bias)
    results = []
    for k, net in enumerate(nets):
        if k == 1:
            monkeypatch.setattr(_row_kernels, "usable", lambda *t: False)
        loss = net(batch)
        loss.backward()
        results.append((loss.detach(), [p.grad for p in net.parameters() if p.grad is not None]))
    (la, ga), (lb, gb) = results
    torch.testing.assert_close(la, lb, rtol=1e-5, atol=1e-6)
    assert len(ga) == len(gb) >= 3
    for a, b in zip(ga, gb, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_distinct_rows_is_unique_with_inverse():
    a, b = np.array([5, 1, 5, 9]), np.array([9, 0])
    rows, (ia, ib) = distinct_rows(12, a, b)
    assert rows.tolist() == [0, 1, 5, 9]
    assert rows[ia].tolist() == a.tolist() and rows[ib].tolist() == b.tolist()


def positives(n_users=30, n_items=20, seed=0) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    dense = (rng.random((n_users, n_items)) < 0.3).astype(np.float32)
    dense[0] = 0  # a user without positives
    return sp.csr_matrix(dense)


def uniform(indptr, indices, keep=None):
    w = np.ones(indices.size)
    return w if keep is None else w * keep / 0.5


def step_for(X, **kw) -> PooledStep:
    base = dict(batch_size=8, dropout=0.5, loss="sampled", n_negatives=5)
    return PooledStep(X, uniform, **(base | kw))


@pytest.mark.parametrize("tie", [False, True])
@pytest.mark.parametrize("loss", ["sampled", "full"])
def test_row_sparse_batches_point_at_the_same_movies(tie, loss):
    """The gathered rows, indexed by a batch's remapped indices, are the movies the
    dense batch (same seed) names; dropout keeps inputs, targets are every positive."""
    X = positives()
    net = PooledNet(X.shape[1], 3, tie=tie)
    dense, sparse = step_for(X, loss=loss), step_for(X, loss=loss)
    dense.configure(net, TrainConfig(optimizer="adamw"))
    sparse.configure(net, TrainConfig(optimizer="sparse_adam"))
    rngs = np.random.default_rng(3), np.random.default_rng(3)
    pairs = zip(dense.batches(rngs[0]), sparse.batches(rngs[1]), strict=True)
    n_users = 0
    for (d, none), (s, gather) in pairs:
        assert none is None
        out_rows = gather["inp.weight" if tie else "out.weight"]
        assert torch.equal(gather["inp.weight"][s.idx], d.idx)
        assert torch.equal(out_rows[s.cols], d.cols)
        assert torch.equal(gather["out_bias"], out_rows)
        if loss == "sampled":
            assert torch.equal(out_rows[s.neg], d.neg)
        else:
            assert s.neg is None and len(out_rows) == X.shape[1]
        assert torch.equal(d.rows, s.rows) and torch.equal(d.weights, s.weights)
        assert set(d.weights.tolist()) == {2.0}  # kept inputs, scaled by 1 / (1 - 0.5)
        n_users += d.n_users
    assert n_users == X.shape[0]


def test_sparse_adam_moves_only_the_rows_a_batch_touches():
    X = sp.csr_matrix(np.array([[1, 1, 0, 0, 0, 0]], np.float32))
    torch.manual_seed(0)
    net = PooledNet(6, 3)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    step = step_for(X, dropout=0.0, n_negatives=1)
    fit(net, step, TrainConfig(epochs=1, optimizer="sparse_adam", progress=False, patience=None))
    touched_out = set(X.indices.tolist())
    moved_out = {i for i in range(6) if not torch.equal(net.out.weight[i], before["out.weight"][i])}
    assert touched_out <= moved_out and len(moved_out - touched_out) <= 1  # + the negative
    moved_in = {i for i in range(6) if not torch.equal(net.inp.weight[i], before["inp.weight"][i])}
    assert moved_in == {0, 1}


@pytest.mark.parametrize("optimizer", ["adamw", "sparse_adam"])
def test_same_seed_same_history(optimizer):
    X = positives()
    histories = []
    for _ in range(2):
        torch.manual_seed(0)
        net = PooledNet(X.shape[1], 4)
        cfg = TrainConfig(epochs=3, optimizer=optimizer, progress=False, seed=7, patience=None)
        histories.append(fit(net, step_for(X), cfg)["loss"].tolist())
    assert histories[0] == histories[1] and len(histories[0]) == 3


@pytest.mark.parametrize("kind", ["sparse_adam", "sparse_adagrad", "sparse_sgd"])
def test_compiled_row_update_equals_the_torch_one(kind, monkeypatch):
    from recsys_utils.training._rowsparse import RowSparseOptimizer

    torch.manual_seed(0)
    nets = [PooledNet(10, 4) for _ in range(2)]
    nets[1].load_state_dict(nets[0].state_dict())
    names = ("inp.weight", "out.weight", "out_bias")
    for k, net in enumerate(nets):
        if k == 1:
            monkeypatch.setattr(_row_kernels, "usable", lambda *t: False)
        opt = RowSparseOptimizer(net, kind, lr=0.1, weight_decay=0.01, tables=names)
        for rows in ([1, 3, 4], [3, 7], [0, 1, 3]):  # row 3 thrice: its own step count
            idx = torch.tensor(rows)
            leaves = opt.gather_rows({n: idx for n in names})
            sum((leaf**2 * (1 + leaf)).sum() for leaf in leaves.values()).backward()
            opt.step()
    for (name, a), b in zip(nets[0].named_parameters(), nets[1].parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5, msg=name)


def test_the_ranking_model_through_the_loop_refits_at_epoch_zero_and_logs_no_empty_column():
    """PooledSoftmax's history comes from ``loop.fit``; without validation it has no
    all-NaN validation column (the experiment reads one only when it was scored), and a
    refit at a best epoch of 0 (EASE-initialised) keeps the starting tables."""
    from recsys_utils.models.ranking import PooledSoftmax

    def fitted(model, *matrices):  # the model's hook on liked-movie matrices
        model._fit_liked(*matrices)
        return model

    X = positives(n_users=40, n_items=15)
    kw = dict(dim=4, batch_size=8, num_threads=1)
    m = fitted(PooledSoftmax(**kw, max_epochs=2), X)
    assert list(m.history_.columns) == ["epoch", "loss", "lr", "seconds"]
    assert m.history_["epoch"].tolist() == [1, 2] and m.best_epoch_ == 2
    start = fitted(PooledSoftmax(**kw, max_epochs=0, init="ease"), X)
    again = fitted(PooledSoftmax(**kw, max_epochs=0, init="ease"), X)
    assert len(start.history_) == 0 and start.best_epoch_ == 0
    np.testing.assert_array_equal(start.W_in_, again.W_in_)
    valid = PooledSoftmax(**kw, max_epochs=3, eval_every=2, patience=None)
    fitted(valid, X[:30], X[30:], X[30:])
    assert valid.history_["val_ndcg@100"].notna().tolist() == [False, True, True]
