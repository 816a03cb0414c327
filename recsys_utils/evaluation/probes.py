"""Checks of the blog post's claims: ranking side by side, linear probes, the RMSE ladder,
and whether nearest users in embedding space like the same movies.

- ``compare_recommenders``: precision/recall/NDCG@k and coverage (``metrics.ranking_metrics``)
  plus novelty (``metrics.novelty``) of several fitted models on one test set.
- ``probe_genres`` / ``probe_target``: cross-validated linear probes from movie vectors to
  each genre (logistic regression: accuracy, ROC AUC) and to a number (ridge: R²), each
  next to the same probe fitted on shuffled labels, which is what chance looks like.
- ``ladder``: the RMSE of each rung from an untrained net (``models.recipes.untrained``)
  to the best model, and the share of the total gain each rung brings.
- ``HistoriesInFit``: notebook 03's held-out users for models that cannot fold a new
  person in (the rules, MF, CollabFNet), an ``Experiment`` protocol whose per-user rows
  pair with the ranking run's.
- ``similar_users_overlap``: Jaccard overlap of the movies a user rated highly with those
  of their nearest users (cosine of user vectors) against random users:
  J(A, B) = |A & B| / |A | B|, 0 when both are empty.

Checkpoints are loaded by the caller (``models.recipes.load_matching``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from recsys_utils.constants import GENRES_COL, ITEM_COL, RATING_COL, RELEVANCE_THRESHOLD, USER_COL
from recsys_utils.evaluation import metrics
from recsys_utils.evaluation.experiment import (
    Context,
    StrongGeneralisation,
    _objective,
    held_out_rows,
)
from recsys_utils.metrics import report, top_k_eligible


# --- ranking ------------------------------------------------------------------------
def top_k_lists(model, user_indices, k: int = 10, chunk: int = 512, exclude=None) -> np.ndarray:
    """(n, k) item indices: each user's best ``k`` candidates (``metrics.candidate_mask``:
    not seen in training nor in ``exclude``), ties to the lower index."""
    users = np.asarray(user_indices, dtype=np.int64)
    extra = metrics.excluded_pairs(model, exclude) if exclude is not None else None
    out = np.empty((users.size, k), dtype=np.int64)
    for s in range(0, users.size, chunk):
        block = users[s : s + chunk]
        scores = np.asarray(model.score_items(block), dtype=np.float64)
        for row, user in enumerate(block):
            mask = metrics.candidate_mask(model, user, extra)
            out[s + row] = top_k_eligible(scores[row], k, ~mask)
    return out


def _ranked_users(model, test: pd.DataFrame, relevance_threshold: float | None) -> np.ndarray:
    """The users ``metrics.ranking_metrics`` averages over: known, with a known relevant item."""
    if relevance_threshold is not None:
        test = test[test[RATING_COL] >= relevance_threshold]
    u = model.user_map.encode(test[USER_COL].to_numpy())
    i = model.item_map.encode(test[ITEM_COL].to_numpy())
    return np.unique(u[(u >= 0) & (i >= 0)])


def compare_recommenders(
    models: dict,
    test: pd.DataFrame,
    k: int = 10,
    relevance_threshold: float | None = RELEVANCE_THRESHOLD,
    exclude=None,
) -> pd.DataFrame:
    """Ranking metrics, coverage and novelty of fitted models on one test set.

    Args:
        models: display name -> fitted model (all fitted on the same training table).
        test: the held-out ratings.
        k: list length.
        relevance_threshold: test ratings at or above it count as relevant (default
            ``RELEVANCE_THRESHOLD``, 4.0; None: all).
        exclude: tables whose pairs are no candidates (the validation split), as for
            ``metrics.ranking_metrics``: one candidate rule for every figure.

    Returns:
        One row per model (index: name): precision, recall, ndcg, hit_rate, coverage,
        mean_log_popularity, self_information, n_users.
    """
    rows = {}
    for name, model in models.items():
        ranking = metrics.ranking_metrics(
            model, None, test, k=k, relevance_threshold=relevance_threshold, exclude=exclude
        )
        users = _ranked_users(model, test, relevance_threshold)
        topk = top_k_lists(model, users, k, exclude=exclude)
        nov = metrics.novelty(topk, model.item_counts_, n_users=len(model.user_map))
        rows[name] = (
            {key: ranking[key] for key in ("precision", "recall", "ndcg", "hit_rate", "coverage")}
            | nov
            | {"n_users": ranking["n_users"]}
        )
    return pd.DataFrame.from_dict(rows, orient="index")


# --- linear probes ----------------------------------------------------------------------
def genre_labels(item_ids, movies: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """(n_items, n_genres) 0/1 matrix for raw ``item_ids`` and the genre names (sorted)."""
    lists = movies.set_index(ITEM_COL)[GENRES_COL].reindex(np.asarray(item_ids))
    lists = [g if isinstance(g, list) else [] for g in lists]
    names = sorted({g for gs in lists for g in gs})
    col = {g: c for c, g in enumerate(names)}
    labels = np.zeros((len(lists), len(names)), dtype=np.int8)
    for row, gs in enumerate(lists):
        labels[row, [col[g] for g in gs]] = 1
    return labels, names


def _probe_classifier(x, y, folds, seed, c):
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    clf = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000))
    cv = StratifiedKFold(folds, shuffle=True, random_state=seed)
    prob = cross_val_predict(clf, x, y, cv=cv, method="predict_proba")[:, 1]
    return float(np.mean((prob >= 0.5) == y)), float(roc_auc_score(y, prob))


def probe_genres(
    vectors: np.ndarray,
    labels: np.ndarray,
    names: list[str],
    folds: int = 5,
    seed: int = 0,
    min_positive: int = 20,
    c: float = 1.0,
) -> pd.DataFrame:
    """Logistic-regression probe from vectors to each genre, and the same on shuffled labels.

    Genres with fewer than ``min_positive`` (or ``folds``) positives or negatives are
    skipped. The shuffled probe permutes the movies' label rows once (seeded).

    Returns:
        One row per genre: genre, n_positive, majority_accuracy, accuracy, auc,
        accuracy_shuffled, auc_shuffled.
    """
    x = np.asarray(vectors, dtype=np.float64)
    labels = np.asarray(labels)
    if x.shape[0] != labels.shape[0]:
        raise ValueError(f"{x.shape[0]} vectors but {labels.shape[0]} label rows")
    shuffled = labels[np.random.default_rng(seed).permutation(labels.shape[0])]
    rows = []
    for g, name in enumerate(names):
        y, n_pos = labels[:, g], int(labels[:, g].sum())
        if min(n_pos, y.size - n_pos) < max(min_positive, folds):
            continue
        acc, auc = _probe_classifier(x, y, folds, seed, c)
        acc_s, auc_s = _probe_classifier(x, shuffled[:, g], folds, seed, c)
        rows.append(
            {
                "genre": name,
                "n_positive": n_pos,
                "majority_accuracy": max(n_pos, y.size - n_pos) / y.size,
                "accuracy": acc,
                "auc": auc,
                "accuracy_shuffled": acc_s,
                "auc_shuffled": auc_s,
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "genre",
            "n_positive",
            "majority_accuracy",
            "accuracy",
            "auc",
            "accuracy_shuffled",
            "auc_shuffled",
        ],
    )


def probe_target(vectors: np.ndarray, y, folds: int = 5, seed: int = 0, alpha: float = 1.0) -> dict:
    """Cross-validated ridge R² from vectors to ``y``, and on a seeded shuffle of ``y``."""
    from sklearn.linear_model import Ridge
    from sklearn.metrics import r2_score
    from sklearn.model_selection import KFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = np.asarray(vectors, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.shape[0] != y.size:
        raise ValueError(f"{x.shape[0]} vectors but {y.size} targets")
    reg = make_pipeline(StandardScaler(), Ridge(alpha=alpha))
    cv = KFold(folds, shuffle=True, random_state=seed)
    y_s = y[np.random.default_rng(seed).permutation(y.size)]
    return {
        "r2": float(r2_score(y, cross_val_predict(reg, x, y, cv=cv))),
        "r2_shuffled": float(r2_score(y_s, cross_val_predict(reg, x, y_s, cv=cv))),
    }


def probe_model(
    model,
    train: pd.DataFrame,
    movies: pd.DataFrame,
    min_ratings: int = 10,
    folds: int = 5,
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """All probes of a torch model's movie vectors, on movies with >= ``min_ratings`` ratings.

    Returns:
        (genre probes as ``probe_genres``, a frame indexed by target — mean_rating,
        log_popularity — with r2 and r2_shuffled).
    """
    from recsys_utils.embeddings.vectors import extract

    emb = extract(model)
    stats = train.groupby(ITEM_COL)[RATING_COL].agg(["size", "mean"]).reindex(emb.item_ids)
    keep = stats["size"].fillna(0).to_numpy() >= max(min_ratings, 1)
    x, ids, stats = emb.item[keep], emb.item_ids[keep], stats[keep]
    labels, names = genre_labels(ids, movies)
    genres = probe_genres(x, labels, names, folds=folds, seed=seed)
    targets = {
        "mean_rating": stats["mean"].to_numpy(),
        "log_popularity": np.log(stats["size"].to_numpy()),
    }
    reg = pd.DataFrame(
        {t: probe_target(x, y, folds=folds, seed=seed) for t, y in targets.items()}
    ).T
    return genres, reg


# --- the RMSE ladder ----------------------------------------------------------------------
def ladder(models: dict, test: pd.DataFrame) -> pd.DataFrame:
    """Test RMSE/MAE of each rung in the given order, and each rung's share of the gain.

    ``share_of_gain`` is (RMSE of the previous rung - this RMSE) / (first RMSE - last
    RMSE); the shares of all rungs after the first sum to 1.
    """
    rows = {name: metrics.rating_metrics(m, test) for name, m in models.items()}
    table = pd.DataFrame.from_dict(rows, orient="index")[["rmse", "mae"]]
    total = table["rmse"].iloc[0] - table["rmse"].iloc[-1]
    gain = -table["rmse"].diff()
    table["share_of_gain"] = gain / total if total else np.nan
    table["times_better_than_first"] = table["rmse"].iloc[0] / table["rmse"]
    return table


# --- similar users ------------------------------------------------------------------------
def liked_items(ratings: pd.DataFrame, threshold: float) -> dict[int, set]:
    """user_id -> the set of movies they rated at or above ``threshold``."""
    liked = ratings[ratings[RATING_COL] >= threshold]
    return {int(u): set(g.tolist()) for u, g in liked.groupby(USER_COL)[ITEM_COL]}


def jaccard(a: set, b: set) -> float:
    """|a & b| / |a | b|, 0 for two empty sets."""
    union = len(a | b)
    return len(a & b) / union if union else 0.0


def similar_users_overlap(
    model, ratings: pd.DataFrame, users, k: int = 10, threshold: float = 4.0, seed: int = 0
) -> pd.DataFrame:
    """Per user: mean Jaccard of liked movies with their ``k`` nearest users vs ``k`` random.

    Args:
        model: a fitted torch model (user vectors from ``embeddings.nearest_users``).
        ratings: where "liked" is read (rating >= ``threshold``).
        users: raw user ids to query (known to the model).
        seed: draws the random users (never the user themself).

    Returns:
        One row per user: user_id, n_liked, neighbour_jaccard, random_jaccard.
    """
    from recsys_utils.embeddings.vectors import nearest_users

    liked = liked_items(ratings, threshold)
    rng = np.random.default_rng(seed)
    pool = model.user_map.ids
    rows = []
    for user in users:
        near = nearest_users(model, int(user), k)[USER_COL].to_numpy()
        others = pool[pool != user]
        rand = rng.choice(others, size=min(k, others.size), replace=False)
        mine = liked.get(int(user), set())
        rows.append(
            {
                USER_COL: int(user),
                "n_liked": len(mine),
                "neighbour_jaccard": np.mean(
                    [jaccard(mine, liked.get(int(v), set())) for v in near]
                ),
                "random_jaccard": np.mean([jaccard(mine, liked.get(int(v), set())) for v in rand]),
            }
        )
    return pd.DataFrame(rows)


# --- claim 1 on the ranking protocol ------------------------------------------------------
def fold_table(ratings: pd.DataFrame, split) -> pd.DataFrame:
    """What every claim-1 contender is fitted on: all ratings of ``split``'s training
    users, plus each held-out user's own ratings of their history movies (validation and
    test users alike; their targets and other ratings are left out).

    ``split``: an ``evaluation.ranking_protocol.RankingSplit``.
    """
    parts = [ratings[ratings[USER_COL].isin(split.train_users)]]
    for held in (split.valid, split.test):
        h = held.history.tocoo()
        pairs = pd.DataFrame({USER_COL: held.users[h.row], ITEM_COL: split.items[h.col]})
        parts.append(ratings.merge(pairs, on=[USER_COL, ITEM_COL], how="inner"))
    return pd.concat(parts, ignore_index=True)


def held_out_rest(ratings: pd.DataFrame, held, items) -> pd.DataFrame:
    """A held-out group's ratings that are not in its history (targets, low ratings):
    the early-stopping table for validation users."""
    h = held.history.tocoo()
    hist = pd.DataFrame({USER_COL: held.users[h.row], ITEM_COL: np.asarray(items)[h.col]})
    mine = ratings[ratings[USER_COL].isin(held.users)]
    flag = mine.merge(hist.assign(_h=True), on=[USER_COL, ITEM_COL], how="left")["_h"]
    return mine[flag.isna().to_numpy()]


def held_out_scores(model, held, items) -> np.ndarray:
    """(n_held_out_users, n_items) scores of a model fitted on ``fold_table``, the columns
    in the split's catalogue order ``items`` (a catalogue movie the model lacks gets -inf,
    a held-out user it lacks raises)."""
    users = model.user_map.encode(np.asarray(held.users))
    if (users < 0).any():
        raise ValueError(f"{int((users < 0).sum())} held-out users are not in the model")
    cols = model.item_map.encode(np.asarray(items))
    scores = np.asarray(model.score_items(users), dtype=np.float64)
    out = np.full((users.size, cols.size), -np.inf)
    out[:, cols >= 0] = scores[:, cols[cols >= 0]]
    return out


def held_out_report(model, held, items) -> dict:
    """``metrics.report`` of a fold-table model on a held-out group: full
    ranking over the catalogue, the history excluded, relevance = the targets."""
    return report(held_out_scores(model, held, items), held.targets, held.history)


# --- the held-out users, for models that cannot fold a new person in ---------------------
@dataclass
class _FoldContext(Context):
    valid_rest: pd.DataFrame | None = None  # early stopping: validation users' other ratings


@dataclass(frozen=True)
class HistoriesInFit(StrongGeneralisation):
    """``StrongGeneralisation``'s split, for models that must be trained on a person to rank
    for them (the rules, MF, CollabFNet): an ``Experiment`` protocol.

    Each model is fitted on ``fold_table`` (the training users' ratings plus every held-out
    user's own ratings of their history movies, never a target) and ranks the catalogue
    for a held-out user as a known one, the history excluded. The test users, their
    targets and the exclusions are ``StrongGeneralisation``'s with the same settings and
    seed, so its per-user rows pair user by user with a ranking run's (notebook 03's);
    only the way the history reaches the model differs (in the fit, not folded in).
    Choices read the validation users' NDCG@100; a model that declares
    ``uses_validation`` stops early on the validation users' other ratings
    (``held_out_rest``).
    """

    name: str = "strong_generalisation, histories in fit"

    def context(self, split, ratings: pd.DataFrame, seed: int) -> Context:
        """The fit table (histories in, targets out) and the split without its test part."""
        rest = held_out_rest(ratings, split.valid, split.items)
        return _FoldContext(
            seed, self, replace(split, test=None), fold_table(ratings, split), {}, rest
        )

    def fit(self, model, ctx: _FoldContext, uses_validation: bool = True):
        if uses_validation and model.capabilities.uses_validation:
            return model.fit(ctx.train, ctx.valid_rest)
        return model.fit(ctx.train)

    def validate(self, model, ctx: Context, uses_validation: bool = True) -> float:
        va = ctx.split.valid
        return _objective(held_out_scores(model, va, ctx.split.items), va)

    def test(self, name: str, f, split, seed: int, exp):
        """The test users, scored once as known users; their targets read by the metrics only."""
        scores = held_out_scores(f.model, split.test, split.items)
        u, run = held_out_rows(name, seed, f, scores, split.test, exp.metrics)
        return u, run, [], None
