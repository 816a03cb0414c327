"""Figures of the embedding space and the recommendation demo (notebooks 05 and 06).

``static_maps`` draws matplotlib/seaborn panels of an ``embeddings.maps`` table with a
few titles labelled (placed so that no two labels overlap); ``interactive_map`` returns a
plotly figure with hover titles and readable hover names and numbers (offline in the exported
HTML when the kernel uses plotly's ``notebook`` renderer, as ``report`` arranges). Both take
an ``untrained`` mask: rows without training signal (a movie no training user liked keeps
its random start) are left out or drawn apart in grey, and the title says how many. Each
function returns its figure.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from recsys_utils.app.plots import OTHER, OTHER_GREY, distinct_colors, group_rare
from recsys_utils.constants import TITLE_COL
from recsys_utils.embeddings.maps import COLOR_LABELS

NONE = "(none)"
UNTRAINED_LABEL = "no training signal"
UNTRAINED_GREY = "#d9d9d9"
# Hover names and number formats: a reader sees "ratings 1,234", never "n_ratings=1234.0".
HOVER_LABELS = {"n_ratings": "ratings", **COLOR_LABELS}
HOVER_FORMATS = {"n_ratings": ":,", "mean_rating": ":.3g", "log_popularity": ":.3g",
                 "bias": ":.3g"}  # fmt: skip


def category_colors(values) -> dict[str, str]:
    """One distinct colour per category, the same in the static and the interactive maps:
    the most common first; beyond ``MAX_COLORS - 1`` categories the rarest become "other"
    (see ``group_rare``); "other" and "(none)" in greys."""
    grouped = group_rare(values)
    counts = grouped.value_counts()
    order = [c for c in counts.index if c not in (OTHER, NONE)]
    colors = dict(zip(order, distinct_colors(len(order)), strict=True))
    colors.update({c: grey for c, grey in ((OTHER, OTHER_GREY), (NONE, "#dddddd")) if c in counts})
    return colors


def _split(
    frame: pd.DataFrame, untrained, mode: str, label: str = UNTRAINED_LABEL
) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """(rows to colour, rows drawn apart, a note for the title) for an ``untrained`` mask;
    ``label`` says what the masked rows are ("no training signal")."""
    if untrained is None:
        return frame, frame.iloc[:0], ""
    mask = np.asarray(untrained, dtype=bool)
    if mask.shape != (len(frame),):
        raise ValueError(f"untrained mask has shape {mask.shape}, the map {len(frame)} rows")
    if mode not in ("apart", "drop"):
        raise ValueError(f"untrained mode must be 'apart' or 'drop', not {mode!r}")
    n = int(mask.sum())
    note = f"{n:,} with {label}: " + ("in grey" if mode == "apart" else "left out")
    apart = frame[mask] if mode == "apart" else frame.iloc[:0]
    return frame[~mask], apart, note if n else ""


def _scatter(
    ax, frame: pd.DataFrame, color: str, title: str, apart=None, label: str = UNTRAINED_LABEL
) -> None:
    import seaborn as sns

    if apart is not None and len(apart):
        ax.scatter(apart["x"], apart["y"], s=4, c=UNTRAINED_GREY, linewidths=0,
                   label=f"{label} ({len(apart):,})")  # fmt: skip
    data = frame.dropna(subset=["x", "y"])
    if not pd.api.types.is_numeric_dtype(data[color]):
        data = data.assign(**{color: group_rare(data[color]).to_numpy()})
        palette = category_colors(data[color])
        sns.scatterplot(
            data=data,
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
        if apart is not None and len(apart):
            ax.legend(fontsize=8, loc="upper left", frameon=False)
    ax.set(title=title, xticks=[], yticks=[], xlabel="", ylabel="")


# Offsets (points) and alignment tried in turn for a label: right, left, above, below...
_LABEL_SPOTS = [(4, 3, "left"), (-4, 3, "right"), (4, -11, "left"), (-4, -11, "right"),
                (0, 9, "center"), (0, -16, "center"), (10, 14, "left"), (-10, 14, "right"),
                (10, -20, "left"), (-10, -20, "right")]  # fmt: skip


def place_labels(ax, xy, texts, fontsize: float = 7.5) -> list:
    """Annotate the points ``xy`` with ``texts`` so that no two labels overlap: each label
    tries the spots around its point in turn and takes the first clear one; a label with no
    clear spot is left out. Call on a drawn figure (positions are final).

    Returns:
        The annotations placed (``len`` may be less than ``len(texts)``).
    """
    from matplotlib import patheffects

    fig = ax.figure
    fig.canvas.draw()  # settle the layout, then freeze it so the labels' boxes stay true
    fig.set_layout_engine("none")
    renderer = fig.canvas.get_renderer()
    taken, placed = [], []
    for (x, y), text in zip(xy, texts, strict=True):
        for dx, dy, ha in _LABEL_SPOTS:
            ann = ax.annotate(
                text, (x, y), xytext=(dx, dy), textcoords="offset points", ha=ha,
                fontsize=fontsize, annotation_clip=True,
                path_effects=[patheffects.withStroke(linewidth=2.5, foreground="white")],
            )  # fmt: skip
            box = ann.get_window_extent(renderer).padded(4)  # a gap between labels
            if not any(box.overlaps(other) for other in taken):
                taken.append(box)
                placed.append(ann)
                break
            ann.remove()
    return placed


def static_maps(
    frame: pd.DataFrame,
    colors=("genre", "log_popularity", "mean_rating"),
    labels: list[str] | None = None,
    what: str = "movie",
    figsize=None,
    untrained=None,
    untrained_mode: str = "apart",
    untrained_label: str = UNTRAINED_LABEL,
):
    """Scatters of one map, one large panel per colouring (two a row), ``labels`` titles
    marked with a white outline and placed so that they do not overlap.

    Args:
        frame: an ``embeddings.maps`` table (x, y, title, the colour columns).
        colors: one panel per column; a categorical one gets as many distinct colours as
            categories (the rarest grouped as "other").
        labels: titles to label.
        untrained: a boolean mask over ``frame``'s rows without training signal;
            ``untrained_mode`` "apart" draws them in grey under the rest, "drop" leaves
            them out; the title says how many. ``untrained_label`` names what they are
            (default "no training signal"; e.g. "under 2 training ratings").
    """
    shown, apart, note = _split(frame, untrained, untrained_mode, untrained_label)
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
    titled = shown[TITLE_COL] if TITLE_COL in shown else pd.Series(False, index=shown.index)
    marked = shown[titled.isin(labels or [])].dropna(subset=["x", "y"])  # user maps: no titles
    for ax, color in zip(axes.ravel(), colors, strict=False):
        title = f"{what} embeddings by {COLOR_LABELS.get(color, color)}"
        _scatter(ax, shown, color, title + (f"\n({note})" if note else ""), apart, untrained_label)
        ax.scatter(marked["x"], marked["y"], s=18, facecolors="none", edgecolors="black")
    if len(marked):
        short = [t if len(t) <= 26 else t[:25] + "…" for t in marked[TITLE_COL].astype(str)]
        for ax in axes.ravel()[: len(colors)]:
            place_labels(ax, marked[["x", "y"]].to_numpy(float), short)
    return fig


def interactive_map(
    frame: pd.DataFrame,
    color: str = "genre",
    hover: str = TITLE_COL,
    title: str | None = None,
    max_points: int | None = None,
    untrained=None,
    untrained_mode: str = "apart",
    untrained_label: str = UNTRAINED_LABEL,
):
    """A plotly scatter of a map, hover text from ``hover``; SVG markers, so it draws
    without WebGL (``max_points`` keeps the most-rated rows to bound the HTML size).

    Hovers name each value in words ("ratings", "mean rating") with 3 significant digits
    (counts with thousands separators). ``untrained`` and ``untrained_mode`` as in
    ``static_maps``: rows without training signal become their own grey category or are
    left out."""
    import plotly.express as px

    shown, apart, note = _split(frame, untrained, untrained_mode, untrained_label)
    categorical = not pd.api.types.is_numeric_dtype(frame[color])
    if categorical:
        shown = shown.assign(**{color: group_rare(shown[color]).to_numpy()})
        colors = category_colors(shown[color])  # the static map's colours
        if len(apart):
            apart = apart.assign(**{color: untrained_label})
            shown = pd.concat([shown, apart])
            colors[untrained_label] = UNTRAINED_GREY
    data = shown.dropna(subset=["x", "y"])
    if max_points is not None and len(data) > max_points:
        data = data.nlargest(max_points, "n_ratings")
    hover_data = {c: HOVER_FORMATS.get(c, True) for c in ("n_ratings", "mean_rating") if c in data}
    hover_data.update(x=False, y=False)
    if color not in hover_data and color in HOVER_FORMATS:
        hover_data[color] = HOVER_FORMATS[color]
    extra = {}
    if categorical:
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
        title=(title or f"Embedding map coloured by {COLOR_LABELS.get(color, color)}")
        + (f" ({note})" if note else ""),
        labels={c: HOVER_LABELS.get(c, c.replace("_", " ")) for c in data.columns},
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
