"""Figures of the embedding space and the recommendation demo (notebooks 04 and 05).

``static_maps`` draws matplotlib/seaborn panels of an ``embeddings.maps`` table with a
few titles labelled; ``interactive_map`` returns a plotly figure with hover titles
(offline in the exported HTML when the kernel uses plotly's ``notebook`` renderer, as
``report`` arranges). Each function returns its figure.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from recsys_utils.constants import TITLE_COL
from recsys_utils.embeddings.maps import COLOR_LABELS


def _scatter(ax, frame: pd.DataFrame, color: str, title: str) -> None:
    import seaborn as sns

    data = frame.dropna(subset=["x", "y"])
    if not pd.api.types.is_numeric_dtype(data[color]):
        order = data[color].value_counts().index.tolist()
        sns.scatterplot(
            data=data,
            x="x",
            y="y",
            hue=color,
            hue_order=order,
            s=6,
            linewidth=0,
            alpha=0.7,
            ax=ax,
            palette="tab10",
        )
        ax.legend(markerscale=2, fontsize=7, loc="best", title=COLOR_LABELS.get(color, color))
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
    """Side-by-side scatters of one map, one panel per colouring; ``labels`` titles marked."""
    fig, axes = plt.subplots(
        1,
        len(colors),
        figsize=figsize or (5.5 * len(colors), 5),
        layout="constrained",
        squeeze=False,
    )
    for ax, color in zip(axes[0], colors, strict=True):
        _scatter(ax, frame, color, f"{what} embeddings by {COLOR_LABELS.get(color, color)}")
        if labels:
            marked = frame[frame[TITLE_COL].isin(labels)].dropna(subset=["x", "y"])
            ax.scatter(marked["x"], marked["y"], s=18, facecolors="none", edgecolors="black")
            for row in marked.itertuples():
                ax.annotate(
                    str(row.title)[:28],
                    (row.x, row.y),
                    fontsize=7,
                    xytext=(3, 3),
                    textcoords="offset points",
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
    fig = px.scatter(
        data,
        x="x",
        y="y",
        color=color,
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
