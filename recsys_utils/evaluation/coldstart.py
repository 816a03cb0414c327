"""Item cold start: movies held out of training entirely, then ranked for the users who liked them.

The protocol, per seed (`cold_start_split`):

1. Positives are ratings >= ``threshold`` (4 stars). Movies with at least
   ``min_positives`` positives are eligible.
2. A seeded permutation of the eligible movies gives ``test_frac`` of them as cold test
   movies, then ``valid_frac`` as cold validation movies (disjoint; hyperparameters are
   chosen on the validation movies only).
3. Every rating of a cold movie, test or validation, whatever its value, leaves the
   training table: a model never sees a cold movie's id.
4. For each share, the users who liked one of its movies and kept at least one training
   positive (a model needs something to know them by) get the movies they liked as
   targets; users with no training positive are dropped and counted.

The scoring (`cold_start_report`) ranks, for each such user, (a) ``"cold"``: the share's
cold movies only, and (b) ``"catalogue"``: every movie with a training rating plus the
share's cold movies, the user's training positives excluded (as the strong-generalisation
protocol excludes the history). Recall@k (hits / min(k, n_targets)) and NDCG@k
(``recsys_utils.metrics``) come per user, so intervals over users and paired tests can be
computed from the rows.

Features are the release's (``data.features``): a held-out movie keeps the tags users put
on it, which a movie new to the catalogue would not have yet; no rating of it is used.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys_utils.constants import ITEM_COL, RATING_COL, RELEVANCE_THRESHOLD, USER_COL
from recsys_utils.metrics import per_user

TEST_FRAC = 0.1
VALID_FRAC = 0.1
MIN_POSITIVES = 5
CUTOFF = 20
CANDIDATES = ("cold", "catalogue")
USER_CHUNK = 1024  # users scored at once: bounds the dense score block

# scorer(users, items) -> (len(users), len(items)) scores; higher ranks first
Scorer = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass
class ColdItems:
    """One held-out share of movies and the users who liked them (rows align).

    Attributes:
        items: raw ids of the cold movies, sorted; the columns of ``targets``.
        users: raw ids of the users scored, sorted.
        targets: CSR (n_users, n_items) 0/1, the cold movies each user liked.
    """

    items: np.ndarray
    users: np.ndarray
    targets: sp.csr_matrix

    def __len__(self) -> int:
        return len(self.users)


@dataclass
class ColdStartSplit:
    """Training ratings without any cold movie, and the test and validation shares."""

    train: pd.DataFrame
    test: ColdItems
    valid: ColdItems
    seed: int
    threshold: float = RELEVANCE_THRESHOLD
    stats: dict = field(default_factory=dict)

    def part(self, name: str) -> ColdItems:
        """``"test"`` or ``"valid"``."""
        if name not in ("test", "valid"):
            raise ValueError(f"part must be 'test' or 'valid', not {name!r}")
        return self.test if name == "test" else self.valid

    def positives(self) -> pd.DataFrame:
        """The training positives (user_id, item_id), de-duplicated."""
        pos = self.train.loc[self.train[RATING_COL] >= self.threshold, [USER_COL, ITEM_COL]]
        return pos.drop_duplicates()

    def catalogue(self, name: str) -> np.ndarray:
        """Raw ids ranked in the ``"catalogue"`` table: every movie with a training rating
        plus the share's cold movies, sorted."""
        return np.union1d(self.train[ITEM_COL].unique(), self.part(name).items)


def check_no_leak(split: ColdStartSplit) -> None:
    """Raise ``AssertionError`` if a cold movie has a training rating or the shares overlap."""
    leaked = np.intersect1d(
        split.train[ITEM_COL].unique(), np.union1d(split.test.items, split.valid.items)
    )
    if leaked.size:
        raise AssertionError(f"cold movies in the training ratings: {leaked[:10].tolist()}")
    shared = np.intersect1d(split.test.items, split.valid.items)
    if shared.size:
        raise AssertionError(f"movies both cold test and cold validation: {shared[:10].tolist()}")


def _share(pos: pd.DataFrame, items: np.ndarray, train_users: np.ndarray, name: str, stats):
    liked = pos[pos[ITEM_COL].isin(items)]
    known = liked[USER_COL].isin(train_users)
    stats[f"{name}_dropped_users"] = int(liked.loc[~known, USER_COL].nunique())
    liked = liked[known]
    users = np.sort(liked[USER_COL].unique())
    targets = sp.csr_matrix(
        (
            np.ones(len(liked), np.float32),
            (pd.Index(users).get_indexer(liked[USER_COL]), np.searchsorted(items, liked[ITEM_COL])),
        ),
        shape=(users.size, items.size),
    )
    stats[f"{name}_users"] = int(users.size)
    stats[f"{name}_target_positives"] = int(targets.nnz)
    return ColdItems(items, users, targets)


def cold_start_split(
    ratings: pd.DataFrame,
    *,
    test_frac: float = TEST_FRAC,
    valid_frac: float = VALID_FRAC,
    min_positives: int = MIN_POSITIVES,
    threshold: float = RELEVANCE_THRESHOLD,
    seed: int = 0,
) -> ColdStartSplit:
    """Hold cold test and cold validation movies out of training (see the module docstring).

    Args:
        ratings: the tidy ratings table.
        test_frac, valid_frac: shares of the eligible movies held out (at least one each).
        min_positives: a movie is eligible with at least this many positives.
        threshold: a rating at or above it is a positive.
        seed: the permutation of the eligible movies.
    """
    pos = ratings.loc[ratings[RATING_COL] >= threshold, [USER_COL, ITEM_COL]].drop_duplicates()
    counts = pos[ITEM_COL].value_counts()
    eligible = np.sort(counts.index[counts >= min_positives].to_numpy())
    n_test = max(1, int(round(test_frac * eligible.size)))
    n_valid = max(1, int(round(valid_frac * eligible.size)))
    if n_test + n_valid >= eligible.size:
        raise ValueError(
            f"only {eligible.size} movies have {min_positives} positives: too few to hold "
            f"out {n_test} test and {n_valid} validation movies"
        )
    order = eligible[np.random.default_rng(seed).permutation(eligible.size)]
    test_items, valid_items = np.sort(order[:n_test]), np.sort(order[n_test : n_test + n_valid])
    cold = np.union1d(test_items, valid_items)
    train = ratings[~ratings[ITEM_COL].isin(cold)].reset_index(drop=True)
    train_users = np.unique(train.loc[train[RATING_COL] >= threshold, USER_COL])
    stats = {
        "n_eligible": int(eligible.size),
        "n_test_items": int(n_test),
        "n_valid_items": int(n_valid),
        "n_train_ratings": len(train),
        "n_train_items": int(train[ITEM_COL].nunique()),
    }
    split = ColdStartSplit(
        train=train,
        test=_share(pos, test_items, train_users, "test", stats),
        valid=_share(pos, valid_items, train_users, "valid", stats),
        seed=seed,
        threshold=threshold,
        stats=stats,
    )
    check_no_leak(split)
    return split


def _user_rows(pos: pd.DataFrame, users: np.ndarray, items: np.ndarray) -> sp.csr_matrix:
    """CSR (n_users, n_items) 0/1 of ``pos`` pairs among ``users`` x ``items``."""
    r = pd.Index(users).get_indexer(pos[USER_COL])
    c = pd.Index(items).get_indexer(pos[ITEM_COL])
    keep = (r >= 0) & (c >= 0)
    return sp.csr_matrix(
        (np.ones(int(keep.sum()), np.float32), (r[keep], c[keep])), shape=(users.size, items.size)
    )


def cold_start_report(
    split: ColdStartSplit, scorer: Scorer, *, part: str = "test", k: int = CUTOFF
) -> pd.DataFrame:
    """Recall@k and NDCG@k per user of a share, under both candidate sets.

    Args:
        split: a `cold_start_split`.
        scorer: ``scorer(users, items)`` -> (len(users), len(items)) scores for raw ids;
            it is asked about the share's users only and sees no target.
        part: ``"test"`` or ``"valid"`` (choose hyperparameters on ``"valid"``).
        k: the cut-off.

    Returns:
        One row per user and candidate set (``evaluation.stats``' per-user layout): user
        (raw id), candidates (``"cold"`` or
        ``"catalogue"``), n_candidates, n_targets, ``recall@k``, ``ndcg@k``.
    """
    share = split.part(part)
    catalogue = split.catalogue(part)
    liked = split.positives()
    frames = []
    for lo in range(0, len(share), USER_CHUNK):
        users = share.users[lo : lo + USER_CHUNK]
        targets = share.targets[lo : lo + USER_CHUNK]
        cold_scores = np.asarray(scorer(users, share.items), dtype=np.float64)
        all_scores = np.asarray(scorer(users, catalogue), dtype=np.float64)
        cols = np.searchsorted(catalogue, share.items)
        all_targets = sp.csr_matrix(
            (targets.data, cols[targets.indices], targets.indptr),
            shape=(users.size, catalogue.size),
        )
        history = _user_rows(liked, users, catalogue)
        for name, scores, t, exclude in (
            ("cold", cold_scores, targets, None),
            ("catalogue", all_scores, all_targets, history),
        ):
            values = per_user(scores, t, exclude, (f"recall@{k}", f"ndcg@{k}"))
            frames.append(
                pd.DataFrame(
                    {
                        "user": users,
                        "candidates": name,
                        "n_candidates": scores.shape[1],
                        "n_targets": np.diff(t.indptr),
                        **values,
                    }
                )
            )
    rows = pd.concat(frames, ignore_index=True)
    order = pd.Categorical(rows["candidates"], CANDIDATES)
    return rows.assign(candidates=order).sort_values(["candidates", "user"], kind="stable")
