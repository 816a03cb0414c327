"""Small builders shared by several test files (imported as ``from helpers import ...``)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def ratings_table(pairs, ordered_timestamps: bool = False) -> pd.DataFrame:
    """A tidy ratings table from (user, movie, rating) triples.

    Timestamps are all 0, or 0, 1, 2, ... in row order with ``ordered_timestamps``.
    """
    u, i, r = zip(*pairs, strict=True)
    ts = np.arange(len(u)) if ordered_timestamps else np.zeros(len(u))
    return pd.DataFrame(
        {
            "user_id": np.array(u, dtype="int32"),
            "item_id": np.array(i, dtype="int32"),
            "rating": np.array(r, dtype="float32"),
            "timestamp": ts.astype("int64"),
        }
    )
