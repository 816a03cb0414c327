"""docs/adding-a-model.md's snippet, exactly as written, through ``recommend`` for a new
person and through the experiment on a tiny synthetic table."""

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsys_utils.models import MODELS, Query

DOC = Path(__file__).resolve().parents[2] / "docs" / "adding-a-model.md"


def synthetic(n_users=80, n_items=40, seed=0):
    rng = np.random.default_rng(seed)
    rows = [
        (u + 1, int(i) + 1, float(rng.choice([2.0, 3.0, 4.0, 5.0])))
        for u in range(n_users)
        for i in rng.choice(n_items, rng.integers(8, 20), replace=False)
    ]
    ratings = pd.DataFrame(rows, columns=["user_id", "item_id", "rating"])
    names = ["Action", "Comedy", "Drama", "Horror"]
    genres = pd.DataFrame(
        [(i, names[i % 4]) for i in range(1, n_items + 1)]
        + [(i, names[(i + 1) % 4]) for i in range(1, n_items + 1, 3)],
        columns=["item_id", "genre"],
    )
    return ratings, genres


@pytest.fixture(scope="module")
def snippet():
    code = re.search(r"```python\n(.*?)```", DOC.read_text(), re.S).group(1)
    assert len(code.splitlines()) <= 45  # about twenty lines of model
    namespace: dict = {}
    exec(compile(code, str(DOC), "exec"), namespace)  # noqa: S102 - our own documentation
    return namespace["GenreLiked"]


def test_the_documented_model_registers_and_recommends_for_a_new_person(snippet):
    ratings, genres = synthetic()
    assert MODELS["genre_liked"] is snippet
    model = snippet(genres).fit(ratings)
    given = {1: 5.0, 5: 4.0, 9: 1.0}
    top = model.recommend(Query.new(given), k=5)
    assert len(top) == 5 and not set(top.item_id) & set(given)
    # a training user given as a new person with their own ratings: the known user's row
    mine = ratings[ratings.user_id == 7]
    as_new = model.score(Query.new(zip(mine.item_id, mine.rating, strict=True)))
    np.testing.assert_allclose(as_new, model.score(Query.known(7)))
    # the person's genres move the list: an Action fan and a Drama fan differ
    action = model.recommend(Query.new({1: 5.0, 5: 5.0}), k=5).item_id.tolist()
    drama = model.recommend(Query.new({3: 5.0, 7: 5.0}), k=5).item_id.tolist()
    assert action != drama


def test_the_documented_model_runs_through_the_experiment(snippet):
    from recsys_utils.evaluation import experiment as ex

    ratings, genres = synthetic(n_users=120)
    entries = [ex.Grid("genre_liked", lambda **p: snippet(genres, **p), seeded=False)]
    result = ex.Experiment(
        ex.StrongGeneralisation(n_test=20, n_valid=15),
        entries,
        seeds=(0,),
        curve_ns=(),
        time_foldin=False,
        log=None,
    ).run(ratings)
    table = result.table()
    assert table["model"].tolist() == ["genre_liked"]
    assert 0 < table["ndcg@100"].iloc[0] <= 1
