"""Strong-generalisation split for top-N ranking (Liang et al. 2018, "VAE for CF").

Held-out users are removed from training entirely; each gives a *history* (the
fold-in input a new user would type) and *targets* (the items that are scored).
Everything is returned as CSR matrices over one item index: the catalogue is the
set of items with at least one positive among training users.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys_utils.constants import ITEM_COL, RATING_COL, USER_COL


@dataclass
class HeldOut:
    """Held-out users: raw ids, history and target matrices (rows align)."""

    users: np.ndarray  # raw user ids
    history: sp.csr_matrix  # (n_users, n_items) 0/1, fold-in input
    targets: sp.csr_matrix  # (n_users, n_items) 0/1, scored items

    def __len__(self) -> int:
        return len(self.users)

    def subset_history(self, n: int, seed: int) -> sp.csr_matrix:
        """First ``n`` items of a seeded permutation of each history (all if shorter)."""
        rng = np.random.default_rng(seed)
        rows, cols = [], []
        for r in range(self.history.shape[0]):
            items = self.history.indices[self.history.indptr[r] : self.history.indptr[r + 1]]
            take = np.sort(items)[rng.permutation(items.size)][:n]
            rows.append(np.full(take.size, r))
            cols.append(take)
        rows, cols = np.concatenate(rows), np.concatenate(cols)
        return sp.csr_matrix(
            (np.ones(rows.size, np.float32), (rows, cols)), shape=self.history.shape
        )


@dataclass
class RankingSplit:
    train: sp.csr_matrix  # (n_train_users, n_items) 0/1 positives
    train_users: np.ndarray  # raw ids, row order of ``train``
    items: np.ndarray  # raw item ids, column order everywhere
    valid: HeldOut
    test: HeldOut
    seed: int
    stats: dict = field(default_factory=dict)

    @property
    def n_items(self) -> int:
        return len(self.items)


def _csr(rows, cols, shape) -> sp.csr_matrix:
    m = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=shape)
    m.sum_duplicates()
    m.data[:] = 1.0
    return m


def strong_generalization_split(
    ratings: pd.DataFrame,
    n_test: int = 100,
    n_valid: int = 100,
    seed: int = 0,
    threshold: float = 4.0,
    min_positives: int = 5,
    history_frac: float = 0.8,
) -> RankingSplit:
    """Split users into train / validation / test; held-out users into history / targets.

    Positives are ratings >= ``threshold``; users with fewer than ``min_positives``
    positives are dropped. A seeded permutation of the remaining users gives
    ``n_test`` test users, then ``n_valid`` validation users, the rest train (only their
    positives are used). For a held-out user, positives on items unseen in training
    are dropped first (counted in ``stats``), then ``round((1 - history_frac) * n)``
    of the rest (at least 1) are drawn as targets and the others form the history;
    users left with fewer than 2 positives are dropped (counted).
    """
    pos = ratings.loc[ratings[RATING_COL] >= threshold, [USER_COL, ITEM_COL]]
    pos = pos.drop_duplicates()
    counts = pos[USER_COL].value_counts()
    users = np.sort(counts.index[counts >= min_positives].to_numpy())
    if len(users) <= n_test + n_valid:
        raise ValueError(f"only {len(users)} eligible users for {n_test}+{n_valid} held out")
    rng = np.random.default_rng(seed)
    users = users[rng.permutation(len(users))]
    test_u, valid_u, train_u = (
        users[:n_test],
        users[n_test : n_test + n_valid],
        users[n_test + n_valid :],
    )
    train_u = np.sort(train_u)

    tr = pos[pos[USER_COL].isin(train_u)]
    items = np.sort(tr[ITEM_COL].unique())
    item_index = pd.Index(items)
    user_index = pd.Index(train_u)
    train = _csr(
        user_index.get_indexer(tr[USER_COL]),
        item_index.get_indexer(tr[ITEM_COL]),
        (len(train_u), len(items)),
    )
    stats = {
        "n_train_users": len(train_u),
        "n_items": len(items),
        "n_train_positives": int(train.nnz),
    }

    def held_out(raw_users, name):
        sub = pos[pos[USER_COL].isin(raw_users)]
        col = item_index.get_indexer(sub[ITEM_COL])
        stats[f"{name}_dropped_unseen_items"] = int((col < 0).sum())
        sub, col = sub[col >= 0], col[col >= 0]
        by_user = dict(tuple(pd.Series(col, index=sub[USER_COL].to_numpy()).groupby(level=0)))
        kept, h_rows, h_cols, t_rows, t_cols = [], [], [], [], []
        for u in raw_users:  # permutation order, deterministic
            its = np.sort(by_user[u].to_numpy()) if u in by_user else np.array([], int)
            if its.size < 2:
                continue
            n_t = max(1, int(round((1.0 - history_frac) * its.size)))
            perm = rng.permutation(its.size)
            r = len(kept)
            kept.append(u)
            t_cols.append(its[perm[:n_t]])
            t_rows.append(np.full(n_t, r))
            h_cols.append(its[perm[n_t:]])
            h_rows.append(np.full(its.size - n_t, r))
        stats[f"{name}_dropped_users"] = len(raw_users) - len(kept)
        shape = (len(kept), len(items))
        h = _csr(np.concatenate(h_rows), np.concatenate(h_cols), shape)
        t = _csr(np.concatenate(t_rows), np.concatenate(t_cols), shape)
        stats[f"{name}_history_positives"] = int(h.nnz)
        stats[f"{name}_target_positives"] = int(t.nnz)
        return HeldOut(np.asarray(kept), h, t)

    valid = held_out(valid_u, "valid")
    test = held_out(test_u, "test")
    return RankingSplit(train, train_u, items, valid, test, seed, stats)


def new_user_histories(held: HeldOut, ns=(1, 2, 5, 10, 20), seed: int = 0) -> dict:
    """{n: history CSR with the first n items of one seeded permutation per user}.

    One permutation per user is shared by all n, so the inputs are nested (n=1 is a
    prefix of n=2, ...). Targets are unchanged; users with fewer than n history
    items give their whole history (``n_capped`` in the result says how many).
    """
    out = {}
    for n in ns:
        h = held.subset_history(n, seed)  # same rng seed -> same permutation for all n
        out[n] = h
    return out
