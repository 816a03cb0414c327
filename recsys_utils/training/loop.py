"""The minibatch training loop every torch model shares.

Minibatches are slices of shuffled index tensors (no DataLoader, no per-row Python),
the optimiser is Adam/AdamW/SGD, early stopping watches validation RMSE and restores
the best weights, and the per-epoch history comes back as a DataFrame.

Length: a little over 300 lines: the loop, its optimisers and schedules, and the
divergence checks are one concern that every torch model shares.
"""

from __future__ import annotations

import copy
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn

from recsys_utils.training.rowsparse import SPARSE_OPTIMIZERS, RowSparseOptimizer

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
            (``"sparse_adam"``, ``"sparse_adagrad"``, ``"sparse_sgd"``: see ``rowsparse``),
            several times faster on large tables.
        schedule: ``"none"``, ``"cosine"`` (to 0 over ``epochs``) or ``"step"`` (x0.5 every
            ``max(1, epochs // 3)`` epochs).
        patience: epochs without validation improvement before stopping; ``None`` never stops.
        seed: seeds initialisation and shuffling; same seed, same result on CPU.
        device: ``"auto"`` (cuda, then mps, then cpu) or a torch device string.
        num_threads: torch intra-op threads; ``None`` leaves torch's choice.
        progress: show a tqdm bar over epochs.
        eval_batch_size: rows per forward pass when scoring validation ratings.
        fused: with a ``sparse_*`` optimiser, train ``MFNet`` on the CPU with the compiled
            step of ``fused_mf`` (the same updates, about 4x faster at ml-25m's shape);
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


def default_threads() -> int:
    """Physical-core-sized thread count: more threads than cores only adds contention."""
    return max(1, min(torch.get_num_threads(), os.cpu_count() or 1))


def _make_optimizer(net: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    if cfg.optimizer in SPARSE_OPTIMIZERS:  # only the rows a batch uses: see rowsparse
        return RowSparseOptimizer(net, cfg.optimizer, lr=cfg.lr, weight_decay=cfg.weight_decay)
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


def train(
    net: nn.Module,
    train_data: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    valid_data: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None,
    cfg: TrainConfig,
    *,
    clip: tuple[float, float],
    on_epoch: Callable[[dict], None] | None = None,
) -> pd.DataFrame:
    """Fit ``net`` on index tensors; return the per-epoch history.

    ``net(users, items)`` returns predicted ratings; an optional ``net.penalty(users,
    items)`` gives the L2 term that ``cfg.l2`` weights. With ``valid_data`` the best
    epoch's weights (lowest validation RMSE) are restored at the end.

    Args:
        net: the model, already on its device.
        train_data: (user indices, item indices, ratings) on the same device.
        valid_data: the same for validation, or ``None``.
        cfg: the training configuration.
        clip: rating scale used to clip predictions when scoring.
        on_epoch: called with each history row (sweeps report and prune through it;
            raising ``optuna.TrialPruned`` there stops training).

    Returns:
        DataFrame with columns ``HISTORY_COLUMNS``, one row per epoch run;
        ``attrs["fused"]`` says whether the compiled MF step (``fused_mf``) ran.

    Raises:
        TrainingDiverged: when the loss becomes NaN or infinite.
    """
    from tqdm.auto import tqdm

    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    users, items, ratings = train_data
    n = len(ratings)
    if n == 0:
        raise ValueError("no training ratings")
    gen = torch.Generator(device="cpu").manual_seed(cfg.seed)
    opt = _make_optimizer(net, cfg)
    sched = _make_scheduler(opt, cfg)
    has_penalty = cfg.l2 > 0 and hasattr(net, "penalty")
    sparse = isinstance(opt, RowSparseOptimizer)
    fused = None
    if sparse and cfg.fused:
        from recsys_utils.training import fused_mf  # numba, imported only where it may be used

        if fused_mf.supports(net, opt) and users.device.type == "cpu":
            if cfg.num_threads:
                fused_mf.set_threads(cfg.num_threads)
            fused = fused_mf.MFStep(net, opt, min(cfg.batch_size, n))
            data = fused.prepare(users, items, ratings)
    best_rmse, best_state, bad_epochs = math.inf, None, 0
    rows: list[dict] = []
    bar = tqdm(
        range(1, cfg.epochs + 1),
        desc=type(net).__name__,
        unit="epoch",
        disable=not cfg.progress,
        leave=False,
    )
    for epoch in bar:
        net.train()
        start = time.perf_counter()
        if fused is not None:  # its parallel shuffle, seeded from the same generator
            perm = fused_mf.shuffle(n, int(torch.randint(2**62, (), generator=gen)))
        else:
            perm = torch.randperm(n, generator=gen).to(users.device)
        total = torch.zeros((), device=users.device)
        for s in range(0, n, cfg.batch_size):
            idx = perm[s : s + cfg.batch_size]
            if fused is not None:  # the same step, compiled: see fused_mf
                total += fused.step(idx, *data, cfg.l2 if has_penalty else 0.0)
                continue
            u, i, r = users[idx], items[idx], ratings[idx]
            fwd, u, i = opt.gather(u, i) if sparse else (net, u, i)
            loss = torch.nn.functional.mse_loss(fwd(u, i), r)
            total += loss.detach() * len(idx)
            if has_penalty:
                loss = loss + cfg.l2 * fwd.penalty(u, i) / len(idx)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        train_loss = float(total) / n
        if not math.isfinite(train_loss):
            raise TrainingDiverged(
                f"training loss became {train_loss} in epoch {epoch} with lr={cfg.lr}; "
                "lower the learning rate (try 10x smaller) or add regularisation"
            )
        lr_now = opt.param_groups[0]["lr"]
        if sched is not None:
            sched.step()
        val_rmse = val_mae = float("nan")
        if valid_data is not None and len(valid_data[2]):
            val_rmse, val_mae = evaluate(net, valid_data, clip, cfg.eval_batch_size)
        row = {
            "epoch": epoch,
            "train_loss": train_loss,
            "val_rmse": val_rmse,
            "val_mae": val_mae,
            "lr": lr_now,
            "seconds": time.perf_counter() - start,
        }
        rows.append(row)
        bar.set_postfix(loss=f"{train_loss:.4f}", val_rmse=f"{val_rmse:.4f}")
        if on_epoch is not None:
            on_epoch(row)
        if valid_data is None or not math.isfinite(val_rmse):
            continue
        if val_rmse < best_rmse - 1e-6:
            best_rmse, bad_epochs = val_rmse, 0
            best_state = copy.deepcopy(net.state_dict())
        else:
            bad_epochs += 1
            if cfg.patience is not None and bad_epochs >= cfg.patience:
                break
    bar.close()
    if best_state is not None:
        net.load_state_dict(best_state)
    history = pd.DataFrame(rows, columns=list(HISTORY_COLUMNS))
    history.attrs["fused"] = fused is not None  # which step ran: see fused_mf
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
