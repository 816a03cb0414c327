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


# --- hyperparameter sweeps (notebook 03) --------------------------------------------------------
def sweep_heatmap(
    summary: pd.DataFrame,
    rows: str = "batch_size",
    cols: str = "lr",
    value: str = "best_val_rmse",
    ax=None,
    title: str | None = None,
):
    """Heatmap of a per-trial value (best validation RMSE) over two swept parameters."""
    import seaborn as sns

    fig, ax = _axes(ax, figsize=(6, 3.5))
    table = summary.pivot_table(index=rows, columns=cols, values=value, aggfunc="min")
    sns.heatmap(
        table,
        annot=True,
        fmt=".4f",
        cmap="viridis_r",
        ax=ax,
        cbar_kws={"label": value.replace("_", " ")},
    )
    ax.set(
        xlabel=cols, ylabel=rows, title=title or f"{value.replace('_', ' ')} by {rows} and {cols}"
    )
    return fig


def sweep_curves(
    results: pd.DataFrame, hue: str = "lr", col: str = "batch_size", title: str | None = None
):
    """Validation RMSE against epoch, one line per trial, coloured by ``hue``, a panel per ``col``."""
    import seaborn as sns

    grid = sns.relplot(
        data=results,
        x="epoch",
        y="val_rmse",
        hue=hue,
        col=col,
        kind="line",
        units="trial",
        estimator=None,
        palette="viridis",
        marker="o",
        markersize=3,
        height=3,
        aspect=1.1,
        facet_kws={"sharey": True},
    )
    grid.set_axis_labels("epoch", "validation RMSE")
    if title:
        grid.figure.suptitle(title, y=1.04)
    return grid.figure


def sweep_seconds(
    summary: pd.DataFrame, x: str = "batch_size", hue: str = "lr", ax=None, title: str | None = None
):
    """Seconds each trial took against ``x`` (log scale), coloured by ``hue``."""
    import seaborn as sns

    fig, ax = _axes(ax)
    sns.scatterplot(
        data=summary, x=x, y="seconds", hue=hue, style="state", palette="viridis", s=50, ax=ax
    )
    ax.set(xscale="log", xlabel=x, ylabel="seconds per trial", title=title or f"Trial time by {x}")
    return fig


def learning_curves(histories: dict[str, pd.DataFrame], ncols: int = 3):
    """One panel per model: training RMSE (sqrt of the epoch's mean train loss) and
    validation RMSE per epoch, the best validation epoch marked."""
    n = len(histories)
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(4.2 * ncols, 3.2 * nrows), layout="constrained", squeeze=False
    )
    for ax, (name, hist) in zip(axes.ravel()[:n], histories.items(), strict=True):
        ax.plot(hist["epoch"], np.sqrt(hist["train_loss"]), marker=".", label="train")
        ax.plot(hist["epoch"], hist["val_rmse"], marker=".", label="validation")
        if hist["val_rmse"].notna().any():
            best = hist.loc[hist["val_rmse"].idxmin()]
            ax.axvline(best["epoch"], color="grey", linestyle=":", linewidth=1)
        ax.set(title=name, xlabel="epoch", ylabel="RMSE")
        ax.legend(fontsize="small")
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    return fig


def metric_bars(table: pd.DataFrame, columns: list[str], title: str = ""):
    """One horizontal bar panel per metric column, a bar per row of ``table``."""
    fig, axes = plt.subplots(
        1, len(columns), figsize=(3.2 * len(columns), 0.45 * len(table) + 1.2), squeeze=False
    )
    for ax, col in zip(axes[0], columns, strict=True):
        table[col].plot.barh(ax=ax, color=[f"C{i % 10}" for i in range(len(table))])
        ax.set_title(col)
        ax.invert_yaxis()
        if ax is not axes[0][0]:
            ax.set_yticklabels([])
    fig.suptitle(title)
    fig.tight_layout()
    return fig
