"""The maps as a reader sees them: distinct colours, readable hovers, labels apart, and the
movies without training signal drawn apart or left out."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from recsys_utils.app import map_plots  # noqa: E402


def _map(n_genres: int = 13, per: int = 6, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = n_genres * per
    return pd.DataFrame({
        "x": rng.normal(size=n), "y": rng.normal(size=n),
        "title": [f"Movie number {k}" for k in range(n)],
        "genre": [f"genre {k % n_genres}" for k in range(n)],
        "n_ratings": rng.integers(1, 5000, n), "mean_rating": rng.uniform(1, 5, n),
        "log_popularity": rng.uniform(0, 3, n),
    })  # fmt: skip


def test_thirteen_genres_get_thirteen_distinct_colours():
    colors = map_plots.category_colors(_map()["genre"])
    assert len(colors) == 13 and len(set(colors.values())) == 13


def test_more_categories_than_colours_group_the_rarest_as_other():
    values = [f"g{k}" for k in range(30) for _ in range(30 - k)]  # g0 most common
    colors = map_plots.category_colors(values)
    assert "other" in colors and "g0" in colors and "g29" not in colors
    assert len(set(colors.values())) == len(colors) == 20


def test_hovers_say_words_and_round_to_three_significant_digits():
    fig = map_plots.interactive_map(_map(), color="genre")
    template = fig.data[0].hovertemplate
    assert "n_ratings" not in template and "mean_rating" not in template
    assert "ratings=%{customdata[0]:,}" in template
    assert "mean rating=%{customdata[1]:.3g}" in template
    numeric = map_plots.interactive_map(_map(), color="log_popularity").data[0].hovertemplate
    assert "log_popularity" not in numeric and ":.3g}" in numeric


def test_labels_placed_on_a_crowded_map_do_not_overlap():
    frame = _map()
    frame.loc[:9, ["x", "y"]] = np.column_stack([np.linspace(0, 0.05, 10), np.zeros(10)])
    fig = map_plots.static_maps(frame, colors=("genre",), labels=list(frame["title"][:10]))
    ax = fig.axes[0]
    renderer = fig.canvas.get_renderer()
    boxes = [t.get_window_extent(renderer) for t in ax.texts]
    assert 1 <= len(boxes) <= 10
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1 :])


@pytest.mark.parametrize("mode", ["apart", "drop"])
def test_movies_without_training_signal_are_drawn_apart_or_left_out(mode):
    frame = _map()
    mask = np.zeros(len(frame), bool)
    mask[:7] = True
    fig = map_plots.static_maps(frame, colors=("genre", "log_popularity"), untrained=mask,
                                untrained_mode=mode)  # fmt: skip
    ax = fig.axes[0]
    assert f"7 with no training signal: {'in grey' if mode == 'apart' else 'left out'}" in (
        ax.get_title()
    )
    drawn = sum(len(c.get_offsets()) for c in ax.collections)
    assert drawn == len(frame) - (7 if mode == "drop" else 0)
    inter = map_plots.interactive_map(frame, color="genre", untrained=mask, untrained_mode=mode)
    names = {t.name: len(t.x) for t in inter.data}
    assert names.get("no training signal", 0) == (7 if mode == "apart" else 0)
    assert sum(names.values()) == len(frame) - (7 if mode == "drop" else 0)


def test_the_masked_rows_are_named_as_told():
    frame = _map()
    mask = np.zeros(len(frame), bool)
    mask[:3] = True
    label = "under 2 training ratings"
    fig = map_plots.static_maps(frame, colors=("genre",), untrained=mask, untrained_label=label)
    assert f"3 with {label}: in grey" in fig.axes[0].get_title()
    inter = map_plots.interactive_map(frame, color="genre", untrained=mask, untrained_label=label)
    assert {t.name: len(t.x) for t in inter.data}[label] == 3


def test_a_mask_of_the_wrong_length_is_refused():
    with pytest.raises(ValueError, match="mask"):
        map_plots.static_maps(_map(), colors=("genre",), untrained=[True, False])
