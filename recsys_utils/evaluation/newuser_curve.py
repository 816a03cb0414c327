"""'The more movies you rate, the better it knows you', on the ranking protocol.

The strong-generalisation split (``ranking_protocol``) holds test users out of training;
each is given to the models with the first n = 1, 2, 5, 10, 20 movies of one seeded
permutation of their history (the movies they liked, rated >= 4) and scored on the same
20% targets at every n, the whole history excluded from the ranking (so only the input
changes). Any model takes part through a *scorer*: a function from an n-movie history
matrix to a score matrix over the split's catalogue.

- a ranking model scores the liked movies as a new person's query
  (``model.score(Queries.from_matrix(liked * 5.0))``);
- a rating model (MF, bias-only, ...) fitted on the training users' ratings folds each
  user in (``recommend.fold_in``) from their own ratings of those n movies, then scores
  the catalogue with its own scorer (``rating_model_scorer``);
- popularity ignores the input (``popularity_scorer``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys_utils.constants import ITEM_COL, RATING_COL, USER_COL
from recsys_utils.evaluation.ranking_protocol import HeldOut, RankingSplit
from recsys_utils.metrics import per_user, report

_CURVE_METRICS = ("ndcg@10", "recall@20", "ndcg@100")  # each n's row, in this order

Scorer = Callable[[sp.csr_matrix], np.ndarray]
UNKNOWN = -1e30  # a score no movie the model does not know can beat
LIKED = 5.0  # the rating a 0/1 "liked" cell is given to a ranking model


def popularity_scorer(split: RankingSplit) -> Scorer:
    """Scores by the number of training users who liked each movie, whatever the input."""
    counts = np.asarray(split.train.sum(0), dtype=np.float64).ravel()
    return lambda history: np.broadcast_to(counts, (history.shape[0], counts.size)).copy()


def ranking_model_scorer(model) -> Scorer:
    """A ranking model scoring the given movies as a new person's liked movies (each 0/1
    cell given as ``LIKED`` stars, at or above any model's threshold), as the experiment
    scores its test users."""
    from recsys_utils.models.base import Queries

    return lambda history: model.score(Queries.from_matrix(history * LIKED))


def rating_model_scorer(
    model, ratings: pd.DataFrame, held: HeldOut, items: np.ndarray, **fold_kw
) -> Scorer:
    """A rating model folded in per user from their own ratings of the history's movies.

    Args:
        model: fitted on the training users' ratings (it has never seen ``held``'s users).
        ratings: the ratings table the history movies' ratings are read from.
        held: the held-out users whose rows the history matrices hold.
        items: the split's catalogue (raw ids), the columns of every matrix.
        **fold_kw: passed to ``recommend.fold_in`` (``reg``, ...).
    """
    from recsys_utils.recommend.foldin import fold_in, score_folded

    columns = model.item_map.encode(np.asarray(items))
    mine = ratings[ratings[USER_COL].isin(held.users)]
    given = mine.set_index([USER_COL, ITEM_COL])[RATING_COL]

    def score(history: sp.csr_matrix) -> np.ndarray:
        out = np.full(history.shape, UNKNOWN)
        for row, user in enumerate(held.users):
            movies = items[history.indices[history.indptr[row] : history.indptr[row + 1]]]
            pairs = [(m, given[(user, m)]) for m in movies if model.item_map.encode([m])[0] >= 0]
            if not pairs:
                continue
            scores = score_folded(model, fold_in(model, pairs, **fold_kw))
            known = columns >= 0
            out[row, known] = scores[columns[known]]
        return out

    return score


def new_user_curve(
    scorers: Mapping[str, Scorer],
    held: HeldOut,
    ns=(1, 2, 5, 10, 20),
    seed: int = 0,
    rest: bool = False,
) -> pd.DataFrame:
    """NDCG@10 and Recall@20 per model and n: one row per (model, n).

    Columns: model, n, ndcg@10, recall@20, ndcg@100, n_capped (users with fewer than n
    history movies, who give all they have). With ``rest``, also rest_ndcg@10 and
    rest_recall@20 from the same scores on another convention: every held-out positive
    not given is a target and only the n given are excluded (targets grow as n shrinks;
    for comparison with figures measured that way, not the protocol), and the two
    conventions again on the users who can give every n (``full_`` columns: history of at
    least max(ns) movies, none capped; ``n_full`` of them), the only users who are "the
    same users at every n" in the strict sense.
    """
    rows = []
    sizes = np.diff(held.history.indptr)  # history movies per user
    full = sizes >= max(ns)  # the users who can give every n
    everything = (held.history + held.targets).tocsr()
    for n in ns:
        history = held.subset_history(n, seed)  # one permutation per user, nested inputs
        if rest:
            others = (everything - history).tocsr()  # the "rest" targets, the same per model
            others.eliminate_zeros()
        for name, scorer in scorers.items():
            scores = scorer(history)
            row = {
                "model": name,
                "n": n,
                **report(scores, held.targets, held.history, _CURVE_METRICS),
                "n_capped": int((sizes < n).sum()),
            }
            if rest:
                wide = report(scores, others, history, ("ndcg@10", "recall@20"))
                row |= {"rest_ndcg@10": wide["ndcg@10"], "rest_recall@20": wide["recall@20"]}
            if rest and full.any():
                row |= {
                    "full_ndcg@10": report(
                        scores[full], held.targets[full], held.history[full], ("ndcg@10",)
                    )["ndcg@10"],
                    "full_rest_ndcg@10": report(
                        scores[full], others[full], history[full], ("ndcg@10",)
                    )["ndcg@10"],
                    "n_full": int(full.sum()),
                }
            rows.append(row)
    return pd.DataFrame(rows)


def new_user_rows(
    scorers: Mapping[str, Scorer],
    held: HeldOut,
    ns=(1, 2, 5, 10, 20),
    seed: int = 0,
    metrics=("ndcg@10", "recall@20"),
) -> pd.DataFrame:
    """The per-user terms of ``new_user_curve`` (same inputs, targets and exclusions), for
    paired tests between models at each n (``evaluation.stats``).

    Returns:
        One row per model, n and held-out user with a target: ``seed``, ``model``, ``n``,
        ``user`` and one column per metric; their means per (model, n) are the curve's.
    """
    out = []
    for n in ns:
        history = held.subset_history(n, seed)
        for name, scorer in scorers.items():
            vals = per_user(scorer(history), held.targets, held.history, metrics)
            frame = pd.DataFrame({"seed": seed, "model": name, "n": n, "user": held.users, **vals})
            out.append(frame.dropna(subset=list(metrics)))
    return pd.concat(out, ignore_index=True)


def training_ratings(ratings: pd.DataFrame, split: RankingSplit) -> pd.DataFrame:
    """Every rating of the split's training users (what a rating model is fitted on)."""
    return ratings[ratings[USER_COL].isin(split.train_users)]
