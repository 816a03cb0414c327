"""Figures of the embedding space and the recommendation demo (notebooks 05 and 06).

``static_maps`` draws matplotlib/seaborn panels of an ``embeddings.maps`` table with a
few titles labelled; ``interactive_map`` returns a plotly figure with hover titles
(offline in the exported HTML when the kernel uses plotly's ``notebook`` renderer, as
``report`` arranges). Each function returns its figure.
"""

from __future__ import annotations

import matplotlib.colors as mcolors
import matplotlib.pyplot as plt
import pandas as pd

from recsys_utils.constants import TITLE_COL
from recsys_utils.embeddings.maps import COLOR_LABELS


def category_colors(values) -> dict[str, str]:
    """One colour per category, the same in the static and the interactive maps: the most
    common first, "other" and "(none)" in greys, from a categorical palette (tab10)."""
    counts = pd.Series(values).astype(str).value_counts()
    order = [c for c in counts.index if c not in ("other", "(none)")]
    palette = plt.get_cmap("tab10").colors
    colors = {c: mcolors.to_hex(palette[k % len(palette)]) for k, c in enumerate(order)}
    colors.update(
        {c: grey for c, grey in (("other", "#b0b0b0"), ("(none)", "#dddddd")) if c in counts}
    )
    return colors


def _scatter(ax, frame: pd.DataFrame, color: str, title: str) -> None:
    import seaborn as sns

    data = frame.dropna(subset=["x", "y"])
    if not pd.api.types.is_numeric_dtype(data[color]):
        palette = category_colors(data[color])
        sns.scatterplot(
            data=data.assign(**{color: data[color].astype(str)}),
            x="x",
            y="y",
            hue=color,
            hue_order=list(palette),
            s=5,
            linewidth=0,
            alpha=0.6,
            ax=ax,
            palette=palette,
        )
        ax.legend(
            markerscale=2.5,
            fontsize=8,
            title=COLOR_LABELS.get(color, color),
            loc="upper left",
            bbox_to_anchor=(1.01, 1),
            frameon=False,
        )
    else:
        points = ax.scatter(
            data["x"], data["y"], c=data[color], s=4, cmap="viridis", alpha=0.8, linewidths=0
        )
        ax.figure.colorbar(points, ax=ax, label=COLOR_LABELS.get(color, color))
    ax.set(title=title, xticks=[], yticks=[], xlabel="", ylabel="")


def static_maps(
    frame: pd.DataFrame,
    colors=("genre", "log_popularity", "mean_rating"),
    labels: list[str] | None = None,
    what: str = "movie",
    figsize=None,
):
    """Scatters of one map, one large panel per colouring (two a row), ``labels`` titles
    marked with a white outline so they stay readable over the points."""
    from matplotlib import patheffects

    ncols = min(2, len(colors))
    nrows = -(-len(colors) // ncols)
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=figsize or (7.5 * ncols, 6.2 * nrows),
        layout="constrained",
        squeeze=False,
    )
    for ax in axes.ravel()[len(colors) :]:
        ax.set_visible(False)
    for ax, color in zip(axes.ravel(), colors, strict=False):
        _scatter(ax, frame, color, f"{what} embeddings by {COLOR_LABELS.get(color, color)}")
        if labels:
            marked = frame[frame[TITLE_COL].isin(labels)].dropna(subset=["x", "y"])
            ax.scatter(marked["x"], marked["y"], s=18, facecolors="none", edgecolors="black")
            for row in marked.itertuples():
                title = str(row.title)
                ax.annotate(
                    title if len(title) <= 26 else title[:25] + "…",
                    (row.x, row.y),
                    fontsize=7.5,
                    xytext=(3, 3),
                    textcoords="offset points",
                    annotation_clip=True,
                    path_effects=[patheffects.withStroke(linewidth=2.5, foreground="white")],
                )
    return fig


def interactive_map(
    frame: pd.DataFrame,
    color: str = "genre",
    hover: str = TITLE_COL,
    title: str | None = None,
    max_points: int | None = None,
):
    """A plotly scatter of a map, hover text from ``hover``; SVG markers, so it draws
    without WebGL (``max_points`` keeps the most-rated rows to bound the HTML size)."""
    import plotly.express as px

    data = frame.dropna(subset=["x", "y"])
    if max_points is not None and len(data) > max_points:
        data = data.nlargest(max_points, "n_ratings")
    hover_data = {c: True for c in ("n_ratings", "mean_rating") if c in data}
    hover_data.update(x=False, y=False)
    extra = {}
    if not pd.api.types.is_numeric_dtype(data[color]):
        data = data.assign(**{color: data[color].astype(str)})
        colors = category_colors(frame[color].dropna())  # the static map's colours
        extra = {"color_discrete_map": colors, "category_orders": {color: list(colors)}}
    fig = px.scatter(
        data,
        x="x",
        y="y",
        color=color,
        **extra,
        hover_name=hover if hover in data else None,
        hover_data=hover_data,
        render_mode="svg",
        opacity=0.75,
        title=title or f"Embedding map coloured by {COLOR_LABELS.get(color, color)}",
        labels={color: COLOR_LABELS.get(color, color)},
        height=550,
    )
    fig.update_traces(marker={"size": 5})
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


def bias_vs_norm(frame: pd.DataFrame, ax=None):
    """Scatter of each movie's learned bias against its embedding norm, by popularity."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4), layout="constrained")
    points = ax.scatter(
        frame["norm"], frame["bias"], c=frame["log_popularity"], s=4, cmap="viridis", linewidths=0
    )
    ax.figure.colorbar(points, ax=ax, label="log10(ratings)")
    ax.set(xlabel="embedding norm |q_i|", ylabel="learned bias b_i", title="Bias against norm")
    return ax.figure


def fold_in_curve_plot(curve: pd.DataFrame):
    """RMSE and NDCG@10 against the number of ratings a new user gave, one line per method."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    for ax, metric, label in zip(
        axes,
        ("rmse", "ndcg"),
        ("RMSE (lower is better)", "NDCG@10 (higher is better)"),
        strict=True,
    ):
        for method, part in curve.groupby("method", sort=False):
            ax.plot(part["k"], part[metric], marker="o", label=method)
        ax.set(
            xscale="log",
            xlabel="ratings given (k)",
            ylabel=label,
            xticks=sorted(curve["k"].unique()),
        )
        ax.set_xticklabels([str(k) for k in sorted(curve["k"].unique())])
        ax.grid(alpha=0.3)
    axes[0].legend()
    fig.suptitle("The more movies you rate, the better it learns what you like?")
    return fig
