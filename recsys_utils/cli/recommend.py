"""``python -m recsys_utils recommend|similar``: a new user's top-N, or a movie's neighbours.

    python -m recsys_utils recommend --ratings "1:5,260:4.5,2571:4" --k 10 [--json]
    python -m recsys_utils similar --movie 1 --k 10 [--json]

Both use the ranking model by default (``data/checkpoints/ranking.json``, which notebook
03 saves; when it is missing the command trains it first and says so); ``--model mf`` (a
checkpoint name) or ``--checkpoint PATH`` picks any other, the rating models included.
Titles come from the data set the checkpoint was trained on. ``recommend`` counts only the
movies rated at or above the ranking model's threshold (4 stars) as liked, never
recommends a movie given, and says which liked movies each recommendation comes from.
``similar`` lists movies with at least ``--min-ratings`` ratings (default 20), so the
neighbours are films a fan recognises.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import sys

from recsys_utils.constants import ITEM_COL, SCORE_COL, TITLE_COL, printable

SIMILAR_MIN_RATINGS = 20
# characters json.dumps(ensure_ascii=False) leaves raw that a terminal may act on
_UNSAFE_IN_JSON = re.compile("[\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


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
        "--novelty",
        type=float,
        default=0.0,
        help="order by score - NOVELTY * log(1 + ratings of the movie): above 0 favours "
        "less-watched films at some cost in accuracy (default 0; 0.05-0.1 is mild)",
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
        default=SIMILAR_MIN_RATINGS,
        help=f"list only movies with at least this many training ratings (default "
        f"{SIMILAR_MIN_RATINGS}: without it obscure films rated by one fan crowd the list)",
    )
    _common(sim)
    sim.set_defaults(func=_similar)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--k", type=int, default=10, help="how many movies to list")
    parser.add_argument("--json", action="store_true", help="print JSON records instead of a table")
    which = parser.add_mutually_exclusive_group()
    which.add_argument(
        "--model",
        default=None,
        help="a checkpoint name in data/checkpoints (ranking, mf, collabfnet, best, ...); "
        "default: ranking",
    )
    which.add_argument("--checkpoint", default=None, help="a checkpoint sidecar (.json) path")


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


def load_model(args: argparse.Namespace):
    """``--checkpoint``'s file, else ``--model``'s checkpoint name, else ``ranking`` (trained
    and saved first when missing, with a note on stderr)."""
    from recsys_utils.models import checkpoints
    from recsys_utils.models.recipes import DEFAULT_CHECKPOINT, ensure_checkpoint

    stem = args.checkpoint or args.model or DEFAULT_CHECKPOINT
    path = ensure_checkpoint(stem, echo=lambda line: print(f"note: {line}", file=sys.stderr))
    return checkpoints.load(path)


def load_movies(model):
    """The movies table of the checkpoint's data set, or ``None`` when it is not on disk."""
    from recsys_utils import data
    from recsys_utils.constants import DEFAULT_DATASET
    from recsys_utils.models import checkpoints

    name = (model.checkpoint_meta_ or {}).get("dataset") or DEFAULT_DATASET
    try:
        movies = data.load_dataset(name, fetch=False).movies
    except (FileNotFoundError, ValueError) as err:
        print(f"note: no titles ({err})", file=sys.stderr)
        return None
    checkpoints.check_items(model, movies[ITEM_COL])
    return movies


def _print(frame, value_col: str, as_json: bool, heading: str = "") -> None:
    if as_json:
        text = json.dumps(json.loads(frame.to_json(orient="records")), ensure_ascii=False, indent=1)
        print(_UNSAFE_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", text))  # DEL, C1, bidi
        return
    if heading:
        print(heading)
    because = "because" in frame
    for rank, row in enumerate(frame.itertuples(index=False), start=1):
        # titles come from the data: escaped, so one row per movie and no terminal codes
        title = printable(getattr(row, TITLE_COL, "")) if TITLE_COL in frame else ""
        why = f"  <- {printable(row.because)}" if because and row.because else ""
        print(
            f"{rank:>3}  {getattr(row, value_col):7.3f}  {getattr(row, ITEM_COL):>7}  {title}{why}"
        )


def _describe(model, args) -> str:
    name = args.checkpoint or args.model or "ranking"
    return f"{type(model).__name__} ({name})"


@contextlib.contextmanager
def _bounded(args: argparse.Namespace, model):
    """``--k`` past the movies the model knows is scored as one more than it knows (a k-wide
    table was allocated first: 7 TiB for 10**12), and the refusal names the k given;
    a negative ``--min-ratings`` is refused."""
    if args.min_ratings < 0:
        raise ValueError(f"--min-ratings must be 0 or more, got {args.min_ratings}")
    asked = args.k
    args.k = min(asked, len(model.item_map) + 1)
    try:
        yield
    except ValueError as err:
        if args.k != asked and str(err).startswith(f"k={args.k} exceeds"):
            raise ValueError(str(err).replace(f"k={args.k}", f"k={asked}", 1)) from None
        raise
    finally:
        args.k = asked


def _recommend(args: argparse.Namespace) -> int:
    from recsys_utils import recommend
    from recsys_utils.recommend.explain import because_you_liked
    from recsys_utils.recommend.foldin import liked_indices, liked_threshold

    pairs = parse_pairs(args.ratings)
    model = load_model(args)
    if not model.capabilities.scores_new_people:  # declared on the model's class
        raise recommend.FoldInError(
            f"{_describe(model, args)} cannot score a new person; give --model ranking, mf, "
            "collabfnet or a baseline's checkpoint"
        )
    movies = load_movies(model)
    reg = recommend.FOLD_IN_REG if args.reg is None else args.reg
    user = recommend.fold_in(model, pairs, reg=reg)
    with _bounded(args, model):
        out = recommend.recommend_new_user(
            model, user, k=args.k, min_ratings=args.min_ratings, movies=movies, novelty=args.novelty
        )
    if not model.capabilities.predicts_ratings:
        liked = liked_indices(model, user)
        titles = movies.set_index(ITEM_COL)[TITLE_COL] if movies is not None else None
        items = model.item_map.encode(out[ITEM_COL].to_numpy())
        out["because"] = because_you_liked(model, liked, items, titles)
        order = (
            "score orders the list, it is no rating"
            if not args.novelty
            else f"ordered by score - {args.novelty:g} x log(1 + ratings of the movie) "
            "(--novelty); the score is the model's"
        )
        heading = (
            f"{_describe(model, args)}: liked {len(liked)} of your {len(pairs)} movies "
            f"(rated {liked_threshold(model):g} or more); {order}"
        )
        _print(out, SCORE_COL, args.json, heading)
    else:
        _print(out, "prediction", args.json, f"{_describe(model, args)}: predicted ratings")
    return 0


def _similar(args: argparse.Namespace) -> int:
    from recsys_utils import embeddings

    model = load_model(args)
    movies = load_movies(model)
    with _bounded(args, model):
        out = embeddings.similar_movies(
            model, args.movie, k=args.k, min_ratings=args.min_ratings, movies=movies
        )
    how = (
        "what it recommends to a person who liked only this movie"
        if not model.capabilities.predicts_ratings
        else "cosine of the movie vectors"
    )
    _print(
        out,
        "similarity",
        args.json,
        f"{_describe(model, args)}: movies like {args.movie} ({how}), among movies with at "
        f"least {args.min_ratings} ratings",
    )
    return 0
