"""The hybrid world of the ``similar`` / ``recommend`` tests: a tiny HybridPooled and an
EASE (a model that cannot place movies nobody rated) fitted on ``helpers.genre_world``,
saved as the checkpoints ``hybrid`` and ``ease`` of the test's data folder."""

from __future__ import annotations

import pytest
from helpers import genre_world

from recsys_utils.models import checkpoints
from recsys_utils.models.ease import EASE
from recsys_utils.models.hybrid import HybridPooled

FAST = dict(dim=8, max_epochs=25, lr=0.05, batch_size=20, device="cpu", num_threads=1, seed=0)


@pytest.fixture(scope="module")
def fitted():
    features, train = genre_world()
    return features, HybridPooled(features, **FAST).fit(train), EASE().fit(train)


@pytest.fixture
def saved(data_home, fitted):
    features, hybrid, ease = fitted
    checkpoints.save(hybrid, data_home / "checkpoints" / "hybrid")
    checkpoints.save(ease, data_home / "checkpoints" / "ease")
    return features, hybrid
