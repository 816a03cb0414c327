"""``python -m recsys_utils train``: train one model on its protocol, print its figures, save it.

Every flag sets the model's hyperparameter of that meaning. ``--epochs``, ``--patience``
and ``--seed`` are options of the epoch loop: they go under the keywords the model's class
declares for them (``Recommender.loop_options``: ``epochs`` for the rating nets,
``max_epochs`` for the ranking model). The other flags go through one table
(``FLAG_PARAMS``) read against the parameters the class declares (its ``get_params()``
with the defaults): ``--dim`` is ``n_factors``, ``emb_size`` or ``dim``.
``--param NAME=VALUE`` sets any other declared hyperparameter (a Python literal, read by
``app.report.parse_literal``). A flag or name the model does not take is one line and
exit 2, naming those it does take.

- A model that predicts ratings trains on the random rating split
  (``data.splits.protocol_split``: 10% test, 10% validation for early stopping) and
  prints its per-epoch log and test RMSE/MAE.
- A model that only ranks trains on the strong-generalisation split through
  ``evaluation.experiment`` (training users only; 100 validation users steer early
  stopping; 100 test users scored once) and prints its per-epoch log, then NDCG@100,
  Recall@20 (and the protocol's other metrics) of the validation and the test users.

Then it saves ``<checkpoint_dir>/<model>.json`` (or ``--out``) with those figures.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from recsys_utils.constants import DATASETS, DEFAULT_DATASET

# flags that set an epoch-loop option (``models.base.LOOP_OPTIONS``), taken by a model whose
# class declares it, under its own keyword (``Recommender.with_loop_options``)
LOOP_FLAGS = ("epochs", "patience")
# flag (argparse dest) -> the hyperparameter names it may set, the first a model declares
FLAG_PARAMS: dict[str, tuple[str, ...]] = {
    "batch_size": ("batch_size",),
    "lr": ("lr",),
    "weight_decay": ("weight_decay",),
    "l2": ("l2",),
    "optimizer": ("optimizer",),
    "schedule": ("schedule",),
    "dim": ("dim", "n_factors", "emb_size"),
    "device": ("device",),
}
RANKING_FIGURES = ("ndcg@100", "recall@20", "recall@50", "ndcg@10", "hr@10")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "train",
        help="train a model on its protocol, print its validation and test figures, save it",
    )
    # checked when the command runs, so --help does not import every model (and torch)
    p.add_argument("--model", default="mf", help="a models.MODELS name (default mf)")
    p.add_argument("--dataset", default=DEFAULT_DATASET, choices=list(DATASETS))
    p.add_argument(
        "--epochs", type=int, default=None, help="most epochs (early stopping may stop sooner)"
    )
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--weight-decay", type=float, default=None)
    p.add_argument("--l2", type=float, default=None, help="L2 on the embedding rows of a batch")
    p.add_argument("--optimizer", default=None, help="adamw, adam, sgd, sparse_adam, ...")
    p.add_argument("--schedule", default=None, choices=["none", "cosine", "step"])
    p.add_argument("--patience", type=int, default=None)
    p.add_argument(
        "--dim", type=int, default=None, help="embedding size (n_factors / emb_size / dim)"
    )
    p.add_argument("--device", default=None, help="auto (default), cpu, cuda, mps")
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="any other hyperparameter the model declares, e.g. --param hidden='tanh' (repeatable)",
    )
    p.add_argument("--seed", type=int, default=42, help="the split's seed, and the model's")
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="checkpoint stem or .json (default: data/checkpoints/<model>)",
    )
    p.set_defaults(func=_train)


def _flag(dest: str) -> str:
    return "--" + dest.replace("_", "-")


def model_params(args: argparse.Namespace, cls: type) -> dict:
    """The hyperparameters ``args`` set for a model of class ``cls``: the epoch-loop flags
    under the keywords the class declares (``loop_options``), the others by the names of
    its declared parameters (``get_params()`` of a default instance), and ``--seed``.

    Raises:
        ValueError: a flag or ``--param`` name the model does not take (one line that
            names the flags it takes), or a malformed ``--param``.
    """
    from recsys_utils.app.report import parse_literal

    try:
        declared = cls().get_params()  # the class's hyperparameters, with their defaults
    except TypeError as err:  # a model built from more than ratings (movie features)
        raise ValueError(f"{args.model} cannot be trained by this command: {err}") from None
    loop_taken = [dest for dest in LOOP_FLAGS if dest in cls.loop_options]  # declared
    loop, params, refused = {}, {}, []
    for dest in LOOP_FLAGS:
        value = getattr(args, dest)
        if value is None:
            continue
        if dest in loop_taken:
            loop[dest] = value
        else:
            refused.append(_flag(dest))
    for dest, names in FLAG_PARAMS.items():
        value = getattr(args, dest)
        if value is None:
            continue
        name = next((n for n in names if n in declared), None)
        if name is None:
            refused.append(_flag(dest))
        else:
            params[name] = value
    for item in args.param:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ValueError(
                f"bad --param {item!r}: expected NAME=VALUE, e.g. --param hidden='tanh'"
            )
        if name not in declared:
            refused.append(f"--param {name}")
        else:
            params[name] = parse_literal(text.strip())
    if refused:
        takes = loop_taken + [d for d, names in FLAG_PARAMS.items() if set(names) & set(declared)]
        raise ValueError(
            f"{args.model} does not take {', '.join(refused)}; it takes "
            f"{', '.join(map(_flag, takes)) or 'no training flags'} and --param NAME=VALUE for "
            f"{', '.join(sorted(declared))}"
        )
    params = cls.with_loop_options(params, **loop, seed=args.seed)
    if "seed" in declared:  # seeded outside the epoch loop (implicit's ALS and BPR)
        params["seed"] = args.seed
    return params


def _train(args: argparse.Namespace) -> int:
    from recsys_utils.constants import checkpoint_dir
    from recsys_utils.data.movielens import load_dataset
    from recsys_utils.models import checkpoints
    from recsys_utils.models.registry import MODELS

    if args.model not in MODELS:
        raise ValueError(f"unknown model {args.model!r}; known: {', '.join(MODELS)}")
    cls = MODELS[args.model]
    params = model_params(args, cls)
    out = args.out if args.out is not None else checkpoint_dir() / args.model
    checkpoints.check_out_path(out)  # refused now, not after the whole training
    if args.device is not None:
        from recsys_utils.training.loop import resolve_device

        resolve_device(args.device)  # a device this machine lacks: one line, before training
    model = cls(**params)  # a bad value is refused here, before the data is read
    ratings = load_dataset(args.dataset).ratings
    if cls.capabilities.predicts_ratings:
        model, metrics = _train_rating(model, ratings, args)
    else:
        model, metrics = _train_ranking(model, params, ratings, args)
    path = checkpoints.save(model, out, dataset=args.dataset, metrics=metrics)
    print(f"saved {path}")
    return 0


def _print_log(model) -> None:
    import pandas as pd

    if model.history_ is not None:
        with pd.option_context("display.width", 120, "display.max_rows", 500):
            print(model.history_.round(4).to_string(index=False))


def _train_rating(model, ratings, args: argparse.Namespace):
    """Random rating split: fit with early stopping on validation, RMSE/MAE on test."""
    from recsys_utils.data.splits import protocol_split
    from recsys_utils.evaluation.metrics import rating_metrics

    split = protocol_split(ratings, args.seed)
    print(f"{model!r} on {args.dataset}: {split.sizes()}")
    model.fit(split.train, split.valid)
    _print_log(model)
    metrics = rating_metrics(model, split.test)
    print(
        f"test RMSE {metrics['rmse']:.4f}  MAE {metrics['mae']:.4f}  "
        f"({metrics['n_fallback']} of {len(split.test)} ratings used the fallback)"
    )
    return model, metrics


def _train_ranking(model, params: dict, ratings, args: argparse.Namespace):
    """Strong generalisation through the experiment: validation and test users' metrics."""
    from recsys_utils.evaluation.experiment import Experiment, Grid, StrongGeneralisation
    from recsys_utils.metrics import report
    from recsys_utils.models.base import Queries

    protocol = StrongGeneralisation()
    fixed = {k: v for k, v in params.items() if k != "seed"}
    entry = Grid(args.model, type(model), fixed=fixed, seeded="seed" in params)
    print(f"{model!r} on {args.dataset}: {protocol.name}, seed {args.seed}")
    result = Experiment(
        protocol, [entry], metrics=RANKING_FIGURES, seeds=(args.seed,), curve_ns=(),
        time_foldin=False, log=None,
    ).run(ratings)  # fmt: skip
    model = result.model(args.model)
    _print_log(model)
    stats = result.stats[args.seed]
    # the validation users again, scored through the contract (new people: liked movies in)
    valid = protocol.split(ratings, args.seed).valid
    liked = valid.history * model.rating_scale[1]  # 0/1 -> the top rating: liked
    scores = model.score(Queries.from_matrix(liked, users=valid.users))
    figures = {
        "valid": report(scores, valid.targets, valid.history, RANKING_FIGURES),
        "test": result.users[list(RANKING_FIGURES)].mean(),
    }
    print(
        f"{stats['n_train_users']} training users, {stats['n_items']} movies; "
        f"held out: {len(valid)} validation users (early stopping), "
        f"{len(result.users)} test users (scored once)"
    )
    for which, m in figures.items():
        print(f"{which:<5}  " + "  ".join(f"{_label(k)} {m[k]:.4f}" for k in RANKING_FIGURES))
    metrics = {f"{which}_{k}": float(m[k]) for which, m in figures.items() for k in RANKING_FIGURES}
    return model, {**metrics, "protocol": protocol.name, "seed": args.seed}


def _label(metric: str) -> str:
    """``"ndcg@100"`` -> ``"NDCG@100"``, ``"recall@20"`` -> ``"Recall@20"``."""
    kind, k = metric.split("@")
    return f"{ {'ndcg': 'NDCG', 'recall': 'Recall', 'hr': 'HR'}[kind] }@{k}"
