"""The figures the notebooks show. Each function draws one figure and returns it.

Data exploration (notebook 01): rating distribution, the long tail of ratings per user
and per movie, genre counts, ratings over time.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from recsys_utils.constants import GENRES_COL, ITEM_COL, RATING_COL, TIMESTAMP_COL, USER_COL


def _axes(ax, figsize=(6, 3.5)):
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax.figure, ax


def rating_distribution(ratings: pd.DataFrame, ax=None):
    """Bar chart of how many ratings each star value received."""
    fig, ax = _axes(ax)
    counts = ratings[RATING_COL].value_counts().sort_index()
    ax.bar(counts.index.astype(float), counts.to_numpy(), width=0.4)
    ax.set(xlabel="rating", ylabel="number of ratings", title="Rating distribution")
    ax.set_xticks(counts.index.astype(float))
    return fig


def ratings_per_user_and_movie(ratings: pd.DataFrame):
    """Two log-log histograms: ratings per user and per movie (the long tail)."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5), layout="constrained")
    for ax, col, who in zip(axes, (USER_COL, ITEM_COL), ("user", "movie"), strict=True):
        counts = ratings.groupby(col).size().to_numpy()
        bins = np.logspace(0, np.log10(max(counts.max(), 2)) + 0.01, 30)
        ax.hist(counts, bins=bins)
        ax.set(
            xscale="log",
            yscale="log",
            xlabel=f"ratings per {who}",
            ylabel=f"number of {who}s",
            title=f"Ratings per {who} (median {np.median(counts):g})",
        )
    return fig


def genre_counts(movies: pd.DataFrame, ax=None):
    """Horizontal bars: number of movies tagged with each genre."""
    fig, ax = _axes(ax, figsize=(6, 5))
    counts = movies[GENRES_COL].explode().dropna().value_counts().sort_values()
    ax.barh(counts.index.astype(str), counts.to_numpy())
    ax.set(xlabel="number of movies", title="Movies per genre")
    return fig


def ratings_over_time(ratings: pd.DataFrame, ax=None):
    """Number of ratings per calendar year."""
    fig, ax = _axes(ax)
    years = pd.to_datetime(ratings[TIMESTAMP_COL], unit="s").dt.year
    counts = years.value_counts().sort_index()
    ax.bar(counts.index, counts.to_numpy())
    ax.set(xlabel="year", ylabel="number of ratings", title="Ratings over time")
    return fig
