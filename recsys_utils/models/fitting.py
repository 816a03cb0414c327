"""Fitting a registry model with early stopping on a random holdout of its ratings.

What the app, the commands and the benchmarks use when they train a model themselves,
so each trains it the same way.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from recsys_utils.models.registry import MODELS, make_model

# Early-stopped on 10% of the ratings (training longer overfits badly). On three draws
# of held-out users: validation RMSE 0.828-0.857 against bias-only's 0.852-0.884; l2 0.1
# beat 0.05 and 0.2 for fold-in (recommend.FOLD_IN_REG), and 64 factors did no better.
SMALL_MF = {"n_factors": 32, "epochs": 25, "lr": 0.01, "l2": 0.1, "batch_size": 1024, "patience": 3}


def fit_early_stopped(model: str, ratings: pd.DataFrame, valid_frac: float = 0.1, **params):
    """Fit a registry model on ``1 - valid_frac`` of the ratings, stopping early on the rest.

    The validation ratings are a seeded random sample (``params["seed"]``, default 42,
    also the model's seed where it takes one); MF starts from ``SMALL_MF``. Returns the
    fitted model (best epoch's weights).
    """
    kw = {**(SMALL_MF if model == "mf" else {}), **params}
    data_kw = {k: kw[k] for k in ("features",) if k in kw}  # data, not a hyperparameter
    accepted = MODELS[model](**data_kw).get_params()
    if "progress" in accepted:
        kw.setdefault("progress", False)
    rng = np.random.default_rng(kw.get("seed", 42))
    if "seed" not in accepted:  # the seed still draws the holdout
        kw.pop("seed", None)
    valid = rng.random(len(ratings)) < valid_frac
    return make_model(model, **kw).fit(ratings[~valid], ratings[valid])
