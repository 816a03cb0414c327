"""The widget app driven without a browser: set values, click buttons, read the HTML."""

from __future__ import annotations

import html as html_lib
import re
from pathlib import Path

import ipywidgets
import numpy as np
import pandas as pd
import pytest
from helpers import ratings_table

from recsys_utils import embeddings, recommend
from recsys_utils.app import widgets
from recsys_utils.models.recipes import mf_from_factors

SCRIPT = '<script>alert("x")</script>'
TITLES = {
    10: "Toy Story (1995)",
    20: "Amélie (Fabuleux destin d'Amélie Poulain, Le) (2001)",
    30: 'Tom & Jerry\'s "Big" Night (1999)',
    40: SCRIPT,
    50: "Toy Soldiers (1991)",
    60: "Heat (1995)",
}
ITEMS = np.array([[1.0, 0.0], [0.9, 0.3], [0.0, 1.0], [-1.0, 0.2], [0.95, 0.1], [0.2, -1.0]])


def table(pairs):
    return ratings_table(pairs, ordered_timestamps=True)


RATINGS = table(
    [
        (1, 10, 5.0),
        (1, 30, 2.0),
        (1, 40, 4.5),
        (2, 10, 3.0),
        (2, 20, 4.0),
        (2, 50, 1.0),
        (2, 60, 2.5),
        (3, 10, 4.0),
        (3, 20, 3.5),
        (3, 30, 3.0),
    ]
)


@pytest.fixture
def model():
    users = [[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]]
    return mf_from_factors(
        RATINGS,
        users,
        ITEMS,
        item_bias=[0.5, 0.4, 0.1, 0.2, -0.3, 0.0],
        mu=3.0,
        rating_scale=(0.5, 5.0),
    )


@pytest.fixture
def movies():
    return pd.DataFrame({"item_id": list(TITLES), "title": list(TITLES.values())})


@pytest.fixture
def app(model, movies):
    return widgets.RecommenderApp(model, movies, RATINGS, k=2)


def all_html(app) -> str:
    return "".join(
        w.value
        for w in (
            app.user_top_html,
            app.user_recs_html,
            app.new_recs_html,
            app.neighbours_html,
            app.search_note,
            app.movie_note,
        )
    )


def test_html_table_escapes_every_cell():
    frame = pd.DataFrame({"title": [SCRIPT + " & 'q'"], "prediction": [4.256]})
    out = widgets.html_table(frame, {"title": "title", "prediction": "predicted"})
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#x27;q&#x27;" in out
    assert "<script>" not in out and "<td>4.26</td>" in out


def test_app_has_four_tabs_and_opens_on_the_first_user(app):
    assert app.tabs.titles == ("Existing user", "New user", "Movie", "New movie")
    assert app.user_id.value == 1
    # user 1's ratings, best first: Toy Story 5, <script> 4.5, Tom & Jerry 2 -> top 2 shown
    top = app.user_top_html.value
    assert top.index("Toy Story") < top.index("&lt;script&gt;") and "Tom &amp; Jerry" not in top
    assert "<script>" not in all_html(app)


def test_existing_user_recommendations_follow_the_model(app, model):
    app.user_id.value = 2
    expected = model.recommend(2, k=2)["item_id"].map(TITLES).tolist()  # unseen: 30, 40
    assert sorted(expected) == sorted([TITLES[30], SCRIPT])
    html = app.user_recs_html.value
    assert html.index(escape(expected[0])) < html.index(escape(expected[1]))
    assert "Tom &amp; Jerry&#x27;s &quot;Big&quot; Night (1999)" in html and "<script>" not in html
    app.user_id.value = 99
    assert "user 99 is not in the training data" in app.user_top_html.value
    assert app.user_recs_html.value == ""


def escape(text):
    import html

    return html.escape(text, quote=True)


def test_search_filters_titles_accents_and_popularity_order(app):
    app.search.value = "toy"
    # Toy Story has 3 ratings, Toy Soldiers 1: most-rated first
    assert app.matches.options == (("Toy Story (1995)", 10), ("Toy Soldiers (1991)", 50))
    assert app.matches.value == 10
    app.search.value = "amelie"
    assert [i for _, i in app.matches.options] == [20]
    app.search.value = "<img src=x onerror=alert(1)>"
    assert app.matches.options == () and app.matches.value is None
    assert "&lt;img src=x onerror=alert(1)&gt;" in app.search_note.value
    assert "<img" not in app.search_note.value


def test_search_never_offers_more_than_twenty(model):
    many = pd.DataFrame({"item_id": list(TITLES), "title": [f"Movie {i}" for i in TITLES]})
    small = widgets.RecommenderApp(model, many, RATINGS)
    assert len(small.find("movie", limit=3)) == 3
    assert len(small.find("movie")) == 6 <= widgets.MAX_MATCHES
    assert small.find("   ") == []


def test_new_user_add_rate_and_remove_update_the_recommendations(app, model, movies):
    assert "Rate a few movies" in app.new_recs_html.value
    app.search.value = "toy story"
    app.add_button.click()
    assert list(app.sliders) == [10] and app.sliders[10].value == 4.0
    assert app.rated_box.children[0].children[2].value == "Toy Story (1995)"
    expected = recommend.recommend_new_user(model, {10: 4.0}, k=2, movies=movies)
    html = app.new_recs_html.value
    assert all(escape(t) in html for t in expected["title"])
    assert "Toy Story" in html  # the "closest movie you liked" column

    app.add_movie(40, 5.0)  # the <script> title, as a plain-text label
    assert app.rated_box.children[1].children[2].value == SCRIPT
    app.sliders[10].value = 0.5
    expected = recommend.recommend_new_user(model, {10: 0.5, 40: 5.0}, k=2, movies=movies)
    html = app.new_recs_html.value
    assert html.index(escape(expected["title"][0])) < html.index(escape(expected["title"][1]))
    assert "<script>" not in html

    app.remove_movie(10)
    assert list(app.sliders) == [40] and len(app.rated_box.children) == 1
    app.clear_button.click()
    assert app.sliders == {} and "Rate a few movies" in app.new_recs_html.value


def test_the_novelty_slider_reaches_the_new_users_list(app, monkeypatch):
    seen = []
    real = recommend.recommend_new_user

    def spy(*args, **kw):
        seen.append(kw.get("novelty"))
        return real(*args, **kw)

    monkeypatch.setattr(widgets.recommend, "recommend_new_user", spy)
    app.add_movie(10, 5.0)
    app.novelty.value = 0.25  # redraws the list with it
    assert seen == [0.0, 0.25]
    assert app.novelty.max == 0.5 and app.novelty.min == 0.0


def test_new_user_errors_show_as_messages(app):
    app.k = 6  # more than the 5 unrated movies
    app.add_movie(10, 5.0)
    assert "k=6 exceeds the 5 eligible" in app.new_recs_html.value
    with pytest.raises(KeyError, match="unknown movie 999"):
        app.add_movie(999)


def test_movie_tab_lists_neighbours(app, model, movies):
    app.movie_search.value = "toy story"
    expected = embeddings.similar_movies(model, 10, k=2, movies=movies)
    html = app.neighbours_html.value
    assert html.startswith("<b>Closest to Toy Story (1995)</b>")
    assert html.index(escape(expected["title"][0])) < html.index(escape(expected["title"][1]))
    app.min_ratings.value = 2  # 50 (Toy Soldiers, 1 rating) and 40 drop out
    html = app.neighbours_html.value
    assert "Toy Soldiers" not in html and "Amélie" in html
    app.movie_search.value = "nothing like this"
    assert app.neighbours_html.value == ""


def test_fold_in_settings_reach_the_app(model, movies):
    app = widgets.RecommenderApp(model, movies, RATINGS, k=1, reg=0.01, bias_reg=0.01)
    app.add_movie(10, 0.5)
    loose = recommend.recommend_new_user(model, {10: 0.5}, k=1, reg=0.01, bias_reg=0.01)
    default = recommend.recommend_new_user(model, {10: 0.5}, k=1)
    shown, other = f"{loose['prediction'][0]:.2f}", f"{default['prediction'][0]:.2f}"
    assert shown != other  # the settings matter here, so the check below can fail
    assert f"<td>{shown}</td>" in app.new_recs_html.value


def test_the_app_on_a_ranking_model_explains_by_liked_movies_and_ignores_low_ratings(movies):
    from recsys_utils.models import make_model

    model = make_model("ease", lam=1.0, threshold=4.0).fit(RATINGS)
    app = widgets.RecommenderApp(model, movies, RATINGS, k=2)
    app.add_movie(20, 2.0)  # a low rating is no liking
    assert "rate one you liked" in app.new_recs_html.value
    app.add_movie(10, 5.0)  # Toy Story: liked by users 1 and 3, with movies 40 and 20
    page = app.new_recs_html.value
    assert "<th>because you liked</th>" in page and "<th>score, best first</th>" in page
    assert "<td>Toy Story (1995) (100%)</td>" in page  # the one liked movie, its share
    assert "Amélie" not in page  # given (if disliked), so never recommended


# --- what the page says it is, and what each column holds -----------------------------------
def table_columns(page: str) -> dict[str, list[str]]:
    """The one table in ``page`` as {header: cell texts, top to bottom}, unescaped."""
    heads = [html_lib.unescape(h) for h in re.findall(r"<th>(.*?)</th>", page)]
    rows = [
        [html_lib.unescape(c) for c in re.findall(r"<td>(.*?)</td>", row)]
        for row in re.findall(r"<tr>(<td>.*?)</tr>", page)
    ]
    assert rows and all(len(r) == len(heads) for r in rows), page
    return {h: [r[j] for r in rows] for j, h in enumerate(heads)}


def list_order_values(page: str) -> list[float]:
    """The values of the one column that says the list is in its order ("best first")."""
    cols = table_columns(page)
    first = [h for h in cols if h.endswith(", best first")]
    assert len(first) == 1, f"not one 'best first' column: {list(cols)}"
    return [float(v) for v in cols[first[0]]]


def non_increasing(values) -> bool:
    return all(a >= b for a, b in zip(values, values[1:], strict=False))


@pytest.fixture
def ranking_app(movies):
    from recsys_utils.models import make_model

    model = make_model("ease", lam=1.0, threshold=4.0).fit(RATINGS)
    return widgets.RecommenderApp(model, movies, RATINGS, k=3)


def test_the_banner_says_snapshot_or_live_and_how_to_run_it_live(app):
    assert app.widget.children[0] is app.banner  # on top of the app, above the controls
    banner = app.banner.value
    snapshot = (
        "This is a snapshot of the app as the notebook ran: the controls do not recompute "
        "here. Run it live with make demo."
    )
    assert snapshot in html_lib.unescape(banner)
    either = html_lib.unescape(re.search(r'class="recsys-either">(.*?)</div>', banner).group(1))
    assert "Live in Jupyter or Voila (make demo)" in either and "exported HTML page" in either
    # the snapshot sentence is hidden unless the view is the HTML manager's static one,
    # which sits just before its state script; then the two-case sentence is hidden
    static_view = '.widget-subarea:has(+ script[type="application/vnd.jupyter.widget-view+json"])'
    assert ".recsys-banner .recsys-snapshot {display: none;}" in banner
    assert f"{static_view} .recsys-banner .recsys-snapshot {{display: block;}}" in banner
    assert f"{static_view} .recsys-banner .recsys-either {{display: none;}}" in banner


def test_every_value_column_says_what_it_holds(app, ranking_app):
    app.add_movie(10, 5.0)
    app.movie_search.value = "toy story"
    assert list(table_columns(app.user_recs_html.value)) == [
        "title",
        "predicted rating, best first",
    ]
    assert list(table_columns(app.new_recs_html.value)) == [
        "title",
        "predicted rating, best first",
        "closest movie you liked",
    ]
    assert list(table_columns(app.neighbours_html.value)) == [
        "title",
        "cosine similarity, best first",
    ]

    ranking_app.add_movie(10, 5.0)
    ranking_app.movie_search.value = "toy story"
    assert list(table_columns(ranking_app.user_recs_html.value)) == ["title", "score, best first"]
    assert list(table_columns(ranking_app.new_recs_html.value)) == [
        "title",
        "score, best first",
        "because you liked",
    ]
    near = ranking_app.neighbours_html.value
    # similar_movies ranks by the score of a person who liked only this movie: not a cosine
    assert list(table_columns(near)) == [
        "title",
        "score (people who liked it also liked), best first",
    ]
    assert "cosine" not in near and "liked only this movie" in near


@pytest.mark.parametrize("which", ["rating model", "ranking model"])
def test_the_values_shown_are_in_the_order_of_the_list(which, app, ranking_app):
    app = app if which == "rating model" else ranking_app
    app.k = 4
    app.add_movie(10, 5.0)
    app.add_movie(20, 4.0)
    app.movie_search.value = "toy story"
    for page in (app.user_recs_html.value, app.new_recs_html.value, app.neighbours_html.value):
        values = list_order_values(page)
        assert len(values) >= 2 and non_increasing(values), page
    app.novelty.value = 0.5  # the list is now ordered by score - 0.5 x log(1 + ratings)
    page = app.new_recs_html.value
    cols = table_columns(page)
    label = "score" if which == "ranking model" else "predicted rating"
    assert list(cols)[:3] == ["title", f"{label} − 0.5 × log(1 + ratings), best first", label]
    assert non_increasing(list_order_values(page)), page
    user = recommend.fold_in(app.model, app.new_user_ratings())
    scores = recommend.score_folded(app.model, user)
    counts = np.log1p(app.model.item_counts_)
    shown = app.model.item_map.encode(
        app.catalogue.set_index("title").loc[cols["title"], "item_id"].to_numpy()
    )
    expected = [f"{v:.2f}" for v in scores[shown] - 0.5 * counts[shown]]
    assert cols[f"{label} − 0.5 × log(1 + ratings), best first"] == expected


def test_the_model_values_alone_would_be_out_of_order_with_novelty(app):
    """Why the ordered-by column exists: on this fixture novelty reorders the list, so the
    model's own values (shown beside it) are not in list order, and a table showing only
    them would fail the check above."""
    app.k = 3
    app.add_movie(20, 5.0)  # MF's 4.52, 3.84, 3.74 becomes 4.52, 3.74, 3.84 (Toy Soldiers
    app.novelty.value = 0.5  # has 1 rating, Tom & Jerry 2)
    cols = table_columns(app.new_recs_html.value)
    assert cols["predicted rating"] == ["4.52", "3.74", "3.84"]
    assert not non_increasing([float(v) for v in cols["predicted rating"]])


def walk(widget):
    yield widget
    for child in getattr(widget, "children", ()):
        yield from walk(child)


def test_no_widget_needs_the_icon_font(app):
    """The exported page embeds no font-awesome: an icon name would draw a missing glyph."""
    app.add_movie(10, 5.0)  # its row adds a remove button
    buttons = [w for w in walk(app.widget) if isinstance(w, ipywidgets.Button)]
    assert app.add_button in buttons and len(buttons) >= 3
    assert [(b.description, b.icon) for b in buttons if b.icon] == []
    assert "Add" in app.add_button.description


def exported_page(app, folder) -> Path:
    """``app`` as the reports export it: a notebook whose one output is the app, with the
    widget state saved as papermill saves it, through ``report.export_html``."""
    import nbformat
    from ipywidgets.embed import dependency_state

    from recsys_utils.app import report

    view = {"version_major": 2, "version_minor": 0, "model_id": app.widget.model_id}
    cell = nbformat.v4.new_code_cell("display(app)")
    cell.outputs = [
        nbformat.v4.new_output(
            "display_data",
            data={"text/plain": "app", "application/vnd.jupyter.widget-view+json": view},
        )
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# The app"), cell])
    state = {
        "version_major": 2,
        "version_minor": 0,
        "state": dependency_state(app.widget, drop_defaults=True),  # the app's widgets only
    }
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": state}
    nbformat.write(nb, str(folder / "app.ipynb"))
    return report.export_html(folder / "app.ipynb", folder / "app.html")


@pytest.mark.browser
def test_the_exported_page_says_it_is_a_snapshot(app, driver, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from recsys_utils.app import report

    if not (report.REQUIRE_JS.is_file() and report.WIDGETS_JS.is_file()):
        pytest.skip("no local widget scripts (make setup fetches them): the page needs a CDN")
    driver.get(exported_page(app, tmp_path).as_uri())
    banner = WebDriverWait(driver, 30).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, ".recsys-banner")
    )[0]
    assert banner.text == widgets.SNAPSHOT_TEXT  # visible text only: the two-case one is hidden
    assert "Live in Jupyter" not in banner.text


# --- the New movie tab: a movie nobody rated, described by hand --------------------------------
@pytest.fixture(scope="module")
def hybrid_world():
    """Movies 1-10 genre A (tagged "spooky" by three users), 11-20 genre B, all 1995.
    Users 1-20 like A movies, users 21-40 B movies; the titles of A movies start "A"."""
    from recsys_utils.data.features import build_features
    from recsys_utils.models.hybrid import HybridPooled

    ids = np.arange(1, 21)
    movies = pd.DataFrame(
        {"item_id": ids, "title": [f"{'A' if i <= 10 else 'B'} movie {i}" for i in ids],
         "year": pd.array([1995] * 20, dtype="Int64"), "genres": [["A"]] * 10 + [["B"]] * 10}
    )  # fmt: skip
    tags = pd.DataFrame({"user_id": [1, 2, 3] * 10, "item_id": np.repeat(np.arange(1, 11), 3),
                         "tag": ["Spooky"] * 30})  # fmt: skip
    features = build_features(movies, tags)
    rng = np.random.default_rng(0)
    pairs = []
    for u in range(1, 41):
        mine = np.arange(1, 11) if u <= 20 else np.arange(11, 21)
        pairs += [(u, int(m), 5.0) for m in rng.choice(mine, 6, replace=False)]
    train = ratings_table(pairs)
    model = HybridPooled(features, dim=8, max_epochs=25, lr=0.05, batch_size=20, device="cpu",
                         num_threads=1, seed=0).fit(train)  # fmt: skip
    return model, movies, train


@pytest.fixture
def hybrid_app(hybrid_world):
    model, movies, train = hybrid_world
    return widgets.RecommenderApp(model, movies, train, k=5, map_method="pca")


def test_the_new_movie_tab_places_a_described_movie_among_movies_like_it(hybrid_app):
    app = hybrid_app
    assert app.tabs.titles[-1] == "New movie" and list(app.new_genres.options) == ["A", "B"]
    app.new_genres.value = ("A",)
    app.new_tags.value = "spooky"
    app.new_year.value = 1995
    page = app.new_movie_html.value
    near = table_columns(page[: page.index("Who would like it")])
    assert all(t.startswith("A movie") for t in near["title"])  # its five nearest: A movies
    assert non_increasing([float(v) for v in near["cosine, best first"]])
    fans = table_columns(page[page.index("Who would like it") : page.index("Where it lands")])
    assert all(int(u) <= 20 for u in fans["user"])  # the A lovers
    assert non_increasing([-int(r) for r in fans["its place in their list, best first"]])
    assert '<img alt="where the new movie lands" src="data:image/png;base64,' in page
    assert app.new_movie_note.value == ""  # every feature it has was learned
    app.new_year.value = 2030  # a year bucket no training movie has: said, not hidden
    assert "no training movie has year:2020s" in app.new_movie_note.value
    app.new_genres.value = ("B",)
    app.new_tags.value = ""
    near = table_columns(app.new_movie_html.value.split("Who would like it")[0])
    assert all(t.startswith("B movie") for t in near["title"])  # it follows the controls


def test_the_new_movie_tab_leaves_out_unknown_tags_and_says_so(hybrid_app):
    app = hybrid_app
    app.new_tags.value = f"spooky, {SCRIPT}, spoky"
    note = app.new_movie_note.value
    assert note.count("left out") == 2 and "closest: spooky" in note
    assert "<script>" not in note and "&lt;script&gt;" in note  # typed text is escaped
    assert "A movie" in app.new_movie_html.value  # placed by the tag it knows
    app.new_tags.value = "nothing known"
    assert "Choose a genre or type a known tag" in app.new_movie_html.value


def test_without_a_model_that_places_new_movies_the_tab_says_what_it_needs(app):
    assert app.placer is None and app.new_genres.options == ()
    assert "hybrid" in app.new_movie_html.value
    app.new_tags.value = "anything"  # nothing to place it with: no error, the message stays
    assert "hybrid" in app.new_movie_html.value
    with pytest.raises(ValueError, match="cannot place a new movie"):
        widgets.RecommenderApp(app.model, app.movies, RATINGS, placer=app.model)


def test_the_new_movie_tab_opens_without_a_year_and_year_0_means_none(hybrid_app):
    app = hybrid_app
    assert app.new_year.value == 0  # a year dominates the hybrid's space: not imposed
    app.new_genres.value = ("A",)
    row, _ = app.describe_new_movie()
    f = app.placer.features
    assert (row != f.describe(genres=["A"])).nnz == 0  # no year entry at all
    app.new_year.value = 1995
    row, _ = app.describe_new_movie()
    assert (row != f.describe(genres=["A"], year=1995)).nnz == 0
    app.new_year.value = 1200  # before any release: left out and said
    row, notes = app.describe_new_movie()
    assert (row != f.describe(genres=["A"])).nnz == 0 and any("1200" in n for n in notes)
