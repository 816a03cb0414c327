"""How fold-in improves with the number of ratings a new user gives, on held-out users.

"The more movies you watch, the better it learns what you like": ``split_heldout_users``
sets whole users aside before training, and ``fold_in_curve`` folds each of them in
(``recommend.fold_in``) from their first k ratings and scores the rest, against the
bias-only and popularity baselines on the same ratings. ``select_fold_in_reg`` picks the
fold-in regularisation on a set of validation users (``halve_users`` splits the held-out
users in two), and ``fold_in_curve(..., chosen_on=...)`` refuses to report on them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from recsys_utils.constants import ITEM_COL, RATING_COL, RELEVANCE_THRESHOLD, USER_COL


def split_heldout_users(
    ratings: pd.DataFrame, n_users: int = 50, min_ratings: int = 30, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Set whole users aside: (ratings without them, their ratings).

    Picks ``n_users`` users at random (seeded) among those with at least ``min_ratings``
    ratings. Train a model on the first table, then ``fold_in_curve`` on the second.
    """
    counts = ratings.groupby(USER_COL).size()
    eligible = np.sort(counts.index[counts >= min_ratings].to_numpy())
    if n_users < 1 or n_users >= len(eligible):
        raise ValueError(
            f"n_users must be between 1 and {len(eligible) - 1} (users with "
            f">= {min_ratings} ratings), got {n_users}"
        )
    chosen = np.random.default_rng(seed).choice(eligible, n_users, replace=False)
    held = ratings[USER_COL].isin(chosen).to_numpy()
    return ratings[~held].reset_index(drop=True), ratings[held].reset_index(drop=True)


def model_training_rows(model, train: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``train`` whose (user, movie) pair the model was fitted on.

    Raises:
        ValueError: ``train`` lacks some of them (it is not the model's training table).
    """
    u = model.user_map.encode(train[USER_COL].to_numpy()).astype(np.int64)
    i = model.item_map.encode(train[ITEM_COL].to_numpy()).astype(np.int64)
    n_items = len(model.item_map)
    seen_u = np.repeat(np.arange(len(model.seen_indptr_) - 1), np.diff(model.seen_indptr_))
    seen = seen_u * n_items + model.seen_indices_.astype(np.int64)
    keep = (u >= 0) & (i >= 0) & np.isin(u * n_items + i, seen)
    if keep.sum() != len(seen):
        raise ValueError(
            f"train holds {int(keep.sum())} of the {len(seen)} ratings the model was fitted "
            "on: pass the model's own training table (or one containing it)"
        )
    return train[keep].reset_index(drop=True)


def halve_users(heldout: pd.DataFrame, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two disjoint halves of the held-out users (seeded): (choose on, report on)."""
    users = np.sort(heldout[USER_COL].unique())
    if len(users) < 2:
        raise ValueError(f"need at least 2 held-out users to halve, got {len(users)}")
    first = np.random.default_rng(seed).choice(users, len(users) // 2, replace=False)
    mask = heldout[USER_COL].isin(first).to_numpy()
    return heldout[mask].reset_index(drop=True), heldout[~mask].reset_index(drop=True)


def select_fold_in_reg(
    model, train: pd.DataFrame, valid_users: pd.DataFrame, grid=None, **curve_kw
) -> tuple[float, pd.DataFrame]:
    """The fold-in ``reg`` of ``grid`` with the lowest fold-in RMSE on ``valid_users``,
    averaged over the curve's ks (ties: the smaller reg).

    Only ``valid_users`` are read: report on other users, passing
    ``chosen_on=valid_users`` to ``fold_in_curve`` so an overlap is refused.

    Returns:
        (chosen reg, DataFrame reg, rmse, ndcg: the grid's means over ks).
    """
    from recsys_utils.recommend.foldin import FOLD_IN_REG_GRID

    grid = FOLD_IN_REG_GRID if grid is None else grid
    rows = []
    for reg in sorted(float(g) for g in grid):
        c = fold_in_curve(model, train, valid_users, reg=reg, **curve_kw)
        c = c[c["method"] == "fold_in"]
        rows.append({"reg": reg, "rmse": float(c["rmse"].mean()), "ndcg": float(c["ndcg"].mean())})
    table = pd.DataFrame(rows)
    best = float(table.loc[table["rmse"].idxmin(), "reg"])
    return best, table


def fold_in_curve(
    model,
    train: pd.DataFrame,
    heldout: pd.DataFrame,
    ks=(1, 2, 5, 10, 20),
    seed: int = 0,
    k_rank: int = 10,
    relevance_threshold: float | None = RELEVANCE_THRESHOLD,
    min_eval: int = 5,
    min_ratings: int = 0,
    chosen_on: pd.DataFrame | None = None,
    **fold_kw,
) -> pd.DataFrame:
    """RMSE and NDCG@k_rank of folded-in held-out users against how many ratings they gave.

    Each held-out user's ratings (on movies the model knows) are shuffled with ``seed``;
    the first ``max(ks)`` are the ones they "watched first" and the rest, the same for
    every k, are scored. For each k the user is folded in from their first k ratings.
    Baselines on the same ratings: ``bias_only`` (a ``BiasOnly`` fitted on ``train``, the
    user's bias from the same k ratings, b_u = sum(r - mu - b_i) / (reg_user + k)) and
    ``popularity`` (predicts mu + b_i, ranks by rating count; ignores the k ratings).
    Ranking (the rule of ``metrics.ranking_metrics``): candidates are the catalogue minus
    the user's first ``max(ks)`` movies (every movie they gave that is not scored);
    relevant are the scored movies rated at least ``relevance_threshold`` (default
    ``RELEVANCE_THRESHOLD``, 4.0; all if ``None``); candidates can be limited to movies
    with at least ``min_ratings`` training ratings.

    Args:
        model: fitted on ``train``, which must not contain the held-out users.
        train: the table the model was fitted on, or one holding it (a model that
            stopped early on part of ``train``): the bias-only baseline is fitted on
            the rows of the model's own (user, movie) pairs only, so both see the same
            ratings (``model_training_rows``).
        chosen_on: the users the fold-in settings were chosen on
            (``select_fold_in_reg``); reporting on any of them is refused.
        heldout: the held-out users' ratings (``split_heldout_users``).
        **fold_kw: passed to ``fold_in``.

    Returns:
        DataFrame k, method (fold_in, bias_only, popularity), rmse, ndcg, n_users, n_ratings.
    """
    from recsys_utils.evaluation.metrics import ranking_from_top
    from recsys_utils.metrics import rmse, top_k_eligible
    from recsys_utils.models.baselines import BiasOnly
    from recsys_utils.recommend.foldin import fold_in, score_folded

    ks = sorted(int(k) for k in ks)
    leaked = np.intersect1d(model.user_map.ids, heldout[USER_COL].unique())
    if leaked.size:
        raise ValueError(
            f"{leaked.size} held-out users (first: {leaked[0]}) were in the model's "
            "training data; train it without them (split_heldout_users)"
        )
    if chosen_on is not None:
        overlap = np.intersect1d(chosen_on[USER_COL].unique(), heldout[USER_COL].unique())
        if overlap.size:
            raise ValueError(
                f"{overlap.size} users (first: {overlap[0]}) are both the ones fold-in was "
                "chosen on and the ones reported on; report on other users (halve_users)"
            )
    train = model_training_rows(model, train)
    base = BiasOnly().fit(train)
    in_base = base.item_map.encode(model.item_map.ids)  # the same movies when fitted on train
    b_i = np.where(in_base >= 0, base.b_i_[in_base], 0.0)  # aligned with the model's items
    pop = np.asarray(model.item_counts_, dtype=np.float64)
    rng = np.random.default_rng(seed)
    rows = {(k, m): ([], [], [], []) for k in ks for m in ("fold_in", "bias_only", "popularity")}
    for _, mine in heldout.groupby(USER_COL, sort=True):
        idx = model.item_map.encode(mine[ITEM_COL].to_numpy())
        keep = idx >= 0
        ids, idx = mine[ITEM_COL].to_numpy()[keep], idx[keep]
        r = mine[RATING_COL].to_numpy(dtype=np.float64)[keep]
        if len(idx) < ks[-1] + min_eval:
            continue
        order = rng.permutation(len(idx))
        first, rest = order[: ks[-1]], order[ks[-1] :]
        mask = pop >= min_ratings
        mask[idx[first]] = False
        relevant = (
            idx[rest] if relevance_threshold is None else idx[rest][r[rest] >= relevance_threshold]
        )
        for k in ks:
            given = first[:k]
            user = fold_in(model, list(zip(ids[given], r[given], strict=True)), **fold_kw)
            scores = score_folded(model, user)
            b_u = np.sum(r[given] - base.mu_ - b_i[idx[given]]) / (base.params["reg_user"] + k)
            for method, pred, rank_scores in (
                ("fold_in", scores[idx[rest]], scores),
                ("bias_only", base.mu_ + b_u + b_i[idx[rest]], b_i),
                ("popularity", base.mu_ + b_i[idx[rest]], pop),
            ):
                truth, preds, tops, rels = rows[(k, method)]
                truth.append(r[rest])
                preds.append(np.clip(pred, *model.rating_scale))
                tops.append(top_k_eligible(rank_scores, k_rank, ~mask))
                rels.append(relevant)
    if not rows[(ks[0], "fold_in")][0]:
        raise ValueError(f"no held-out user has {ks[-1] + min_eval} ratings on known movies")
    out = []
    for (k, method), (truth, preds, tops, rels) in rows.items():
        ranking = ranking_from_top(np.stack(tops), rels, len(pop))
        out.append(
            {
                "k": k,
                "method": method,
                "rmse": rmse(np.concatenate(truth), np.concatenate(preds)),
                "ndcg": ranking["ndcg"],
                "n_users": len(truth),
                "n_ratings": int(sum(len(t) for t in truth)),
            }
        )
    return pd.DataFrame(out)
