"""Duplicates, k-core and the before/after report, on frames worked by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from recsys_utils.data.cleaning import clean, drop_duplicates, k_core


def _frame(rows):
    return pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"])


DUPES = _frame(
    [
        (1, 10, 4.0, 100),
        (1, 10, 4.0, 100),  # exact duplicate of the row above
        (1, 10, 2.0, 300),  # same pair, later: this one stays
        (2, 10, 3.0, 100),
        (2, 20, 5.0, 50),  # same pair as the next, later: stays
        (2, 20, 1.0, 40),
        (3, 30, 4.0, 10),
    ]
)


def _rows(df):
    return list(df.itertuples(index=False, name=None))


def test_drop_duplicates_keeps_latest_in_original_order():
    out, n_exact, n_pairs = drop_duplicates(DUPES)
    assert (n_exact, n_pairs) == (1, 2)
    assert _rows(out) == [(1, 10, 2.0, 300), (2, 10, 3.0, 100), (2, 20, 5.0, 50), (3, 30, 4.0, 10)]


def test_timestamp_tie_keeps_the_later_row():
    out, _, n_pairs = drop_duplicates(_frame([(1, 10, 4.0, 100), (1, 10, 3.0, 100)]))
    assert n_pairs == 1 and _rows(out) == [(1, 10, 3.0, 100)]


def test_k_core_iterates_to_a_fixed_point(tiny_ratings):
    # movies with >= 3 ratings: only 20; then each user has 1 rating left
    only_20 = k_core(tiny_ratings, min_item_ratings=3)
    assert sorted(_rows(only_20[["user_id", "item_id"]])) == [(1, 20), (2, 20), (3, 20)]
    # asking users for >= 2 as well empties the table (a second pass is needed to see it)
    assert k_core(tiny_ratings, min_user_ratings=2, min_item_ratings=3).empty
    # users with >= 3 ratings: only user 1
    assert k_core(tiny_ratings, min_user_ratings=3)["user_id"].tolist() == [1, 1, 1]
    assert len(k_core(tiny_ratings)) == 7


def test_clean_report_before_after():
    out, report = clean(DUPES, min_user_ratings=2)
    # after dedup: user 1 has 1, user 2 has 2, user 3 has 1 -> only user 2 stays
    assert _rows(out) == [(2, 10, 3.0, 100), (2, 20, 5.0, 50)]
    assert list(report.columns) == ["before", "after"]
    assert report.loc["ratings"].tolist() == [7, 2]
    assert report.loc["users"].tolist() == [3, 1]
    assert report.loc["movies"].tolist() == [3, 2]
    assert report.loc["density"].tolist() == pytest.approx([7 / 9, 1.0])
    assert report.loc["exact duplicates", "before"] == 1
    assert report.loc["user-movie duplicates", "before"] == 2
    assert report.loc["removed by k-core", "before"] == 2


def test_clean_of_clean_table_changes_nothing(tiny_ratings):
    out, report = clean(tiny_ratings)
    pd.testing.assert_frame_equal(out, tiny_ratings)
    assert report.loc["ratings"].tolist() == [7, 7]
