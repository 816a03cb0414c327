"""Embeddings: extraction, cosine neighbours on hand-made vectors, overlap, cached projections.

Also the test file of ``embeddings/projection.py`` (PCA, cached UMAP) and
``embeddings/maps.py`` (the map tables).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from helpers import ratings_table

from recsys_utils import embeddings
from recsys_utils.embeddings.projection import exact_cosine_knn
from recsys_utils.embeddings.vectors import nearest
from recsys_utils.models.recipes import mf_from_factors

R2 = np.sqrt(0.5)


table = ratings_table


# four movies 10, 20, 30, 40; movie 20 has one rating, the others two
FOUR = table([(1, 10, 4), (1, 20, 3), (1, 30, 5), (2, 10, 2), (2, 30, 4), (2, 40, 1), (1, 40, 2)])
FOUR_ITEMS = np.array([[1.0, 0.0, 0.0], [1.0, 0.1, 0.0], [0.0, 0.0, 1.0], [0.0, 0.1, 1.0]])


@pytest.fixture
def four_mf():
    return mf_from_factors(
        FOUR,
        [[1.0, 0, 0], [0, 1.0, 0]],
        FOUR_ITEMS,
        user_bias=[0.5, -0.5],
        item_bias=[0.1, 0.2, 0.3, 0.4],
        mu=3.0,
    )


# --- nearest on four 2-D vectors -----------------------------------------------------------
VECS = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [-1.0, 0.0]])


def test_nearest_orders_by_cosine_and_leaves_out_the_query():
    idx, sims = nearest(VECS, 0, k=3)
    assert idx.tolist() == [1, 2, 3]
    np.testing.assert_allclose(sims, [R2, 0.0, -1.0])


def test_nearest_exclude_and_min_count():
    idx, _ = nearest(VECS, 0, k=2, exclude=[1])
    assert idx.tolist() == [2, 3]
    idx, _ = nearest(VECS, 2, k=1, min_count=3, counts=[5, 1, 5, 5])  # row 1 (cos 0.71) too rare
    assert idx.tolist() == [0]


def test_nearest_zero_vector_scores_zero_and_ties_go_to_the_lower_index():
    vecs = np.vstack([VECS, [0.0, 0.0]])
    idx, sims = nearest(vecs, 0, k=4)
    assert idx.tolist() == [1, 2, 4, 3]  # rows 2 and 4 both at 0: lower index first
    np.testing.assert_allclose(sims, [R2, 0, 0, -1])


def test_nearest_rejects_k_beyond_the_eligible_rows_and_bad_arguments():
    with pytest.raises(ValueError, match="exceeds the 3 eligible"):
        nearest(VECS, 0, k=4)
    with pytest.raises(ValueError, match="needs counts"):
        nearest(VECS, 0, k=1, min_count=2)
    with pytest.raises(IndexError):
        nearest(VECS, 4, k=1)


# --- extract --------------------------------------------------------------------------------
def test_extract_mf_returns_the_tables_rows_in_index_order(four_mf):
    emb = embeddings.extract(four_mf)
    np.testing.assert_allclose(emb.item, FOUR_ITEMS, atol=1e-7)
    np.testing.assert_allclose(emb.user_bias, [0.5, -0.5])
    np.testing.assert_allclose(emb.item_bias, [0.1, 0.2, 0.3, 0.4], atol=1e-7)
    assert emb.item_ids.tolist() == [10, 20, 30, 40] and emb.user_ids.tolist() == [1, 2]
    assert emb.mu == 3.0
    assert not emb.item.flags.writeable


def test_extract_sees_weight_changes(four_mf):
    first = embeddings.extract(four_mf)
    assert embeddings.extract(four_mf) is first  # cached while the weights are unchanged
    with torch.no_grad():
        four_mf.net.item_emb.weight[0, 0] = 7.0
    assert embeddings.extract(four_mf).item[0, 0] == 7.0


def test_extract_collabfnet_has_no_biases_and_baselines_are_refused():
    from recsys_utils.models import BiasOnly, CollabFNet

    model = CollabFNet(emb_size=4, n_hidden=3, epochs=1, progress=False, device="cpu").fit(FOUR)
    emb = embeddings.extract(model)
    assert emb.item.shape == (4, 4) and emb.user.shape == (2, 4)
    assert emb.user_bias is None and emb.item_bias is None and emb.mu is None
    with pytest.raises(ValueError, match="no embedding tables"):
        embeddings.extract(BiasOnly().fit(FOUR))


# --- similar movies, users, overlap -------------------------------------------------------------
def test_similar_movies_with_titles_and_popularity_filter(four_mf):
    movies = pd.DataFrame({"item_id": [10, 20, 30, 40], "title": ["A", "B & b", "C", "D"]})
    out = embeddings.similar_movies(four_mf, 10, k=2, movies=movies)
    assert out["item_id"].tolist() == [20, 30]  # cos .995, then 30 and 40 tie at 0: lower id
    assert out["title"].tolist() == ["B & b", "C"]
    out = embeddings.similar_movies(four_mf, 10, k=2, min_ratings=2)  # 20 has one rating
    assert out["item_id"].tolist() == [30, 40]
    np.testing.assert_allclose(out["similarity"], 0.0, atol=1e-7)
    with pytest.raises(KeyError, match="unknown movie 99"):
        embeddings.similar_movies(four_mf, 99)


def test_nearest_users(four_mf):
    out = embeddings.nearest_users(four_mf, 1, k=1)
    assert out["user_id"].tolist() == [2]
    assert out["similarity"].iloc[0] == pytest.approx(0.0)


def test_neighbour_overlap_hand_worked(four_mf):
    # k=1 neighbours in four_mf: 10->20, 20->10, 30->40, 40->30.
    # other: 30 = e3 + 0.2 e1 -> 10 (cos .196 vs .195); 40 = -e3 + 0.1 e2 -> 20. Overlap 1,1,0,0.
    other_items = [[1.0, 0, 0], [1.0, 0.1, 0], [0.2, 0, 1.0], [0, 0.1, -1.0]]
    other = mf_from_factors(FOUR, [[1.0, 0, 0], [0, 1.0, 0]], other_items)
    assert embeddings.neighbour_overlap(four_mf, four_mf, k=1) == 1.0
    assert embeddings.neighbour_overlap(four_mf, other, k=1) == pytest.approx(0.5)
    assert embeddings.neighbour_overlap(four_mf, other, k=1, items=[10]) == 1.0
    assert embeddings.neighbour_overlap(four_mf, other, k=1, items=[30, 40]) == 0.0
    # k=2, movie 20: {10, 40 (cos .0099)} vs {10, 30 (cos .195)} -> 1/3
    assert embeddings.neighbour_overlap(four_mf, other, k=2, items=[20]) == pytest.approx(1 / 3)
    with pytest.raises(KeyError, match="99"):
        embeddings.neighbour_overlap(four_mf, other, k=1, items=[99])


# --- projections ---------------------------------------------------------------------------------
CROSS = np.array([[1.0, 0, 0], [-1.0, 0, 0], [0, 0.5, 0], [0, -0.5, 0]])


def test_pca_of_a_cross_is_its_two_axes(data_home):
    coords = embeddings.project(CROSS, method="pca")
    np.testing.assert_allclose(coords, [[1, 0], [-1, 0], [0, 0.5], [0, -0.5]], atol=1e-6)
    flipped = embeddings.project(-CROSS, method="pca")  # signs fixed: largest loading positive
    np.testing.assert_allclose(flipped, [[-1, 0], [1, 0], [0, -0.5], [0, 0.5]], atol=1e-6)


@pytest.fixture
def counted(monkeypatch):
    from recsys_utils.embeddings import projection  # where project looks the helper up

    calls = []
    real = projection._compute_projection

    def fake(vectors, method, seed, params):
        calls.append((method, dict(params)))
        if method == "umap":  # no real UMAP run in unit tests: rows' first two columns
            return vectors[:, :2].astype(np.float64) + params["n_neighbors"]
        return real(vectors, method, seed, params)

    monkeypatch.setattr(projection, "_compute_projection", fake)
    return calls


def test_projection_is_cached_on_disk_by_vectors_and_parameters(data_home, counted):
    first = embeddings.project(CROSS, method="umap", n_neighbors=2)
    again = embeddings.project(CROSS, method="umap", n_neighbors=2)
    assert len(counted) == 1
    np.testing.assert_array_equal(first, again)
    assert counted[0] == (
        "umap",
        {"n_neighbors": 2, "min_dist": 0.1, "metric": "cosine", "n_epochs": 200},
    )
    assert list((data_home / "cache" / "projections").glob("umap-*.npy"))
    embeddings.project(CROSS, method="umap", n_neighbors=3)  # other parameters
    embeddings.project(CROSS * 2, method="umap", n_neighbors=2)  # other vectors
    embeddings.project(CROSS, method="umap", n_neighbors=2, cache_key="ckpt-sha")  # other key
    embeddings.project(CROSS, method="pca")
    assert len(counted) == 5
    embeddings.project(CROSS, method="umap", n_neighbors=2, cache_key="ckpt-sha")
    assert len(counted) == 5
    embeddings.project(CROSS, method="umap", n_neighbors=2, use_cache=False)
    assert len(counted) == 6


def test_max_points_keeps_the_highest_priority_rows(data_home, counted):
    vecs = np.arange(15, dtype=float).reshape(5, 3)
    coords = embeddings.project(
        vecs, method="umap", n_neighbors=2, max_points=3, priority=[1, 9, 5, 0, 7]
    )
    assert np.isnan(coords[[0, 3]]).all()
    np.testing.assert_allclose(coords[[1, 2, 4]], vecs[[1, 2, 4], :2] + 2)


def test_project_rejects_unknown_method_and_too_few_points():
    with pytest.raises(ValueError, match="umap' or 'pca"):
        embeddings.project(CROSS, method="tsne")
    with pytest.raises(ValueError, match="at least 3"):
        embeddings.project(CROSS[:2], method="pca")


# --- map frames and figures (maps.py) ---------------------------------------------------------
MOVIES = pd.DataFrame(
    {
        "item_id": [10, 20, 30, 40],
        "title": ["Heat (1995)", "Amélie (2001)", "Tom & Jerry (1992)", "Up (2009)"],
        "genres": [["Action", "Crime"], ["Comedy", "Romance"], [], ["Comedy"]],
    }
)


def test_movie_frame_stats_genres_and_norms(four_mf):
    from recsys_utils.embeddings import maps

    coords = np.arange(8, dtype=float).reshape(4, 2)
    frame = maps.movie_frame(four_mf, coords, MOVIES, FOUR)
    assert frame["item_id"].tolist() == [10, 20, 30, 40]
    assert frame["n_ratings"].tolist() == [2, 1, 2, 2]
    np.testing.assert_allclose(frame["mean_rating"], [3.0, 3.0, 4.5, 1.5])
    np.testing.assert_allclose(frame["log_popularity"], np.log10([2, 1, 2, 2]))
    # genre counts: Action 1, Crime 1, Comedy 2, Romance 1 -> each movie's rarest genre,
    # ties alphabetical: Heat Action (not Crime), Amélie Romance (not Comedy), Up Comedy
    assert frame["genre"].tolist() == ["Action", "Romance", "(none)", "Comedy"]
    np.testing.assert_allclose(frame["norm"], np.linalg.norm(FOUR_ITEMS, axis=1), atol=1e-6)
    np.testing.assert_allclose(frame["bias"], [0.1, 0.2, 0.3, 0.4], atol=1e-7)
    assert frame["x"].tolist() == [0, 2, 4, 6]
    # most-rated first (ties by title), skipping any closer than 8% of the diagonal to a kept one
    assert maps.label_titles(frame, 1) == ["Heat (1995)"]
    assert maps.label_titles(frame, 4) == [
        "Heat (1995)",
        "Tom & Jerry (1992)",
        "Up (2009)",
        "Amélie (2001)",
    ]
    crowded = frame.assign(x=[0.0, 0.0, 0.01, 10.0], y=[0.0, 0.0, 0.0, 10.0])
    assert maps.label_titles(crowded, 4) == ["Heat (1995)", "Up (2009)"]


def test_thin_movies_are_those_with_fewer_training_rows_than_the_threshold(four_mf):
    from recsys_utils.embeddings import maps, thin_movies

    assert thin_movies is maps.thin_movies  # exported by the subpackage
    # training rows: 10 -> 2, 20 -> 1, 30 -> 2, 40 -> 2; 99 the model never saw (not the
    # last movie's count, which a bare index -1 would read)
    frame = pd.DataFrame({"item_id": [40, 20, 99, 10, 30]})
    assert thin_movies(four_mf, frame).tolist() == [False, True, True, False, False]
    assert thin_movies(four_mf, frame, min_training=1).tolist() == [
        False,
        False,
        True,
        False,
        False,
    ]
    assert thin_movies(four_mf, frame, min_training=3).all()
    assert thin_movies(four_mf, frame.iloc[:0]).shape == (0,)


def test_user_frame_favourite_genre(four_mf):
    from recsys_utils.embeddings import maps

    frame = maps.user_frame(four_mf, np.zeros((2, 2)), MOVIES, FOUR)
    # user 1 rated >= 4: movie 10 (Action, Crime), 30 (no genres) -> Action (first of the tie)
    # user 2 rated >= 4: movie 30 only -> no genre
    assert frame["favourite_genre"].tolist() == ["Action", "(none)"]
    assert frame["n_ratings"].tolist() == [4, 3]
    np.testing.assert_allclose(frame["bias"], [0.5, -0.5])


def test_figures_draw(four_mf):
    import matplotlib

    matplotlib.use("Agg")
    from recsys_utils.app import map_plots
    from recsys_utils.embeddings import maps

    frame = maps.movie_frame(
        four_mf, np.array([[0, 0], [1, 1], [2, 0], [np.nan, np.nan]]), MOVIES, FOUR
    )
    fig = map_plots.static_maps(frame, labels=["Heat (1995)"])
    assert len(fig.axes) >= 3 and any(t.get_text() == "Heat (1995)" for t in fig.axes[0].texts)
    fig = map_plots.interactive_map(frame, color="genre")
    names = [n for trace in fig.data for n in trace.hovertext]
    assert sorted(names) == [
        "Amélie (2001)",
        "Heat (1995)",
        "Tom & Jerry (1992)",
    ]  # NaN row dropped
    assert all(trace.type == "scatter" for trace in fig.data)  # SVG: no WebGL needed
    assert map_plots.bias_vs_norm(frame).axes
    curve = pd.DataFrame(
        {
            "k": [1, 5, 1, 5],
            "method": ["fold_in"] * 2 + ["bias_only"] * 2,
            "rmse": [1.0, 0.9, 1.0, 0.95],
            "ndcg": [0.1, 0.2, 0.1, 0.1],
        }
    )
    fig = map_plots.fold_in_curve_plot(curve)
    assert [line.get_label() for line in fig.axes[0].lines] == ["fold_in", "bias_only"]


def test_label_agreement_hand_worked():
    # two tight pairs: rows 0,1 (label a) and 2,3 (label b) -> each row's 1-NN shares its label
    vecs = np.array([[1.0, 0.0], [1.0, 0.1], [0.0, 1.0], [0.1, 1.0]])
    observed, chance = embeddings.label_agreement(vecs, ["a", "a", "b", "b"], k=1)
    assert observed == 1.0 and chance == pytest.approx(4 / 12)  # (2*1 + 2*1) / (4*3)
    observed, _ = embeddings.label_agreement(vecs, ["a", "b", "a", "b"], k=1)
    assert observed == 0.0
    observed, chance = embeddings.label_agreement(vecs, ["a", "a", "b", "b"], k=1, rows=[0, 1, 2])
    assert observed == pytest.approx(2 / 3) and chance == pytest.approx(2 / 6)


def test_linear_r2_finds_a_linear_direction_and_not_noise():
    rng = np.random.default_rng(0)
    vecs = rng.normal(size=(200, 5))
    assert embeddings.linear_r2(vecs, vecs @ [1.0, -2.0, 0, 0, 0.5]) > 0.99
    assert embeddings.linear_r2(vecs, rng.normal(size=200)) < 0.05


def test_exact_cosine_knn_lists_itself_first_then_neighbours():
    vecs = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [-1.0, 0.0]])
    indices, dist, index = exact_cosine_knn(vecs, 3)
    assert index is None
    assert indices[0].tolist() == [0, 1, 2]  # cos 1, 0.71, 0
    np.testing.assert_allclose(dist[0], [0, 1 - R2, 1], atol=1e-6)
    assert indices[3].tolist()[:2] == [3, 2]  # (-1,0): (0,1) at cos 0 beats (1,1) at -0.71


def _kept_neighbours(vectors: np.ndarray, coords: np.ndarray, k: int) -> float:
    """Mean share of each row's k cosine-nearest rows that are among its k nearest in 2-D."""
    before = embeddings.neighbour_lists(vectors, np.arange(len(vectors)), k)
    dist = ((coords[:, None] - coords[None]) ** 2).sum(-1)
    np.fill_diagonal(dist, np.inf)
    after = np.argsort(dist, axis=1)[:, :k]
    return float(np.mean([len(set(b) & set(a)) / k for b, a in zip(before, after, strict=True)]))


def test_real_umap_on_a_small_set(data_home):
    # what UMAP promises, on a seeded run: local neighbourhoods survive the projection
    rng = np.random.default_rng(0)
    vecs = np.vstack([rng.normal([5, 0, 0], 0.3, (30, 3)), rng.normal([0, 5, 0], 0.3, (30, 3))])
    kw = dict(method="umap", n_neighbors=5, n_epochs=50, seed=0, use_cache=False)
    coords = embeddings.project(vecs, **kw)
    assert coords.shape == (60, 2) and np.isfinite(coords).all()
    np.testing.assert_array_equal(embeddings.project(vecs, **kw), coords)  # seeded: repeatable
    # chance is 5/59 = 0.08 (a shuffled map scores that); with umap-learn 0.5.12 seeds 0-9
    # keep 0.69-0.74 of the neighbours
    assert _kept_neighbours(vecs, coords, 5) > 0.5
    assert _kept_neighbours(vecs, coords[rng.permutation(60)], 5) < 0.25
    # and the 2-D neighbours come from the point's own group (seeds 0-9: 98-100%; chance 49%)
    dist = ((coords[:, None] - coords[None]) ** 2).sum(-1)
    np.fill_diagonal(dist, np.inf)
    group = np.repeat([0, 1], 30)
    assert (group[np.argsort(dist, axis=1)[:, :5]] == group[:, None]).mean() > 0.9


def test_static_and_interactive_maps_give_a_genre_the_same_colour():
    from recsys_utils.app import map_plots

    frame = pd.DataFrame(
        {
            "x": [0.0, 1, 2, 3, 4],
            "y": [0.0, 1, 0, 1, 0],
            "genre": ["Drama", "Drama", "Horror", "other", "Horror"],
            "title": list("abcde"),
            "n_ratings": [5, 4, 3, 2, 1],
            "log_popularity": [0.7, 0.6, 0.5, 0.3, 0.0],
            "mean_rating": [4.0, 3.5, 3.0, 2.5, 2.0],
        }
    )
    colors = map_plots.category_colors(frame["genre"])
    assert list(colors) == ["Drama", "Horror", "other"] and colors["other"] == "#b0b0b0"
    interactive = map_plots.interactive_map(frame, color="genre")
    assert {trace.name: trace.marker.color for trace in interactive.data} == colors
    static = map_plots.static_maps(frame, colors=("genre",))
    legend = static.axes[0].get_legend()
    shown = {t.get_text(): h for t, h in zip(legend.texts, legend.legend_handles, strict=True)}
    import matplotlib.colors as mcolors

    assert {k: mcolors.to_hex(h.get_markerfacecolor()) for k, h in shown.items()} == colors
