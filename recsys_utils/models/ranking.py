"""Our ranking model on implicit feedback: a new user needs no gradient step.

It is a ``liked.LikedRecommender`` (scores are a function of the movies a person
liked). ``PooledSoftmax`` (ours): a user is the normalised sum of input embeddings of the
movies they like (``nn.EmbeddingBag``), optionally through one tanh layer (Mult-DAE,
Liang et al. 2018, with the encoder written as an embedding bag); scores are a dot
product with an output item table plus an item bias. Training: minibatches of users,
each user's positive set is the input (with input dropout) and the target, multinomial
log-likelihood over the full catalogue (``loss="full"``) or a sampled softmax with the
log-Q correction (``loss="sampled"``, ``n_negatives`` shared per batch, default 2048);
AdamW; early stopping on validation NDCG@100 (every ``eval_every`` epochs); per-epoch
history, ``on_epoch`` callback and tqdm bar as in ``training.loop``; seeded; ``device``
(CUDA where available with "auto"). Fold-in is the pooling itself, in numpy.
"""

from __future__ import annotations

import time
from types import MappingProxyType

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys_utils.metrics import report
from recsys_utils.models._liked import LikedRecommender
from recsys_utils.models.base import LOOP_OPTIONS, Capabilities
from recsys_utils.models.registry import register


def randomized_svd(A: np.ndarray, k: int, seed: int = 0, oversample: int = 20, n_iter: int = 2):
    """Rank-``k`` truncated SVD by a randomised range finder (Halko et al. 2011) with
    ``n_iter`` power iterations: U (n, k), S (k,), Vt (k, m). Exact when k reaches rank."""
    rng = np.random.default_rng(seed)
    n, m = A.shape
    if k + oversample >= min(n, m):
        U, S, Vt = np.linalg.svd(A, full_matrices=False)
        return U[:, :k], S[:k], Vt[:k]
    A = np.asarray(A, dtype=np.float32)
    Q = np.linalg.qr(A @ rng.standard_normal((m, k + oversample), dtype=np.float32))[0]
    for _ in range(n_iter):
        Q = np.linalg.qr(A.T @ Q)[0]
        Q = np.linalg.qr(A @ Q)[0]
    Ub, S, Vt = np.linalg.svd(Q.T @ A, full_matrices=False)
    return (Q @ Ub)[:, :k], S[:k], Vt[:k]


@register
class PooledSoftmax(LikedRecommender):
    """Embedding-bag Mult-DAE. ``pool``: "sqrt" (L2-normalised input, as Mult-DAE) or
    "mean"; ``hidden``: "linear" or "tanh"; ``freq_beta`` weights an input movie by
    count^-beta before normalising; ``target``: "full" (all positives) or "dropped"
    (only those dropped from the input).

    ``init``: "normal" (std 0.01); "ease": the input and output tables start from a
    rank-``dim`` truncated SVD of EASE's B (``ease_lam``), B ~ (U S^1/2)(V S^1/2)^T,
    scaled by ``init_scale``, then fine-tuned (EASE-initialised); "ease_dual": they start
    from EASE's exact dual tables (``models.ease.dual_tables``, one dimension per training
    user, the rest zero; needs ``dim`` >= the training users), so before fine-tuning a new
    user's ranking is EASE's exactly. ``tie``: one table for
    input and output (weight tying). Validation NDCG@100 is computed every
    ``eval_every`` epochs; early stopping after ``patience`` epochs without a better one,
    never before ``min_epochs`` (validation NDCG often dips for the first ten or so epochs,
    while the tables leave popularity, before it climbs: a short patience would otherwise
    stop there). History ``seconds`` are per epoch, as in ``training.loop``, which runs
    the epochs (``training.pooled`` is the step). ``optimizer``: "adamw" updates every
    row of both tables each batch; "sparse_adam" only the rows a batch touches (lazy
    Adam, the faster one at scale: ``bench scale --model pooled_softmax``).
    ``device``: "auto" (CUDA where available), "cpu", "cuda"...; the tables are exported
    to numpy for scoring either way. ``progress``: a tqdm bar over epochs. An
    ``on_epoch`` attribute (callable) gets each history row, as the torch models do.
    """

    name = "pooled_softmax"
    capabilities = Capabilities(uses_validation=True, objective="val_ndcg@100")
    loop_options = MappingProxyType({k: k for k in LOOP_OPTIONS} | {"epochs": "max_epochs"})
    best_epoch_: int | None = None  # the epoch early stopping chose (set by fit)
    DEFAULTS = dict(
        dim=600,
        hidden="linear",
        pool="sqrt",
        dropout=0.5,
        freq_beta=0.0,
        target="full",
        lr=1e-3,
        weight_decay=0.0,
        batch_size=128,
        max_epochs=200,
        patience=20,
        min_epochs=20,
        eval_every=1,
        loss="full",
        n_negatives=None,
        init="normal",
        ease_lam=200.0,
        init_scale=1.0,
        tie=False,
        optimizer="adamw",
        seed=0,
        device="auto",
        num_threads=2,
        progress=False,
    )

    def __init__(self, rating_scale=None, threshold: float = 4.0, **params):
        unknown = set(params) - set(self.DEFAULTS)
        if unknown:
            raise TypeError(f"unknown parameters for pooled_softmax: {sorted(unknown)}")
        if not 0.0 <= params.get("dropout", 0.5) < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {params['dropout']}")
        if int(params.get("min_epochs", 0)) < 0:
            raise ValueError(f"min_epochs must be >= 0, got {params['min_epochs']}")
        if params.get("init", "normal") not in ("normal", "ease", "ease_dual"):
            raise ValueError(
                f"init must be 'normal', 'ease' or 'ease_dual', got {params['init']!r}"
            )
        super().__init__(rating_scale, threshold, **{**self.DEFAULTS, **params})

    def _row_weights(self, indptr, indices, keep=None):
        f = self.item_w_[indices]
        seg = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
        if self.params["pool"] == "mean":
            norm = np.bincount(seg, f, minlength=len(indptr) - 1)
        else:
            norm = np.sqrt(np.bincount(seg, f * f, minlength=len(indptr) - 1))
        w = f / np.maximum(norm, 1e-12)[seg]
        if keep is not None:
            w = w * keep / (1.0 - self.params["dropout"])
        return w

    def _ease_init(self, X, net):
        """Input/output tables from EASE: a truncated SVD of its B (init="ease") or its exact
        dual tables (init="ease_dual"); see the class docstring."""
        import torch

        from recsys_utils.models.ease import dual_tables, ease_weights, gram

        n_users, n_items = X.shape
        W_in, W_out = np.zeros((2, n_items, self.params["dim"]))
        if self.params["init"] == "ease_dual":
            if self.params["dim"] < n_users:
                raise ValueError(
                    f"init='ease_dual' needs dim >= the {n_users} training users, "
                    f"got dim={self.params['dim']}"
                )
            D_in, D_out = dual_tables(X, self.params["ease_lam"])
            r = self.params["init_scale"]
            W_in[:, :n_users], W_out[:, :n_users] = D_in * r, D_out * r
        else:
            B = ease_weights(gram(X), self.params["ease_lam"])
            k = min(self.params["dim"], B.shape[0])
            U, S, Vt = randomized_svd(B, k, self.params["seed"])
            r = np.sqrt(S) * self.params["init_scale"]
            W_in[:, :k], W_out[:, :k] = U[:, :k] * r, Vt[:k].T * r
        with torch.no_grad():
            net.inp.weight.copy_(torch.from_numpy(W_in))
            if not self.params["tie"]:
                net.out.weight.copy_(torch.from_numpy(W_out))

    def _fit_liked(self, X, valid_liked=None, valid_targets=None):
        import torch

        from recsys_utils.training.loop import TrainConfig, fit, resolve_device
        from recsys_utils.training.pooled import PooledStep

        p = self.params
        dev = resolve_device(p["device"])
        torch.manual_seed(p["seed"])
        X = X.tocsr().astype(np.float32)
        w = np.maximum(np.asarray(X.sum(0)).ravel(), 1.0) ** (-p["freq_beta"])
        self.item_w_ = w / w.mean()
        t0 = time.perf_counter()  # fit time includes the EASE solve and SVD of init="ease"
        net = self._net(X.shape[1])
        if p["init"] != "normal":
            self._ease_init(X, net)
        net = net.to(dev)

        def validate(net):
            self._export(net)
            scores = self._score_liked(valid_liked)
            ndcg = report(scores, valid_targets, valid_liked, ("ndcg@100",))["ndcg@100"]
            return {"val_ndcg@100": ndcg}

        has_valid = valid_liked is not None and valid_targets is not None
        step = PooledStep(
            X,
            self._row_weights,
            **{k: p[k] for k in ("batch_size", "dropout", "target", "loss", "n_negatives")},
            device=dev,
            validate=validate if has_valid else None,
            validate_at_start=p["init"] != "normal",  # the initial tables may be best
        )
        cfg = TrainConfig(
            epochs=max(1, p["max_epochs"]),
            **{k: p[k] for k in ("batch_size", "lr", "weight_decay", "optimizer", "patience")},
            **{k: p[k] for k in ("min_epochs", "eval_every", "seed", "progress")},
            num_threads=p["num_threads"] or None,
        )
        if p["max_epochs"] > 0:
            hist = fit(net, step, cfg, on_epoch=self.on_epoch, desc=type(self).__name__)
        else:  # the starting tables (a refit at the best epoch 0)
            hist = pd.DataFrame(columns=["epoch", step.loss_column, *step.columns, "lr", "seconds"])
            hist.attrs.update(best_epoch=None, best=None)
        self._export(net)
        self.history_ = hist
        best_epoch = hist.attrs["best_epoch"]
        last = int(hist["epoch"].iloc[-1]) if len(hist) else 0
        self.best_epoch_ = best_epoch if best_epoch is not None else last
        self.best_val_ndcg100_ = float(hist.attrs["best"]) if best_epoch is not None else -1.0
        self.fit_seconds_ = time.perf_counter() - t0
        self.device_ = str(dev)

    def _net(self, n_items: int):
        """The torch net trained for ``n_items`` movies (a subclass may build another)."""
        from recsys_utils.training.ranking_net import PooledNet

        p = self.params
        return PooledNet(n_items, p["dim"], p["hidden"], tie=p["tie"])

    def _export(self, net):
        """numpy copies for fold-in and scoring (no autograd, no dropout); these are
        what checkpoints save, so there is no ``net`` to rebuild."""
        self.W_in_ = net.inp.weight.detach().cpu().numpy().copy()
        self.b_in_ = net.in_bias.detach().cpu().numpy().copy()
        self.W_out_ = net.out_weight().detach().cpu().numpy().copy()
        self.b_out_ = net.out_bias.detach().cpu().numpy().copy()

    def fold_in(self, H: sp.csr_matrix) -> np.ndarray:
        """User vectors for 0/1 rows of liked movies: the pooling only, no gradient step."""
        H = H.tocsr()
        w = self._row_weights(H.indptr, H.indices).astype(np.float32)
        z = np.asarray(sp.csr_matrix((w, H.indices, H.indptr), shape=H.shape) @ self.W_in_)
        if self.params["hidden"] == "tanh":
            z = np.tanh(z + self.b_in_)
        return z

    def embedding_tables(self) -> tuple | None:
        """Each movie's output vector o_i and bias c_i; a training user's vector is the
        pooling of the movies they liked (``fold_in``)."""
        tables = {
            "user": np.asarray(self.fold_in(self.liked()), dtype=np.float64),
            "item": np.asarray(self.W_out_, dtype=np.float64),
            "user_bias": None,
            "item_bias": np.asarray(self.b_out_, dtype=np.float64),
            "mu": None,
        }
        return id(self.W_out_), tables

    def _score_liked(self, H):
        return self.fold_in(H) @ self.W_out_.T + self.b_out_

    def selected_params(self) -> dict:
        """Refit without validation: the epochs early stopping chose."""
        out = self.get_params()
        if self.best_epoch_ is not None:
            out["max_epochs"] = int(self.best_epoch_)
        return out
