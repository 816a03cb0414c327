"""Raw MovieLens ids <-> contiguous indices, the form embedding tables need.

Policy for ids never seen in training (one place, used by every model): ``encode``
returns ``-1`` for them and the model contract (``models.Recommender.predict``)
gives those pairs the documented fallback prediction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

UNKNOWN = -1


@dataclass(frozen=True)
class IdMap:
    """A sorted array of raw ids; index ``i`` stands for ``ids[i]``."""

    ids: np.ndarray

    @classmethod
    def from_values(cls, values) -> IdMap:
        """Build from any iterable of raw ids (duplicates allowed)."""
        ids = np.unique(np.asarray(values, dtype=np.int64))
        return cls(ids)

    def __len__(self) -> int:
        return int(self.ids.size)

    def encode(self, values, strict: bool = False) -> np.ndarray:
        """Raw ids to indices (int64); unknown ids become ``UNKNOWN`` (-1).

        Args:
            values: raw ids, scalar or array-like.
            strict: raise ``KeyError`` naming the first unknown id instead.
        """
        try:
            values = np.atleast_1d(np.asarray(values, dtype=np.int64))
        except OverflowError:  # an id past int64 (2**67) is no id of ours: unknown
            objs = np.atleast_1d(np.asarray(values, dtype=object))
            fits = np.array([-(2**63) <= int(v) < 2**63 for v in objs], dtype=bool)
            if strict:
                raise KeyError(f"unknown id {int(objs[~fits][0])}") from None
            out = np.full(objs.shape, UNKNOWN, dtype=np.int64)
            out[fits] = self.encode(objs[fits].astype(np.int64))
            return out
        pos = np.searchsorted(self.ids, values)
        pos_clipped = np.minimum(pos, max(len(self.ids) - 1, 0))
        found = (
            (pos < len(self.ids)) & (self.ids[pos_clipped] == values)
            if len(self.ids)
            else (np.zeros(values.shape, dtype=bool))
        )
        if strict and not found.all():
            raise KeyError(f"unknown id {int(values[~found][0])}")
        return np.where(found, pos_clipped, UNKNOWN).astype(np.int64)

    def index(self, raw_id, what: str = "id") -> int:
        """The index of one raw id; ``KeyError`` naming ``what`` ("movie", "user") and the
        id when it was not in the training data."""
        idx = int(self.encode([raw_id])[0])
        if idx < 0:
            raise KeyError(f"unknown {what} {raw_id}: not in the model's training data")
        return idx

    def decode(self, indices) -> np.ndarray:
        """Indices back to raw ids."""
        return self.ids[np.asarray(indices, dtype=np.int64)]

    def __contains__(self, value) -> bool:
        return bool(self.encode([value])[0] != UNKNOWN)

    def to_list(self) -> list[int]:
        return [int(x) for x in self.ids]

    @classmethod
    def from_list(cls, ids: list[int]) -> IdMap:
        arr = np.asarray(ids, dtype=np.int64)
        if arr.size and np.any(np.diff(arr) <= 0):
            raise ValueError("id map must be strictly increasing")
        return cls(arr)
