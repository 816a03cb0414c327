"""The shared training loop: history, optimiser arithmetic, schedules, divergence, config.

Also the test file of ``training/nets.py`` (forward, penalty, score_all) and
``training/_rowsparse.py`` (the row-sparse optimisers); ``training/_mf_kernels.py`` is
covered by ``test_fused_mf.py``, which checks the kernels against the generic step.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from recsys_utils.models import MF
from recsys_utils.training import nets
from recsys_utils.training.loop import (
    HISTORY_COLUMNS,
    TrainConfig,
    TrainingDiverged,
    evaluate,
    predict_batched,
    resolve_device,
    to_tensors,
    train,
)

CPU = torch.device("cpu")


def cfg(**over) -> TrainConfig:
    base = {
        "epochs": 1,
        "batch_size": 1024,
        "lr": 0.1,
        "patience": None,
        "seed": 0,
        "device": "cpu",
        "progress": False,
        "num_threads": 1,
    }
    return TrainConfig(**(base | over))


class Const(nn.Module):
    """Predicts one learnable constant c for every pair; penalty c^2 per pair."""

    def __init__(self, c: float = 3.0):
        super().__init__()
        self.c = nn.Parameter(torch.tensor(c))

    def forward(self, users, items):
        return self.c.expand(len(users))

    def penalty(self, users, items):
        return self.c.pow(2) * len(users)


# ratings 1 and 3 (mean 2); at c = 3 the loss is ((3-1)^2 + 0^2) / 2 = 2, its gradient
# 2 (c - mean) = 2
TWO = to_tensors(np.array([0, 1]), np.array([0, 0]), np.array([1.0, 3.0]), CPU)


@pytest.mark.parametrize(
    "over, c_after",
    [
        ({}, 3 - 0.1 * 2),  # plain step: 2.8
        ({"l2": 1.0}, 3 - 0.1 * (2 + 2 * 3)),  # + d/dc l2 * c^2 = 6: 2.2
        ({"weight_decay": 0.5}, 3 - 0.1 * (2 + 0.5 * 3)),  # coupled decay adds 0.5 c: 2.65
    ],
)
def test_one_sgd_step_hand_worked(over, c_after):
    net = Const()
    hist = train(net, TWO, None, cfg(optimizer="sgd", **over), clip=(1.0, 5.0))
    assert float(net.c.detach()) == pytest.approx(c_after, abs=1e-6)
    assert hist["train_loss"].tolist() == pytest.approx([2.0])  # the penalty is not reported


def test_l2_on_a_net_without_penalty_is_refused_not_ignored():
    class NoPenalty(nn.Module):  # Const without ``penalty``: cfg.l2 has nothing to weight
        def __init__(self):
            super().__init__()
            self.const = Const()

        def forward(self, users, items):
            return self.const(users, items)

    with pytest.raises(AttributeError, match="penalty"):
        train(NoPenalty(), TWO, None, cfg(optimizer="sgd", l2=1.0), clip=(1.0, 5.0))
    net = NoPenalty()  # without l2 it trains
    train(net, TWO, None, cfg(optimizer="sgd"), clip=(1.0, 5.0))
    assert float(net.const.c.detach()) == pytest.approx(2.8, abs=1e-6)


def test_adamw_decay_is_decoupled():
    # Adam's first step moves by lr whatever the gradient's size; AdamW then also shrinks
    # c by lr * weight_decay * c: 3 - 0.1 - 0.1 * 0.5 * 3 = 2.75
    net = Const()
    train(net, TWO, None, cfg(optimizer="adamw", weight_decay=0.5), clip=(1.0, 5.0))
    assert float(net.c.detach()) == pytest.approx(2.75, abs=1e-5)


def _mf_data(n=200, seed=0):
    rng = np.random.default_rng(seed)
    return to_tensors(
        rng.integers(0, 10, n), rng.integers(0, 8, n), rng.integers(1, 6, n).astype(float), CPU
    )


def test_history_has_one_row_per_epoch_and_the_documented_columns():
    rows = []
    net = nets.MFNet(10, 8, n_factors=4, mu=3.0)
    hist = train(
        net,
        _mf_data(),
        _mf_data(seed=1),
        cfg(epochs=4, batch_size=32),
        clip=(1.0, 5.0),
        on_epoch=rows.append,
    )
    assert isinstance(hist, pd.DataFrame)
    assert tuple(hist.columns) == HISTORY_COLUMNS
    assert hist["epoch"].tolist() == [1, 2, 3, 4]
    assert np.isfinite(hist[["train_loss", "val_rmse", "val_mae"]].to_numpy()).all()
    assert (hist["val_mae"] <= hist["val_rmse"] + 1e-12).all()
    assert (hist["seconds"] >= 0).all()
    assert [r["epoch"] for r in rows] == [1, 2, 3, 4]  # on_epoch saw each row
    assert rows[2]["train_loss"] == hist["train_loss"].iloc[2]


def test_without_validation_the_validation_columns_are_nan():
    hist = train(nets.MFNet(10, 8, n_factors=2), _mf_data(), None, cfg(epochs=2), clip=(1.0, 5.0))
    assert len(hist) == 2 and hist["val_rmse"].isna().all() and hist["val_mae"].isna().all()


@pytest.mark.parametrize(
    "schedule, lrs",
    [
        ("none", [0.1] * 6),
        ("step", [0.1, 0.1, 0.05, 0.05, 0.025, 0.025]),  # halved every 6 // 3 = 2 epochs
        # cosine to 0 over 6 epochs: 0.1 (1 + cos(pi t / 6)) / 2, t = 0..5
        ("cosine", [0.1, 0.0933013, 0.075, 0.05, 0.025, 0.0066987]),
    ],
)
def test_learning_rate_schedules(schedule, lrs):
    hist = train(Const(), TWO, None, cfg(epochs=6, schedule=schedule), clip=(1.0, 5.0))
    assert hist["lr"].tolist() == pytest.approx(lrs, abs=1e-7)


@pytest.mark.parametrize("lr", [10.0, 1e6])
def test_divergence_stops_with_a_clear_message(lr, tiny_ratings):
    model = MF(
        n_factors=8,
        optimizer="sgd",
        lr=lr,
        epochs=5,
        batch_size=2,
        patience=None,
        device="cpu",
        progress=False,
        num_threads=1,
    )
    with pytest.raises(
        TrainingDiverged,
        match=rf"training loss became (nan|inf) in epoch \d "
        rf"with lr={lr}; lower the learning rate",
    ):
        model.fit(tiny_ratings)
    assert issubclass(TrainingDiverged, ValueError)


def test_a_nan_rating_is_caught_as_divergence_not_returned_as_garbage():
    data = to_tensors(np.array([0, 1]), np.array([0, 0]), np.array([1.0, np.nan]), CPU)
    with pytest.raises(TrainingDiverged, match="epoch 1"):
        train(Const(), data, None, cfg(), clip=(1.0, 5.0))


def test_empty_training_data_is_refused():
    empty = to_tensors(np.zeros(0), np.zeros(0), np.zeros(0), CPU)
    with pytest.raises(ValueError, match="no training ratings"):
        train(Const(), empty, None, cfg(), clip=(1.0, 5.0))


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"epochs": 0}, "epochs and batch_size must be positive"),
        ({"batch_size": 0}, "epochs and batch_size must be positive"),
        ({"lr": 0.0}, "lr must be a positive finite number, got 0.0"),
        ({"lr": -0.01}, "lr must be a positive finite number"),
        ({"lr": math.nan}, "lr must be a positive finite number, got nan"),
        ({"lr": math.inf}, "lr must be a positive finite number, got inf"),
        ({"optimizer": "rmsprop"}, "optimizer must be adam, adamw, sgd.*, got 'rmsprop'"),
        ({"schedule": "linear"}, "schedule must be none, cosine or step, got 'linear'"),
        ({"weight_decay": -0.1}, "weight_decay and l2 must be >= 0"),
        ({"l2": -1.0}, "weight_decay and l2 must be >= 0"),
        ({"l2": math.nan}, "weight_decay and l2 must be >= 0"),
        ({"patience": 0}, "patience must be at least 1 or None"),
    ],
)
def test_train_config_validation(bad, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        TrainConfig(**bad)
    with pytest.raises(ValueError, match="must"):  # the model passes it through
        MF(**bad)


def test_evaluate_clips_before_scoring():
    class Fixed(nn.Module):
        def forward(self, users, items):
            return torch.tensor([0.0, 6.0, 3.5])

    data = to_tensors(np.arange(3), np.arange(3), np.array([1.0, 5.0, 3.0]), CPU)
    # clipped to [1, 5]: errors 0, 0, 0.5 -> RMSE sqrt(0.25 / 3), MAE 0.5 / 3
    rmse, mae = evaluate(Fixed(), data, (1.0, 5.0))
    assert rmse == pytest.approx(math.sqrt(0.25 / 3), abs=1e-7)
    assert mae == pytest.approx(0.5 / 3, abs=1e-7)


def test_predict_batched_matches_one_pass_and_restores_train_mode():
    net = nets.CollabFNetModule(10, 8, emb_size=4, n_hidden=3, dropout=0.5)
    u, i, _ = _mf_data(n=11)
    net.train()
    chunked = predict_batched(net, u, i, batch_size=4)
    assert net.training
    net.eval()
    torch.testing.assert_close(chunked, net(u, i))


def test_score_all_agrees_with_forward_for_every_net():
    for net in (
        nets.MFNet(5, 7, n_factors=3, mu=3.0),
        nets.CollabFNetModule(5, 7, emb_size=3, n_hidden=4, mu=3.0),
    ):
        net.eval()
        users = torch.tensor([0, 4])
        full = net.score_all(users)
        pairs = net(users.repeat_interleave(7), torch.arange(7).repeat(2)).reshape(2, 7)
        torch.testing.assert_close(full, pairs.detach())


def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type in ("cpu", "cuda", "mps")
