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


def test_bulk_limits_leave_one_diverged_value_out_by_hand():
    from recsys_utils.app.plots import bulk_limits

    # median 0.86, deviations 0.01 0.01 0 0.01 0.32 -> MAD 0.01; upper limit 0.86 + 3 * 0.01
    lo, hi = bulk_limits([0.85, 0.87, 0.86, 0.85, 1.18])
    assert lo == 0.85 and abs(hi - 0.89) < 1e-12
    assert bulk_limits([0.85, 0.86]) == (0.85, 0.86)  # nothing beyond: the max


def _summary():
    rows = [(b, lr) for b in (256, 1024) for lr in (0.001, 0.003)]
    return pd.DataFrame(
        {
            "batch_size": [b for b, _ in rows],
            "lr": [lr for _, lr in rows],
            "best_val_rmse": [0.85, 0.86, 0.87, 1.18],
            "seconds": [4.0, 3.0, 2.0, 1.0],
            "state": "COMPLETE",
        }
    )


def test_sweep_heatmap_marks_the_cell_beyond_the_scale():
    from recsys_utils.app.plots import sweep_heatmap

    fig = sweep_heatmap(_summary())
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "1.180 ▲" in texts and "0.850" in texts
    mesh = fig.axes[0].collections[0]
    assert mesh.norm.vmax < 1.18  # the outlier does not set the colour scale
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["0.001", "0.003"]


def test_sweep_heatmaps_share_one_colour_scale():
    from recsys_utils.app.plots import sweep_heatmaps

    other = _summary().assign(best_val_rmse=[0.90, 0.91, 0.92, 0.93])
    fig = sweep_heatmaps({"mf": _summary(), "collabfnet": other})
    meshes = [ax.collections[0] for ax in fig.axes if ax.texts]  # the panels, not the colour bars
    assert len(meshes) == 2
    scales = {(m.norm.vmin, m.norm.vmax) for m in meshes}
    assert scales == {fig.shared_vlim}  # one scale, from both panels' cells
    assert fig.shared_vlim[0] == 0.85 and fig.shared_vlim[1] >= 0.93


def test_sweep_curves_share_y_and_give_each_learning_rate_its_own_colour():
    from recsys_utils.app.plots import sweep_curves

    results = pd.concat(
        [_summary().assign(trial=k, epoch=e, val_rmse=0.9 - 0.01 * e) for k, e in ((0, 1), (0, 2))]
    )
    results["trial"] = results.groupby(["batch_size", "lr"]).ngroup()
    fig = sweep_curves(results)
    axes = fig.axes
    assert len(axes) == 2 and axes[0].get_ylim() == axes[1].get_ylim()
    colours = {tuple(line.get_color()) for line in axes[0].lines if line.get_xydata().size}
    assert len(colours) == 2


def test_distinct_colours_are_distinct_up_to_twenty():
    for n in (1, 10, 13, 20):
        assert len(set(plots.distinct_colors(n))) == n
    import pytest

    with pytest.raises(ValueError, match="group the rare"):
        plots.distinct_colors(21)


def test_no_category_is_grey_before_the_nineteenth():
    """Grey means "other" or "no training signal": the first 18 colours are not grey."""
    import matplotlib.colors as mcolors

    for c in plots.distinct_colors(18):
        r, g, b = mcolors.to_rgb(c)
        assert max(r, g, b) - min(r, g, b) > 0.1, c


def test_group_rare_keeps_the_most_common():
    grouped = plots.group_rare(["a"] * 3 + ["b"] * 2 + ["c", "d"], max_categories=2)
    assert list(grouped) == ["a"] * 3 + ["b"] * 2 + ["other", "other"]


def test_metric_bars_give_each_of_thirteen_rows_its_own_colour():
    table = pd.DataFrame({"ndcg": [0.1 * k for k in range(13)]}, index=[f"m{k}" for k in range(13)])
    fig = plots.metric_bars(table, ["ndcg"])
    colours = {tuple(p.get_facecolor()) for p in fig.axes[0].patches}
    assert len(colours) == 13


def test_interval_dots_draw_dots_and_intervals_not_bars():
    table = pd.DataFrame(
        {"mean": [0.80, 0.85, 0.90], "low": [0.78, 0.84, 0.86], "high": [0.82, 0.86, 0.94]},
        index=["best", "middle", "global mean"],
    )
    fig = plots.interval_dots(table, reference=0.85, xlabel="test RMSE")
    ax = fig.axes[0]
    assert not ax.patches  # no bars
    lo, hi = ax.get_xlim()
    assert lo < 0.78 and hi > 0.94  # every interval on the axis
    ticks = [t.get_text() for t in ax.get_yticklabels()]
    by_height = sorted(zip(ax.get_yticks(), ticks, strict=True))
    assert [t for _, t in by_height] == ["global mean", "middle", "best"]  # first row on top
    segments = [c for c in ax.collections if len(c.get_segments()) == 1]
    assert len(segments) >= 3  # one interval bar per row
