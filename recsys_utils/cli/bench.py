"""``python -m recsys_utils bench peers|...``: benchmarks (commands, not tests).

Each benchmark is one sub-command added by its own ``_add_<name>(sub)`` function.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from recsys_utils.constants import DATASETS, DEFAULT_DATASET, REPORTS_DIR


def register(subparsers) -> None:
    parser = subparsers.add_parser("bench", help="benchmarks: against Surprise, or at scale")
    sub = parser.add_subparsers(dest="bench_command", required=True, metavar="BENCH")
    _add_peers(sub)
    _add_scale(sub)
    _add_ranking(sub)
    _add_personalisation(sub)
    _add_embeddings(sub)
    _add_coldstart(sub)


def _add_peers(sub) -> None:
    peers = sub.add_parser(
        "peers",
        help="our models vs Surprise on the fixed protocol (needs the bench extra)",
        description="10%% random test holdout (seed), validation for early stopping, peers fit "
        "on the same 90%%; writes bench_peers.csv and .md.",
    )
    peers.add_argument("--dataset", default=DEFAULT_DATASET, choices=list(DATASETS))
    peers.add_argument("--seed", type=int, default=42)
    peers.add_argument("--out", type=Path, default=REPORTS_DIR, help="folder for the tables")
    peers.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (Surprise uses one; default 1, like for like)",
    )
    peers.add_argument(
        "--no-throughput", action="store_true", help="skip the MF ratings/s measurement"
    )
    peers.set_defaults(func=_peers)


def _peers(args: argparse.Namespace) -> int:
    try:
        import surprise  # noqa: F401
    except ImportError:
        raise ValueError(
            "scikit-surprise is not installed; pip install 'recsys-utils[bench]'"
        ) from None
    from recsys_utils.bench.peers import bench_peers, to_markdown

    df = bench_peers(
        args.out,
        dataset=args.dataset,
        seed=args.seed,
        throughput=not args.no_throughput,
        threads=args.threads,
    )
    print()
    print(to_markdown(df))
    print(f"wrote {args.out / 'bench_peers.csv'} and {args.out / 'bench_peers.md'}")
    return 0


def _add_scale(sub) -> None:
    scale = sub.add_parser(
        "scale",
        help="MF ratings/s and peak memory on synthetic ratings; Surprise for reference",
        description="Generates ml-25m-shaped synthetic ratings (scaled to --ratings), trains MF "
        "with the row-sparse optimiser and prints ratings/s per epoch, Surprise SVD's "
        "ratings/s on a 1M subset and the ratio, and the peak RSS.",
    )
    scale.add_argument("--ratings", type=int, default=25_000_000)
    scale.add_argument(
        "--dim", type=int, default=None, help="default 64 (MF), 200 (pooled_softmax)"
    )
    scale.add_argument(
        "--batch", type=int, default=None, help="default 65,536 (MF), 1,024 (pooled_softmax)"
    )
    scale.add_argument("--epochs", type=int, default=1)
    scale.add_argument(
        "--optimizer",
        default="sparse_adam",
        help="a TrainConfig optimizer (sparse_adam, sparse_sgd, adamw, ...); pooled_softmax "
        "too (adamw: its default dense update)",
    )
    scale.add_argument(
        "--surprise-ratings",
        type=int,
        default=1_000_000,
        help="Surprise SVD subset size; 0 skips it",
    )
    scale.add_argument(
        "--catalogue",
        type=int,
        default=0,
        help="also time neighbour search and UMAP on this many movies (e.g. 60000)",
    )
    scale.add_argument(
        "--no-fused",
        dest="fused",
        action="store_false",
        help="train with the generic torch row-sparse step instead of the compiled one",
    )
    scale.add_argument("--device", default="auto")
    scale.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    scale.add_argument("--seed", type=int, default=0)
    scale.add_argument(
        "--model",
        default="mf",
        choices=["mf", "pooled_softmax"],
        help="pooled_softmax: one epoch of the ranking net (sampled softmax) on the "
        "positives (>= 4) of the synthetic ratings, positives/s and peak RSS",
    )
    scale.add_argument(
        "--n-batches",
        type=int,
        default=20,
        help="pooled_softmax: batches timed (the epoch is extrapolated); 0 = a whole epoch",
    )
    scale.set_defaults(func=_scale)


def _scale(args: argparse.Namespace) -> int:
    from recsys_utils.bench.scale import bench_pooled_softmax, run_scale

    if args.model == "pooled_softmax":
        bench_pooled_softmax(
            args.ratings,
            dim=args.dim or 200,
            batch_size=args.batch or 1024,
            n_batches=args.n_batches or None,
            optimizer=args.optimizer,
            device=args.device,
            num_threads=args.threads,
            seed=args.seed,
            echo=lambda line: print(line, flush=True),
        )
        return 0

    run_scale(
        args.ratings,
        dim=args.dim or 64,
        batch_size=args.batch or 65_536,
        epochs=args.epochs,
        optimizer=args.optimizer,
        fused=args.fused,
        surprise_ratings=args.surprise_ratings,
        catalogue=args.catalogue,
        device=args.device,
        num_threads=args.threads,
        seed=args.seed,
        echo=lambda line: print(line, flush=True),
    )
    return 0


def _add_ranking(sub) -> None:
    ranking = sub.add_parser(
        "ranking",
        help="top-N ranking on held-out users: popularity, EASE, iALS, BPR, ours, blends",
        description="Strong generalisation (Liang et al. 2018): 100 test and 100 validation "
        "users held out per seed; needs the implicit package (cornac optional). Writes "
        "bench_ranking.csv and .md to --out.",
    )
    _dataset_seeds_out(ranking)
    ranking.add_argument(
        "--ensemble", action="store_true", help="also two seeds of ours (one more fit a seed)"
    )
    ranking.add_argument(
        "--save", type=Path, default=None, help="also save the run (models, tables) to this folder"
    )
    ranking.add_argument(
        "--models",
        type=_name_list,
        default=None,
        help="comma-separated entry names (e.g. ease,ours-linear,hybrid); the entries they "
        "are built from run too (default: every entry)",
    )
    ranking.add_argument(
        "--from-run",
        type=Path,
        default=None,
        metavar="DIR",
        help="rebuild the report from a run saved with --save, without training",
    )
    ranking.set_defaults(func=_ranking)


def _name_list(text: str) -> tuple[str, ...]:
    names = tuple(s.strip() for s in text.split(",") if s.strip())
    if not names:
        raise argparse.ArgumentTypeError("give at least one model name")
    return names


def _dataset_seeds_out(parser) -> None:
    """--dataset, --seeds and --out, as every multi-seed bench takes them."""
    parser.add_argument("--dataset", default=DEFAULT_DATASET, choices=list(DATASETS))
    parser.add_argument(
        "--seeds", type=_seed_list, default=(0, 1, 2, 3, 4), help="comma-separated (0,1,2,3,4)"
    )
    parser.add_argument("--out", type=Path, default=REPORTS_DIR, help="folder for the tables")


def _seed_list(text: str) -> tuple[int, ...]:
    try:
        seeds = tuple(int(s) for s in text.split(",") if s.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"seeds are whole numbers, e.g. 0,1,2: {text!r}") from None
    if not seeds:
        raise argparse.ArgumentTypeError("give at least one seed")
    return seeds


def _ranking(args: argparse.Namespace) -> int:
    import time

    from recsys_utils import data
    from recsys_utils.bench import ranking
    from recsys_utils.evaluation.experiment import Result

    start = time.perf_counter()
    if args.from_run is not None:  # the report of a saved run: nothing trained
        result = Result.load(args.from_run)
        print(f"loaded the run {result.run_id} from {args.from_run} (seeds {result.seeds})")
    else:
        if args.models is not None:  # names checked before any data is read
            ranking.select(ranking.entries(ensemble=args.ensemble, hybrid=True), args.models)
        try:
            import implicit  # noqa: F401
        except ImportError:
            raise ValueError(
                "implicit is not installed; pip install 'recsys-utils[bench]'"
            ) from None
        ratings = data.load_dataset(args.dataset).ratings
        features = _features_or_none(args.dataset, args.models)
        result = ranking.run(
            ratings,
            args.seeds,
            ensemble=args.ensemble,
            cornac_check=True,
            log=_flushed,
            models=args.models,
            features=features,
        )
    if args.save is not None:  # first: a report that fails can be rebuilt with --from-run
        result.save(args.save)
        print(f"saved the run to {args.save}")
    path = ranking.write_report(result, args.out, args.dataset)
    print()
    print(ranking.PROTOCOL)
    print(f"Validation grids: {ranking.grids_text(result)}.")
    print()
    print(ranking.summarise(ranking.rows(result)).to_string())
    comparisons = ranking.paired_comparisons(result.users)
    print()
    print(ranking.paired_intro(comparisons))
    if comparisons:
        print(ranking.paired_text(ranking.paired_table(comparisons)).to_string(index=False))
    print(f"\n{time.perf_counter() - start:.0f} s; wrote {path} and {path.with_suffix('.csv')}")
    return 0


def _features_or_none(dataset: str, models):
    """The data set's movie features for the hybrid entry; None (and a line saying so)
    when the release has none, unless the hybrid was asked for by name (then an error)."""
    from recsys_utils.bench.ranking import HYBRID
    from recsys_utils.data.features import movie_features

    if models is not None and HYBRID not in models:
        return None
    try:
        features = movie_features(dataset)
    except (FileNotFoundError, ValueError) as err:
        if models is not None:
            raise ValueError(f"the hybrid needs {dataset}'s movie features: {err}") from None
        print(f"no movie features for {dataset} ({err}): the hybrid is left out", flush=True)
        return None
    return features


def _flushed(line: str) -> None:
    print(line, flush=True)


def _add_personalisation(sub) -> None:
    pers = sub.add_parser(
        "personalisation",
        help="do different new users get different lists? Jaccard and distinct movies",
        description="Users held out of training, each folded in from N of their own ratings: "
        "mean pairwise Jaccard of their top-k lists, distinct movies, NDCG@k on their other "
        "liked movies, for the ranking model, MF fold-in and popularity.",
    )
    pers.add_argument("--dataset", default=DEFAULT_DATASET, choices=list(DATASETS))
    pers.add_argument("--users", type=int, default=60, help="held-out users (default 60)")
    pers.add_argument("--given", type=int, default=10, help="ratings each is folded from")
    pers.add_argument("--k", type=int, default=10)
    pers.add_argument("--seed", type=int, default=0)
    pers.add_argument("--out", type=Path, default=REPORTS_DIR, help="folder for the table")
    pers.set_defaults(func=_personalisation)


def _personalisation(args: argparse.Namespace) -> int:
    from recsys_utils.bench.personalisation import run

    table = run(args.dataset, n_users=args.users, n_given=args.given, k=args.k, seed=args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "bench_personalisation.csv"
    table.to_csv(path, index=False)
    print()
    print(table.round(3).to_string(index=False))
    print(f"\nwrote {path}")
    return 0


def _add_embeddings(sub) -> None:
    emb = sub.add_parser(
        "embeddings",
        help="the demo's targets timed: fold-in, neighbours, UMAP; fold-in vs bias-only",
        description="Median time of a fold-in top-10 and of a neighbour query on MF (the "
        "mf checkpoint, or one trained here), a cold and a cached UMAP of every movie "
        "vector, and fold-in RMSE against bias-only on held-out users over three seeds.",
    )
    emb.add_argument("--dataset", default=DEFAULT_DATASET, choices=list(DATASETS))
    emb.add_argument("--repeats", type=int, default=20, help="timing repetitions (median)")
    emb.add_argument("--no-umap", action="store_true", help="skip the UMAP timings")
    emb.add_argument(
        "--curve-users", type=int, default=60, help="held-out users per seed (0 skips)"
    )
    emb.set_defaults(func=_embeddings)


def _embeddings(args: argparse.Namespace) -> int:
    from recsys_utils.bench.embeddings import bench_embeddings

    out = bench_embeddings(
        dataset=args.dataset,
        repeats=args.repeats,
        run_umap=not args.no_umap,
        curve_users=args.curve_users,
    )
    for key, value in out.items():
        print(f"{key:<28} {value:.4g}" if isinstance(value, float) else f"{key:<28} {value}")


def _add_coldstart(sub) -> None:
    cold = sub.add_parser(
        "coldstart",
        help="item cold start: movies held out of training, ranked from their features",
        description="Per seed 10% of the movies with >= 5 positives held out of training "
        "entirely, 10% more for validation; content kNN, popularity within genre and "
        "LightFM (when installed) rank them. Writes bench_coldstart.csv and .md to --out.",
    )
    _dataset_seeds_out(cold)
    cold.add_argument(
        "--timing",
        action="store_true",
        help="instead of the table: how long the hybrid app model (checkpoint 'hybrid', "
        "trained first when missing) takes to place one new movie from its features, "
        "median and p95 over --n random new movies, against the 5 ms target",
    )
    cold.add_argument("--n", type=int, default=200, help="new movies timed (--timing)")
    cold.set_defaults(func=_coldstart)


def _coldstart(args: argparse.Namespace) -> int:
    import time

    from recsys_utils import data
    from recsys_utils.bench import coldstart
    from recsys_utils.data.features import movie_features

    if args.timing:
        return _coldstart_timing(args)
    start = time.perf_counter()
    if not coldstart.lightfm_available():
        print(coldstart.LIGHTFM_MISSING)
    ratings = data.load_dataset(args.dataset).ratings
    features = movie_features(args.dataset)
    rows, choices, stats = coldstart.run(ratings, features, args.seeds)
    seconds = time.perf_counter() - start
    path = coldstart.write_report(rows, choices, stats, args.out, args.dataset, args.seeds, seconds)
    print()
    print(coldstart.PROTOCOL)
    print()
    print(coldstart.to_markdown(coldstart.summarise(rows)))
    print(f"\n{seconds:.0f} s; wrote {path} and {path.with_suffix('.csv')}")
    return 0


def _coldstart_timing(args: argparse.Namespace) -> int:
    import sys

    from recsys_utils.bench import coldstart
    from recsys_utils.models import checkpoints
    from recsys_utils.models.recipes import ensure_checkpoint

    if args.n < 1:
        raise ValueError(f"--n must be 1 or more, got {args.n}")
    path = ensure_checkpoint(
        "hybrid", args.dataset, echo=lambda line: print(f"note: {line}", file=sys.stderr)
    )
    model = checkpoints.load(path, expect_dataset=args.dataset)
    for line in coldstart.timing_lines(coldstart.placement_timing(model, n=args.n)):
        print(line)
    return 0
