"""``python -m recsys_utils recommend|similar``: a new user's top-N, or a movie's neighbours.

    python -m recsys_utils recommend --ratings "1:5,260:4.5,2571:4" --k 10 [--json]
    python -m recsys_utils similar --movie 1 --k 10 [--json]

Both load ``--checkpoint`` or else the latest MF checkpoint (the latest of any model
when there is no MF), and take titles from the data set the checkpoint was trained on
when it is on disk (no download from here).
"""

from __future__ import annotations

import argparse
import json
import sys

from recsys_utils.constants import ITEM_COL, TITLE_COL


def register(subparsers) -> None:
    rec = subparsers.add_parser(
        "recommend", help="top-N for a new user folded in from a few ratings"
    )
    rec.add_argument(
        "--ratings",
        required=True,
        help='movieId:rating pairs, comma-separated, e.g. "1:5,260:4.5,2571:4"',
    )
    rec.add_argument(
        "--min-ratings",
        type=int,
        default=0,
        help="recommend only movies with at least this many training ratings",
    )
    rec.add_argument(
        "--reg",
        type=float,
        default=None,
        help="fold-in regularisation (default: recommend.FOLD_IN_REG)",
    )
    _common(rec)
    rec.set_defaults(func=_recommend)

    sim = subparsers.add_parser("similar", help="a movie's nearest neighbours in embedding space")
    sim.add_argument("--movie", type=int, required=True, help="MovieLens movieId")
    sim.add_argument(
        "--min-ratings",
        type=int,
        default=0,
        help="list only movies with at least this many training ratings",
    )
    _common(sim)
    sim.set_defaults(func=_similar)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--k", type=int, default=10, help="how many movies to list")
    parser.add_argument("--json", action="store_true", help="print JSON records instead of a table")
    parser.add_argument(
        "--checkpoint",
        default=None,
        help="checkpoint sidecar (.json) or stem; default: the latest MF checkpoint",
    )


def parse_pairs(text: str) -> list[tuple[int, float]]:
    """``"1:5,260:4.5"`` -> [(1, 5.0), (260, 4.5)]; a malformed entry is a ValueError naming it."""
    pairs = []
    for entry in (e.strip() for e in text.split(",")):
        if not entry:
            continue
        movie, sep, rating = entry.partition(":")
        try:
            if not sep:
                raise ValueError
            pairs.append((int(movie), float(rating)))
        except ValueError:
            raise ValueError(
                f"bad --ratings entry {entry!r}: expected movieId:rating, e.g. 260:4.5"
            ) from None
    if not pairs:
        raise ValueError("--ratings is empty: give movieId:rating pairs, e.g. 1:5,260:4.5")
    return pairs


def load_model(path: str | None):
    """The checkpoint at ``path``, else the latest MF one, else the latest of any model."""
    from recsys_utils.models import checkpoints

    if path is None:
        try:
            path = checkpoints.latest(model="mf")
        except FileNotFoundError:
            path = checkpoints.latest()
    return checkpoints.load(path)


def load_movies(model):
    """The movies table of the checkpoint's data set, or ``None`` when it is not on disk."""
    from recsys_utils import data
    from recsys_utils.constants import DEFAULT_DATASET
    from recsys_utils.models import checkpoints

    name = (getattr(model, "checkpoint_meta_", {}) or {}).get("dataset") or DEFAULT_DATASET
    try:
        movies = data.load_dataset(name, fetch=False).movies
    except (FileNotFoundError, ValueError) as err:
        print(f"note: no titles ({err})", file=sys.stderr)
        return None
    checkpoints.check_items(model, movies[ITEM_COL])
    return movies


def _print(frame, value_col: str, as_json: bool) -> None:
    if as_json:
        print(json.dumps(json.loads(frame.to_json(orient="records")), ensure_ascii=False, indent=1))
        return
    for rank, row in enumerate(frame.itertuples(index=False), start=1):
        title = getattr(row, TITLE_COL, "") if TITLE_COL in frame else ""
        print(f"{rank:>3}  {getattr(row, value_col):6.3f}  {getattr(row, ITEM_COL):>7}  {title}")


def _recommend(args: argparse.Namespace) -> int:
    from recsys_utils import recommend

    pairs = parse_pairs(args.ratings)
    model = load_model(args.checkpoint)
    if not recommend.can_fold_in(model):  # never a fold-in that scores unlike the model
        where = args.checkpoint or "the latest checkpoint"
        raise recommend.FoldInError(
            f"{where} holds a {type(model).__name__}, which cannot fold in a new user; "
            "give --checkpoint of an MF, ImplicitMF, CollabFNet or baseline model"
        )
    movies = load_movies(model)
    reg = recommend.FOLD_IN_REG if args.reg is None else args.reg
    out = recommend.recommend_new_user(
        model, pairs, k=args.k, min_ratings=args.min_ratings, movies=movies, reg=reg
    )
    _print(out, "prediction", args.json)
    return 0


def _similar(args: argparse.Namespace) -> int:
    from recsys_utils import embeddings

    model = load_model(args.checkpoint)
    movies = load_movies(model)
    out = embeddings.similar_movies(
        model, args.movie, k=args.k, min_ratings=args.min_ratings, movies=movies
    )
    _print(out, "similarity", args.json)
    return 0
