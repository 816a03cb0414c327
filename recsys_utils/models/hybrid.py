"""The hybrid embedding model: our pooled-softmax ranker whose movie vectors come from what
a movie is (``data.features``) plus, where it has training positives, its own id vector.

LightFM's idea written on our model: the user side is ``PooledSoftmax``'s (a person is the
pooled input vectors of the movies they liked; no gradient step for a new person); a
movie's output vector is the weighted sum of its feature vectors (genres, tags, year
bucket, genome: ``MovieFeatures.normalised``, each kind to unit norm, only the ``kinds``
asked for) plus its id vector (``training.hybrid_net``, with id dropout while training).
Loss, loop and early stopping are ``PooledSoftmax``'s (``training.loop.fit``).

A movie that arrives after training is scored from its features alone, by
``score_movies``: its vector is one sparse row times the feature table, no retraining.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recsys_utils.data.features import KINDS, MovieFeatures
from recsys_utils.models.base import Capabilities, Queries, Query, liked_matrix
from recsys_utils.models.ranking import PooledSoftmax
from recsys_utils.models.registry import register


@register
class HybridPooled(PooledSoftmax):
    """``PooledSoftmax`` with feature-built movie vectors (module docstring).

    Extra parameters: ``id_dropout`` (probability of hiding a movie's id vector in a
    training batch), ``use_id`` (``False``: features only), ``kinds`` (feature kinds
    used; all by default). The optimiser is dense (``adamw``/``adam``/``sgd``): the
    feature table is shared by every movie. ``features`` is data, not a parameter.
    """

    name = "hybrid_pooled"
    capabilities = Capabilities(
        uses_validation=True, objective="val_ndcg@100", checkpointable=False
    )
    DEFAULTS = {**PooledSoftmax.DEFAULTS, "id_dropout": 0.5, "use_id": True, "kinds": None}

    def __init__(self, features: MovieFeatures, rating_scale=None, threshold: float = 4.0,
                 **params):  # fmt: skip
        if params.get("kinds") is not None:
            params["kinds"] = tuple(params["kinds"])
            unknown = set(params["kinds"]) - set(KINDS)
            if unknown:
                raise ValueError(f"unknown feature kinds {sorted(unknown)}; known: {KINDS}")
        if str(params.get("optimizer", "adamw")).startswith("sparse"):
            raise ValueError("hybrid_pooled trains with a dense optimiser (adamw, adam, sgd)")
        super().__init__(rating_scale, threshold, **params)
        self.features = features

    def _feature_rows(self, item_ids) -> sp.csr_matrix:
        """The weighted feature rows of raw movie ids (an empty row for an unknown id)."""
        rows = self.features.rows(np.asarray(item_ids))
        F = self.table_[np.maximum(rows, 0)]
        return sp.csr_matrix(sp.diags((rows >= 0).astype(np.float32)) @ F)

    def _net(self, n_items: int):
        from recsys_utils.training.hybrid_net import HybridNet

        F = self.features.normalised()
        if self.params["kinds"] is not None:
            keep = np.isin(self.features.kinds, self.params["kinds"]).astype(np.float32)
            F = sp.csr_matrix(F @ sp.diags(keep))
            F.eliminate_zeros()
        self.table_ = F.tocsr()
        B = self._feature_rows(self.item_map.decode(np.arange(n_items)))
        p = self.params
        return HybridNet(n_items, p["dim"], p["hidden"], F.shape[1], B.indices,
                         B.indptr[:-1], B.data, id_dropout=p["id_dropout"],
                         use_id=p["use_id"])  # fmt: skip

    def _export(self, net):
        import torch

        super()._export(net)
        with torch.no_grad():
            w, b = net.item_tables(drop=False)
        self.W_out_ = w.cpu().numpy().copy()
        self.b_out_ = b.cpu().numpy().copy()
        self.F_out_ = net.feat.weight.detach().cpu().numpy().copy()
        self.F_bias_ = net.feat_bias.detach().cpu().numpy()[:, 0].copy()

    def movie_vectors(self, item_ids) -> tuple[np.ndarray, np.ndarray]:
        """(vectors, biases) of raw movie ids: a training movie's own; any other movie's
        from its features alone (zero for a movie the feature table lacks)."""
        ids = np.asarray(item_ids)
        idx = self.item_map.encode(ids)
        F = self._feature_rows(ids)
        vec, bias = np.asarray(F @ self.F_out_), np.asarray(F @ self.F_bias_)
        warm = idx >= 0
        vec[warm], bias[warm] = self.W_out_[idx[warm]], self.b_out_[idx[warm]]
        return vec, bias

    def score_movies(self, queries: Queries | Query, item_ids) -> np.ndarray:
        """Scores of the given raw movie ids, rated in training or not: (n, len(item_ids)),
        or (len(item_ids),) for one ``Query``. A movie the feature table lacks and training
        never saw scores -inf."""
        single = isinstance(queries, Query)
        q = queries.queries() if single else queries
        if q.is_known:
            H = self.liked()[self._user_indices(q.users)]
        else:
            H = liked_matrix(q.ratings_matrix(self.item_map), self.params["threshold"])
        vec, bias = self.movie_vectors(item_ids)
        out = self.fold_in(H) @ vec.T + bias
        ids = np.asarray(item_ids)
        out[:, (self.features.rows(ids) < 0) & (self.item_map.encode(ids) < 0)] = -np.inf
        return out[0] if single else out
