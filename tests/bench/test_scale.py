"""The row-sparse fast path (hand-worked step, equality with the dense path, fitting a
low-rank toy) and ``bench scale`` run tiny (figures printed, no timing asserted)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from recsys_utils.cli import main
from recsys_utils.training import nets
from recsys_utils.training.loop import TrainConfig, train


def _cfg(**kw) -> TrainConfig:
    base = {"epochs": 1, "patience": None, "progress": False, "num_threads": 1}
    return TrainConfig(**{**base, **kw})


def _t(u, i, r):
    return (
        torch.tensor(u, dtype=torch.long),
        torch.tensor(i, dtype=torch.long),
        torch.tensor(r, dtype=torch.float32),
    )


def test_sparse_sgd_step_by_hand():
    # p0=1, q0=2, biases 0, mu 0; one rating r=3: pred 2, d(loss)/d(pred) = 2(2-3) = -2
    # p0 <- 1 - 0.1*(-2*q0) = 1.4; q0 <- 2 - 0.1*(-2*p0) = 2.2; b_u0, b_i0, mu <- 0.2
    net = nets.MFNet(2, 2, n_factors=1, mu=0.0)
    with torch.no_grad():
        net.user_emb.weight.copy_(torch.tensor([[1.0], [0.5]]))
        net.item_emb.weight.copy_(torch.tensor([[2.0], [1.0]]))
    train(
        net,
        _t([0], [0], [3.0]),
        None,
        _cfg(optimizer="sparse_sgd", lr=0.1, batch_size=1),
        clip=(0.5, 5),
    )
    assert net.user_emb.weight[:, 0].tolist() == pytest.approx([1.4, 0.5])  # row 1 untouched
    assert net.item_emb.weight[:, 0].tolist() == pytest.approx([2.2, 1.0])
    assert net.user_bias.weight[:, 0].tolist() == pytest.approx([0.2, 0.0])
    assert net.item_bias.weight[:, 0].tolist() == pytest.approx([0.2, 0.0])
    assert net.mu.item() == pytest.approx(0.2)
    assert isinstance(net.user_emb, nn.Embedding)  # the tables are put back after each batch


def _pair(net_factory):
    torch.manual_seed(0)
    a = net_factory()
    b = nets.MFNet(1, 1) if a is None else type(a)(**a._init_kw)
    b.load_state_dict(a.state_dict())
    return a, b


def _mf():
    net = nets.MFNet(4, 3, n_factors=3, mu=3.0, init_std=0.3)
    net._init_kw = {"n_users": 4, "n_items": 3, "n_factors": 3, "mu": 3.0}
    return net


def _collab():
    net = nets.CollabFNetModule(4, 3, emb_size=3, n_hidden=4, dropout=0.0, mu=3.0, init_std=0.3)
    net._init_kw = {
        "n_users": 4,
        "n_items": 3,
        "emb_size": 3,
        "n_hidden": 4,
        "dropout": 0.0,
        "mu": 3.0,
    }
    return net


# repeated users and items in one batch: the row gradients must be summed
DATA = ([0, 0, 1, 2, 3, 3, 1], [0, 1, 2, 0, 1, 2, 0], [4.0, 3.0, 5.0, 2.0, 4.5, 1.0, 3.5])


@pytest.mark.parametrize("factory", [_mf, _collab])
@pytest.mark.parametrize(
    ("dense", "sparse", "epochs"), [("sgd", "sparse_sgd", 1), ("adam", "sparse_adam", 4)]
)
def test_full_batch_sparse_equals_dense(factory, dense, sparse, epochs):
    # SGD: the dense path's first momentum step is plain SGD. Adam: when every row is in
    # every batch, lazy Adam is dense Adam, step after step. l2 checks the penalty path.
    a, b = _pair(factory)
    for net, opt in ((a, dense), (b, sparse)):
        train(
            net,
            _t(*DATA),
            None,
            _cfg(optimizer=opt, lr=0.05, batch_size=7, epochs=epochs, l2=0.1),
            clip=(0.5, 5),
        )
    for (name, pa), pb in zip(a.named_parameters(), b.parameters(), strict=True):
        assert torch.allclose(pa, pb, atol=1e-5), name


def test_untouched_rows_stay_put_with_sparse_adam():
    torch.manual_seed(0)
    net = _mf()
    before = net.user_emb.weight.detach().clone()
    train(
        net,
        _t([0, 1], [0, 1], [5.0, 1.0]),
        None,
        _cfg(optimizer="sparse_adam", lr=0.1, weight_decay=0.5, batch_size=2),
        clip=(0.5, 5),
    )
    after = net.user_emb.weight.detach()
    assert torch.equal(after[2:], before[2:])  # users 2 and 3 rated nothing
    assert not torch.equal(after[:2], before[:2])


def test_sparse_adam_fits_a_low_rank_toy():
    rng = np.random.default_rng(0)
    p, q = rng.normal(size=(20, 2)), rng.normal(size=(15, 2))
    u, i = np.meshgrid(np.arange(20), np.arange(15), indexing="ij")
    r = 3.0 + (p @ q.T)[u, i] * 0.5
    data = _t(u.ravel(), i.ravel(), r.ravel())
    torch.manual_seed(0)
    net = nets.MFNet(20, 15, n_factors=4, mu=3.0, init_std=0.1)
    hist = train(
        net,
        data,
        None,
        _cfg(optimizer="sparse_adam", lr=0.05, batch_size=64, epochs=150),
        clip=(-10, 10),
    )
    variance = float(r.var())
    assert hist["train_loss"].iloc[-1] < 0.01 * variance  # MSE near zero: 99% explained


def test_unknown_optimizer_names_the_choices():
    with pytest.raises(ValueError, match="sparse_adam"):
        TrainConfig(optimizer="sparse_lbfgs")


@pytest.mark.parametrize(
    ("flags", "which"), [([], "on cpu (fused step): epoch 1"), (["--no-fused"], "on cpu: epoch 1")]
)
def test_bench_scale_runs_tiny_and_prints_figures(capsys, flags, which):
    argv = ["bench", "scale", "--ratings", "20000", "--surprise-ratings", "5000"]
    code = main([*argv, "--threads", "1", "--device", "cpu", *flags])
    out = capsys.readouterr().out
    assert code == 0
    assert "synthetic ratings: 20,000 (400 users x 200 movies)" in out
    assert which in out and "M ratings/s" in out and "peak RSS" in out
    assert "Surprise" in out


@pytest.mark.slow
def test_catalogue_figures_tiny():
    from recsys_utils.bench.scale import bench_catalogue

    out = bench_catalogue(n_items=600, dim=8, umap_points=300)
    assert out["umap_points"] == 300 and 0.5 <= out["ann_recall"] <= 1.0
    assert out["ann_seconds"] > 0 and out["umap_seconds"] > 0


def test_bench_scale_pooled_softmax_tiny(capsys):
    """One (timed) epoch of the ranking net on tiny ml-25m-shaped positives: figures
    printed and returned, the whole epoch when n_batches covers every user."""
    from recsys_utils.bench.scale import bench_pooled_softmax

    out = bench_pooled_softmax(
        20_000, dim=8, batch_size=64, n_negatives=16, n_batches=None, device="cpu", num_threads=1
    )
    assert out["timed_positives"] == out["n_positives"] > 0
    assert out["positives_per_s"] > 0 and np.isfinite(out["train_loss"]) and out["peak_rss_gb"] > 0
    assert (
        main(
            [
                "bench",
                "scale",
                "--model",
                "pooled_softmax",
                "--ratings",
                "20000",
                "--dim",
                "8",
                "--batch",
                "64",
                "--n-batches",
                "2",
                "--device",
                "cpu",
                "--threads",
                "1",
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "positives/s" in text and "peak RSS" in text and "on cpu" in text
