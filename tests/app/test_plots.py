"""The data-exploration figures draw what they claim from the tiny table."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pandas as pd  # noqa: E402

from recsys_utils.app import plots  # noqa: E402


def test_rating_distribution_bars(tiny_ratings):
    fig = plots.rating_distribution(tiny_ratings)
    heights = [p.get_height() for p in fig.axes[0].patches]
    assert heights == [1, 1, 1, 1, 1, 1, 1]  # 1.0, 2.0, 3.0, 3.5, 4.0, 4.5, 5.0 once each


def test_ratings_per_user_and_movie_is_log_log(tiny_ratings):
    fig = plots.ratings_per_user_and_movie(tiny_ratings)
    assert [ax.get_xscale() for ax in fig.axes] == ["log", "log"]
    assert sum(p.get_height() for p in fig.axes[0].patches) == 3  # three users
    assert "median 2" in fig.axes[0].get_title()


def test_genre_counts():
    movies = pd.DataFrame({"genres": [["Drama"], ["Drama", "Comedy"], []]})
    fig = plots.genre_counts(movies)
    bars = {
        t.get_text(): p.get_width()
        for t, p in zip(fig.axes[0].get_yticklabels(), fig.axes[0].patches, strict=True)
    }
    assert bars == {"Comedy": 1, "Drama": 2}


def test_ratings_over_time(tiny_ratings):
    late = tiny_ratings.assign(timestamp=[0, 0, 0, 0, 0, 31_622_400, 31_622_400])  # 1970 and 1971
    fig = plots.ratings_over_time(late)
    assert [p.get_height() for p in fig.axes[0].patches] == [5, 2]
