"""What a model declares decides how sweeps, the peers benchmark and the blend treat it.

``EpochBias`` below is trained epoch by epoch but is no ``TorchRecommender``: it
declares its epoch-loop options (``loop_options``, under its own keyword ``passes``) and
its capabilities, nothing else. Each test would fail if a class check
(``issubclass(cls, TorchRecommender)``, ``issubclass(cls, Blend)``) came back in
``tuning.trials``, ``bench.peers`` or ``models.blend``.
"""

from __future__ import annotations

from types import MappingProxyType

import numpy as np
import pandas as pd
import pytest
from helpers import FAST

from recsys_utils.bench import peers as bench
from recsys_utils.metrics import rmse
from recsys_utils.models import (
    MODELS,
    Blend,
    Capabilities,
    CapabilityError,
    Recommender,
    TorchRecommender,
    registry,
    require,
)
from recsys_utils.models.base import damped_biases
from recsys_utils.tuning.config import SweepConfig
from recsys_utils.tuning.trials import build_model


class EpochBias(Recommender):
    """mu + b_u + b_i, epoch k the damped means with damping 40 / k (less damped each
    epoch), the best epoch on validation RMSE kept: epochs, but no torch training."""

    name = "test_epoch_bias"
    capabilities = Capabilities(predicts_ratings=True, uses_validation=True, objective="val_rmse")
    loop_options = MappingProxyType(
        {"epochs": "passes", "patience": "patience", "seed": "seed", "progress": "progress"}
    )

    def __init__(self, rating_scale=None, passes=3, patience=None, seed=0, progress=False):
        super().__init__(
            rating_scale, passes=passes, patience=patience, seed=seed, progress=progress
        )

    def _fit(self, u, i, r, valid):
        import torch

        shape = (len(self.user_map), len(self.item_map))
        fits, rows = [], []
        for epoch in range(1, self.params["passes"] + 1):
            fits.append(damped_biases(u, i, r, *shape, 40.0 / epoch, 40.0 / epoch))
            row = {"epoch": epoch}
            if valid is not None:
                mu, bu, bi = fits[-1]
                row["val_rmse"] = rmse(valid[2], mu + bu[valid[0]] + bi[valid[1]])
            rows.append(row)
            if self.on_epoch is not None:
                self.on_epoch(row)
        self.history_ = pd.DataFrame(rows)
        best = 0 if valid is None else int(self.history_["val_rmse"].idxmin())
        self.mu_, self.bu_, self.bi_ = fits[best]
        self.best_epoch_ = best + 1
        self.net = torch.nn.ParameterDict(
            {"user_bias": torch.nn.Parameter(torch.as_tensor(self.bu_))}
        )

    def selected_params(self):
        return {**self.get_params(), "passes": self.best_epoch_, "patience": None}

    def _predict_idx(self, u, i):
        return self.mu_ + self.bu_[u] + self.bi_[i]

    def score_items(self, user_indices):
        return self.mu_ + self.bu_[user_indices][:, None] + self.bi_[None, :]


@pytest.fixture
def epoch_bias(monkeypatch):
    """``EpochBias`` registered for the test only."""
    len(MODELS)  # load the registry first: its first read reorders it
    monkeypatch.setitem(registry._CLASSES, EpochBias.name, EpochBias)
    return EpochBias


def test_a_declared_model_is_no_torch_model():
    assert not issubclass(EpochBias, TorchRecommender)  # what the tests below rely on
    require(EpochBias, "epochs")
    require(EpochBias(), "predicts_ratings")
    with pytest.raises(CapabilityError, match="does not declare num_threads"):
        require(EpochBias, "num_threads")
    with pytest.raises(CapabilityError, match=r"BiasOnly \(bias\) does not declare epochs"):
        require(MODELS["bias"], "epochs")
    with pytest.raises(ValueError, match="no capability 'flies'"):
        require(EpochBias, "flies")
    with pytest.raises(TypeError, match="not epoch-loop options"):

        class Wrong(Recommender):
            loop_options = MappingProxyType({"n_epochs": "n_epochs"})


def test_loop_options_go_under_each_models_own_keyword():
    options = {"epochs": 7, "seed": 3, "num_threads": 1}
    assert EpochBias.with_loop_options({"patience": 2}, **options) == {
        "patience": 2,
        "passes": 7,
        "seed": 3,
    }
    assert MODELS["pooled_softmax"].with_loop_options({}, **options) == {
        "max_epochs": 7,
        "seed": 3,
        "num_threads": 1,
    }
    assert MODELS["mf"].with_loop_options({}, **options) == options
    assert MODELS["bias"].with_loop_options({"reg_user": 1.0}, **options) == {"reg_user": 1.0}
    assert EpochBias.loop_values({"passes": 4, "seed": 1, "other": 0}) == {"epochs": 4, "seed": 1}
    with pytest.raises(TypeError, match="not epoch-loop options"):
        EpochBias.with_loop_options({}, passes=3)


def test_tuning_gives_a_declared_model_the_sweeps_budget(epoch_bias):
    cfg = SweepConfig(model=EpochBias.name, space={"passes": [2]}, epochs=4, patience=2, seed=9)
    model = build_model(cfg, {}, scale=(0.5, 5.0), threads=2)
    assert type(model) is EpochBias
    assert model.params == {"passes": 4, "patience": 2, "seed": 9, "progress": False}
    assert build_model(cfg, {"epochs": 6}).params["passes"] == 6  # a swept budget wins
    pooled = build_model(SweepConfig(model="pooled_softmax", space={"dim": [8]}, epochs=3), {})
    assert pooled.params["max_epochs"] == 3 and pooled.params["patience"] == 3
    mf = build_model(SweepConfig(model="mf", epochs=5), {}, threads=1).train_config
    assert (mf.epochs, mf.seed, mf.num_threads) == (5, 42, 1)
    bias = build_model(SweepConfig(model="bias", space={"reg_user": [1.0]}), {}).params
    assert not set(bias) & {"epochs", "patience", "seed", "progress"}  # takes none
    with pytest.raises(CapabilityError, match="does not declare epochs"):
        build_model(SweepConfig(model="bias", space={"reg_user": [1.0]}), {"epochs": 3})


def test_bench_peers_chooses_a_declared_models_epochs_on_validation(epoch_bias, low_rank):
    train, valid = low_rank.iloc[::2], low_rank.iloc[1::2]
    model, info = bench.fit_selected(EpochBias.name, {"passes": 8}, train, valid, seed=5)
    probe = EpochBias(passes=8).fit(train, valid)
    best = int(probe.history_.loc[probe.history_["val_rmse"].idxmin(), "epoch"])
    assert best < 8, "validation must pick an earlier epoch for the test to test"
    assert info["epochs"] == best and info["select_s"] > 0
    assert model.params == {"passes": best, "patience": None, "seed": 5, "progress": False}
    assert len(model.user_map) == len(set(low_rank["user_id"]))  # refitted on train + valid
    (entry,) = bench.peer_entries({"ours.x": (EpochBias.name, {})}, {}, seed=7, scale=(0.5, 5))
    assert entry.fixed == {"seed": 7, "progress": False} and entry.uses_validation
    (entry,) = bench.peer_entries({"ours.b": ("bias", {})}, {}, seed=7, scale=(0.5, 5))
    assert entry.fixed == {} and not entry.uses_validation


def test_a_blend_takes_any_member_declaring_ratings_and_epochs(epoch_bias, low_rank):
    members = [[EpochBias.name, {"passes": 3}], ["mf", FAST]]
    seeded = Blend.with_loop_options({"members": members}, epochs=5, seed=11)
    assert seeded["members"] == [
        [EpochBias.name, {"passes": 5, "seed": 11}],
        ["mf", {**FAST, "epochs": 5, "seed": 11}],
    ]
    blend = Blend(members).fit(low_rank.iloc[::2], low_rank.iloc[1::2])
    assert isinstance(blend.members_[0], EpochBias) and len(blend.weights_) == 3
    u, i = low_rank["user_id"], low_rank["item_id"]
    assert np.isfinite(blend.predict(u, i)).all()
    with pytest.raises(CapabilityError, match="does not declare predicts_ratings"):
        Blend([["pooled_softmax", {}]])
    with pytest.raises(ValueError, match="unknown blend member 'nope'"):
        Blend([["nope", {}]])
