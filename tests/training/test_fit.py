"""``loop.fit``, the epoch loop every torch model shares: early stopping on a declared
objective (patience, ``min_epochs``, ``eval_every``), the best epoch's weights restored,
the epoch-0 row, divergence and determinism, on a fake step whose validation curve is
given by hand."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from recsys_utils.training.loop import (
    NDCG100,
    RMSE,
    Objective,
    Step,
    TrainConfig,
    TrainingDiverged,
    fit,
)


def cfg(**over) -> TrainConfig:
    base = dict(epochs=10, lr=0.1, optimizer="sgd", patience=None, progress=False, seed=0)
    return TrainConfig(**(base | over))


class Scalar(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.tensor(10.0))


def w(net) -> float:
    return float(net.w.detach())


class Curve(Step):
    """One batch an epoch, loss w^2 (so SGD moves w every epoch), and a validation
    curve given by hand; it remembers w at each validation."""

    def __init__(self, curve, objective=RMSE, at_start=False, loss=None):
        self.curve, self.objective = list(curve), objective
        self.columns = (objective.column,)
        self.has_validation, self.validate_at_start = True, at_start
        self.seen: list[float] = []  # w at each validation, in order
        self.loss_value = loss

    def batches(self, rng):
        yield None

    def loss(self, net, batch):
        loss = net.w**2 if self.loss_value is None else net.w * 0 + self.loss_value
        return loss, loss.detach(), 1

    def validate(self, net):
        self.seen.append(w(net))
        return {self.objective.column: self.curve[len(self.seen) - 1]}


def test_patience_counts_epochs_since_the_best_and_the_best_weights_come_back():
    # RMSE 0.5, 0.4, 0.3 (best, epoch 3), then worse: patience 2 stops at epoch 5
    step = Curve([0.5, 0.4, 0.3, 0.35, 0.36, 0.2, 0.1])
    net = Scalar()
    hist = fit(net, step, cfg(patience=2))
    assert hist["epoch"].tolist() == [1, 2, 3, 4, 5]
    assert hist.attrs["best_epoch"] == 3 and hist.attrs["best"] == 0.3
    # w after epoch 3, not after epoch 5 (SGD moves w every epoch)
    assert w(net) == step.seen[2] and step.seen[4] != step.seen[2]


def test_min_epochs_delays_the_stop_but_not_the_choice():
    """NDCG that peaks at epoch 1 and falls: patience 2 alone stops at epoch 3; with
    min_epochs 6 training goes on to epoch 6, and epoch 1's weights come back."""
    falling = [0.9 - 0.1 * k for k in range(10)]
    short = fit(Scalar(), Curve(falling, NDCG100), cfg(patience=2))
    assert len(short) == 3 and short.attrs["best_epoch"] == 1
    step, net = Curve(falling, NDCG100), Scalar()
    waits = fit(net, step, cfg(patience=2, min_epochs=6))
    assert len(waits) == 6 and waits.attrs["best_epoch"] == 1
    assert w(net) == pytest.approx(8.0)  # one SGD step from 10: 10 - 0.1 * 2 * 10


def test_eval_every_validates_every_k_epochs_and_after_the_last():
    step = Curve([0.3, 0.2, 0.1])
    hist = fit(Scalar(), step, cfg(epochs=7, eval_every=3))
    assert hist[RMSE.column].notna().tolist() == [False, False, True] * 2 + [True]
    assert len(step.seen) == 3 and hist.attrs["best_epoch"] == 7


def test_nothing_is_restored_without_validation_or_without_a_finite_value():
    step = Curve([math.nan] * 10)
    net = Scalar()
    hist = fit(net, step, cfg(epochs=4, patience=1))
    assert len(hist) == 4 and hist.attrs["best_epoch"] is None  # NaN is never "better"
    assert w(net) == step.seen[-1] != 10.0  # the last epoch's weights


def test_an_epoch_zero_row_can_be_the_best():
    step, net = Curve([0.9, 0.5, 0.4, 0.3], NDCG100, at_start=True), Scalar()
    hist = fit(net, step, cfg(epochs=5, patience=3))
    assert hist["epoch"].tolist() == [0, 1, 2, 3]
    assert math.isnan(hist["train_loss"].iloc[0])
    assert hist.attrs["best_epoch"] == 0 and w(net) == 10.0  # the starting weights


def test_history_columns_callback_and_lr():
    rows = []
    hist = fit(Scalar(), Curve([0.5, 0.4]), cfg(epochs=2), on_epoch=rows.append)
    assert list(hist.columns) == ["epoch", "train_loss", "val_rmse", "lr", "seconds"]
    assert hist["train_loss"].tolist() == pytest.approx([100.0, 64.0])  # w^2 before each step
    assert [r["epoch"] for r in rows] == [1, 2] and hist["lr"].tolist() == [0.1, 0.1]


def test_divergence_names_the_epoch():
    with pytest.raises(TrainingDiverged, match="became nan in epoch 1 with lr=0.1"):
        fit(Scalar(), Curve([0.1], loss=math.nan), cfg())


@pytest.mark.parametrize(
    "objective, better, worse",
    [(RMSE, 0.5, 0.5 - 1e-7), (NDCG100, 0.5 + 1e-9, 0.5), (Objective("x", "minimize"), 0.4, 0.6)],
)
def test_objective_direction_and_tolerance(objective, better, worse):
    assert objective.better(better if objective is not RMSE else 0.4, 0.5)
    assert not objective.better(worse, 0.5) and not objective.better(math.nan, None)
    assert objective.better(1.0, None)


def test_config_refuses_bad_min_epochs_and_eval_every():
    with pytest.raises(ValueError, match="min_epochs must be >= 0 and eval_every >= 1"):
        TrainConfig(eval_every=0)
    with pytest.raises(ValueError, match="min_epochs"):
        TrainConfig(min_epochs=-1)
