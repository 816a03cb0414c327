"""The fold-in math the factor models share (private: each model's ``_score_new`` uses it).

A new person's own parameters are fitted against the frozen movie side, shrunk towards
the average training user x_bar so that one rating cannot fling them far. The pull is
R = diag(bias_reg * w_0, reg * w_1, ..., reg * w_d) with w = 1 (``prior="ridge"``) or
w_j = 1 / variance of coordinate j over the training users (``prior="gaussian"``: the
posterior mode under a Gaussian fitted to them).

    closed form (MF, ImplicitMF: score = offset_j(H) + X_j x, x = [b, p], X_j = [1, q_j]):
        x = x_bar + (X'X + R)^-1 X'(y - X x_bar),  y_j = r_j - offset_j(H)
    gradient (CollabFNet): Adam on p only, the net frozen, minimising
        mean_j (f(p, q_j) - r_j)^2 + (p - p_bar)' R (p - p_bar) / n
    bias (BiasOnly): b = sum_j (r_j - mu - b_j) / (bias_reg + n)
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

# FOLD_IN_REG is the package default (CLI, app); the figures choose it on validation
# users only: ``foldin_curve.select_fold_in_reg`` over FOLD_IN_REG_GRID on one half of
# the held-out users, the curve reported on the other half (notebook 06 records the grid
# and the choice). 1.0 is about the training penalty of a user with ~10 ratings. The bias
# weight equals BiasOnly's reg_user, so with no vector the two agree.
FOLD_IN_REG_GRID = (0.3, 1.0, 3.0, 10.0)
FOLD_IN_REG = 1.0
FOLD_IN_BIAS_REG = 5.0
FOLD_IN_STEPS = 150
FOLD_IN_LR = 0.05


def person_rows(R: sp.csr_matrix):
    """(item indices, ratings) of each row of a ratings matrix."""
    R = sp.csr_matrix(R)
    for r in range(R.shape[0]):
        sl = slice(R.indptr[r], R.indptr[r + 1])
        yield R.indices[sl].astype(np.int64), R.data[sl].astype(np.float64)


def check_regs(reg: float, bias_reg: float) -> None:
    if reg < 0 or bias_reg < 0:
        raise ValueError(f"reg and bias_reg must be non-negative, got {reg} and {bias_reg}")


def prior_of(rows: np.ndarray, prior: str = "ridge") -> tuple[np.ndarray, np.ndarray]:
    """Mean and per-coordinate precision weights of the training users' parameter rows."""
    if prior not in ("gaussian", "ridge"):
        raise ValueError(f"prior must be 'gaussian' or 'ridge', got {prior!r}")
    mean = rows.mean(0)
    if prior == "gaussian":
        return mean, 1.0 / np.maximum(rows.var(0), 1e-8)
    return mean, np.ones(rows.shape[1])


def solve_linear(design, y, x_bar, weights, reg, bias_reg) -> np.ndarray:
    """x = x_bar + (X'X + R)^-1 X'(y - X x_bar), R = diag(bias_reg w_0, reg w_1, ...)."""
    penalty = reg * weights
    penalty[0] = bias_reg * weights[0]
    lhs = design.T @ design + np.diag(penalty)
    rhs = design.T @ (y - design @ x_bar)
    # a positive penalty makes lhs positive definite; else take the least-norm solution
    positive = penalty.min() > 0
    step = np.linalg.solve(lhs, rhs) if positive else np.linalg.lstsq(lhs, rhs, rcond=None)[0]
    return x_bar + step


def net_forward(net, vector, items):
    """net(user 0, items) with user 0's row replaced by ``vector`` (weights untouched)."""
    import torch
    from torch.func import functional_call

    params = {k: v.detach() for k, v in net.named_parameters()}
    params["user_emb.weight"] = vector.reshape(1, -1)
    users = torch.zeros(len(items), dtype=torch.long, device=items.device)
    return functional_call(net, (params, dict(net.named_buffers())), (users, items))


def fit_vector(net, device, idx, values, p_bar, weights, reg, steps, lr) -> np.ndarray:
    """Adam on p only (the net frozen, in eval mode: no dropout); see the module docstring."""
    import torch

    was_training = net.training
    net.eval()
    items = torch.as_tensor(idx, dtype=torch.long, device=device)
    target = torch.as_tensor(values, dtype=torch.float32, device=device)
    prior = torch.as_tensor(p_bar, dtype=torch.float32, device=device)
    precision = torch.as_tensor(weights, dtype=torch.float32, device=device)
    p = prior.clone().requires_grad_(True)
    opt = torch.optim.Adam([p], lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        loss = (net_forward(net, p, items) - target).pow(2).mean()
        loss = loss + reg / max(len(idx), 1) * (precision * (p - prior).pow(2)).sum()
        loss.backward()
        opt.step()
    net.train(was_training)
    return p.detach().cpu().numpy().astype(np.float64)
