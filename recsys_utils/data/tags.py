"""The tags of a MovieLens release (``tags.csv``) and its tag genome, fetched with the raw folder.

The tag genome (ml-25m, ml-32m) is two files: ``genome-scores.csv`` (movieId, tagId,
relevance in [0, 1], one row per movie and genome tag) and ``genome-tags.csv`` (tagId, tag).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from recsys_utils.constants import (
    ITEM_COL,
    RELEVANCE_COL,
    TAG_COL,
    TAG_ID_COL,
    USER_COL,
    get_spec,
    raw_dir,
)

GENOME_SCORES_FILE = "genome-scores.csv"
GENOME_TAGS_FILE = "genome-tags.csv"


def _release_file(name: str, filename: str) -> Path | None:
    """The path of ``filename`` in a release's raw folder, or ``None`` if it has none.

    The raw folder is fetched (from the mirror or GroupLens) when missing.
    """
    from recsys_utils.data import download

    spec = get_spec(name)
    folder = raw_dir() / name / spec.folder
    if not folder.is_dir():
        folder = download.fetch(name)
    path = folder / filename
    return path if path.is_file() else None


def load_tags(name: str) -> pd.DataFrame | None:
    """``tags.csv`` of a release as a table user_id, item_id, tag; ``None`` if it has none."""
    path = _release_file(name, "tags.csv")
    if path is None:
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


def load_genome(name: str) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """The tag genome of a release, ``None`` if it has none (only ml-25m and ml-32m do).

    Returns:
        ``(scores, tags)``: scores as item_id, tag_id, relevance (int32, int32, float32);
        tags as tag_id, tag.
    """
    scores_path = _release_file(name, GENOME_SCORES_FILE)
    tags_path = _release_file(name, GENOME_TAGS_FILE)
    if scores_path is None or tags_path is None:
        return None
    scores = pd.read_csv(
        scores_path,
        dtype={"movieId": "int32", "tagId": "int32", "relevance": "float32"},
        usecols=["movieId", "tagId", "relevance"],
    ).rename(columns={"movieId": ITEM_COL, "tagId": TAG_ID_COL, "relevance": RELEVANCE_COL})
    tags = pd.read_csv(
        tags_path, dtype={"tagId": "int32", "tag": str}, keep_default_na=False
    ).rename(columns={"tagId": TAG_ID_COL, "tag": TAG_COL})
    return scores[[ITEM_COL, TAG_ID_COL, RELEVANCE_COL]], tags[[TAG_ID_COL, TAG_COL]]
