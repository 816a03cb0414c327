"""Two blends, named for what they add: ``Blend`` (ratings) and ``ZScoreBlend`` (rankings).

``Blend`` is a linear blend of the rating predictions of embedding models, its weights
fitted on the validation split; registered in ``models.MODELS`` as ``"blend"``, so
``make_model``, the CLI and checkpoints know it; members are built through that registry
(imported when needed, since ``models`` imports this module). ``ZScoreBlend`` adds the
per-person z-scores of fitted ranking models with given weights (chosen on validation
people by whoever builds it: ``bench.ranking``, the experiment).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys_utils.models.base import (
    Capabilities,
    CapabilityError,
    Queries,
    Recommender,
    require,
)
from recsys_utils.models.recipes import TUNED
from recsys_utils.models.registry import register

DEFAULT_BLEND = (
    ("implicit_mf", TUNED["implicit_mf"]),
    ("mf", TUNED["mf"]),
    ("collabfnet", TUNED["collabfnet"]),
)


@register
class Blend(Recommender):
    """A linear blend of embedding models, r = w_0 + sum_k w_k clip(r_k), weights fitted on validation.

    ``fit(train, valid)`` trains every member on ``train`` (each stops early on
    ``valid``), then fits the weights by least squares on the validation ratings: the
    validation split, never the test split, decides how much each member counts.
    With ``weights`` given, fit trains the members and keeps those weights;
    ``selected_params()`` returns the members with their chosen epochs plus the
    fitted weights, which is how ``bench`` refits on train + validation. Without
    validation ratings and weights the members are averaged. Early-stopped members
    predict too close to the mean, so the fitted weights usually sum to a little
    more than 1 with a negative intercept: the blend also stretches. Members are
    models whose classes declare ``predicts_ratings`` and the ``epochs`` loop option
    (trained epoch by epoch, with a torch module): their nets live in ``net``, an
    ``nn.ModuleList``, so checkpoints save and load them like any single net.

    Args:
        members: sequence of (model name, hyperparameters).
        weights: intercept then one weight per member, or ``None`` to fit them.
    """

    name = "blend"
    capabilities = Capabilities(predicts_ratings=True, uses_validation=True, objective="val_rmse")

    def __init__(self, members=DEFAULT_BLEND, weights=None, rating_scale=None):
        members = [[str(n), dict(p)] for n, p in members]
        if not members:
            raise ValueError("a blend needs at least one member")
        from recsys_utils.models.registry import MODELS

        for n, _ in members:
            if n not in MODELS:
                raise ValueError(f"unknown blend member {n!r}; known: {', '.join(MODELS)}")
            try:
                require(MODELS[n], "predicts_ratings")
                require(MODELS[n], "epochs")
            except CapabilityError as err:
                raise CapabilityError(
                    f"blend members predict ratings and train epoch by epoch: {err}"
                ) from None
        if weights is not None:
            weights = [float(w) for w in weights]
            if len(weights) != len(members) + 1:
                raise ValueError(
                    f"weights: expected intercept + {len(members)} weights, got {len(weights)}"
                )
        super().__init__(rating_scale=rating_scale, members=members, weights=weights)
        self.net = None

    @classmethod
    def from_members(cls, members: list, valid: pd.DataFrame) -> Blend:
        """A blend of models already fitted on the same training table; weights fitted on
        ``valid`` exactly as ``fit`` would, without training the members again."""
        first = members[0]
        same = [
            np.array_equal(m.user_map.ids, first.user_map.ids)
            and np.array_equal(m.item_map.ids, first.item_map.ids)
            for m in members
        ]
        if not all(same):
            raise ValueError("blend members must be fitted on the same training table")
        blend = cls([[m.name, m.get_params()] for m in members], rating_scale=first.rating_scale)
        blend._adopt_fit(first)
        blend.members_ = list(members)
        vu, vi, vr = blend._encode(valid)
        keep = (vu >= 0) & (vi >= 0)
        blend._set_weights((vu[keep], vi[keep], vr[keep]))
        return blend

    @classmethod
    def with_loop_options(cls, params, **options) -> dict:
        """The epoch-loop options go to every member that takes them (a blend has no
        epochs of its own): ``params`` with its members' hyperparameters updated."""
        from recsys_utils.models.registry import MODELS

        members = params.get("members", DEFAULT_BLEND)
        return {
            **params,
            "members": [[n, MODELS[n].with_loop_options(p, **options)] for n, p in members],
        }

    def _member(self, name: str, params: dict) -> Recommender:
        from recsys_utils.models.registry import make_model

        model = make_model(name, **params)
        model._adopt_fit(self)
        return model

    def build_net(self, n_users: int, n_items: int, mu: float = 0.0):
        """Build every member's net (used when loading a checkpoint)."""
        from torch import nn

        self.members_ = [self._member(n, p) for n, p in self.params["members"]]
        self.net = nn.ModuleList([m.build_net(n_users, n_items, mu) for m in self.members_])
        return self.net

    def _fit(self, u, i, r, valid):
        self.members_ = [self._member(n, p) for n, p in self.params["members"]]
        for m in self.members_:
            m._fit(u, i, r, valid)
        self._set_weights(valid)

    def _set_weights(self, valid) -> None:
        from torch import nn

        self.net = nn.ModuleList([m.net for m in self.members_])
        hists = [m.history_.assign(member=k) for k, m in enumerate(self.members_)]
        self.history_ = pd.concat(hists, ignore_index=True)
        if self.params["weights"] is not None:
            self.weights_ = np.asarray(self.params["weights"])
            return
        if valid is None or len(valid[2]) == 0:  # nothing to fit weights on: average
            self.weights_ = np.array([0.0] + [1.0 / len(self.members_)] * len(self.members_))
            return
        vu, vi, vr = valid
        x = np.column_stack([np.ones(len(vr)), *self._member_preds(vu, vi)])
        self.weights_ = np.linalg.lstsq(x, vr, rcond=None)[0]

    def _score_new(self, R, **fold_kw):
        """Each member's own fold-in, clipped and weighted as ``score_items``."""
        scores = [
            np.clip(m.score(Queries.from_matrix(R), **fold_kw), *self.rating_scale)
            for m in self.members_
        ]
        return self.weights_[0] + sum(w * s for w, s in zip(self.weights_[1:], scores, strict=True))

    def _member_preds(self, u, i) -> list[np.ndarray]:
        return [np.clip(m._predict_idx(u, i), *self.rating_scale) for m in self.members_]

    def _predict_idx(self, u, i):
        return self.weights_[0] + self.weights_[1:] @ np.stack(self._member_preds(u, i))

    def score_items(self, user_indices):
        """The function ``predict`` uses, clipping each member to the scale, so the blend
        ranks by what it predicts."""
        scores = [
            np.clip(np.asarray(m.score_items(user_indices), dtype=np.float64), *self.rating_scale)
            for m in self.members_
        ]
        return self.weights_[0] + sum(w * s for w, s in zip(self.weights_[1:], scores, strict=True))

    def selected_params(self) -> dict:
        return {
            "members": [
                [n, m.selected_params()]
                for (n, _), m in zip(self.params["members"], self.members_, strict=True)
            ],
            "weights": self.weights_.tolist(),
        }


def zscore(s: np.ndarray) -> np.ndarray:
    """Each row standardised: (s - row mean) / row std."""
    return (s - s.mean(1, keepdims=True)) / (s.std(1, keepdims=True) + 1e-12)


class ZScoreBlend(Recommender):
    """sum_m w_m z(score_m): fitted models' per-person z-scores, weighted.

    Built from members already fitted on the same training table (it shares their id maps
    and counts); a member with weight 0 is not scored. Ranks only (``predict`` is the
    fallback). New people are scored by each member's own fold-in.

    Args:
        members: fitted models.
        weights: one per member (they usually sum to 1; the caller chooses them on
            validation people).
    """

    name = "zscore_blend"
    # Not saved: it holds fitted members (each saved on its own), no arrays of its own.
    capabilities = Capabilities(predicts_ratings=False, checkpointable=False)

    def __init__(self, members, weights):
        members, weights = list(members), [float(w) for w in weights]
        if not members or len(members) != len(weights):
            raise ValueError(f"need one weight per member: {len(members)} vs {len(weights)}")
        super().__init__(rating_scale=members[0].rating_scale, weights=weights)
        self.members_ = members
        self._adopt_fit(members[0])

    def _mix(self, score) -> np.ndarray:
        pairs = zip(self.members_, self.params["weights"], strict=True)
        return sum(w * zscore(np.asarray(score(m))) for m, w in pairs if w)

    def score_items(self, user_indices):
        return self._mix(lambda m: m.score_items(user_indices))

    def _score_new(self, R: sp.csr_matrix, **fold_kw):
        return self._mix(lambda m: m.score(Queries.from_matrix(R), **fold_kw))

    def _predict_idx(self, u, i):
        return self.global_mean_ + self.fallback_user_bias_[u] + self.fallback_item_bias_[i]
