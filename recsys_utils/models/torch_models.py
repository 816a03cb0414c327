"""The torch embedding models: the contract's ``Recommender`` trained by ``training.train``.

``TorchRecommender`` builds a module from ``nets`` and trains it; ``MF``, ``CollabFNet``
and ``ImplicitMF`` pick the net and its defaults (the settings chosen on the validation
split are ``models.recipes.TUNED``). ``models`` re-exports everything here and registers the models
(``from recsys_utils.models import MF`` works).
"""

from __future__ import annotations

import dataclasses
from types import MappingProxyType

import numpy as np

from recsys_utils.models import _foldin
from recsys_utils.models.base import LOOP_OPTIONS, Capabilities, Recommender
from recsys_utils.models.registry import register
from recsys_utils.training import nets


class TorchRecommender(Recommender):
    """An embedding model trained by ``training.train``; subclasses build the net.

    Training hyperparameters (epochs, batch_size, lr, weight_decay, l2, optimizer,
    schedule, patience, seed, device, num_threads, progress) are keyword arguments,
    passed to ``training.TrainConfig``; the rest go to the net.
    """

    capabilities = Capabilities(predicts_ratings=True, uses_validation=True, objective="val_rmse")
    loop_options = MappingProxyType({k: k for k in LOOP_OPTIONS})  # TrainConfig's own names
    net_class: type | None = None
    net_defaults: dict = {}

    def __init__(self, **kw):
        from recsys_utils.training.loop import TrainConfig

        train_fields = TrainConfig.__dataclass_fields__
        scale = kw.pop("rating_scale", None)
        net_kw = {k: kw.pop(k) for k in list(kw) if k in self.net_defaults}
        unknown = set(kw) - set(train_fields)
        if unknown:
            raise TypeError(f"{type(self).__name__} got unknown parameters {sorted(unknown)}")
        self.net_params = {**self.net_defaults, **net_kw}
        self.train_config = TrainConfig(**kw)
        super().__init__(
            rating_scale=scale, **self.net_params, **dataclasses.asdict(self.train_config)
        )
        self.net = None

    def build_net(self, n_users: int, n_items: int, mu: float = 0.0):
        """Create the module (weights initialised from ``seed``) on the chosen device."""
        import torch

        from recsys_utils.training import check_embedding_memory
        from recsys_utils.training.loop import resolve_device

        check_embedding_memory(n_users, n_items, self.net_params, self.train_config.optimizer)
        torch.manual_seed(self.train_config.seed)
        self.device = resolve_device(self.train_config.device)
        self.net = self.net_class(
            n_users, n_items, mu=mu, **self.net_params, **self._net_inputs()
        ).to(self.device)
        return self.net

    def _net_inputs(self) -> dict:
        """Extra constructor arguments derived from fitted attributes (none by default)."""
        return {}

    def embedding_tables(self) -> tuple | None:
        """The net's user and item tables (and biases, mu where it has them)."""
        net = self.net
        if net is None:
            return None
        # torch bumps a tensor's _version on every in-place update (optimiser step,
        # load_state_dict): the version says whether a cached copy is still current.
        version = tuple((p.data_ptr(), p._version) for p in net.parameters())
        has_bias = "user_bias" in net._modules  # the biased MF family's nets
        mu = net._parameters.get("mu")
        tables = {
            "user": _np(net.user_emb.weight),
            "item": _np(net.item_emb.weight),
            "user_bias": _np(net.user_bias.weight)[:, 0] if has_bias else None,
            "item_bias": _np(net.item_bias.weight)[:, 0] if has_bias else None,
            "mu": float(mu.detach()) if mu is not None else None,
        }
        return version, tables

    def _fit(self, u, i, r, valid):
        from recsys_utils.training.loop import to_tensors, train

        self.build_net(len(self.user_map), len(self.item_map), float(r.mean()))
        train_t = to_tensors(u, i, r, self.device)
        valid_t = to_tensors(*valid, self.device) if valid is not None else None
        self.history_ = train(
            self.net,
            train_t,
            valid_t,
            self.train_config,
            clip=self.rating_scale,
            on_epoch=self.on_epoch,
        )

    def selected_params(self) -> dict:
        hist = self.history_
        if hist is None or not hist["val_rmse"].notna().any():
            return self.get_params()
        best = int(hist.loc[hist["val_rmse"].idxmin(), "epoch"])
        return {**self.get_params(), "epochs": best, "patience": None}

    def _predict_idx(self, u, i):
        from recsys_utils.training.loop import predict_batched, to_tensors

        ut, it, _ = to_tensors(u, i, np.zeros(0), self.device)
        return predict_batched(self.net, ut, it).double().cpu().numpy()

    def score_items(self, user_indices, chunk: int = 256):
        import torch

        self.net.eval()
        out = []
        with torch.no_grad():
            for s in range(0, len(user_indices), chunk):
                ut = torch.as_tensor(
                    user_indices[s : s + chunk], dtype=torch.long, device=self.device
                )
                out.append(self.net.score_all(ut).cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, len(self.item_map)))


def _np(t) -> np.ndarray:
    return t.detach().cpu().numpy().astype(np.float64)


class _LinearFoldIn:
    """The fold-in of the biased MF family: closed form (``models._foldin``).

    For a person with bias b, free vector p and rated movies H, the model's own scorer is
    linear in x = [b, p]: ``score_all = offset(H) + design @ x`` with ``design = [1, Q]``.
    ``fold_in_linear(H)`` returns (offset, Q) for every movie, so a training user's
    trained (b_u, p_u) and training ratings give back ``score_items`` exactly
    (``score_parameters``).
    """

    _fold_cache = None  # (weights' version, numpy tables) of the last ``_fold_tables``

    def _fold_parameters(
        self,
        R,
        reg=_foldin.FOLD_IN_REG,
        bias_reg=None,
        prior="ridge",
        **fold_kw,
    ):
        bias_reg = _foldin.FOLD_IN_BIAS_REG if bias_reg is None else bias_reg
        _foldin.check_regs(reg, bias_reg)
        x_bar, weights = _foldin.prior_of(self.fold_in_prior_rows(), prior)
        X = np.tile(x_bar, (R.shape[0], 1))
        for r, (idx, values) in enumerate(_foldin.person_rows(R)):
            if len(idx):
                offset, q = self.fold_in_linear(idx)
                design = np.column_stack([np.ones(len(idx)), q[idx]])
                X[r] = _foldin.solve_linear(
                    design, values - offset[idx], x_bar, weights, reg, bias_reg
                )
        return X[:, 0], X[:, 1:]

    def score_parameters(self, item_indices, bias: float, vector, items=None) -> np.ndarray:
        """Scores by the model's own scorer for a person who rated ``item_indices`` and has
        these parameters (``items``: the movies to score, default all)."""
        offset, q = self.fold_in_linear(np.asarray(item_indices, dtype=np.int64))
        sel = slice(None) if items is None else np.asarray(items, dtype=np.int64)
        # einsum, not @: one matrix-vector product gains nothing from BLAS threads, and
        # on a busy machine they made it 10x slower.
        return offset[sel] + bias + np.einsum("ij,j->i", q[sel], np.asarray(vector, np.float64))

    def _score_new(self, R, **fold_kw):
        b, P = self._fold_parameters(R, **fold_kw)
        rows = [
            self.score_parameters(idx, b[r], P[r])
            for r, (idx, _) in enumerate(_foldin.person_rows(R))
        ]
        return np.array(rows).reshape(R.shape[0], len(self.item_map))

    def _fold_tables(self, build) -> tuple:
        """``build()``'s numpy tables, cached until the weights change (torch bumps a
        tensor's ``_version`` on every in-place update)."""
        version = tuple((p.data_ptr(), p._version) for p in self.net.parameters())
        cached = self._fold_cache
        if cached is None or cached[0] != version:
            cached = self._fold_cache = (version, build())
        return cached[1]

    def fold_in_linear(self, rated: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        net = self.net
        return self._fold_tables(
            lambda: (
                float(net.mu.detach()) + _np(net.item_bias.weight)[:, 0],
                _np(net.item_emb.weight),
            )
        )

    def fold_in_prior_rows(self) -> np.ndarray:
        """The training users' [b_u, p_u], the rows the fold-in prior is fitted to."""
        return np.column_stack(
            [_np(self.net.user_bias.weight)[:, 0], _np(self.net.user_emb.weight)]
        )


@register
class MF(_LinearFoldIn, TorchRecommender):
    """Biased matrix factorisation on nn.Embedding: r(u,i) = mu + b_u + b_i + p_u . q_i."""

    name = "mf"
    net_class = nets.MFNet
    net_defaults = {"n_factors": 64, "init_std": 0.05}


@register
class CollabFNet(TorchRecommender):
    """The blog post's CollabFNet: concat(p_u, q_i) -> dropout -> Linear -> ReLU -> Linear."""

    name = "collabfnet"
    net_class = nets.CollabFNetModule
    net_defaults = {"emb_size": 100, "n_hidden": 10, "dropout": 0.1, "init_std": 0.05}

    def _fold_parameters(
        self,
        R,
        reg=_foldin.FOLD_IN_REG,
        bias_reg=None,
        prior="ridge",
        steps=_foldin.FOLD_IN_STEPS,
        lr=_foldin.FOLD_IN_LR,
    ):
        """A new person's vector by gradient steps on p only (``models._foldin``); no bias."""
        _foldin.check_regs(reg, _foldin.FOLD_IN_BIAS_REG if bias_reg is None else bias_reg)
        p_bar, weights = _foldin.prior_of(_np(self.net.user_emb.weight), prior)
        P = np.tile(p_bar, (R.shape[0], 1))
        for r, (idx, values) in enumerate(_foldin.person_rows(R)):
            if len(idx):
                P[r] = _foldin.fit_vector(
                    self.net, self.device, idx, values, p_bar, weights, reg, steps, lr
                )
        return np.zeros(R.shape[0]), P

    def score_parameters(self, item_indices, bias: float, vector, items=None) -> np.ndarray:
        """The net's scores for a person with this vector (``items``: default all)."""
        import torch

        if items is None:
            items = np.arange(len(self.item_map))
        net, was_training = self.net, self.net.training
        with torch.no_grad():
            vec = torch.as_tensor(np.asarray(vector), dtype=torch.float32, device=self.device)
            it = torch.as_tensor(np.asarray(items, dtype=np.int64), device=self.device)
            out = _foldin.net_forward(net.eval(), vec, it).cpu().numpy().astype(np.float64)
        net.train(was_training)
        return out

    def _score_new(self, R, **fold_kw):
        b, P = self._fold_parameters(R, **fold_kw)
        rows = [self.score_parameters(None, 0.0, P[r]) for r in range(R.shape[0])]
        return np.array(rows).reshape(R.shape[0], len(self.item_map))


@register
class ImplicitMF(_LinearFoldIn, TorchRecommender):
    """MF plus implicit feedback on both sides (SVD++ made symmetric): see ``nets.ImplicitMFNet``.

    The user vector adds the normalised sum of vectors of the movies the user rated;
    the movie vector adds that of the users who rated it. The rating lists are the
    training interactions the base class keeps (``seen_indptr_``, ``seen_indices_``),
    so a checkpoint needs nothing extra to rebuild them.
    """

    name = "implicit_mf"
    net_class = nets.ImplicitMFNet
    net_defaults = {"n_factors": 64, "init_std": 0.05, "implicit_std": 0.01}

    def __init__(self, **kw):
        super().__init__(**kw)
        if self.train_config.optimizer.startswith("sparse"):
            raise ValueError(
                "implicit_mf needs a dense optimizer (adamw, adam or sgd): each "
                "step reads the whole implicit tables, not just the batch's rows"
            )

    def fold_in_linear(self, rated: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """As the net scores: user vector p + |H|^-1/2 sum_{j in H} y_j, movie vectors
        with their audience sums (``item_vectors``), so the implicit terms are kept."""
        import torch

        net = self.net

        def build():
            with torch.no_grad():
                q = _np(net.item_vectors())
            base = float(net.mu.detach()) + _np(net.item_bias.weight)[:, 0]
            return base, q, _np(net.y_item.weight)

        base, q, y = self._fold_tables(build)
        rated = np.asarray(rated, dtype=np.int64)
        implicit = y[rated].sum(0) / np.sqrt(max(len(rated), 1))
        return base + q @ implicit, q

    def _net_inputs(self) -> dict:
        indptr, items = self.seen_indptr_, self.seen_indices_
        users = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
        order = np.argsort(items, kind="stable")
        item_indptr = np.concatenate(
            [[0], np.cumsum(np.bincount(items, minlength=len(self.item_map)))]
        )
        return {"user_items": (indptr, items), "item_users": (item_indptr, users[order])}
