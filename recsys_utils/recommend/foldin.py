"""Recommendations for people the model has never seen: fold-in, top-N, and why.

A new user arrives with a few (movie, rating) pairs. The movie embeddings stay frozen;
only the user's own vector p (and bias b, where the model has one) is fitted, shrunk
towards the average training user x_bar so that one rating cannot fling it far. The
pull is R = diag(bias_reg * w_0, reg * w_1, ..., reg * w_d) with w = 1 (``prior="ridge"``,
the default) or w_j = 1 / variance of coordinate j over the training users
(``prior="gaussian"``: the posterior mode under a Gaussian fitted to them):

    MF, ImplicitMF (closed form, through the model's own scorer
    ``model.fold_in_linear(H)``: score = offset_j(H) + X_j x, H the movies rated):
        x = [b, p],  X_j = [1, q_j],  y_j = r_j - offset_j(H)
        x = x_bar + (X'X + R)^-1 X'(y - X x_bar)
      (MF: offset_j = mu + b_j; ImplicitMF: offset_j = mu + b_j + q_j . |H|^-1/2 sum_H y,
      q_j its movie vectors with their audience sums)
    other nets (CollabFNet):  Adam on p only, minimising
        mean_j (f(p, q_j) - r_j)^2 + (p - p_bar)' R (p - p_bar) / n,  the net frozen.
    BiasOnly: b = sum_j (r_j - mu - b_j) / (bias_reg + n), bias_reg its own reg_user;
    GlobalMean, Popularity: nothing to fit (their scores do not depend on the user);
    ranking models scored from the movies a person liked (``models.ranking``: the
    pooled-embedding model, EASE): nothing to fit either. The history is the movies rated
    at or above the model's ``threshold`` (4 stars); lower ratings never count as
    liking, and scores are ``model.score_liked(liked)``, not ratings (never clipped).
Every way reproduces ``model.score_items`` for a training user given that user's own
history and fitted parameters; a model with none of them (Blend, rules) raises
``FoldInError``.

No retraining happens. ``explanations.explain`` says why a movie comes up;
``fold_in_curve`` (in ``foldin_eval``, re-exported here) measures how the result
improves with the number of ratings a held-out user gives.

Length: over 300 lines: one fold-in per kind of model (closed form, gradient, bias,
ranking) behind one entry point, so each reproduces its own model's scorer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from recsys_utils.constants import ITEM_COL, PREDICTION_COL, RATING_COL, SCORE_COL
from recsys_utils.embeddings.vectors import extract, with_titles

# FOLD_IN_REG is the package default (CLI, app); the figures choose it on validation
# users only: ``foldin_curve.select_fold_in_reg`` over FOLD_IN_REG_GRID on one half of
# the held-out users, the curve reported on the other half (notebook 06 records the grid
# and the choice). 1.0 is about the training penalty of a user with ~10 ratings; the old
# 10 shrank such a user to 22% of a trained user's vector norm. The bias weight equals
# BiasOnly's reg_user, so with no vector the two agree.
FOLD_IN_REG_GRID = (0.3, 1.0, 3.0, 10.0)
FOLD_IN_REG = 1.0
FOLD_IN_BIAS_REG = 5.0


class FoldInError(ValueError):
    """The model has no fold-in that reproduces its own scorer (say which, and why)."""


@dataclass(frozen=True)
class FoldedUser:
    """A user fitted against frozen movie embeddings.

    Attributes:
        vector: the fitted user embedding p.
        bias: the fitted user bias b (0.0 for nets without biases).
        item_ids: the raw ids of the movies rated, in input order.
        item_indices: the same as the model's contiguous indices.
        ratings: the ratings given, aligned with ``item_ids``.
    """

    vector: np.ndarray
    bias: float
    item_ids: np.ndarray
    item_indices: np.ndarray
    ratings: np.ndarray


def parse_ratings(ratings) -> tuple[np.ndarray, np.ndarray]:
    """(movie ids, ratings) from a dict, a list of pairs, or a table with item_id/rating.

    Raises:
        ValueError: no ratings, a non-numeric or non-finite value, a movie rated twice.
    """
    if isinstance(ratings, pd.DataFrame):
        pairs = list(zip(ratings[ITEM_COL], ratings[RATING_COL], strict=True))
    elif isinstance(ratings, dict):
        pairs = list(ratings.items())
    else:
        pairs = list(ratings)
    if not pairs:
        raise ValueError("need at least one (movie id, rating) pair to fold in a new user")
    try:
        raw_ids = np.array([float(m) for m, _ in pairs], dtype=np.float64)
        values = np.array([float(r) for _, r in pairs], dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"ratings must be (integer movie id, number) pairs: {err}") from None
    if not (np.isfinite(raw_ids) & (raw_ids == np.round(raw_ids))).all():
        raise ValueError(f"movie ids must be whole numbers, got {[m for m, _ in pairs][:5]}")
    if (np.abs(raw_ids) >= 2.0**63).any():  # past int64: no movie's id (the cast would wrap)
        raise ValueError(
            f"unknown movie ids {[m for m, _ in pairs if abs(float(m)) >= 2.0**63][:5]}: "
            "not in the model's training data"
        )
    ids = raw_ids.astype(np.int64)
    if not np.isfinite(values).all():
        raise ValueError(f"rating for movie {ids[~np.isfinite(values)][0]} is not a finite number")
    uniq, counts = np.unique(ids, return_counts=True)
    if (counts > 1).any():
        raise ValueError(f"movie {uniq[counts > 1][0]} is rated more than once")
    return ids, values


def _check(model, ids: np.ndarray, values: np.ndarray) -> np.ndarray:
    lo, hi = model.rating_scale
    off = (values < lo) | (values > hi)
    if off.any():
        j = int(np.flatnonzero(off)[0])
        raise ValueError(
            f"rating {values[j]:g} for movie {ids[j]} is off the model's scale [{lo:g}, {hi:g}]"
        )
    idx = model.item_map.encode(ids)
    if (idx < 0).any():
        unknown = ids[idx < 0].tolist()
        raise KeyError(
            f"unknown movie ids {unknown[:10]}{' ...' if len(unknown) > 10 else ''}: "
            "not in the model's training data"
        )
    return idx


def _is_mf(emb) -> bool:
    return emb.user_bias is not None and emb.mu is not None


def _is_linear(model) -> bool:
    return callable(getattr(model, "fold_in_linear", None))


def is_ranking(model) -> bool:
    """Whether ``model`` ranks from liked movies (scores, not ratings; see ``models.ranking``)."""
    return callable(getattr(model, "score_liked", None))


def liked_indices(model, user: FoldedUser) -> np.ndarray:
    """The movies of ``user`` a ranking model counts as liked: rated >= its threshold."""
    return user.item_indices[user.ratings >= model.params["threshold"]]


def _kind(model) -> str:
    """How ``model`` folds in: "history", "linear", "gradient", "bias", "constant";
    else FoldInError."""
    from recsys_utils.models.baselines import BiasOnly, GlobalMean, Popularity
    from recsys_utils.models.torch_models import CollabFNet

    if is_ranking(model):
        return "history"
    if _is_linear(model):
        return "linear"
    if isinstance(model, CollabFNet):
        return "gradient"
    if isinstance(model, BiasOnly):
        return "bias"
    if isinstance(model, (GlobalMean, Popularity)):
        return "constant"
    raise FoldInError(
        f"{type(model).__name__} cannot fold in a new user: no fold-in reproduces its "
        "scorer (fold-in works for the ranking models, MF, ImplicitMF, CollabFNet, "
        "BiasOnly, GlobalMean, Popularity); use a checkpoint of one of those"
    )


def can_fold_in(model) -> bool:
    """Whether ``fold_in`` supports ``model`` (see ``FoldInError``)."""
    try:
        _kind(model)
    except FoldInError:
        return False
    return True


def user_prior(model, prior: str = "ridge") -> tuple[np.ndarray, np.ndarray]:
    """Mean and per-coordinate precision weights of the training users' [b, p] (MF) or p.

    ``"gaussian"``: weights 1 / var of each coordinate over the training users, so
    ``reg`` is the noise variance of one rating and the fit is the posterior mode under
    a diagonal Gaussian prior fitted to the training users. ``"ridge"``: weights 1.
    """
    if prior not in ("gaussian", "ridge"):
        raise ValueError(f"prior must be 'gaussian' or 'ridge', got {prior!r}")
    emb = extract(model)
    cached = getattr(model, "_prior_cache", None)
    if cached is not None and cached[0] is emb and cached[1] == prior:
        return cached[2]
    x = model.fold_in_prior_rows() if _is_linear(model) else emb.user
    mean = x.mean(0)
    weights = 1.0 / np.maximum(x.var(0), 1e-8) if prior == "gaussian" else np.ones(x.shape[1])
    model._prior_cache = (emb, prior, (mean, weights))
    return mean, weights


def fold_in(
    model,
    ratings,
    reg: float = FOLD_IN_REG,
    bias_reg: float | None = None,
    prior: str = "ridge",
    steps: int = 150,
    lr: float = 0.05,
) -> FoldedUser:
    """Fit a new user's vector and bias from their ratings; the model is not changed.

    Args:
        model: a fitted MF, ImplicitMF, CollabFNet, BiasOnly, GlobalMean or Popularity.
        ratings: ``{movie_id: rating}``, a list of ``(movie_id, rating)`` pairs, or a
            table with item_id and rating columns.
        reg: weight of the pull of the vector towards the average training user.
        bias_reg: the same for the bias (default ``FOLD_IN_BIAS_REG``; for BiasOnly its
            own ``reg_user``, as in training); see ``FOLD_IN_REG`` for how both were chosen.
        prior: ``"ridge"`` (the same weight on every coordinate) or ``"gaussian"``
            (scaled by the spread of the training users, see ``user_prior``; then
            ``reg`` plays the noise variance of one rating, about 1).
        steps, lr: Adam steps and learning rate for nets without a closed form.

    Raises:
        FoldInError: the model has no fold-in reproducing its scorer (Blend, rules).
        ValueError: empty list, non-numeric, duplicated or off-scale ratings.
        KeyError: movie ids the model does not know (the message lists them).
    """
    kind = _kind(model)
    if bias_reg is None:
        bias_reg = model.params["reg_user"] if kind == "bias" else FOLD_IN_BIAS_REG
    if reg < 0 or bias_reg < 0:
        raise ValueError(f"reg and bias_reg must be non-negative, got {reg} and {bias_reg}")
    ids, values = parse_ratings(ratings)
    idx = _check(model, ids, values)
    if kind in ("constant", "history"):
        return FoldedUser(np.zeros(0), 0.0, ids, idx, values)
    if kind == "bias":
        b = np.sum(values - model.mu_ - model.b_i_[idx]) / (bias_reg + len(idx))
        return FoldedUser(np.zeros(0), float(b), ids, idx, values)
    x_bar, weights = user_prior(model, prior)
    if kind == "linear":
        offset, q = model.fold_in_linear(idx)
        design = np.column_stack([np.ones(len(idx)), q[idx]])
        y = values - offset[idx]
        penalty = reg * weights
        penalty[0] = bias_reg * weights[0]
        lhs = design.T @ design + np.diag(penalty)
        rhs = design.T @ (y - design @ x_bar)
        # a positive penalty makes lhs positive definite; else take the least-norm solution
        positive = penalty.min() > 0
        step = np.linalg.solve(lhs, rhs) if positive else np.linalg.lstsq(lhs, rhs, rcond=None)[0]
        x = x_bar + step
        return FoldedUser(x[1:], float(x[0]), ids, idx, values)
    vector = _fold_in_gradient(model, idx, values, x_bar, weights, reg, steps, lr)
    return FoldedUser(vector, 0.0, ids, idx, values)


def _net_forward(net, vector, items, bias=None):
    """net(user 0, items) with user 0's row replaced by ``vector`` (weights untouched)."""
    import torch
    from torch.func import functional_call

    params = {k: v.detach() for k, v in net.named_parameters()}
    params["user_emb.weight"] = vector.reshape(1, -1)
    if bias is not None and "user_bias.weight" in params:
        params["user_bias.weight"] = bias.reshape(1, 1)
    users = torch.zeros(len(items), dtype=torch.long, device=items.device)
    return functional_call(net, (params, dict(net.named_buffers())), (users, items))


def _fold_in_gradient(model, idx, values, p_bar, weights, reg, steps, lr) -> np.ndarray:
    import torch

    net, device = model.net, model.device
    was_training = net.training
    net.eval()  # no dropout while fitting p; the mode is restored below
    items = torch.as_tensor(idx, dtype=torch.long, device=device)
    target = torch.as_tensor(values, dtype=torch.float32, device=device)
    prior = torch.as_tensor(p_bar, dtype=torch.float32, device=device)
    precision = torch.as_tensor(weights, dtype=torch.float32, device=device)
    p = prior.clone().requires_grad_(True)
    opt = torch.optim.Adam([p], lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        loss = (_net_forward(net, p, items) - target).pow(2).mean()
        loss = loss + reg / len(idx) * (precision * (p - prior).pow(2)).sum()  # no bias here
        loss.backward()
        opt.step()
    net.train(was_training)
    return p.detach().cpu().numpy().astype(np.float64)


def score_folded(model, user: FoldedUser, item_indices=None) -> np.ndarray:
    """Unclipped scores of a folded user for item indices (default: all), by the model's
    own scorer: for a training user's parameters and history, ``score_items``'s row."""
    kind = _kind(model)
    sel = slice(None) if item_indices is None else np.asarray(item_indices, dtype=np.int64)
    if kind == "history":
        liked = liked_indices(model, user)
        if liked.size == 0:
            threshold = model.params["threshold"]
            raise ValueError(
                f"none of these movies is rated {threshold:g} stars or more: the ranking model "
                "learns from the movies you liked, so rate one you liked"
            )
        return np.asarray(model.score_liked(liked), dtype=np.float64)[sel]
    if kind == "constant":
        return np.asarray(model.score_items(np.zeros(1, dtype=np.int64))[0], np.float64)[sel]
    if kind == "bias":
        return (model.mu_ + user.bias + model.b_i_)[sel]
    if kind == "linear":
        # einsum, not @: one matrix-vector product gains nothing from BLAS threads, and
        # on a busy machine they made it 10x slower.
        offset, q = model.fold_in_linear(user.item_indices)
        return offset[sel] + user.bias + np.einsum("ij,j->i", q[sel], user.vector)
    emb = extract(model)
    if item_indices is None:
        item_indices = np.arange(len(emb.item_ids))
    import torch

    net, was_training = model.net, model.net.training
    with torch.no_grad():
        vec = torch.as_tensor(user.vector, dtype=torch.float32, device=model.device)
        items = torch.as_tensor(item_indices, device=model.device)
        scores = _net_forward(net.eval(), vec, items).cpu().numpy().astype(np.float64)
    net.train(was_training)
    return scores


def novelty_ranking(scores: np.ndarray, item_counts, novelty: float) -> np.ndarray:
    """What the list is ordered by: score - novelty * log(1 + training ratings of the movie).

    ``novelty`` 0 is the model's own order; larger values trade accuracy for less-watched
    movies (``bench personalisation`` measures the trade). A negative or non-finite value
    is a ValueError."""
    novelty = float(novelty)
    if not np.isfinite(novelty) or novelty < 0:
        raise ValueError(f"novelty must be a finite number >= 0, got {novelty}")
    if novelty == 0:
        return scores
    return scores - novelty * np.log1p(np.asarray(item_counts, dtype=np.float64))


def recommend_folded(
    model,
    user: FoldedUser,
    k: int = 10,
    min_ratings: int = 0,
    movies: pd.DataFrame | None = None,
    novelty: float = 0.0,
) -> pd.DataFrame:
    """Top-``k`` movies a folded user has not given: item_id, prediction (a rating model's
    clipped rating) or score (a ranking model's, unclipped)[, title]. Every movie the user
    gave is left out, whatever its rating. ``novelty`` > 0 orders by ``novelty_ranking``
    (the values shown stay the model's own)."""
    from recsys_utils.metrics import top_k_eligible

    scores = score_folded(model, user)
    order_by = novelty_ranking(scores, model.item_counts_, novelty)
    mask = np.asarray(model.item_counts_) >= min_ratings
    mask[user.item_indices] = False
    top = top_k_eligible(order_by, k, ~mask)
    if is_ranking(model):
        column, values = SCORE_COL, scores[top]
    else:
        column, values = PREDICTION_COL, np.clip(scores[top], *model.rating_scale)
    out = pd.DataFrame({ITEM_COL: model.item_map.decode(top), column: values})
    return with_titles(out, movies)


def recommend_new_user(
    model,
    ratings,
    k: int = 10,
    min_ratings: int = 0,
    movies: pd.DataFrame | None = None,
    novelty: float = 0.0,
    **fold_kw,
) -> pd.DataFrame:
    """Fold in a new user from their ratings, then their top-``k`` unseen movies.

    Args:
        ratings: as for ``fold_in``, or an already ``FoldedUser``.
        min_ratings: only movies with at least this many training ratings.
        movies: a movies table; when given, a ``title`` column is added.
        novelty: >= 0; orders by ``novelty_ranking`` (0: the model's own order).
        **fold_kw: ``reg``, ``steps``, ``lr`` for ``fold_in``.

    Raises:
        ValueError: bad ratings (see ``fold_in``) or ``k`` beyond the eligible catalogue.
        KeyError: unknown movie ids.
    """
    user = ratings if isinstance(ratings, FoldedUser) else fold_in(model, ratings, **fold_kw)
    return recommend_folded(model, user, k, min_ratings, movies, novelty)
