"""``metrics.rating``: RMSE and MAE worked by hand, limit cases and bad inputs."""

from __future__ import annotations

import math

import pytest

from recsys_utils.metrics import mae, rmse


def test_identical_inputs_have_zero_error():
    assert rmse([1.0, 3.5, 5.0], [1.0, 3.5, 5.0]) == 0.0
    assert mae([1.0, 3.5, 5.0], [1.0, 3.5, 5.0]) == 0.0


def test_rmse_and_mae_hand_examples():
    # errors -1, 0, 1: squared mean 2/3, absolute mean 2/3
    assert rmse([1, 2, 3], [2, 2, 2]) == pytest.approx(math.sqrt(2 / 3), abs=1e-12)
    assert mae([1, 2, 3], [2, 2, 2]) == pytest.approx(2 / 3, abs=1e-12)
    # errors 3 and 4: squared mean 12.5, absolute mean 3.5
    assert rmse([0, 0], [3, 4]) == pytest.approx(math.sqrt(12.5), abs=1e-12)
    assert mae([0, 0], [3, 4]) == pytest.approx(3.5, abs=1e-12)


@pytest.mark.parametrize("func", [rmse, mae])
@pytest.mark.parametrize("a, b", [([1, 2], [1, 2, 3]), ([], [])])
def test_unequal_or_empty_inputs_are_refused(func, a, b):
    with pytest.raises(ValueError, match="equal, non-empty"):
        func(a, b)
