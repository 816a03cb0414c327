"""The tags of a MovieLens release (``tags.csv``), fetched with the raw folder when missing."""

from __future__ import annotations

import pandas as pd

from recsys_utils.constants import ITEM_COL, TAG_COL, USER_COL, get_spec, raw_dir


def load_tags(name: str) -> pd.DataFrame | None:
    """``tags.csv`` of a release as a table user_id, item_id, tag; ``None`` if it has none.

    The raw folder is fetched (from the mirror or GroupLens) when missing.
    """
    from recsys_utils.data import download

    spec = get_spec(name)
    folder = raw_dir() / name / spec.folder
    if not folder.is_dir():
        folder = download.fetch(name)
    path = folder / "tags.csv"
    if not path.is_file():
        return None
    raw = pd.read_csv(
        path,
        dtype={"userId": "int64", "movieId": "int64", "tag": str},
        keep_default_na=False,
        usecols=["userId", "movieId", "tag"],
    )
    return pd.DataFrame(
        {
            USER_COL: raw["userId"].astype("int32"),
            ITEM_COL: raw["movieId"].astype("int32"),
            TAG_COL: raw["tag"],
        }
    )
