"""Do two different new users get different lists? ``bench personalisation``.

Protocol (``personalisation``): ``n_users`` users of the data set (seeded, each with at
least ``min_ratings`` ratings) are held out of training entirely. Each is folded in from
``n_given`` of their own ratings drawn at random (users whose draw holds no rating at or
above the positives threshold are passed over, so every model sees the same users and
the ranking models have something liked to start from). Every model fitted on the other
users gives each held-out user a top-``k`` over the catalogue, the given movies
excluded. Per model:

- mean pairwise Jaccard of the ``n_users`` top-k lists, J(A, B) = |A & B| / |A | B|,
  over all n (n - 1) / 2 pairs (1: everyone gets the same list; 0: no overlap);
- distinct movies across the lists (at most n_users x k);
- NDCG@k of each list against the user's other ratings at or above the threshold
  (binary relevance, ``metrics.ranking``), averaged over the users who have such
  ratings: personal lists must still be good ones.

Targets (issue "The product personalises"): for the ranking model, Jaccard <= 0.10 and
>= 300 distinct movies out of 600 slots (60 users, top-10); the rating models' fold-in
gave 0.26 and 65 before.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from recsys_utils.constants import (
    DEFAULT_DATASET,
    ITEM_COL,
    RATING_COL,
    RELEVANCE_THRESHOLD,
    USER_COL,
)
from recsys_utils.evaluation.probes import jaccard
from recsys_utils.metrics import per_user_from_top

# The models compared, by registry name, with what they train with here (early stopping
# on 10% of the training ratings, ``models.fitting.fit_early_stopped``, as the app does).
DEFAULT_MODELS: dict[str, tuple[str, dict]] = {
    "ranking (pooled_softmax)": ("pooled_softmax", {"max_epochs": 100, "patience": 10}),
    "MF fold-in": ("mf", {}),
    "popularity": ("popularity", {}),
}


# the ranking model again at these novelty values (``recommend.novelty_ranking``): the
# price in NDCG of lists that lean less on the most-watched films
NOVELTIES: dict[str, tuple[float, ...]] = {"ranking (pooled_softmax)": (0.05, 0.1)}


def mean_pairwise_jaccard(lists: list[set]) -> float:
    """Mean of J(A, B) = |A & B| / |A | B| over all pairs of lists (0 for fewer than two)."""
    pairs = list(itertools.combinations(lists, 2))
    if not pairs:
        return 0.0
    return float(np.mean([jaccard(a, b) for a, b in pairs]))


def draw_users(
    ratings: pd.DataFrame,
    n_users: int = 60,
    n_given: int = 10,
    min_ratings: int = 20,
    threshold: float = RELEVANCE_THRESHOLD,
    seed: int = 0,
) -> dict[int, pd.DataFrame]:
    """``n_users`` held-out users, each with ``n_given`` of their ratings to fold in from.

    Returns:
        user id -> the ratings given (item_id, rating), in a seeded order.

    Raises:
        ValueError: fewer eligible users than ``n_users``.
    """
    rng = np.random.default_rng(seed)
    counts = ratings.groupby(USER_COL).size()
    candidates = np.array(counts.index[counts >= max(min_ratings, n_given + 1)])
    chosen: dict[int, pd.DataFrame] = {}
    by_user = dict(tuple(ratings.groupby(USER_COL)))
    for user in rng.permutation(candidates):
        mine = by_user[user]
        given = mine.iloc[rng.choice(len(mine), n_given, replace=False)]
        if (given[RATING_COL] >= threshold).any():
            chosen[int(user)] = given[[ITEM_COL, RATING_COL]].reset_index(drop=True)
        if len(chosen) == n_users:
            return chosen
    raise ValueError(
        f"only {len(chosen)} users have {min_ratings}+ ratings with a liked movie among "
        f"{n_given} drawn; asked for {n_users}"
    )


def personalisation(
    ratings: pd.DataFrame,
    models: Mapping[str, tuple[str, dict]] | None = None,
    n_users: int = 60,
    n_given: int = 10,
    k: int = 10,
    threshold: float = RELEVANCE_THRESHOLD,
    seed: int = 0,
    min_ratings: int = 20,
    echo: Callable[[str], None] | None = print,
    novelties: Mapping[str, tuple[float, ...]] | None = None,
) -> tuple[pd.DataFrame, dict[str, dict[int, list[int]]]]:
    """The protocol in the module docstring, one row per model (and per extra novelty
    value of ``novelties``, default ``NOVELTIES``: the same fitted model, its lists ordered
    by ``recommend.novelty_ranking``).

    Returns:
        (a table: model, novelty, mean_jaccard, distinct, slots, ndcg@k, fit_s; the top-k lists,
        model -> user -> movie ids).
    """
    from recsys_utils.models.fitting import fit_early_stopped
    from recsys_utils.recommend.foldin import fold_in, recommend_folded

    users = draw_users(ratings, n_users, n_given, min_ratings, threshold, seed)
    train = ratings[~ratings[USER_COL].isin(users)]
    rows, lists = [], {}
    novelties = NOVELTIES if novelties is None else novelties
    # each user's other liked movies, what every list is scored against
    by_user = ratings.groupby(USER_COL)
    liked = {}
    for user, given in users.items():
        mine = by_user.get_group(user)
        mine = mine[~mine[ITEM_COL].isin(given[ITEM_COL])]
        liked[user] = set(mine.loc[mine[RATING_COL] >= threshold, ITEM_COL])
    relevant = [np.array(sorted(liked[user]), dtype=np.int64) for user in users]
    for base_label, (name, params) in (models or DEFAULT_MODELS).items():
        start = time.perf_counter()
        model = fit_early_stopped(name, train, seed=seed, **params)
        fit_s = time.perf_counter() - start
        folded = {}
        for user, given in users.items():
            known = given[model.item_map.encode(given[ITEM_COL].to_numpy()) >= 0]
            folded[user] = fold_in(model, known)
        for novelty in (0.0, *novelties.get(base_label, ())):
            label = base_label if novelty == 0 else f"{base_label}, novelty {novelty:g}"
            tops = {}
            for user in users:
                top = recommend_folded(model, folded[user], k=k, novelty=novelty)
                tops[user] = top[ITEM_COL].tolist()
            # movie ids serve as the item indices of the lists and the targets
            ranked = np.array([tops[user] for user in users], dtype=np.int64)
            ndcgs = per_user_from_top(ranked, relevant, (f"ndcg@{k}",))[f"ndcg@{k}"]
            lists[label] = tops
            row = {
                "model": label,
                "novelty": novelty,
                "mean_jaccard": mean_pairwise_jaccard([set(t) for t in tops.values()]),
                "distinct": len(set().union(*tops.values())),
                "slots": len(users) * k,
                f"ndcg@{k}": float(np.nanmean(ndcgs)),
                "fit_s": fit_s,
            }
            rows.append(row)
            if echo is not None:
                echo(
                    f"{label}: mean Jaccard {row['mean_jaccard']:.3f}, {row['distinct']} "
                    f"distinct movies in {row['slots']} slots, NDCG@{k} "
                    f"{row[f'ndcg@{k}']:.3f} (fit {fit_s:.0f} s)"
                )
    return pd.DataFrame(rows), lists


def run(dataset: str = DEFAULT_DATASET, **kw) -> pd.DataFrame:
    """``personalisation`` on a MovieLens release by name."""
    from recsys_utils import data

    table, _ = personalisation(data.load_dataset(dataset).ratings, **kw)
    return table
