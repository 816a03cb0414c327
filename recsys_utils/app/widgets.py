"""The recommendation app: ipywidgets 8, four tabs, results as escaped HTML tables.

Tabs: (1) an existing user's top-rated movies and top-N recommendations; (2) a new
user who searches titles, rates them with sliders and gets recommendations folded in
live (``recommend.fold_in``); (3) a movie's nearest neighbours; (4) a new movie, one
nobody has rated: choose its genres, type a few tags and a year, and see its nearest
movies, the people who would like it and where it lands on the map (with a model that
declares ``places_new_movies``, the hybrid of ``models.hybrid``). Every widget is an
attribute, so a notebook cell or a test can set ``.value`` (or ``click()`` a button)
and read the resulting HTML from the ``*_html`` widgets, with no browser. Every title
and every piece of typed text goes through ``html.escape``: a title containing
``<script>`` shows as text.

A banner on top says what the reader is looking at (``BANNER``): live in Jupyter or
Voila, the lists recompute; in an exported HTML page (``make report``) nothing does, the
page shows the app as the notebook left it. The exported page draws the widgets with
the ipywidgets HTML manager, which puts each view in a ``div.widget-subarea`` just
before the ``<script type="application/vnd.jupyter.widget-view+json">`` holding its
state; a CSS rule keyed on that pair swaps the banner to its snapshot sentence. Where
that rule cannot apply (an old browser, another renderer), the banner's default
sentence names both cases. Every column says what it holds, and the value shown first
is the one the list is ordered by. No widget uses an icon: the exported page embeds no
icon font, so an icon would show as a missing-glyph box.
"""

from __future__ import annotations

import base64
import html
import io
import unicodedata

import ipywidgets as widgets
import numpy as np
import pandas as pd

from recsys_utils import embeddings, recommend
from recsys_utils.constants import (
    ITEM_COL,
    PREDICTION_COL,
    RATING_COL,
    SCORE_COL,
    TIMESTAMP_COL,
    TITLE_COL,
    USER_COL,
)
from recsys_utils.recommend.explain import because_you_liked

MAX_MATCHES = 20
MAP_NEIGHBOURS = 10  # a new movie is drawn at the mean position of its nearest movies
NEW_MOVIE_YEAR = 0  # 0 = no year: the tab opens on genres and tags alone (a year dominates)
ORDER_COL = "ordered_by"  # the value a list is ordered by, where it is not the model's own
LIVE_COMMAND = "make demo"
SNAPSHOT_TEXT = (
    "This is a snapshot of the app as the notebook ran: the controls do not recompute "
    f"here. Run it live with {LIVE_COMMAND}."
)
EITHER_TEXT = (
    f"Live in Jupyter or Voila ({LIVE_COMMAND}): change a control and the lists recompute. "
    "In an exported HTML page it is a snapshot: the controls do nothing there."
)
_STATIC_VIEW = '.widget-subarea:has(+ script[type="application/vnd.jupyter.widget-view+json"])'
BANNER = f"""<style>
.recsys-banner {{padding: 4px 8px; margin-bottom: 6px; border-left: 4px solid #b36b00;
  background: #fff4e0; color: #222; line-height: 1.4;}}
.recsys-banner .recsys-snapshot {{display: none;}}
{_STATIC_VIEW} .recsys-banner .recsys-snapshot {{display: block;}}
{_STATIC_VIEW} .recsys-banner .recsys-either {{display: none;}}
</style>
<div class="recsys-banner">
<div class="recsys-snapshot"><b>{html.escape(SNAPSHOT_TEXT)}</b></div>
<div class="recsys-either">{html.escape(EITHER_TEXT)}</div>
</div>"""


def html_table(frame: pd.DataFrame, columns: dict[str, str], floats: str = "{:.2f}") -> str:
    """An HTML table of ``frame[columns]``, headers ``columns.values()``, every cell escaped."""

    def cell(v) -> str:
        text = floats.format(v) if isinstance(v, (float, np.floating)) else str(v)
        return html.escape(text, quote=True)

    head = "".join(f"<th>{html.escape(h)}</th>" for h in columns.values())
    rows = "".join(
        "<tr>" + "".join(f"<td>{cell(v)}</td>" for v in row) + "</tr>"
        for row in frame[list(columns)].itertuples(index=False)
    )
    return (
        f'<table class="recsys-table"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'
    )


def message(text: str) -> str:
    """A one-line note as HTML, escaped."""
    return f"<p><i>{html.escape(text)}</i></p>"


def _fold(text: str) -> str:
    """Lower case without accents, so "amelie" finds "Amélie"."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


class RecommenderApp:
    """Explore a fitted embedding model: existing users, a new user, movie neighbours.

    Args:
        model: a fitted MF or CollabFNet (or any torch model with user_emb/item_emb).
        movies: the movies table (item_id, title, ...).
        ratings: the ratings the model was trained on (for users' own ratings).
        k: recommendations and neighbours shown.
        min_ratings: initial value of the popularity filter.
        novelty: initial value of the new user's novelty slider
            (``recommend.novelty_ranking``; 0 is the model's own order).
        placer: the model of the New movie tab, one that declares ``places_new_movies``
            (the hybrid); default ``model`` when it does. Without one the tab says what
            it needs.
        map_method: the projection of the New movie tab's map (``embeddings.project``:
            ``"umap"``, cached on disk, or ``"pca"``).
        **fold_kw: passed to ``recommend.fold_in`` (``reg``, ``bias_reg``, ``prior``).
    """

    def __init__(
        self,
        model,
        movies: pd.DataFrame,
        ratings: pd.DataFrame,
        k: int = 10,
        min_ratings: int = 0,
        novelty: float = 0.0,
        placer=None,
        map_method: str = "umap",
        **fold_kw,
    ):
        self.model, self.k, self.fold_kw = model, k, fold_kw
        if placer is None and model.capabilities.places_new_movies:
            placer = model
        if placer is not None and not placer.capabilities.places_new_movies:
            raise ValueError(f"{placer.name} cannot place a new movie (places_new_movies)")
        self.placer, self.map_method = placer, map_method
        self._map = None  # (coords, vectors) of the New movie tab's map, made on first use
        known = movies[movies[ITEM_COL].isin(model.item_map.ids)].copy()
        known["count"] = model.item_counts_[model.item_map.encode(known[ITEM_COL].to_numpy())]
        self.catalogue = known.sort_values(["count", ITEM_COL], ascending=[False, True])
        self._folded_titles = self.catalogue[TITLE_COL].astype(str).map(_fold).to_numpy()
        self.titles = movies.set_index(ITEM_COL)[TITLE_COL]
        self.movies = movies
        self.ratings = ratings.sort_values(
            [USER_COL, RATING_COL, TIMESTAMP_COL], ascending=[True, False, False], kind="stable"
        )
        users = self.ratings[USER_COL].to_numpy()
        self._user_ids, self._user_start = np.unique(users, return_index=True)
        self._user_end = np.append(self._user_start[1:], len(users))
        lo, hi = model.rating_scale
        self.ranking = not model.capabilities.predicts_ratings
        self._unit = (
            None if self.ranking else embeddings.normalize_rows(embeddings.extract(model).item)
        )

        self.min_ratings = widgets.IntSlider(
            value=min_ratings,
            min=0,
            max=100,
            step=1,
            description="min ratings",
            continuous_update=False,
        )
        self.novelty = widgets.FloatSlider(
            value=novelty,
            min=0.0,
            max=0.5,
            step=0.05,
            description="novelty",
            tooltip="new user's list: score - novelty x log(1 + ratings); above 0 favours "
            "less-watched films",
            continuous_update=False,
        )
        # (1) existing user
        self.user_id = widgets.IntText(value=int(model.user_map.ids[0]), description="user id")
        self.user_top_html, self.user_recs_html = widgets.HTML(), widgets.HTML()
        # (2) new user
        self.search = widgets.Text(placeholder="part of a title", description="search")
        self.search_note = widgets.HTML()
        self.matches = widgets.Select(options=[], rows=8, layout=widgets.Layout(width="60%"))
        self.add_button = widgets.Button(description="+ Add")  # no icon: no font offline
        self.clear_button = widgets.Button(description="Clear ratings")
        self.rated_box = widgets.VBox()
        self.sliders: dict[int, widgets.FloatSlider] = {}
        self.new_recs_html = widgets.HTML(message("Rate a few movies to get recommendations."))
        self._scale = (lo, hi)
        # (3) movie neighbours
        self.movie_search = widgets.Text(placeholder="part of a title", description="movie")
        self.movie_note = widgets.HTML()
        self.movie_matches = widgets.Select(options=[], rows=8, layout=widgets.Layout(width="60%"))
        self.neighbours_html = widgets.HTML()
        # (4) new movie
        genres = placer.features.labels("genre") if placer is not None else []
        self.new_genres = widgets.SelectMultiple(options=genres, rows=8, description="genres")
        self.new_tags = widgets.Text(
            placeholder="a few tags, comma-separated: zombies, dark comedy",
            description="tags",
            continuous_update=False,
            layout=widgets.Layout(width="32em"),
        )
        self.new_year = widgets.BoundedIntText(
            value=NEW_MOVIE_YEAR, min=0, max=2100, description="year (0: none)"
        )
        self.new_movie_note = widgets.HTML()
        self.new_movie_html = widgets.HTML(
            message("Choose genres, type a few tags and a year to place a new movie.")
            if placer is not None
            else message(
                "This tab needs a model that places movies nobody rated from their "
                "features; this app runs on one that cannot. The hybrid model can: "
                f'{LIVE_COMMAND} DEMO_ARGS="--checkpoint hybrid" serves the app on it.'
            )
        )

        self.tabs = widgets.Tab(
            children=[
                widgets.VBox(
                    [
                        self.user_id,
                        widgets.HTML("<b>Their highest ratings</b>"),
                        self.user_top_html,
                        widgets.HTML("<b>Recommended</b>"),
                        self.user_recs_html,
                    ]
                ),
                widgets.VBox(
                    [
                        self.search,
                        self.search_note,
                        widgets.HBox([self.matches, self.add_button]),
                        self.rated_box,
                        self.clear_button,
                        widgets.HTML("<b>Recommended</b>"),
                        self.new_recs_html,
                    ]
                ),
                widgets.VBox(
                    [self.movie_search, self.movie_note, self.movie_matches, self.neighbours_html]
                ),
                widgets.VBox(
                    [
                        widgets.HBox(
                            [self.new_genres, widgets.VBox([self.new_tags, self.new_year])]
                        ),
                        self.new_movie_note,
                        self.new_movie_html,
                    ]
                ),
            ],
            titles=("Existing user", "New user", "Movie", "New movie"),
        )
        self.banner = widgets.HTML(BANNER)
        self.widget = widgets.VBox(
            [self.banner, widgets.HBox([self.min_ratings, self.novelty]), self.tabs]
        )

        self.user_id.observe(lambda _: self.show_user(), names="value")
        self.search.observe(
            lambda c: self._fill(self.matches, self.search_note, c["new"]), names="value"
        )
        self.add_button.on_click(
            lambda _: self.matches.value is not None and self.add_movie(self.matches.value)
        )
        self.clear_button.on_click(lambda _: self.clear())
        self.movie_search.observe(
            lambda c: self._fill(self.movie_matches, self.movie_note, c["new"]), names="value"
        )
        self.movie_matches.observe(lambda _: self.show_neighbours(), names="value")
        self.min_ratings.observe(lambda _: self.refresh(), names="value")
        self.novelty.observe(lambda _: self.show_new_user(), names="value")
        for control in (self.new_genres, self.new_tags, self.new_year):
            control.observe(lambda _: self.show_new_movie(), names="value")
        self.show_user()

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    # --- search ---------------------------------------------------------------------------
    def find(self, text: str, limit: int = MAX_MATCHES) -> list[tuple[str, int]]:
        """Up to ``limit`` (title, item_id) whose title contains ``text``, most-rated first."""
        needle = _fold(text.strip())
        if not needle:
            return []
        hits = np.flatnonzero([needle in t for t in self._folded_titles])[:limit]
        rows = self.catalogue.iloc[hits]
        return [(str(t), int(i)) for t, i in zip(rows[TITLE_COL], rows[ITEM_COL], strict=True)]

    def _fill(self, select: widgets.Select, note: widgets.HTML, text: str) -> None:
        options = self.find(text)
        select.options = options
        select.value = options[0][1] if options else None
        note.value = (
            message(f"no known movie title contains {text.strip()!r}")
            if (text.strip() and not options)
            else ""
        )

    # --- tab 1 ------------------------------------------------------------------------------
    def show_user(self) -> None:
        """Fill tab 1 for ``self.user_id.value``."""
        user = int(self.user_id.value)
        pos = np.searchsorted(self._user_ids, user)
        if (
            pos >= len(self._user_ids)
            or self._user_ids[pos] != user
            or user not in self.model.user_map
        ):
            self.user_top_html.value = message(
                f"user {user} is not in the training data (try the New user tab)"
            )
            self.user_recs_html.value = ""
            return
        mine = self.ratings.iloc[self._user_start[pos] : self._user_end[pos]].head(self.k)
        self.user_top_html.value = html_table(
            embeddings.with_titles(mine, self.movies), {TITLE_COL: "title", RATING_COL: "rating"}
        )
        try:
            recs = self.model.recommend(user, k=self.k, min_ratings=self.min_ratings.value)
            self.user_recs_html.value = html_table(
                embeddings.with_titles(recs, self.movies),
                {TITLE_COL: "title", self._value_col(recs): f"{self._value_label()}, best first"},
            )
        except (ValueError, KeyError) as err:
            self.user_recs_html.value = message(str(err))

    # --- tab 2 ------------------------------------------------------------------------------
    def add_movie(self, item_id: int, rating: float | None = None) -> None:
        """Rate a movie as the new user (a slider appears; recommendations update)."""
        item_id = int(item_id)
        if item_id not in self.model.item_map:
            raise KeyError(f"unknown movie {item_id}: not in the model's training data")
        lo, hi = self._scale
        value = min(max(4.0 if rating is None else float(rating), lo), hi)
        if item_id in self.sliders:
            self.sliders[item_id].value = value
            return
        slider = widgets.FloatSlider(value=value, min=lo, max=hi, step=0.5, continuous_update=False)
        slider.observe(lambda _: self.show_new_user(), names="value")
        remove = widgets.Button(description="remove", layout=widgets.Layout(width="80px"))
        remove.on_click(lambda _: self.remove_movie(item_id))
        self.sliders[item_id] = slider
        label = widgets.Label(str(self.titles.get(item_id, item_id)))  # Label shows plain text
        self.rated_box.children = (*self.rated_box.children, widgets.HBox([slider, remove, label]))
        self.show_new_user()

    def remove_movie(self, item_id: int) -> None:
        slider = self.sliders.pop(int(item_id))
        self.rated_box.children = tuple(
            r for r in self.rated_box.children if r.children[0] is not slider
        )
        self.show_new_user()

    def clear(self) -> None:
        self.sliders.clear()
        self.rated_box.children = ()
        self.show_new_user()

    def new_user_ratings(self) -> dict[int, float]:
        return {i: float(s.value) for i, s in self.sliders.items()}

    def show_new_user(self) -> None:
        """Fold in the slider ratings and list recommendations with the movie behind each."""
        if not self.sliders:
            self.new_recs_html.value = message("Rate a few movies to get recommendations.")
            return
        try:
            user = recommend.fold_in(self.model, self.new_user_ratings(), **self.fold_kw)
            recs = recommend.recommend_new_user(
                self.model,
                user,
                k=self.k,
                min_ratings=self.min_ratings.value,
                movies=self.movies,
                novelty=self.novelty.value,
            )
        except (ValueError, KeyError) as err:
            self.new_recs_html.value = message(str(err))
            return
        rec_idx = self.model.item_map.encode(recs[ITEM_COL].to_numpy())
        if self.ranking:  # the liked movies that add most to each score, with their share
            liked = recommend.liked_indices(self.model, user)
            recs["because"] = because_you_liked(self.model, liked, rec_idx, self.titles)
            why = "because you liked"
        else:
            liked = user.item_indices[user.ratings >= user.ratings.mean()]
            closest = liked[np.argmax(self._unit[rec_idx] @ self._unit[liked].T, axis=1)]
            recs["because"] = self.titles.reindex(self.model.item_map.decode(closest)).to_numpy()
            why = "closest movie you liked"
        columns = {TITLE_COL: "title", self._value_col(recs): f"{self._value_label()}, best first"}
        novelty = float(self.novelty.value)
        if novelty > 0:  # the list is ordered by the novelty-adjusted value: show it first
            scores = recommend.score_folded(self.model, user, rec_idx)
            counts = np.asarray(self.model.item_counts_)[rec_idx]
            recs[ORDER_COL] = recommend.novelty_ranking(scores, counts, novelty)
            columns = {
                TITLE_COL: "title",
                ORDER_COL: f"{self._value_label()} − {novelty:g} × log(1 + ratings), best first",
                self._value_col(recs): self._value_label(),
            }
        self.new_recs_html.value = html_table(recs, {**columns, "because": why})

    def _value_col(self, recs: pd.DataFrame) -> str:
        return PREDICTION_COL if PREDICTION_COL in recs else SCORE_COL

    def _value_label(self) -> str:
        """What the lists show: a ranking model's score, a rating model's predicted rating."""
        return "score" if self.ranking else "predicted rating"

    # --- tab 3 ------------------------------------------------------------------------------
    def show_neighbours(self) -> None:
        """Nearest movies of the selected one: for a ranking model, its score for a person
        who liked only that movie; for a rating model, cosine on the movie embeddings."""
        item = self.movie_matches.value
        if item is None:
            self.neighbours_html.value = ""
            return
        try:
            near = embeddings.similar_movies(
                self.model, item, self.k, self.min_ratings.value, movies=self.movies
            )
        except (ValueError, KeyError) as err:
            self.neighbours_html.value = message(str(err))
            return
        title = html.escape(str(self.titles.get(item, item)))
        if self.ranking:  # similar_movies scores a person who liked only this movie
            label = "score (people who liked it also liked), best first"
            how = "the model's score for a person who liked only this movie"
        else:
            label = "cosine similarity, best first"
            how = "cosine between the movie vectors"
        self.neighbours_html.value = (
            f"<b>Closest to {title}</b>"
            + message(f"ranked by {how}")
            + html_table(near, {TITLE_COL: "title", embeddings.SIMILARITY_COL: label})
        )

    # --- tab 4 ------------------------------------------------------------------------------
    def describe_new_movie(self):
        """The feature row of the movie the New movie tab describes, and a note on the tags
        left out (unknown ones, with the closest known). ``None`` when nothing is given."""
        f = self.placer.features
        typed = [t.strip() for t in self.new_tags.value.split(",") if t.strip()]
        known, notes = [], []
        for tag in typed:
            try:
                f.describe(tags=[tag])
                known.append(tag)
            except ValueError as err:
                notes.append(f"{err}: left out")
        genres = list(self.new_genres.value)
        if not genres and not known:
            return None, notes
        year = int(self.new_year.value) or None
        if year is not None and year < 1870:
            notes.append(f"year {year}: before 1870, left out")
            year = None
        return f.describe(genres=genres, tags=known, year=year), notes

    def show_new_movie(self) -> None:
        """Place the described movie: its nearest movies, who would like it, the map."""
        if self.placer is None:
            return
        row, notes = self.describe_new_movie()
        self.new_movie_note.value = "".join(message(n) for n in notes)
        if row is None:
            self.new_movie_html.value = message("Choose a genre or type a known tag.")
            return
        try:
            near = self.placer.neighbours(row, k=self.k, min_ratings=self.min_ratings.value)
            fans = self.placer.audience(row, k=self.k)
        except ValueError as err:
            self.new_movie_html.value = message(str(err))
            return
        near = embeddings.with_titles(near, self.movies)
        fans = fans.assign(**{USER_COL: fans[USER_COL].astype(str)})
        unlearned = self.placer.unlearned_features(row)
        lists = (
            "<b>Closest movies</b>"
            + message("cosine between its vector (from its features alone) and each movie's")
            + html_table(near, {TITLE_COL: "title", "similarity": "cosine, best first"})
            + "<b>Who would like it</b>"
            + message("the users whose own list would put it highest (1 = first)")
            + html_table(fans, {USER_COL: "user", "rank": "its place in their list, best first"})
            + "<p><b>Where it lands</b></p>"
        )
        if unlearned:  # a feature no training movie has: its vector learned nothing
            self.new_movie_note.value += message(
                f"no training movie has {', '.join(unlearned)}: it adds nothing learned"
            )
        if self._map is None:  # the lists first: the map is projected once, then cached
            self.new_movie_html.value = lists + message("drawing the map (once, a minute)")
        self.new_movie_html.value = lists + self._landing_map(row)

    def _landing_map(self, row) -> str:
        """An <img> of every movie's vector on a 2-D map, the new one drawn at the mean
        position of its nearest movies (``embeddings.maps.place_near``)."""
        import matplotlib.pyplot as plt

        from recsys_utils.embeddings.maps import place_near

        if self._map is None:
            ids = self.placer.item_map.ids
            vectors = self.placer.movie_vectors(ids)[0]
            coords = embeddings.project(vectors, self.map_method)
            self._map = coords, vectors
        coords, vectors = self._map
        where, _ = place_near(coords, vectors, self.placer.movie_vectors(row)[0], MAP_NEIGHBOURS)
        fig, ax = plt.subplots(figsize=(5, 4), layout="constrained")
        ax.scatter(coords[:, 0], coords[:, 1], s=3, c="#c8c8c8", linewidths=0,
                   label="the model's movies")  # fmt: skip
        ax.scatter(where[:, 0], where[:, 1], s=160, marker="*", c="#d62728",
                   edgecolors="black", label="the new movie")  # fmt: skip
        ax.legend(loc="upper left", fontsize=8, frameon=False)
        ax.set(xticks=[], yticks=[],
               title=f"placed at the mean position of its {MAP_NEIGHBOURS} nearest movies")  # fmt: skip
        ax.title.set_fontsize(9)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=80)
        plt.close(fig)
        data = base64.b64encode(buf.getvalue()).decode()
        return (
            f'<div><img alt="where the new movie lands" src="data:image/png;base64,{data}"></div>'
        )

    def refresh(self) -> None:
        """Redraw every tab (after the popularity filter changes)."""
        self.show_user()
        self.show_new_user()
        self.show_neighbours()
        self.show_new_movie()
