"""IdMap: raw MovieLens ids <-> contiguous indices, with -1 for ids never seen."""

from __future__ import annotations

import numpy as np
import pytest

from recsys_utils.data.encoding import UNKNOWN, IdMap


@pytest.fixture
def id_map() -> IdMap:
    # duplicates and any order in; sorted unique ids out: 10 -> 0, 20 -> 1, 30 -> 2
    return IdMap.from_values([30, 10, 20, 10, 30])


def test_from_values_sorts_and_deduplicates(id_map):
    assert id_map.to_list() == [10, 20, 30]
    assert len(id_map) == 3


def test_encode_decode_round_trip(id_map):
    raw = np.array([20, 30, 10, 20])
    idx = id_map.encode(raw)
    assert idx.tolist() == [1, 2, 0, 1]
    assert idx.dtype == np.int64
    assert id_map.decode(idx).tolist() == raw.tolist()


def test_scalar_encodes_to_one_element_array(id_map):
    assert id_map.encode(30).tolist() == [2]


@pytest.mark.parametrize("unknown", [5, 15, 99])  # below the smallest, between, above the largest
def test_unknown_ids_encode_to_minus_one(id_map, unknown):
    assert id_map.encode([10, unknown, 30]).tolist() == [0, UNKNOWN, 2]
    assert UNKNOWN == -1
    assert unknown not in id_map
    assert 20 in id_map


def test_strict_encoding_raises_naming_the_first_unknown_id(id_map):
    with pytest.raises(KeyError, match="unknown id 15"):
        id_map.encode([10, 15, 99], strict=True)
    assert id_map.encode([10, 30], strict=True).tolist() == [0, 2]


def test_empty_map_knows_nothing():
    empty = IdMap.from_values([])
    assert len(empty) == 0
    assert empty.encode([1, 2]).tolist() == [UNKNOWN, UNKNOWN]
    with pytest.raises(KeyError, match="unknown id 1"):
        empty.encode([1], strict=True)


def test_list_round_trip_and_order_check(id_map):
    assert IdMap.from_list(id_map.to_list()).to_list() == [10, 20, 30]
    with pytest.raises(ValueError, match="strictly increasing"):
        IdMap.from_list([10, 30, 20])
    with pytest.raises(ValueError, match="strictly increasing"):
        IdMap.from_list([10, 10])


def test_index_of_one_id_names_what_is_unknown():
    from recsys_utils.data.encoding import IdMap

    m = IdMap.from_values([30, 10, 20])
    assert m.index(20, "movie") == 1
    with pytest.raises(KeyError, match="unknown movie 99"):
        m.index(99, "movie")
