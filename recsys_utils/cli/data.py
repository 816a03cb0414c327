"""``python -m recsys_utils data fetch|validate``: get a data set, or check a ratings file."""

from __future__ import annotations

import argparse
from pathlib import Path

from recsys_utils.constants import DATASETS, DEFAULT_DATASET, get_spec


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "data", help="fetch a MovieLens release or validate a ratings file"
    )
    sub = parser.add_subparsers(dest="data_command", required=True, metavar="ACTION")

    fetch = sub.add_parser("fetch", help="download, verify and extract a release (cached)")
    fetch.add_argument("--dataset", default=DEFAULT_DATASET, choices=list(DATASETS))
    fetch.add_argument("--force", action="store_true", help="download and extract again")
    fetch.add_argument(
        "--deadline", type=float, default=None, help="seconds for the whole fetch (default 3600)"
    )
    fetch.add_argument(
        "--max-mb", type=float, default=None, help="the most the zip may hold (default 2048 MB)"
    )
    fetch.set_defaults(func=_fetch)

    validate = sub.add_parser(
        "validate", help="check a ratings file or an extracted data set folder"
    )
    validate.add_argument("path", type=Path)
    validate.add_argument(
        "--dataset",
        choices=list(DATASETS),
        default=None,
        help="data set whose format and rating scale apply (default: guessed from the name)",
    )
    validate.set_defaults(func=_validate)


def _fetch(args: argparse.Namespace) -> int:
    from recsys_utils.data.download import fetch

    for flag, value in (("--deadline", args.deadline), ("--max-mb", args.max_mb)):
        if value is not None and not value > 0:
            raise ValueError(f"{flag} must be a number above 0, got {value}")
    max_bytes = None if args.max_mb is None else int(args.max_mb * (1 << 20))
    print(fetch(args.dataset, force=args.force, deadline=args.deadline, max_bytes=max_bytes))
    return 0


def _validate(args: argparse.Namespace) -> int:
    from recsys_utils import data

    path: Path = args.path
    if path.is_dir():
        dataset = data.load_folder(path, args.dataset)
        ratings, spec, n_catalogue = dataset.ratings, dataset.spec, len(dataset.movies)
    else:
        spec = get_spec(args.dataset) if args.dataset else data.infer_spec(path)
        ratings, n_catalogue = data.load_ratings_file(path, spec), None
    s = data.summarize(ratings)
    catalogue = f" ({n_catalogue:,} in the movies file)" if n_catalogue is not None else ""
    print(
        f"{path}: OK. {s['n_ratings']:,} ratings by {s['n_users']:,} users on {s['n_movies']:,} "
        f"movies{catalogue}; density {s['density']:.4%}; {spec.name} rating scale "
        f"{spec.rating_min:g} to {spec.rating_max:g} in steps of {spec.rating_step:g} "
        f"(observed {s['rating_min']:g} to {s['rating_max']:g}, mean {s['mean_rating']:.3f}); "
        f"{s['duplicate_pairs']:,} repeated (user, movie) pairs (cleaning keeps the latest)."
    )
    return 0
