"""Cleaning a tidy ratings table: duplicates out, optional k-core, a before/after report."""

from __future__ import annotations

import pandas as pd

from recsys_utils.constants import ITEM_COL, RATINGS_COLUMNS, TIMESTAMP_COL, USER_COL
from recsys_utils.data.validation import summarize

# report row label -> summarize() key
_REPORT_ROWS = {
    "ratings": "n_ratings",
    "users": "n_users",
    "movies": "n_movies",
    "density": "density",
    "mean rating": "mean_rating",
}


def drop_duplicates(ratings: pd.DataFrame) -> tuple[pd.DataFrame, int, int]:
    """Drop exact duplicate rows, then repeated (user, movie) pairs keeping the latest.

    Ties on the timestamp keep the row that comes last in the table.

    Returns:
        ``(table, n_exact, n_pairs)``: the table in its original row order and the
        numbers of exact duplicates and of further (user, movie) repeats dropped.
    """
    exact = ratings.duplicated(list(RATINGS_COLUMNS))
    out = ratings[~exact]
    order = out.sort_values(TIMESTAMP_COL, kind="mergesort")
    repeated = order.duplicated([USER_COL, ITEM_COL], keep="last")
    out = order[~repeated].sort_index()
    return out, int(exact.sum()), int(repeated.sum())


def k_core(
    ratings: pd.DataFrame, min_user_ratings: int = 0, min_item_ratings: int = 0
) -> pd.DataFrame:
    """Keep users with >= ``min_user_ratings`` and movies with >= ``min_item_ratings`` ratings.

    Dropping a user can push a movie under its minimum and the other way round, so the
    filter repeats until nothing changes (the k-core).
    """
    out = ratings
    while len(out):
        users = out.groupby(USER_COL)[ITEM_COL].transform("size")
        items = out.groupby(ITEM_COL)[USER_COL].transform("size")
        keep = (users >= min_user_ratings) & (items >= min_item_ratings)
        if keep.all():
            break
        out = out[keep]
    return out


def _stats(ratings: pd.DataFrame) -> dict[str, float]:
    """The rows of the before/after table, from ``validation.summarize``."""
    summary = summarize(ratings)
    return {label: summary[key] for label, key in _REPORT_ROWS.items()}


def clean(
    ratings: pd.DataFrame, min_user_ratings: int = 0, min_item_ratings: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Drop duplicates, apply the optional k-core, and report what changed.

    Args:
        ratings: a tidy ratings table.
        min_user_ratings: k-core minimum ratings per user (0 = no filter).
        min_item_ratings: k-core minimum ratings per movie (0 = no filter).

    Returns:
        ``(clean, report)``: the cleaned table (index reset) and a table indexed by
        measure (ratings, users, movies, density, mean rating, exact duplicates,
        user-movie duplicates, removed by k-core) with columns ``before``, ``after``.
    """
    deduped, n_exact, n_pairs = drop_duplicates(ratings)
    cored = k_core(deduped, min_user_ratings, min_item_ratings)
    before, after = _stats(ratings), _stats(cored)
    report = pd.DataFrame({"before": before, "after": after})
    report.loc["exact duplicates"] = [n_exact, 0]
    report.loc["user-movie duplicates"] = [n_pairs, 0]
    report.loc["removed by k-core"] = [len(deduped) - len(cored), 0]
    return cored.reset_index(drop=True), report
