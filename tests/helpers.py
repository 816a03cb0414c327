"""Small builders shared by several test files (imported as ``from helpers import ...``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from recsys_utils.constants import ITEM_COL, RATING_COL, USER_COL


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


# Small, fast training settings for tests of the torch models.
FAST = {
    "epochs": 4,
    "batch_size": 64,
    "lr": 0.02,
    "seed": 0,
    "progress": False,
    "device": "cpu",
    "num_threads": 1,
}


def small_net(cls, dim: int, **over) -> dict:
    """``FAST`` with ``over`` and embeddings of size ``dim`` for a rating net (a class that
    declares ``predicts_ratings`` and the ``epochs`` loop option); {} for any other model."""
    if "epochs" not in cls.loop_options or not cls.capabilities.predicts_ratings:
        return {}
    sizes = {key: dim for key in ("n_factors", "emb_size") if key in cls.net_defaults}
    return {**FAST, **over, **sizes}


def table(users, items, ratings) -> pd.DataFrame:
    """A tidy ratings table from three equal-length columns (no timestamps)."""
    return pd.DataFrame(
        {
            USER_COL: np.asarray(users, dtype=np.int32),
            ITEM_COL: np.asarray(items, dtype=np.int32),
            RATING_COL: np.asarray(ratings, dtype=np.float32),
        }
    )


def default_sigint() -> None:
    """``preexec_fn`` for a child the test will Ctrl-C: SIGINT back to its default.

    A shell running the tests in the background (or CI) may start them with SIGINT
    ignored, and an ignored signal stays ignored across exec: Python would then never
    raise KeyboardInterrupt in the child, and the test would wait for nothing.
    """
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


def folder_state(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder under ``folder``: relative path -> (size, mtime in ns), a
    folder as (-1, 0); {} when ``folder`` does not exist."""
    if not folder.is_dir():
        return {}
    state = {}
    for path in folder.rglob("*"):
        st = path.stat()
        state[path.relative_to(folder).as_posix()] = (
            (-1, 0) if path.is_dir() else (st.st_size, st.st_mtime_ns)
        )
    return state


def written_between(before: dict, after: dict) -> list[str]:
    """The paths created or changed from one ``folder_state`` to the next, sorted."""
    return sorted(p for p, s in after.items() if before.get(p) != s)


def side_features():
    """Content features for ids 1..199 (two genre columns and a year one, cycling)."""
    import scipy.sparse as sp

    from recsys_utils.data.features import MovieFeatures

    ids = np.arange(1, 200)
    dense = np.zeros((ids.size, 3), dtype=np.float32)
    dense[np.arange(ids.size), ids % 3] = 1.0
    return MovieFeatures(
        matrix=sp.csr_matrix(dense),
        item_ids=ids,
        names=np.array(["genre:A", "genre:B", "year:unknown"]),
        kinds=np.array(["genre", "genre", "year"]),
        no_features=ids % 3 == 2,
    )


def genre_world():
    """(features, ratings) for the hybrid's tests: movies 1-10 and 21 genre A, 11-20 and
    22 genre B, all from 1995; 23 has no features. Nobody rates 21-23. Users 1-20 like the
    A movies they rate (six each), users 21-40 the B ones."""
    from recsys_utils.data.features import build_features

    ids = np.arange(1, 24)
    genres = [["A"]] * 10 + [["B"]] * 10 + [["A"], ["B"], []]
    movies = pd.DataFrame(
        {
            "item_id": ids,
            "title": [f"m{i}" for i in ids],
            "year": pd.array([1995] * 22 + [None], dtype="Int64"),
            "genres": genres,
        }
    )
    rng = np.random.default_rng(0)
    pairs = []
    for u in range(1, 41):
        mine = np.arange(1, 11) if u <= 20 else np.arange(11, 21)
        pairs += [(u, int(m), 5.0) for m in rng.choice(mine, 6, replace=False)]
    return build_features(movies), ratings_table(pairs)
