"""The rules baseline's knobs chosen on validation, by the same ranking metric as the nets."""

from __future__ import annotations

import numpy as np
import pandas as pd

from recsys_utils.evaluation import grid_points
from recsys_utils.evaluation.metrics import ranking_metrics
from recsys_utils.models.rules import GenreRules


def tune(
    train: pd.DataFrame,
    valid: pd.DataFrame,
    movies: pd.DataFrame,
    grid: dict[str, list],
    tags: pd.DataFrame | None = None,
    k: int = 10,
    relevance_threshold: float | None = None,
) -> tuple[dict, pd.DataFrame]:
    """Every combination of ``grid`` (parameter -> values) scored by NDCG@k on ``valid``.

    The rules get the same chance the learned models get from early stopping: their
    knobs are chosen on validation, never on test.

    Returns:
        (the best parameters, one row per combination with precision, ndcg, coverage),
        ties going to the earlier combination.
    """
    rows, combos = [], []
    for params in grid_points(grid):
        combos.append(params)
        model = GenreRules(movies=movies, tags=tags, **params).fit(train)
        m = ranking_metrics(model, None, valid, k=k, relevance_threshold=relevance_threshold)
        rows.append(
            {**params, "precision": m["precision"], "ndcg": m["ndcg"], "coverage": m["coverage"]}
        )
    table = pd.DataFrame(rows)
    return combos[int(np.argmax(table["ndcg"].to_numpy()))], table
