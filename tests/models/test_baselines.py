"""The model contract, for every model in ``models.MODELS``, on tiny hand-built tables.

Also the test file of ``models/base.py`` (the contract: every registered model is run
through it here) and of ``models/registry.py`` (``MODELS``, ``make_model``, ``register``).
"""

from __future__ import annotations

import inspect

import numpy as np
import pandas as pd
import pytest
from helpers import side_features, small_net

from recsys_utils.constants import (
    GENRES_COL,
    ITEM_COL,
    PREDICTION_COL,
    RATING_COL,
    SCORE_COL,
    USER_COL,
)
from recsys_utils.metrics import rmse
from recsys_utils.models import (
    MF,
    MODELS,
    BiasOnly,
    GlobalMean,
    Popularity,
    make_model,
)
from recsys_utils.models._liked import LikedRecommender
from recsys_utils.models.content import FeatureRanker

ALL = sorted(MODELS)
# the rating nets: trained epoch by epoch, early stopping on validation RMSE
TORCH = sorted(n for n, c in MODELS.items() if small_net(c, 8))


def side_tables() -> dict:
    """Movies (genres cycling over three) and tags for ids 1..199, for models needing them."""
    ids = np.arange(1, 200)
    genres = [["Action"], ["Comedy", "Drama"], ["Drama"]]
    movies = pd.DataFrame(
        {ITEM_COL: ids.astype(np.int32), GENRES_COL: [genres[i % 3] for i in ids]}
    )
    uu, ii = np.meshgrid(np.arange(1, 41), np.arange(100, 130), indexing="ij")
    tags = pd.DataFrame(
        {USER_COL: uu.ravel(), ITEM_COL: ii.ravel(), "tag": [f"tag{i % 4}" for i in ii.ravel()]}
    )
    return {"movies": movies, "tags": tags}


def fast(name: str, **over) -> dict:
    """Small, quick, deterministic settings for any registered model."""
    cls = MODELS[name]
    base = {}
    if "movies" in inspect.signature(cls.__init__).parameters:
        base |= side_tables()
    if "features" in inspect.signature(cls.__init__).parameters:
        base |= {"features": side_features()}
    base |= small_net(cls, 8, epochs=5, lr=0.01, patience=None)
    if issubclass(cls, (LikedRecommender, FeatureRanker)):  # ratings around 3: >= 3 liked
        base |= {"threshold": 3.0}
    if name in ("ials", "bpr"):
        base |= {"factors": 4, "iterations": 3}
    if name in (
        "pooled_softmax",
        "hybrid_pooled",
    ):  # EASE init and a sampled loss, so ease_lam, init_scale
        # and n_negatives act; each default differs from the CHANGES value
        base |= {
            "dim": 8,
            "max_epochs": 5,
            "batch_size": 8,
            "dropout": 0.2,
            "init": "ease",
            "loss": "sampled",
            "n_negatives": 8,
            "device": "cpu",
            "progress": False,
            "num_threads": 1,
        }
    return base | over


def table(users, items, ratings) -> pd.DataFrame:
    return pd.DataFrame(
        {
            USER_COL: np.asarray(users, dtype=np.int32),
            ITEM_COL: np.asarray(items, dtype=np.int32),
            RATING_COL: np.asarray(ratings, dtype=np.float32),
        }
    )


def grid(values: np.ndarray, observed: np.ndarray) -> pd.DataFrame:
    """A users x items matrix to a ratings table: users 1.., items 100.."""
    uu, ii = np.nonzero(observed)
    return table(uu + 1, ii + 100, values[uu, ii])


def train_rmse(model, df: pd.DataFrame) -> float:
    return rmse(df[RATING_COL], model.predict(df[USER_COL], df[ITEM_COL]))


@pytest.fixture(scope="module")
def low_rank() -> pd.DataFrame:
    """30 users x 20 items, r = 3 + P Q^T with rank 2, noiseless, ~90% of pairs observed."""
    rng = np.random.default_rng(0)
    p, q = rng.normal(0, 0.6, (30, 2)), rng.normal(0, 0.6, (20, 2))
    return grid(3 + p @ q.T, rng.random((30, 20)) < 0.9)


@pytest.fixture
def two_by_two() -> pd.DataFrame:
    """Users 1, 2 x movies 10, 20: [[4, 2], [5, 3]], purely additive (mu 3.5)."""
    return table([1, 1, 2, 2], [10, 20, 10, 20], [4.0, 2.0, 5.0, 3.0])


# --- fitting ---------------------------------------------------------------------------

NEAR_ZERO = {  # model -> (extra settings, train RMSE bound) for the expressive ones;
    # full-batch steps (1024 > 545 ratings). The table's own spread (global-mean RMSE) is 0.47
    "mf": ({"n_factors": 4, "lr": 0.1, "epochs": 200, "batch_size": 1024}, 1e-3),
    "collabfnet": (
        {
            "emb_size": 8,
            "n_hidden": 64,
            "dropout": 0.0,
            "lr": 0.02,
            "epochs": 300,
            "batch_size": 1024,
        },
        0.01,
    ),
}


@pytest.mark.parametrize("name", ALL)
def test_every_model_fits_a_low_rank_table(name, low_rank):
    extra, bound = NEAR_ZERO.get(name, ({}, None))
    model = make_model(name, **fast(name, **extra)).fit(low_rank)
    pred = model.predict(low_rank[USER_COL], low_rank[ITEM_COL])
    assert np.isfinite(pred).all() and model.n_fallback_ == 0
    err = train_rmse(model, low_rank)
    assert err <= train_rmse(GlobalMean().fit(low_rank), low_rank) + 1e-9
    if bound is not None:
        assert err < bound, f"{name} train RMSE {err:.4f}"


def test_bias_model_fits_an_additive_table_exactly():
    rng = np.random.default_rng(1)
    a, b = rng.normal(0, 0.5, 30), rng.normal(0, 0.5, 20)
    df = grid(3 + a[:, None] + b[None, :], rng.random((30, 20)) < 0.9)
    df[RATING_COL] = 3 + a[df[USER_COL] - 1] + b[df[ITEM_COL] - 100]  # float64, exact
    model = BiasOnly(reg_user=0.0, reg_item=0.0, n_iters=50).fit(df)
    assert train_rmse(model, df) < 1e-9


def test_global_mean_predicts_the_hand_mean(tiny_ratings):
    model = GlobalMean().fit(tiny_ratings)
    # (4 + 3 + 5 + 2 + 4.5 + 1 + 3.5) / 7 = 23 / 7 for known and unknown pairs alike
    np.testing.assert_allclose(model.predict([1, 2, 99], [10, 30, 99]), 23 / 7, atol=1e-6)


def test_bias_only_hand_worked_two_by_two(two_by_two):
    # reg 2, one alternation: b_i = (+-0.5 + +-1.5) / (2 + 2) = +-0.5;
    # b_u(1) = ((4 - 3.5 - 0.5) + (2 - 3.5 + 0.5)) / 4 = -0.25, b_u(2) = +0.25
    model = BiasOnly(reg_user=2.0, reg_item=2.0, n_iters=1).fit(two_by_two)
    assert model.mu_ == pytest.approx(3.5)
    np.testing.assert_allclose(model.b_i_, [0.5, -0.5])
    np.testing.assert_allclose(model.b_u_, [-0.25, 0.25])
    np.testing.assert_allclose(model.predict([1, 2], [10, 20]), [3.75, 3.25])
    # no regularisation: the additive table is reproduced exactly
    exact = BiasOnly(reg_user=0.0, reg_item=0.0, n_iters=1).fit(two_by_two)
    np.testing.assert_allclose(exact.predict([1, 1, 2, 2], [10, 20, 10, 20]), [4, 2, 5, 3])


def test_popularity_predicts_the_damped_item_mean(two_by_two):
    # b_i = (+-0.5 + +-1.5) / (10 + 2) = +-1/6 around mu 3.5, whoever the user
    model = Popularity().fit(two_by_two)
    np.testing.assert_allclose(
        model.predict([1, 2, 1], [10, 10, 20]), [3.5 + 1 / 6, 3.5 + 1 / 6, 3.5 - 1 / 6]
    )


# --- each hyperparameter changes the result ----------------------------------------------

# a setting that moves the result from the ``fast`` base; a parameter not listed here (one
# added later) gets a generic change, numbers doubled plus one
CHANGES = {
    "n_factors": 3,
    "emb_size": 3,
    "lr": 0.05,
    "batch_size": 16,
    "epochs": 3,
    "weight_decay": 0.5,
    "l2": 0.5,
    "seed": 1,
    "optimizer": "sgd",
    "schedule": "cosine",
    "init_std": 0.5,
    "n_hidden": 4,
    "dropout": 0.5,
    "reg_user": 0.0,
    "reg_item": 0.0,
    "n_iters": 1,
    "n_genres": 1,
    "min_count": 0,
    "damping": 0.0,
    "match_weight": 0.0,
    "tag_weight": 1.0,
    "threshold": 3.5,
    "alpha": 0.0,
    "id_dropout": 0.0,
    "hidden": "tanh",
    "pool": "mean",
    "target": "dropped",
    "loss": "full",
    "init": "normal",
    "tie": True,
}
# settings that cannot change a fit without validation data or only change speed
INERT = {
    "patience",
    "min_epochs",
    "device",
    "num_threads",
    "progress",
    "eval_batch_size",
    "fused",
    "eval_every",
}


def _changes(name):
    params = MODELS[name](**fast(name)).get_params()
    out = {}
    for key, value in sorted(params.items()):
        if key in INERT:
            continue
        if key in CHANGES:
            out[key] = CHANGES[key]
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out[key] = value * 2 + 1
    return out


CASES = [(n, k, v) for n in ALL for k, v in _changes(n).items()]


def _outputs(model, df):
    """Predictions for the table's pairs and the ranking scores of every user."""
    users = np.arange(len(model.user_map))
    return np.concatenate(
        [
            model.predict(df[USER_COL], df[ITEM_COL]),
            np.asarray(model.score_items(users), dtype=np.float64).ravel(),
        ]
    )


@pytest.mark.parametrize("name, param, value", CASES, ids=[f"{n}-{k}" for n, k, _ in CASES])
def test_each_hyperparameter_changes_the_result(name, param, value, low_rank):
    base = fast(name, **{"dropout": 0.0} if name == "collabfnet" else {})
    assert MODELS[name](**base).get_params()[param] != value
    df = low_rank.iloc[:200]  # users 1..11: small, and no setting is inert on it
    ref = _outputs(MODELS[name](**base).fit(df), df)
    changed = _outputs(MODELS[name](**(base | {param: value})).fit(df), df)
    assert np.abs(ref - changed).max() > 1e-4, f"{name}: {param}={value} changed nothing"


def test_unknown_hyperparameter_and_model_name_are_refused():
    with pytest.raises(TypeError, match=r"MF got unknown parameters \['n_factor'\]"):
        MF(n_factor=8)
    with pytest.raises(ValueError, match="unknown model 'svd'; known: .*mf"):
        make_model("svd")


# --- scale, fallback, recommend ------------------------------------------------------------


@pytest.mark.parametrize("name", ALL)
def test_predictions_are_clipped_to_the_scale(name, two_by_two):
    model = make_model(name, rating_scale=(3.4, 3.6), **fast(name)).fit(two_by_two)
    pred = model.predict([1, 1, 2, 2, 99, 1, 99], [10, 20, 10, 20, 10, 99, 99])
    assert pred.min() >= 3.4 and pred.max() <= 3.6
    rec = model.recommend(1, k=2, exclude_given=False)
    if model.capabilities.predicts_ratings:  # a ranking model's score is no rating
        assert rec[PREDICTION_COL].between(3.4, 3.6).all()
    else:
        assert PREDICTION_COL not in rec


def test_clipping_bites_where_the_raw_prediction_is_off_the_scale(two_by_two):
    model = BiasOnly(reg_user=0.0, reg_item=0.0, n_iters=1, rating_scale=(2.5, 4.5))
    model.fit(two_by_two)
    assert model._predict_idx(np.array([1, 0]), np.array([0, 1])).tolist() == [5.0, 2.0]
    assert model.predict([2, 1], [10, 20]).tolist() == [4.5, 2.5]


@pytest.mark.parametrize("name", ALL)
def test_unknown_ids_get_the_documented_fallback(name, two_by_two):
    # fallback biases are damped by 10: b_i(10) = 2 / 12 = 1/6; b_u(1) = ((4 - 3.5 - 1/6)
    # + (2 - 3.5 + 1/6)) / 12 = -1/12. Unknown user -> mu + b_i, unknown movie -> mu + b_u,
    # both unknown -> mu, whatever the model.
    model = make_model(name, **fast(name)).fit(two_by_two)
    pred = model.predict([99, 1, 99, 1], [10, 99, 99, 10])
    np.testing.assert_allclose(pred[:3], [3.5 + 1 / 6, 3.5 - 1 / 12, 3.5], atol=1e-12)
    assert model.n_fallback_ == 3
    model.predict([1, 2], [10, 20])
    assert model.n_fallback_ == 0  # counts the last call only


def test_predict_refuses_unequal_lengths(two_by_two):
    with pytest.raises(ValueError, match="differ in length: 2 vs 1"):
        GlobalMean().fit(two_by_two).predict([1, 2], [10])


def test_fit_refuses_an_empty_table(two_by_two):
    with pytest.raises(ValueError, match="empty ratings table"):
        BiasOnly().fit(two_by_two.iloc[:0])


def test_recommend_orders_by_score_and_excludes_seen(tiny_ratings):
    # one alternation, no damping: b_i(10) = -2/7, b_i(20) = -19/42, b_i(30) = +27/28,
    # so every user ranks 30 > 10 > 20; user 2 has seen 10 and 20
    model = BiasOnly(reg_user=0.0, reg_item=0.0, n_iters=1).fit(tiny_ratings)
    assert model.recommend(2, k=3, exclude_seen=False)[ITEM_COL].tolist() == [30, 10, 20]
    rec = model.recommend(2, k=1)
    assert rec[ITEM_COL].tolist() == [30]
    assert rec[PREDICTION_COL].iloc[0] == pytest.approx(model.predict([2], [30])[0])
    with pytest.raises(ValueError, match="k=2 exceeds the 1 eligible"):
        model.recommend(2, k=2)
    with pytest.raises(ValueError, match="k=1 exceeds the 0 eligible"):
        model.recommend(1, k=1)  # user 1 has seen all three


def test_recommend_honours_min_ratings_and_breaks_ties_by_id(tiny_ratings):
    # counts: 10 -> 2, 20 -> 3, 30 -> 2; popularity ties broken by the lower index
    model = Popularity().fit(tiny_ratings)
    assert model.recommend(1, k=3, exclude_seen=False)[ITEM_COL].tolist() == [20, 10, 30]
    assert model.recommend(1, k=1, exclude_seen=False, min_ratings=3)[ITEM_COL].tolist() == [20]
    with pytest.raises(ValueError, match="k=2 exceeds the 1 eligible"):
        model.recommend(1, k=2, exclude_seen=False, min_ratings=3)


@pytest.mark.parametrize("name", ALL)
def test_recommend_contract_for_every_model(name, low_rank):
    model = make_model(name, **fast(name)).fit(low_rank)
    seen = set(low_rank.loc[low_rank[USER_COL] == 4, ITEM_COL])
    n_unseen = 20 - len(seen)
    rec = model.recommend(4, k=n_unseen)
    rated = [PREDICTION_COL] if model.capabilities.predicts_ratings else []
    assert list(rec.columns) == [ITEM_COL, SCORE_COL, *rated]
    assert set(rec[ITEM_COL]) == set(range(100, 120)) - seen
    with pytest.raises(KeyError, match="unknown user 999"):
        model.recommend(999)
    for k in (0, -1, n_unseen + 1):
        with pytest.raises(ValueError, match=f"k={k}|k must be at least 1"):
            model.recommend(4, k=k)


# --- determinism and early stopping ------------------------------------------------------


@pytest.mark.parametrize("name", TORCH)
def test_same_seed_same_result_on_cpu(name, low_rank):
    runs = [
        make_model(
            name,
            **fast(name, epochs=3, dropout=0.2) if name == "collabfnet" else fast(name, epochs=3),
        ).fit(low_rank)
        for _ in range(2)
    ]
    a, b = (train_rmse(m, low_rank) for m in runs)
    assert abs(a - b) < 1e-6
    np.testing.assert_array_equal(runs[0].history_["train_loss"], runs[1].history_["train_loss"])


@pytest.mark.parametrize("name", TORCH)
def test_early_stopping_restores_the_best_epoch(name):
    # pure-noise ratings: validation error soon rises while training error falls
    rng = np.random.default_rng(5)
    df = grid(rng.integers(1, 6, (40, 30)).astype(float), np.ones((40, 30), bool))
    valid_mask = rng.random(len(df)) < 0.2
    train, valid = df[~valid_mask], df[valid_mask]
    model = make_model(
        name,
        **fast(
            name,
            lr=0.05,
            epochs=40,
            patience=3,
            batch_size=128,
            **{"dropout": 0.0} if name == "collabfnet" else {},
        ),
    )
    model.fit(train, valid)
    hist = model.history_
    best = int(hist["val_rmse"].idxmin())
    assert best < len(hist) - 1, "validation never got worse: the test would not test"
    assert len(hist) == best + 1 + 3  # stopped after patience epochs without improvement
    assert train_rmse(model, valid) == pytest.approx(hist["val_rmse"].min(), abs=1e-5)


def test_registry_lists_every_model_module_in_order_and_refuses_a_taken_name():
    from recsys_utils.models import registry

    assert list(registry.MODELS)[:3] == ["global_mean", "bias", "popularity"]
    assert {"mf", "collabfnet", "implicit_mf", "blend", "rules"} <= set(registry.MODELS)
    assert all(registry.MODELS[name].name == name for name in registry.MODELS)

    class Impostor(registry.MODELS["mf"]):
        name = "mf"

    with pytest.raises(ValueError, match="'mf' is taken"):
        registry.register(Impostor)
    assert registry.MODELS["mf"].__qualname__ == "MF"
    with pytest.raises(ValueError, match="unknown model 'nope'"):
        registry.make_model("nope")
