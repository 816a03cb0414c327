"""Our ranking model on implicit feedback: a new user needs no gradient step.

It is a ``history.HistoryRecommender`` (scores are a function of the movies a person
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

Length: about 300 lines: the model and its training loop (full and sampled softmax,
early stopping, the EASE-initialised tables) belong together.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys_utils.metrics import report
from recsys_utils.models.base import Capabilities
from recsys_utils.models.history import HistoryRecommender
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
class PooledSoftmax(HistoryRecommender):
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
    stop there). History ``seconds`` are per epoch, as in ``training.loop``.
    ``device``: "auto" (CUDA where available), "cpu", "cuda"...; the tables are exported
    to numpy for scoring either way. ``progress``: a tqdm bar over epochs. An
    ``on_epoch`` attribute (callable) gets each history row, as the torch models do.
    """

    name = "pooled_softmax"
    capabilities = Capabilities(uses_validation=True, objective="val_ndcg@100")
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

    def fit_matrix(self, X, valid_history=None, valid_targets=None):
        import torch
        from tqdm.auto import tqdm

        from recsys_utils.training.loop import resolve_device
        from recsys_utils.training.ranking_net import PooledNet

        p = self.params
        if p["num_threads"]:
            torch.set_num_threads(p["num_threads"])
        dev = resolve_device(p["device"])
        torch.manual_seed(p["seed"])
        rng = np.random.default_rng(p["seed"])
        X = X.tocsr().astype(np.float32)
        n_users, n_items = X.shape
        counts = np.asarray(X.sum(0)).ravel()
        w = np.maximum(counts, 1.0) ** (-p["freq_beta"])
        self.item_w_ = w / w.mean()
        logq = np.log(np.maximum(counts, 1.0) / max(counts.sum(), 1.0))
        q = np.exp(logq) / np.exp(logq).sum()
        lq = torch.from_numpy(logq.astype(np.float32)).to(dev)
        t0 = time.perf_counter()  # fit time includes the EASE solve and SVD of init="ease"
        net = PooledNet(n_items, p["dim"], p["hidden"], tie=p["tie"])
        if p["init"] != "normal":
            self._ease_init(X, net)
        net = net.to(dev)
        opt = torch.optim.AdamW(net.parameters(), lr=p["lr"], weight_decay=p["weight_decay"])
        has_valid = valid_history is not None and valid_targets is not None
        history, best, best_state, best_epoch, epoch = [], -1.0, None, 0, 0
        on_epoch = getattr(self, "on_epoch", None)

        def tensor(a, dtype):
            return torch.from_numpy(np.ascontiguousarray(a, dtype=dtype)).to(dev)

        if has_valid and p["init"] != "normal":  # epoch 0: the initial tables may be best
            self._export(net)
            best = report(
                self.score_history(valid_history), valid_targets, valid_history, ("ndcg@100",)
            )["ndcg@100"]
            best_state = {k: t.detach().clone() for k, t in net.state_dict().items()}
            history.append(
                {
                    "epoch": 0,
                    "loss": float("nan"),
                    "seconds": time.perf_counter() - t0,
                    "val_ndcg@100": best,
                }
            )
        bar = tqdm(
            range(1, p["max_epochs"] + 1),
            desc=type(self).__name__,
            unit="epoch",
            disable=not p["progress"],
            leave=False,
        )
        for epoch in bar:
            t_epoch = time.perf_counter()
            net.train()
            order = rng.permutation(n_users)
            tot, nb = torch.zeros((), device=dev), 0
            for s in range(0, n_users, p["batch_size"]):
                B = X[order[s : s + p["batch_size"]]]
                if B.nnz == 0:
                    continue
                keep = (rng.random(B.nnz) >= p["dropout"]).astype(np.float64)
                wts = self._row_weights(B.indptr, B.indices, keep)
                seg = np.repeat(np.arange(B.shape[0]), np.diff(B.indptr))
                inp = keep > 0
                offs = np.concatenate(
                    [[0], np.cumsum(np.bincount(seg[inp], minlength=B.shape[0]))[:-1]]
                )
                tmask = ~inp if p["target"] == "dropped" else np.ones(B.nnz, bool)
                t_rows = tensor(seg[tmask], np.int64)
                t_cols = tensor(B.indices[tmask], np.int64)
                z = net.user(
                    tensor(B.indices[inp], np.int64),
                    tensor(offs, np.int64),
                    tensor(wts[inp], np.float32),
                )
                if p["loss"] == "full":
                    lsm = torch.log_softmax(z @ net.out_weight().T + net.out_bias, 1)
                    loss = -lsm[t_rows, t_cols].sum() / B.shape[0]
                else:  # sampled softmax, negatives shared by the batch, log-Q corrected
                    neg = tensor(rng.choice(n_items, p["n_negatives"] or 2048, p=q), np.int64)
                    out = net.out_weight()
                    pos = (z[t_rows] * out[t_cols]).sum(1) + net.out_bias[t_cols] - lq[t_cols]
                    negl = z @ out[neg].T + net.out_bias[neg] - lq[neg]
                    # log(sum_neg e^l + e^pos) per positive, from one logsumexp per user
                    lse = torch.logaddexp(torch.logsumexp(negl, 1)[t_rows], pos)
                    loss = (lse - pos).sum() / B.shape[0]
                opt.zero_grad()
                loss.backward()
                opt.step()
                tot, nb = tot + loss.detach(), nb + 1
            rec = {
                "epoch": epoch,
                "loss": float(tot) / max(nb, 1),
                "seconds": time.perf_counter() - t_epoch,
            }
            if has_valid and (epoch % p["eval_every"] == 0 or epoch == p["max_epochs"]):
                self._export(net)
                v = report(
                    self.score_history(valid_history), valid_targets, valid_history, ("ndcg@100",)
                )["ndcg@100"]
                rec["val_ndcg@100"] = v
                if v > best:
                    best, best_epoch = v, epoch
                    best_state = {k: t.detach().clone() for k, t in net.state_dict().items()}
                bar.set_postfix(val_ndcg100=f"{v:.4f}", refresh=False)
            history.append(rec)
            if on_epoch is not None:
                on_epoch(rec)
            if (
                has_valid
                and p["patience"] is not None
                and epoch >= p["min_epochs"]
                and epoch - best_epoch >= p["patience"]
            ):
                break
        bar.close()
        if best_state is not None:
            net.load_state_dict(best_state)
        self._export(net)
        self.history_ = pd.DataFrame(history)
        self.best_epoch_ = best_epoch if has_valid and best_state is not None else epoch
        self.best_val_ndcg100_ = float(best)
        self.fit_seconds_ = time.perf_counter() - t0
        self.device_ = str(dev)
        return self

    def _export(self, net):
        """numpy copies for fold-in and scoring (no autograd, no dropout); these are
        what checkpoints save, so there is no ``net`` to rebuild."""
        self.W_in_ = net.inp.weight.detach().cpu().numpy().copy()
        self.b_in_ = net.in_bias.detach().cpu().numpy().copy()
        self.W_out_ = net.out_weight().detach().cpu().numpy().copy()
        self.b_out_ = net.out_bias.detach().cpu().numpy().copy()

    def fold_in(self, H: sp.csr_matrix) -> np.ndarray:
        """User vectors for 0/1 history rows: the pooling only, no gradient step."""
        H = H.tocsr()
        w = self._row_weights(H.indptr, H.indices).astype(np.float32)
        z = np.asarray(sp.csr_matrix((w, H.indices, H.indptr), shape=H.shape) @ self.W_in_)
        if self.params["hidden"] == "tanh":
            z = np.tanh(z + self.b_in_)
        return z

    def score_history(self, H):
        return self.fold_in(H) @ self.W_out_.T + self.b_out_

    def selected_params(self) -> dict:
        """Refit without validation: the epochs early stopping chose."""
        out = self.get_params()
        if getattr(self, "best_epoch_", None) is not None:
            out["max_epochs"] = int(self.best_epoch_)
        return out
