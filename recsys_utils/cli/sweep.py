"""``python -m recsys_utils sweep``: a grid or an open search over training settings, on Optuna.

Rerunning the same command resumes the study (same settings, same default study name).
"""

from __future__ import annotations

import argparse

from recsys_utils.constants import DEFAULT_DATASET

DEFAULT_GRID_ARGS = ["batch_size=256,1024,4096", "lr=0.001,0.003,0.01,0.03"]


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "sweep",
        help="hyperparameter grid or search on Optuna (resumable, parallel)",
        description="Train one model per point, record validation RMSE per epoch, save a tidy "
        "table under data/sweeps/<study>/. Rerunning the same command resumes.",
    )
    parser.add_argument("--model", default="mf", help="a models.MODELS name (default mf)")
    parser.add_argument(
        "--grid",
        nargs="+",
        metavar="NAME=V1,V2",
        default=None,
        help=f"grid values (default: {' '.join(DEFAULT_GRID_ARGS)})",
    )
    parser.add_argument(
        "--search",
        nargs="+",
        metavar="NAME=LOW:HIGH[:log]",
        default=[],
        help="open ranges for --sampler random/tpe (grid values are then choices)",
    )
    parser.add_argument(
        "--sampler",
        choices=("grid", "random", "tpe"),
        default=None,
        help="grid (default), or tpe/random with --search and --n-trials",
    )
    parser.add_argument("--n-trials", type=int, default=None, help="trials for random/tpe")
    parser.add_argument(
        "--set",
        nargs="+",
        metavar="NAME=VALUE",
        default=[],
        dest="fixed",
        help="other model parameters, the same in every trial (n_factors=32)",
    )
    parser.add_argument("--epochs", type=int, default=30, help="most epochs per trial")
    parser.add_argument(
        "--patience",
        default="3",
        help="epochs without validation gain before a trial stops; 'none' never",
    )
    parser.add_argument(
        "--prune",
        action="store_true",
        help="stop trials whose curve is worse than the median (MedianPruner)",
    )
    parser.add_argument(
        "--dataset",
        default=DEFAULT_DATASET,
        help="MovieLens release, or a parquet/CSV file of tidy ratings",
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--storage",
        default=None,
        help="journal file path or database URL (postgresql://user:pw@host/db); "
        "default data/sweeps/<study>/journal.log",
    )
    parser.add_argument(
        "--study",
        default=None,
        help="study name (default: model, data set and a hash of the settings)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="processes on this machine; each gets cores // workers threads",
    )
    parser.add_argument("--quiet", action="store_true", help="no line per trial")
    parser.set_defaults(func=_sweep)


def config_from_args(args: argparse.Namespace):
    """The ``SweepConfig`` the arguments describe (``ValueError`` for a bad combination)."""
    from recsys_utils import models
    from recsys_utils.tuning import run as sweeps

    if args.model not in models.MODELS:
        raise ValueError(f"unknown model {args.model!r}; known: {', '.join(models.MODELS)}")
    if args.workers < 1:
        raise ValueError(f"--workers must be at least 1, got {args.workers}")
    space = sweeps.parse_space(
        args.grid if args.grid is not None else [] if args.search else DEFAULT_GRID_ARGS
    )
    space.update(sweeps.parse_space(args.search))
    sampler = args.sampler or ("tpe" if args.search else "grid")
    fixed = {}
    for item in args.fixed:
        name, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--set expects NAME=VALUE, got {item!r}")
        fixed[name] = sweeps.parse_value(value)
    return sweeps.SweepConfig(
        model=args.model,
        space=space,
        sampler=sampler,
        n_trials=args.n_trials,
        epochs=args.epochs,
        patience=sweeps.parse_value(args.patience),
        fixed=fixed,
        dataset=args.dataset,
        seed=args.seed,
        prune=args.prune,
    )


def _sweep(args: argparse.Namespace) -> int:
    from recsys_utils.tuning import run as sweeps

    cfg = config_from_args(args)
    result = sweeps.run_sweep(
        cfg,
        study_name=args.study,
        storage=args.storage,
        workers=args.workers,
        verbose=not args.quiet,
    )
    if result.stopped:  # every trial fails: a setting, the data or the model is wrong
        raise ValueError(f"sweep {result.study_name} stopped: {result.stopped}")
    if not result.complete:
        print("the sweep is incomplete: rerun the same command to resume it")
        return 1
    return 0
