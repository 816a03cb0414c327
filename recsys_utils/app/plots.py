"""The figures the notebooks show. Each function draws one figure and returns it.

Data exploration (notebook 01): rating distribution, the long tail of ratings per user
and per movie, genre counts, ratings over time. Sweeps (notebook 04): heatmaps on one colour
scale, curves, trial times. Comparisons: dots with their intervals. Colours: as many distinct
ones as categories (``distinct_colors``), the rare categories grouped as "other".
"""

from __future__ import annotations

import matplotlib.colors as mcolors
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from recsys_utils.constants import GENRES_COL, ITEM_COL, RATING_COL, TIMESTAMP_COL, USER_COL

# --- colours ------------------------------------------------------------------------------------
MAX_COLORS = 20  # beyond this many categories the rarest are grouped as "other"
OTHER = "other"
OTHER_GREY = "#b0b0b0"


def distinct_colors(n: int) -> list[str]:
    """``n`` distinct colours (hex), ``n`` up to ``MAX_COLORS``: tab10's ten, then the light
    partner of each from tab20, so no two categories share a colour. tab10's grey and its
    light partner come last: grey is "other" (``OTHER_GREY``) and "no training signal" on
    the maps, so a category gets a grey only past the eighteenth.

    Raises:
        ValueError: more colours than ``MAX_COLORS``; group the rare categories first
            (``group_rare``).
    """
    if n > MAX_COLORS:
        raise ValueError(f"{n} categories: at most {MAX_COLORS} colours, group the rare ones")
    tab20 = plt.get_cmap("tab20").colors
    strong, light = list(tab20[0::2]), list(tab20[1::2])
    grey = 7  # tab10's grey, and its light partner
    order = [c for k, c in enumerate(strong) if k != grey] + [
        c for k, c in enumerate(light) if k != grey
    ]
    order += [strong[grey], light[grey]]
    return [mcolors.to_hex(c) for c in order[:n]]


def group_rare(values, max_categories: int = MAX_COLORS - 1, other: str = OTHER) -> pd.Series:
    """``values`` as strings with all but the ``max_categories`` most common replaced by
    ``other``, so a palette of distinct colours covers them (``other`` is drawn grey)."""
    values = pd.Series(values).astype(str)
    counts = values.value_counts()
    kept = [c for c in counts.index if c != other][:max_categories]
    return values.where(values.isin(kept), other)


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


# --- hyperparameter sweeps (notebook 04) --------------------------------------------------------
def bulk_limits(values, spread: float = 3.0) -> tuple[float, float]:
    """Colour or axis limits that hold the bulk of ``values``: min to median + ``spread``
    x the median absolute deviation (or the max, if smaller). One diverged cell then no
    longer stretches the scale so that the others all look alike.
    """
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return 0.0, 1.0
    med = float(np.median(v))
    mad = float(np.median(np.abs(v - med))) or float(v.std()) or 1e-9
    return float(v.min()), min(float(v.max()), med + spread * mad)


def _categorical(values) -> dict:
    """A distinct colour per value, in sorted order (``distinct_colors``)."""
    levels = sorted(pd.unique(pd.Series(values).dropna()))
    return dict(zip(levels, distinct_colors(len(levels)), strict=True))


def sweep_heatmap(
    summary: pd.DataFrame,
    rows: str = "batch_size",
    cols: str = "lr",
    value: str = "best_val_rmse",
    ax=None,
    title: str | None = None,
    vlim: tuple[float, float] | None = None,
):
    """Heatmap of a per-trial value (best validation RMSE) over two swept parameters.

    The colour scale spans the bulk of the values (``bulk_limits``, or ``vlim`` to share
    one scale across panels); a cell beyond it is drawn in the end colour and its number
    marked with a triangle, so one diverged trial does not wash out the rest.
    """
    import seaborn as sns

    fig, ax = _axes(ax, figsize=(6, 3.5))
    table = summary.pivot_table(index=rows, columns=cols, values=value, aggfunc="min")
    lo, hi = vlim or bulk_limits(table.to_numpy())
    labels = table.apply(lambda col: col.map(lambda v: f"{v:.3f}" + (" ▲" if v > hi else "")))
    sns.heatmap(
        table,
        annot=labels,
        fmt="",
        cmap="viridis_r",
        vmin=lo,
        vmax=hi,
        ax=ax,
        cbar_kws={"label": f"{value.replace('_', ' ')} (▲ beyond the scale)", "extend": "max"},
    )
    ax.set_xticklabels([f"{float(c):g}" for c in table.columns], rotation=0)
    ax.set(
        xlabel=cols, ylabel=rows, title=title or f"{value.replace('_', ' ')} by {rows} and {cols}"
    )
    return fig


def sweep_heatmaps(
    summaries: dict[str, pd.DataFrame],
    value: str = "best_val_rmse",
    title: str = "best validation RMSE",
    **kw,
):
    """One ``sweep_heatmap`` panel per model, side by side, on **one** colour scale (the bulk
    of all panels' cells), so a colour means the same RMSE in every panel.

    Returns:
        The figure; its ``shared_vlim`` attribute holds the common (low, high).
    """
    cells = np.concatenate([np.asarray(s[value], dtype=float) for s in summaries.values()])
    vlim = bulk_limits(cells)
    fig, axes = plt.subplots(
        1, len(summaries), figsize=(6 * len(summaries), 3.5), layout="constrained", squeeze=False
    )
    for ax, (name, summary) in zip(axes[0], summaries.items(), strict=True):
        sweep_heatmap(summary, value=value, ax=ax, title=f"{name}: {title}", vlim=vlim, **kw)
    fig.shared_vlim = vlim
    return fig


def sweep_curves(
    results: pd.DataFrame, hue: str = "lr", col: str = "batch_size", title: str | None = None
):
    """Validation RMSE against epoch, one line per trial, a colour per ``hue`` value (a
    categorical palette: learning rates are levels, not a scale), a panel per ``col``,
    all panels on one y axis clipped to the bulk of the curves."""
    import seaborn as sns

    data = results.assign(**{hue: results[hue].map(lambda v: f"{v:g}")})
    palette = {f"{k:g}": c for k, c in _categorical(results[hue]).items()}
    grid = sns.relplot(
        data=data,
        x="epoch",
        y="val_rmse",
        hue=hue,
        hue_order=list(palette),
        col=col,
        kind="line",
        units="trial",
        estimator=None,
        palette=palette,
        marker="o",
        markersize=3,
        height=3,
        aspect=1.1,
        facet_kws={"sharey": True},
    )
    lo, hi = bulk_limits(results["val_rmse"])
    pad = 0.05 * (hi - lo or 1.0)
    grid.set(ylim=(lo - pad, hi + pad))
    grid.set_axis_labels("epoch", "validation RMSE")
    if title:
        grid.figure.suptitle(title, y=1.04)
    return grid.figure


def sweep_seconds(
    summary: pd.DataFrame, x: str = "batch_size", hue: str = "lr", ax=None, title: str | None = None
):
    """Seconds each trial took against ``x`` (log scale), a distinct colour per ``hue`` value."""
    import seaborn as sns

    fig, ax = _axes(ax)
    data = summary.assign(**{hue: summary[hue].map(lambda v: f"{v:g}")})
    palette = {f"{k:g}": c for k, c in _categorical(summary[hue]).items()}
    sns.scatterplot(
        data=data, x=x, y="seconds", hue=hue, hue_order=list(palette), style="state",
        palette=palette, s=50, ax=ax,
    )  # fmt: skip
    levels = sorted(summary[x].unique())
    ax.set(xscale="log", xlabel=x, ylabel="seconds per trial", title=title or f"Trial time by {x}")
    ax.set_xticks(levels, [f"{v:g}" for v in levels])
    ax.minorticks_off()
    return fig


def learning_curves(histories: dict[str, pd.DataFrame], ncols: int = 3):
    """One panel per model: training RMSE (sqrt of the epoch's mean train loss) and
    validation RMSE per epoch, the best validation epoch marked. All panels share one y
    axis (clipped to the bulk of the curves), so models compare by eye."""
    n = len(histories)
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(4.2 * ncols, 3.2 * nrows), layout="constrained", squeeze=False,
        sharey=True,
    )  # fmt: skip
    curves = []
    for ax, (name, hist) in zip(axes.ravel()[:n], histories.items(), strict=True):
        train = np.sqrt(hist["train_loss"])
        curves += [train, hist["val_rmse"]]
        ax.plot(hist["epoch"], train, marker=".", label="train")
        ax.plot(hist["epoch"], hist["val_rmse"], marker=".", label="validation")
        if hist["val_rmse"].notna().any():
            best = hist.loc[hist["val_rmse"].idxmin()]
            ax.axvline(best["epoch"], color="grey", linestyle=":", linewidth=1)
        ax.set(title=name, xlabel="epoch", ylabel="RMSE")
        ax.legend(fontsize="small")
    if curves:
        lo, hi = bulk_limits(np.concatenate([np.asarray(c, dtype=float) for c in curves]))
        pad = 0.05 * (hi - lo or 1.0)
        axes[0][0].set_ylim(lo - pad, hi + pad)
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    return fig


def metric_bars(table: pd.DataFrame, columns: list[str], title: str = ""):
    """One horizontal bar panel per metric column, a bar per row of ``table`` (each row its
    own colour; bars start at 0)."""
    fig, axes = plt.subplots(
        1, len(columns), figsize=(3.2 * len(columns), 0.45 * len(table) + 1.2), squeeze=False
    )
    colors = distinct_colors(len(table))
    for ax, col in zip(axes[0], columns, strict=True):
        table[col].plot.barh(ax=ax, color=colors)
        ax.set_title(col)
        ax.invert_yaxis()
        if ax is not axes[0][0]:
            ax.set_yticklabels([])
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def interval_dots(
    table: pd.DataFrame,
    mean: str = "mean",
    low: str = "low",
    high: str = "high",
    ax=None,
    title: str = "",
    xlabel: str = "",
    reference: float | None = None,
):
    """A dot per row of ``table`` at ``mean`` with its interval ``[low, high]`` as a bar,
    rows top to bottom in the table's order. Where bars on an axis cut above 0 would
    exaggerate small gaps, dots with intervals show the gap and how sure it is.

    Args:
        table: one row per model (the index labels the rows).
        mean, low, high: the columns of the estimate and its interval.
        reference: an optional vertical line (a baseline's value).

    Returns:
        The figure.
    """
    fig, ax = _axes(ax, figsize=(6, 0.45 * len(table) + 1.2))
    y = np.arange(len(table))[::-1]
    m, lo, hi = (table[c].to_numpy(float) for c in (mean, low, high))
    colors = distinct_colors(len(table))
    for k in range(len(table)):
        ax.errorbar(m[k], y[k], xerr=[[m[k] - lo[k]], [hi[k] - m[k]]], fmt="o", color=colors[k],
                    capsize=3, markersize=6)  # fmt: skip
    if reference is not None:
        ax.axvline(reference, color="grey", linestyle=":", linewidth=1)
    ax.set_yticks(y, [str(i) for i in table.index])
    ax.set(title=title, xlabel=xlabel or mean)
    ax.grid(axis="x", alpha=0.3)
    return fig
