"""A map of users has no titles: ``static_maps`` draws it (notebook 05 failed with
KeyError: 'title' on its user map, which broke its report and test_browser.py)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from recsys_utils.app import map_plots  # noqa: E402


def test_a_user_map_without_titles_is_drawn():
    rng = np.random.default_rng(0)
    users = pd.DataFrame(
        {
            "x": rng.random(30),
            "y": rng.random(30),
            "favourite_genre": rng.choice(["Drama", "Comedy"], 30),
            "mean_rating": rng.random(30) * 5,
        }
    )
    fig = map_plots.static_maps(users, colors=("favourite_genre", "mean_rating"), what="MF user")
    assert len([ax for ax in fig.axes if ax.get_visible()]) >= 2
    assert all(not ax.texts for ax in fig.axes)  # nothing labelled: no titles to label
