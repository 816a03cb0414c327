"""An absurd embedding size is refused with a memory estimate, before anything is allocated."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from recsys_utils.models import MF, CollabFNet
from recsys_utils.training import _memory
from recsys_utils.training._memory import check_embedding_memory, embedding_bytes

GIB = 2**30


@pytest.fixture
def no_allocation(monkeypatch):
    """Any embedding table built during the test fails it loudly."""

    def refuse(*args, **kwargs):
        raise AssertionError("an embedding table was allocated")

    monkeypatch.setattr(torch.nn.Embedding, "__init__", refuse)


def test_estimate_hand_worked():
    # (1000 + 1000) rows x (99 + 1 bias) floats x 4 bytes x copies
    assert (
        embedding_bytes(1000, 1000, 99, "adamw") == 2000 * 100 * 4 * 4
    )  # weights, grad, 2 moments
    assert embedding_bytes(1000, 1000, 99, "sgd") == 2000 * 100 * 4 * 3  # weights, grad, momentum


@pytest.mark.parametrize("model_cls, key", [(MF, "n_factors"), (CollabFNet, "emb_size")])
def test_absurd_embedding_size_is_refused_before_allocating(
    model_cls, key, tiny_ratings, no_allocation
):
    # 3 users + 3 movies, width 10**12: 6 x (10**12 + 1) x 4 bytes x 4 copies = 89407.0 GiB
    model = model_cls(**{key: 10**12}, device="cpu", progress=False)
    with pytest.raises(
        ValueError,
        match=r"embedding size 1000000000000 for 3 users and 3 movies "
        r"would need about 89407\.0 GiB to train, but only "
        r"[\d.]+ GiB is available; choose a smaller size",
    ):
        model.fit(tiny_ratings)
    assert model.net is None


def test_the_limit_is_the_available_memory(monkeypatch):
    monkeypatch.setattr(_memory.psutil, "virtual_memory", lambda: SimpleNamespace(available=GIB))
    # 1000 + 1000 rows at width 99 need 3.2 MB: fine under 0.8 GiB; width 99_999 needs
    # 2000 x 100_000 x 16 = 3.2e9 bytes = 3.0 GiB: refused
    assert check_embedding_memory(1000, 1000, {"n_factors": 99}) == 3_200_000
    with pytest.raises(ValueError, match=r"about 3\.0 GiB to train, but only 1\.0 GiB"):
        check_embedding_memory(1000, 1000, {"n_factors": 99_999})
    # the largest width counts, whichever key holds it
    with pytest.raises(ValueError, match="embedding size 99999"):
        check_embedding_memory(1000, 1000, {"emb_size": 99_999, "n_factors": 4})


@pytest.mark.parametrize("size", [0, -5])
def test_non_positive_embedding_size_is_refused(size, tiny_ratings, no_allocation):
    with pytest.raises(ValueError, match=f"embedding size must be at least 1, got {size}"):
        MF(n_factors=size, device="cpu", progress=False).fit(tiny_ratings)
