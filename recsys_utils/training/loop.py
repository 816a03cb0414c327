"""The epoch loop every torch model shares: ``fit(net, step, cfg)``.

A model supplies a ``Step``: its batches (``batches(rng)``), the loss of one batch
(``loss(net, batch)``), optionally its own update (a compiled fast path) and its
validation (``validate(net)``), with the ``Objective`` early stopping watches
(validation RMSE minimised, validation NDCG@100 maximised). The loop owns the rest:
the optimiser (dense Adam/AdamW/SGD or the row-sparse ones of ``_rowsparse``) and its
schedule, evaluation every ``eval_every`` epochs, patience counted from the best epoch
but never stopping before ``min_epochs``, the best epoch's weights restored, the
per-epoch log (``history``) as a DataFrame, the tqdm bar, the ``on_epoch`` callback,
threads and the divergence check. ``train`` is the rating nets' step on index tensors
(minibatches are slices of a shuffled index, no DataLoader; MF's compiled CPU step of
``_fused_mf`` where it applies); ``training.pooled`` is the ranking model's step.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn

from recsys_utils.training._rowsparse import SPARSE_OPTIMIZERS, RowSparseOptimizer

HISTORY_COLUMNS = ("epoch", "train_loss", "val_rmse", "val_mae", "lr", "seconds")


class TrainingDiverged(ValueError):
    """The loss became NaN or infinite; the message says where and what to try."""


@dataclass(frozen=True)
class TrainConfig:
    """How to train. Every field has the default the notebooks start from.

    Attributes:
        epochs: passes over the training ratings.
        batch_size: ratings per optimiser step.
        lr: learning rate.
        weight_decay: decoupled (AdamW) or coupled (Adam/SGD) decay on all parameters.
        l2: explicit penalty on the embedding rows used in a batch, times ``net.penalty``;
            the classic MF regulariser (Surprise's ``reg_all``), scaled per rating.
        optimizer: ``"adam"``, ``"adamw"`` or ``"sgd"``; or a row-sparse one
            (``"sparse_adam"``, ``"sparse_adagrad"``, ``"sparse_sgd"``: see ``_rowsparse``),
            several times faster on large tables.
        schedule: ``"none"``, ``"cosine"`` (to 0 over ``epochs``) or ``"step"`` (x0.5 every
            ``max(1, epochs // 3)`` epochs).
        patience: epochs since the best validation before stopping; ``None`` never stops.
        min_epochs: never stop early before this epoch (validation NDCG of the ranking
            model dips for its first epochs before it climbs).
        eval_every: validate every this many epochs (and after the last one).
        seed: seeds initialisation and shuffling; same seed, same result on CPU.
        device: ``"auto"`` (cuda, then mps, then cpu) or a torch device string.
        num_threads: torch intra-op threads; ``None`` leaves torch's choice.
        progress: show a tqdm bar over epochs.
        eval_batch_size: rows per forward pass when scoring validation ratings.
        fused: with a ``sparse_*`` optimiser, train ``MFNet`` on the CPU with the compiled
            step of ``_fused_mf`` (the same updates, about 4x faster at ml-25m's shape);
            ``False`` keeps the generic torch step.
    """

    epochs: int = 20
    batch_size: int = 1024
    lr: float = 0.005
    weight_decay: float = 0.0
    l2: float = 0.0
    optimizer: str = "adamw"
    schedule: str = "none"
    patience: int | None = 3
    min_epochs: int = 0
    eval_every: int = 1
    seed: int = 42
    device: str = "auto"
    num_threads: int | None = None
    progress: bool = True
    eval_batch_size: int = 262_144
    fused: bool = True

    def __post_init__(self):
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError("epochs and batch_size must be positive")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"lr must be a positive finite number, got {self.lr}")
        if self.optimizer not in ("adam", "adamw", "sgd", *SPARSE_OPTIMIZERS):
            raise ValueError(
                f"optimizer must be adam, adamw, sgd or one of {SPARSE_OPTIMIZERS}, "
                f"got {self.optimizer!r}"
            )
        if self.schedule not in ("none", "cosine", "step"):
            raise ValueError(f"schedule must be none, cosine or step, got {self.schedule!r}")
        if not (self.weight_decay >= 0 and self.l2 >= 0):  # also refuses NaN
            raise ValueError(
                f"weight_decay and l2 must be >= 0, got {self.weight_decay}, {self.l2}"
            )
        if self.patience is not None and self.patience < 1:
            raise ValueError(f"patience must be at least 1 or None, got {self.patience}")
        if self.min_epochs < 0 or self.eval_every < 1:
            raise ValueError(
                f"min_epochs must be >= 0 and eval_every >= 1, got {self.min_epochs}, "
                f"{self.eval_every}"
            )


def device_available(device) -> bool:
    """True when ``device`` (a name or ``torch.device``) can be used on this machine."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        return False
    if dev.type == "cuda":
        return torch.cuda.is_available() and (dev.index or 0) < torch.cuda.device_count()
    if dev.type == "mps":
        return bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
    return dev.type == "cpu"


def resolve_device(device: str = "auto") -> torch.device:
    """``"auto"`` picks cuda, then mps, then cpu; anything else must name an available device.

    Raises:
        ValueError: not a device name, or a device this machine (or torch build) lacks.
    """
    if device != "auto":
        try:
            chosen = torch.device(device)
        except (RuntimeError, TypeError) as err:
            raise ValueError(f"device {device!r}: {str(err).splitlines()[0]}") from None
        if not device_available(chosen):
            raise ValueError(
                f"device {device!r} is not available here (torch {torch.__version__}, "
                f"{'no ' if not torch.cuda.is_available() else ''}CUDA); use cpu or auto"
            )
        return chosen
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def make_optimizer(
    net: nn.Module, cfg: TrainConfig, tables: tuple[str, ...] | None = None
) -> torch.optim.Optimizer:
    """The optimiser ``cfg.optimizer`` names; a row-sparse one updates ``tables`` (names of
    parameters; default the net's ``nn.Embedding`` tables) row by row: see ``_rowsparse``."""
    if cfg.optimizer in SPARSE_OPTIMIZERS:  # only the rows a batch uses: see _rowsparse
        return RowSparseOptimizer(
            net, cfg.optimizer, lr=cfg.lr, weight_decay=cfg.weight_decay, tables=tables
        )
    params = [p for p in net.parameters() if p.requires_grad]
    if cfg.optimizer in ("adam", "adamw"):
        # The fused kernel (one pass over all tensors) makes the same updates up to float
        # rounding, ~3x faster per step on the tables; builds without it use the loop.
        cls = torch.optim.AdamW if cfg.optimizer == "adamw" else torch.optim.Adam
        fused = all(p.dtype in (torch.float32, torch.float64) and not p.is_sparse for p in params)
        try:
            return cls(params, lr=cfg.lr, weight_decay=cfg.weight_decay, fused=fused)
        except (RuntimeError, ValueError, TypeError):
            return cls(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    return torch.optim.SGD(params, lr=cfg.lr, weight_decay=cfg.weight_decay, momentum=0.9)


def _make_scheduler(opt: torch.optim.Optimizer, cfg: TrainConfig):
    if cfg.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs)
    if cfg.schedule == "step":
        return torch.optim.lr_scheduler.StepLR(opt, step_size=max(1, cfg.epochs // 3), gamma=0.5)
    return None


@torch.no_grad()
def predict_batched(
    net: nn.Module, users: torch.Tensor, items: torch.Tensor, batch_size: int = 262_144
) -> torch.Tensor:
    """Raw (unclipped) predictions for index pairs, in eval mode, in chunks."""
    was_training = net.training
    net.eval()
    out = [
        net(users[s : s + batch_size], items[s : s + batch_size])
        for s in range(0, len(users), batch_size)
    ]
    net.train(was_training)
    return torch.cat(out) if out else torch.empty(0, device=users.device)


def evaluate(
    net: nn.Module,
    data: tuple[torch.Tensor, ...],
    clip: tuple[float, float],
    batch_size: int = 262_144,
) -> tuple[float, float]:
    """(RMSE, MAE) of clipped predictions on (users, items, ratings) index tensors."""
    users, items, ratings = data
    pred = predict_batched(net, users, items, batch_size).clamp(*clip)
    err = pred - ratings
    return float(err.pow(2).mean().sqrt()), float(err.abs().mean())


@dataclass(frozen=True)
class Objective:
    """What early stopping watches: a history column, its direction and the smallest
    change that counts as better."""

    column: str
    direction: str = "minimize"
    min_delta: float = 0.0

    def better(self, value: float, best: float | None) -> bool:
        """Whether ``value`` beats ``best`` (``None``: nothing yet); NaN never does."""
        if not math.isfinite(value):
            return False
        if best is None:
            return True
        if self.direction == "minimize":
            return value < best - self.min_delta
        return value > best + self.min_delta


RMSE = Objective("val_rmse", "minimize", 1e-6)
NDCG100 = Objective("val_ndcg@100", "maximize")


class Step:
    """What a model gives ``fit``: its batches, the loss of a batch, its validation.

    Subclasses set ``objective``, ``columns`` (the validation columns of the history)
    and ``loss_column``, and implement ``batches`` and ``loss``; ``update`` may be
    replaced by a fast path that does the whole step itself.
    """

    objective: Objective = RMSE
    columns: tuple[str, ...] = ()
    loss_column: str = "train_loss"
    has_validation: bool = False
    validate_at_start: bool = False  # an epoch-0 row: the starting weights may be best

    def make_rng(self, seed: int):
        """The random generator ``batches`` draws from (seeded by the loop once per fit)."""
        return torch.Generator(device="cpu").manual_seed(seed)

    def configure(self, net: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
        """The optimiser (called once before the first epoch; fast paths are set up here)."""
        self.opt = make_optimizer(net, cfg)
        return self.opt

    def batches(self, rng) -> Iterable:
        raise NotImplementedError

    def loss(self, net: nn.Module, batch) -> tuple[torch.Tensor, torch.Tensor | float, float]:
        """``(loss to minimise, logged, weight)``: the history's loss of an epoch is
        ``sum(logged) / sum(weight)`` over its batches, so ``logged`` is the batch's
        figure times its weight (a mean times the batch size, or the mean with weight 1)."""
        raise NotImplementedError

    def update(self, net: nn.Module, opt: torch.optim.Optimizer, batch):
        """One optimiser step on ``batch``; returns ``(logged, weight)``."""
        loss, logged, weight = self.loss(net, batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return logged, weight

    def validate(self, net: nn.Module) -> dict[str, float]:
        """The validation columns for the current weights (``{}`` without validation)."""
        return {}


def _snapshot(net: nn.Module) -> dict[str, torch.Tensor]:
    return {k: t.detach().clone() for k, t in net.state_dict().items()}


def fit(
    net: nn.Module,
    step: Step,
    cfg: TrainConfig,
    *,
    on_epoch: Callable[[dict], None] | None = None,
    desc: str | None = None,
) -> pd.DataFrame:
    """Run the epochs of ``step`` on ``net``; return the history (one row per epoch).

    Validation (when ``step.has_validation``) runs every ``cfg.eval_every`` epochs and
    after the last; training stops once ``cfg.patience`` epochs have passed since the
    best one, never before ``cfg.min_epochs``; the best epoch's weights are restored.

    Args:
        net: the model, already on its device.
        step: the model's batches, loss and validation.
        cfg: epochs, optimiser, schedule, early stopping, seed, threads, progress.
        on_epoch: called with each history row (sweeps report and prune through it;
            raising ``optuna.TrialPruned`` there stops training).
        desc: the progress bar's label (default: the net's class name).

    Returns:
        DataFrame with columns ``epoch``, ``step.loss_column``, ``step.columns``, ``lr``,
        ``seconds``; ``attrs["best_epoch"]`` and ``attrs["best"]`` (objective value) are
        those of the restored weights, ``None`` without validation.

    Raises:
        TrainingDiverged: when the training loss becomes NaN or infinite.
    """
    from tqdm.auto import tqdm

    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    objective = step.objective
    opt = step.configure(net, cfg)
    sched = _make_scheduler(opt, cfg)
    rng = step.make_rng(cfg.seed)
    columns = ["epoch", step.loss_column, *step.columns, "lr", "seconds"]
    best = best_state = best_epoch = None
    rows: list[dict] = []

    def record(row: dict) -> None:
        nonlocal best, best_state, best_epoch
        value = row.get(objective.column, math.nan)
        if objective.better(value, best):
            best, best_epoch, best_state = value, row["epoch"], _snapshot(net)
        rows.append(row)

    if step.has_validation and step.validate_at_start:
        start = time.perf_counter()
        row = {"epoch": 0, step.loss_column: math.nan, **step.validate(net)}
        record({**row, "lr": opt.param_groups[0]["lr"], "seconds": time.perf_counter() - start})
    bar = tqdm(
        range(1, cfg.epochs + 1),
        desc=desc or type(net).__name__,
        unit="epoch",
        disable=not cfg.progress,
        leave=False,
    )
    for epoch in bar:
        net.train()
        start = time.perf_counter()
        total, weight = 0.0, 0.0
        for batch in step.batches(rng):
            logged, w = step.update(net, opt, batch)
            total, weight = total + logged, weight + w
        train_loss = float(total) / weight if weight else 0.0
        if not math.isfinite(train_loss):
            raise TrainingDiverged(
                f"training loss became {train_loss} in epoch {epoch} with lr={cfg.lr}; "
                "lower the learning rate (try 10x smaller) or add regularisation"
            )
        lr_now = opt.param_groups[0]["lr"]
        if sched is not None:
            sched.step()
        row = {"epoch": epoch, step.loss_column: train_loss}
        if step.has_validation and (epoch % cfg.eval_every == 0 or epoch == cfg.epochs):
            row.update(step.validate(net))
        row.update(lr=lr_now, seconds=time.perf_counter() - start)
        record(row)
        shown = row.get(objective.column, math.nan)
        bar.set_postfix(loss=f"{train_loss:.4f}", **{objective.column: f"{shown:.4f}"})
        if on_epoch is not None:
            on_epoch(row)
        if (
            best_epoch is not None
            and cfg.patience is not None
            and epoch >= cfg.min_epochs
            and epoch - best_epoch >= cfg.patience
        ):
            break
    bar.close()
    if best_state is not None:
        net.load_state_dict(best_state)
    history = pd.DataFrame(rows, columns=columns)
    history.attrs.update(best_epoch=best_epoch, best=best)
    return history


class RatingStep(Step):
    """The rating nets' step: ``net(users, items)`` -> ratings, MSE on shuffled slices of
    (user, item, rating) index tensors, ``cfg.l2 * net.penalty(users, items) / n`` added
    when ``cfg.l2``; validation RMSE and MAE of clipped predictions. With a row-sparse
    optimiser the net runs on the batch's gathered rows, and ``MFNet`` on the CPU takes
    the compiled step of ``_fused_mf`` (``cfg.fused``)."""

    columns = ("val_rmse", "val_mae")

    def __init__(self, train_data, valid_data, cfg: TrainConfig, clip: tuple[float, float]):
        self.users, self.items, self.ratings = train_data
        self.n = len(self.ratings)
        if self.n == 0:
            raise ValueError("no training ratings")
        self.valid, self.cfg, self.clip = valid_data, cfg, clip
        self.has_validation = valid_data is not None and len(valid_data[2]) > 0
        self.fused = None

    def configure(self, net, cfg):
        opt = super().configure(net, cfg)
        self.sparse = isinstance(opt, RowSparseOptimizer)
        self.l2 = cfg.l2  # >= 0 (TrainConfig); every rating net defines ``penalty``
        if self.sparse and cfg.fused:
            from recsys_utils.training import _fused_mf  # numba, imported only where used

            if _fused_mf.supports(net, opt) and self.users.device.type == "cpu":
                if cfg.num_threads:
                    _fused_mf.set_threads(cfg.num_threads)
                self.fused = _fused_mf.MFStep(net, opt, min(cfg.batch_size, self.n))
                self.data = self.fused.prepare(self.users, self.items, self.ratings)
        return opt

    def batches(self, rng):
        if self.fused is not None:  # its parallel shuffle, seeded from the same generator
            from recsys_utils.training import _fused_mf

            perm = _fused_mf.shuffle(self.n, int(torch.randint(2**62, (), generator=rng)))
        else:
            perm = torch.randperm(self.n, generator=rng).to(self.users.device)
        for s in range(0, self.n, self.cfg.batch_size):
            yield perm[s : s + self.cfg.batch_size]

    def loss(self, net, idx):
        u, i, r = self.users[idx], self.items[idx], self.ratings[idx]
        fwd, u, i = self.opt.gather(u, i) if self.sparse else (net, u, i)
        loss = torch.nn.functional.mse_loss(fwd(u, i), r)
        logged = loss.detach() * len(idx)
        if self.l2:
            loss = loss + self.l2 * fwd.penalty(u, i) / len(idx)
        return loss, logged, len(idx)

    def update(self, net, opt, idx):
        if self.fused is not None:  # the same step, compiled: see _fused_mf
            return self.fused.step(idx, *self.data, self.l2), len(idx)
        return super().update(net, opt, idx)

    def validate(self, net):
        rmse, mae = evaluate(net, self.valid, self.clip, self.cfg.eval_batch_size)
        return {"val_rmse": rmse, "val_mae": mae}


def train(
    net: nn.Module,
    train_data: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    valid_data: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None,
    cfg: TrainConfig,
    *,
    clip: tuple[float, float],
    on_epoch: Callable[[dict], None] | None = None,
) -> pd.DataFrame:
    """Fit a rating net on index tensors with ``fit`` and ``RatingStep``; return the history.

    ``net(users, items)`` returns predicted ratings; ``net.penalty(users, items)`` gives
    the L2 term that ``cfg.l2`` weights (called whenever ``cfg.l2`` > 0). With ``valid_data`` the best
    epoch's weights (lowest validation RMSE) are restored at the end.

    Args:
        net: the model, already on its device.
        train_data: (user indices, item indices, ratings) on the same device.
        valid_data: the same for validation, or ``None``.
        cfg: the training configuration.
        clip: rating scale used to clip predictions when scoring.
        on_epoch: called with each history row.

    Returns:
        DataFrame with columns ``HISTORY_COLUMNS``, one row per epoch run;
        ``attrs["fused"]`` says whether the compiled MF step (``_fused_mf``) ran.

    Raises:
        TrainingDiverged: when the loss becomes NaN or infinite.
    """
    step = RatingStep(train_data, valid_data, cfg, clip)
    history = fit(net, step, cfg, on_epoch=on_epoch)
    history.attrs["fused"] = step.fused is not None  # which step ran: see _fused_mf
    return history


def to_tensors(
    users: np.ndarray, items: np.ndarray, ratings: np.ndarray, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Index arrays and ratings as tensors on ``device`` (batches are built there)."""
    return (
        torch.tensor(np.asarray(users), dtype=torch.long, device=device),
        torch.tensor(np.asarray(items), dtype=torch.long, device=device),
        torch.tensor(np.asarray(ratings), dtype=torch.float32, device=device),
    )
