"""The one model contract (``models.base``): queries, capabilities, score and recommend."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from recsys_utils.models import (
    EASE,
    BiasOnly,
    Capabilities,
    CapabilityError,
    Queries,
    Query,
    Recommender,
    require,
)

RATINGS = pd.DataFrame(
    {
        "user_id": [1, 1, 1, 2, 2, 3, 3, 3, 4, 4],
        "item_id": [10, 11, 12, 10, 13, 11, 12, 13, 10, 12],
        "rating": [5.0, 4.0, 2.0, 4.5, 4.0, 5.0, 4.0, 1.0, 4.0, 5.0],
    }
)


def test_a_query_is_a_known_user_or_a_new_person_never_both():
    assert Query.known(3).user == 3
    assert Query.new([(10, 4.0)]).ratings == {10: 4.0}
    with pytest.raises(ValueError, match="either"):
        Query(user=1, ratings={10: 4.0})
    with pytest.raises(ValueError, match="either"):
        Query()


def test_queries_read_new_people_over_the_models_item_index():
    model = EASE(lam=1.0).fit(RATINGS)
    q = Queries.new([{13: 4.0, 10: 2.0}, {999: 5.0}])  # 999: unknown, dropped
    R = q.ratings_matrix(model.item_map)
    assert R.shape == (2, 4) and len(q) == 2
    assert R.toarray()[0].tolist() == [2.0, 0.0, 0.0, 4.0]
    assert R[1].nnz == 0
    assert Queries.from_matrix(R).ratings_matrix(model.item_map) is not None
    with pytest.raises(ValueError, match="columns"):
        Queries.from_matrix(sp.csr_matrix((1, 3))).ratings_matrix(model.item_map)


def test_a_training_user_as_a_new_person_gets_the_known_users_row():
    model = EASE(lam=1.0).fit(RATINGS)
    mine = RATINGS[RATINGS.user_id == 3]
    as_new = model.score(Query.new(zip(mine.item_id, mine.rating, strict=True)))
    np.testing.assert_allclose(as_new, model.score(Query.known(3)))
    batch = model.score(Queries.known([3, 1]))
    assert batch.shape == (2, 4)
    np.testing.assert_allclose(batch[0], as_new)


def test_an_unknown_user_is_refused_with_the_way_out():
    model = EASE(lam=1.0).fit(RATINGS)
    with pytest.raises(KeyError, match="Query.new"):
        model.score(Query.known(99))
    with pytest.raises(TypeError, match="fold-in options"):
        model.score(Query.new({10: 5.0}), regularisation=1.0)


def test_a_capability_the_class_does_not_declare_is_refused_in_one_place():
    class Frozen(BiasOnly):
        name = "frozen_bias_for_test"
        capabilities = Capabilities(predicts_ratings=True, scores_new_people=False)

    model = Frozen().fit(RATINGS)
    with pytest.raises(CapabilityError, match="scores_new_people"):
        model.score(Query.new({10: 5.0}))
    with pytest.raises(CapabilityError, match="scores_new_people"):
        require(model, "scores_new_people")
    require(model, "predicts_ratings")  # declared: no error
    with pytest.raises(ValueError, match="no capability"):
        require(model, "flies")
    with pytest.raises(TypeError, match="Capabilities"):
        type("Bad", (Recommender,), {"capabilities": {"predicts_ratings": True}})
    with pytest.raises(ValueError, match="objective"):
        Capabilities(objective="val_auc")


def test_recommend_a_new_person_leaves_out_every_movie_they_gave():
    model = EASE(lam=1.0).fit(RATINGS)
    out = model.recommend(Query.new({10: 5.0, 11: 1.0}), k=2)
    assert set(out.item_id) == {12, 13}
    assert list(out.columns) == ["item_id", "score"]  # a ranking model predicts no rating
    known = model.recommend(Query.known(2), k=2)
    assert known.item_id.tolist() == model.recommend(2, k=2).item_id.tolist()
    assert not {10, 13} & set(known.item_id)


def _every_model():
    """Every registered model with small settings (the ones needing side tables get them)."""
    from helpers import FAST

    movies = pd.DataFrame(
        {"item_id": [10, 11, 12, 13], "genres": [["Action"], ["Drama"], ["Action"], ["Comedy"]]}
    )
    return {
        "global_mean": {},
        "bias": {},
        "popularity": {},
        "mf": {**FAST, "n_factors": 2},
        "implicit_mf": {**FAST, "n_factors": 2},
        "collabfnet": {**FAST, "emb_size": 2},
        "blend": {"members": [["mf", {**FAST, "n_factors": 2}]]},
        "rules": {"movies": movies, "min_count": 0},
        "ease": {"lam": 1.0},
        "pooled_softmax": {"dim": 4, "max_epochs": 2, "num_threads": 1, "device": "cpu"},
        "ials": {"factors": 2, "iterations": 2, "num_threads": 1},
        "bpr": {"factors": 2, "iterations": 2},
    }


@pytest.mark.parametrize("name", sorted(_every_model()))
def test_every_model_scores_a_new_person_through_the_one_path(name):
    from recsys_utils.models import make_model

    model = make_model(name, **_every_model()[name]).fit(RATINGS)
    assert model.capabilities.scores_new_people
    row = model.score(Query.new({10: 5.0, 12: 4.5}))
    batch = model.score(Queries.new([{10: 5.0, 12: 4.5}, {13: 4.0}]))
    assert row.shape == (4,) and batch.shape == (2, 4) and np.isfinite(batch).all()
    np.testing.assert_allclose(batch[0], row, rtol=1e-6)
    top = model.recommend(Query.new({10: 5.0, 12: 4.5}), k=2)
    assert set(top.item_id) == {11, 13}
    if not model.capabilities.predicts_ratings and name not in ("ials", "bpr"):
        # scored from the person's ratings alone: a training user as a new person is the
        # known user (iALS and BPR refit a vector, so only close)
        mine = RATINGS[RATINGS.user_id == 3]
        as_new = model.score(Query.new(zip(mine.item_id, mine.rating, strict=True)))
        np.testing.assert_allclose(as_new, model.score(Query.known(3)), rtol=1e-5, atol=1e-6)
