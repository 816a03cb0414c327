"""``python -m recsys_utils train``: train one model on the protocol split, save a checkpoint.

The split is the benchmark's (``data.splits.protocol_split``: 10% random test holdout, 10%
validation for early stopping, the rest train). Prints the per-epoch history and the
test RMSE/MAE, then saves ``<checkpoint_dir>/<model>.json`` (or ``--out``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from recsys_utils.constants import DATASETS, DEFAULT_DATASET

# hyperparameter that --dim sets, per model
DIM_PARAMS = ("n_factors", "emb_size")


def register(subparsers) -> None:
    p = subparsers.add_parser("train", help="train a model on the protocol split and save it")
    # checked when the command runs, so --help does not import every model (and torch)
    p.add_argument("--model", default="mf", help="a models.MODELS name (default mf)")
    p.add_argument("--dataset", default=DEFAULT_DATASET, choices=list(DATASETS))
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--weight-decay", type=float, default=None)
    p.add_argument("--l2", type=float, default=None, help="L2 on the embedding rows of a batch")
    p.add_argument("--optimizer", default=None, help="adamw, adam, sgd, sparse_adam, ...")
    p.add_argument("--schedule", default=None, choices=["none", "cosine", "step"])
    p.add_argument("--patience", type=int, default=None)
    p.add_argument("--dim", type=int, default=None, help="embedding size (n_factors / emb_size)")
    p.add_argument("--device", default=None, help="auto (default), cpu, cuda, mps")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="checkpoint stem or .json (default: data/checkpoints/<model>)",
    )
    p.set_defaults(func=_train)


def _params(args: argparse.Namespace, model_cls) -> dict:
    from recsys_utils.models.torch_models import TorchRecommender

    if not issubclass(model_cls, TorchRecommender):
        return {}
    given = {
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "weight_decay": args.weight_decay,
        "l2": args.l2,
        "optimizer": args.optimizer,
        "schedule": args.schedule,
        "patience": args.patience,
        "device": args.device,
        "seed": args.seed,
    }
    params = {k: v for k, v in given.items() if v is not None}
    if args.dim is not None:
        key = next((k for k in DIM_PARAMS if k in model_cls.net_defaults), None)
        if key is None:
            raise ValueError(f"--dim does not apply to {args.model}")
        params[key] = args.dim
    return params


def _train(args: argparse.Namespace) -> int:
    import pandas as pd

    from recsys_utils.constants import checkpoint_dir
    from recsys_utils.data.movielens import load_dataset
    from recsys_utils.data.splits import protocol_split
    from recsys_utils.evaluation.metrics import rating_metrics
    from recsys_utils.models import checkpoints
    from recsys_utils.models.registry import MODELS

    if args.model not in MODELS:
        raise ValueError(f"unknown model {args.model!r}; known: {', '.join(MODELS)}")
    cls = MODELS[args.model]
    out = args.out if args.out is not None else checkpoint_dir() / args.model
    checkpoints.check_out_path(out)  # refused now, not after the whole training
    if args.device is not None:
        from recsys_utils.training.loop import resolve_device

        resolve_device(args.device)  # a device this machine lacks: one line, before training
    model = cls(**_params(args, cls))
    split = protocol_split(load_dataset(args.dataset).ratings, args.seed)
    print(f"{model!r} on {args.dataset}: {split.sizes()}")
    model.fit(split.train, split.valid)
    if model.history_ is not None:
        with pd.option_context("display.width", 120, "display.max_rows", 500):
            print(model.history_.round(4).to_string(index=False))
    metrics = rating_metrics(model, split.test)
    print(
        f"test RMSE {metrics['rmse']:.4f}  MAE {metrics['mae']:.4f}  "
        f"({metrics['n_fallback']} of {len(split.test)} ratings used the fallback)"
    )
    path = checkpoints.save(model, out, dataset=args.dataset, metrics=metrics)
    print(f"saved {path}")
    return 0
