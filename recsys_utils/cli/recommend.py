"""``python -m recsys_utils recommend|similar``: a new user's top-N, or a movie's neighbours.

    python -m recsys_utils recommend --ratings "1:5,260:4.5,2571:4" --k 10 [--json]
    python -m recsys_utils similar --movie 1 --k 10 [--json]
    python -m recsys_utils similar --model hybrid --genres "Horror|Thriller" --tags "zombies,gore" --year 2025

Both use the ranking model by default (``data/checkpoints/ranking.json``, which notebook
03 saves; when it is missing the command trains it first and says so); ``--model mf`` (a
checkpoint name) or ``--checkpoint PATH`` picks any other, the rating models included.
Titles come from the data set the checkpoint was trained on. ``recommend`` counts only the
movies rated at or above the ranking model's threshold (4 stars) as liked, never
recommends a movie given, and says which liked movies each recommendation comes from.
``similar`` lists movies with at least ``--min-ratings`` ratings (default 20), so the
neighbours are films a fan recognises.

Movies nobody rated: ``--model hybrid`` (the hybrid checkpoint, trained first when
missing) places any movie of the data set from its features, rated in training or not,
and says where each vector comes from (``vector_from``: "ratings+features" or "features
only"). ``similar --movie ID`` then works for a movie nobody rated, ``--include-unrated``
lists unrated movies among the neighbours (and in ``recommend``), and ``similar --genres
"Horror|Thriller" --tags "zombies,gore" --year 2025`` describes a new movie and lists its
neighbours and the users who would like it most. These flags with a model that cannot
place unrated movies are refused in one line (exit 2).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import sys

from recsys_utils.constants import ITEM_COL, SCORE_COL, TITLE_COL, printable

SIMILAR_MIN_RATINGS = 20
AUDIENCE = 5  # users listed for a movie placed from its features
VECTOR_FROM = "vector_from"  # models.hybrid's column: "ratings+features" / "features only"
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
    rec.add_argument(
        "--include-unrated",
        action="store_true",
        help="also recommend movies nobody rated in training, placed from their features "
        "(needs --model hybrid)",
    )
    _common(rec)
    rec.set_defaults(func=_recommend)

    sim = subparsers.add_parser("similar", help="a movie's nearest neighbours in embedding space")
    sim.add_argument("--movie", type=int, default=None, help="MovieLens movieId")
    new = sim.add_argument_group(
        "a new movie, described by hand (needs --model hybrid; instead of --movie)"
    )
    new.add_argument("--genres", default=None, help='genres, e.g. "Horror|Thriller"')
    new.add_argument("--tags", default=None, help='tags users would give it, e.g. "zombies,gore"')
    new.add_argument("--year", type=int, default=None, help="release year, e.g. 2025")
    new.add_argument(
        "--list-tags",
        action="store_true",
        help="print the genres and tags a new movie can be described with, and stop",
    )
    sim.add_argument(
        "--include-unrated",
        action="store_true",
        help="also list movies nobody rated in training, placed from their features "
        "(needs --model hybrid; off by default)",
    )
    sim.add_argument(
        "--audience",
        type=int,
        default=None,
        help="for a movie placed from its features: list this many users who would like it "
        f"most (default {AUDIENCE}; 0: none; not with --json)",
    )
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
    source = VECTOR_FROM in frame
    for rank, row in enumerate(frame.itertuples(index=False), start=1):
        # titles come from the data: escaped, so one row per movie and no terminal codes
        title = printable(getattr(row, TITLE_COL, "")) if TITLE_COL in frame else ""
        why = f"  <- {printable(row.because)}" if because and row.because else ""
        where = f"  {getattr(row, VECTOR_FROM):<16}" if source else ""
        print(
            f"{rank:>3}  {getattr(row, value_col):7.3f}  {getattr(row, ITEM_COL):>7}"
            f"{where}  {title}{why}"
        )


def _describe(model, args) -> str:
    name = args.checkpoint or args.model or "ranking"
    return f"{type(model).__name__} ({name})"


@contextlib.contextmanager
def _bounded(args: argparse.Namespace, model, n_more: int = 0):
    """``--k`` past the movies the model can list is scored as one more than that (a
    k-wide table was allocated first: 7 TiB for 10**12), and the refusal names the k
    given; a negative ``--min-ratings`` is refused. ``n_more``: movies listed besides the
    training ones (the unrated ones)."""
    if args.min_ratings < 0:
        raise ValueError(f"--min-ratings must be 0 or more, got {args.min_ratings}")
    asked = args.k
    args.k = min(asked, len(model.item_map) + n_more + 1)
    try:
        yield
    except ValueError as err:
        if args.k != asked and str(err).startswith(f"k={args.k} exceeds"):
            raise ValueError(str(err).replace(f"k={args.k}", f"k={asked}", 1)) from None
        raise
    finally:
        args.k = asked


def _require_placing(model, args, flags: str) -> None:
    """One line when a flag needs a model that places movies nobody rated (the hybrid)."""
    if not model.capabilities.places_new_movies:  # declared on the model's class
        raise ValueError(
            f"{flags} needs a model that places movies nobody rated from their features: "
            f"--model hybrid ({_describe(model, args)} cannot)"
        )


def _feature_text(features, row, year: int | None = None) -> str:
    """A feature row in words: its genres, up to three tags (heaviest first), and its
    year bucket (``year``, when given, instead)."""
    import numpy as np

    row = row.tocsr()
    kinds = features.kinds[row.indices]
    label = [str(n).split(":", 1)[1] for n in features.names[row.indices]]
    genres = [x for x, k in zip(label, kinds, strict=True) if k == "genre"]
    order = np.argsort(-row.data, kind="stable")
    tags = [label[j] for j in order if kinds[j] == "tag"][:3]
    years = [x for x, k in zip(label, kinds, strict=True) if k == "year" and x != "unknown"]
    parts = [", ".join(genres), "tags " + ", ".join(tags) if tags else ""]
    parts.append(str(year) if year is not None else ", ".join(years))
    return "; ".join(printable(p) for p in parts if p)


def _rated_only(model, pairs, movies) -> list[tuple[int, float]]:
    """The hybrid pools a person from movies rated in training only: a movie nobody rated
    (in the feature table) is left out of the person with a note; other unknown ids stay
    for ``fold_in`` to refuse."""
    import numpy as np

    if not model.capabilities.places_new_movies:
        return pairs
    ids = np.array([m for m, _ in pairs], np.int64)
    unrated = (model.item_map.encode(ids) < 0) & (model.features.rows(ids) >= 0)
    if unrated.any():
        left = ", ".join(str(m) for m in ids[unrated][:10])
        print(
            f"note: nobody rated {left} in training: the hybrid places such movies from "
            "their features (similar --movie ID), but a person is pooled from rated movies "
            "only, so they are left out of yours",
            file=sys.stderr,
        )
    kept = [p for p, cold in zip(pairs, unrated, strict=True) if not cold]
    if not kept:
        raise ValueError("none of your --ratings movies was rated in training: give one that was")
    return kept


def _recommend(args: argparse.Namespace) -> int:
    import numpy as np

    from recsys_utils import recommend
    from recsys_utils.embeddings.vectors import with_titles
    from recsys_utils.recommend.explain import because_you_liked
    from recsys_utils.recommend.foldin import liked_indices, liked_threshold

    pairs = parse_pairs(args.ratings)
    model = load_model(args)
    if args.include_unrated:
        _require_placing(model, args, "--include-unrated")
    if not model.capabilities.scores_new_people:  # declared on the model's class
        raise recommend.FoldInError(
            f"{_describe(model, args)} cannot score a new person; give --model ranking, mf, "
            "collabfnet or a baseline's checkpoint"
        )
    movies = load_movies(model)
    pairs = _rated_only(model, pairs, movies)
    reg = recommend.FOLD_IN_REG if args.reg is None else args.reg
    user = recommend.fold_in(model, pairs, reg=reg)
    if args.include_unrated:
        recommend.score_folded(model, user)  # refuses a person with no liked movie
        with _bounded(args, model, len(model.unrated_movies())):
            out = model.recommend_with_unrated(
                user.query(), args.k, min_ratings=args.min_ratings, novelty=args.novelty
            )
        out = with_titles(out, movies)
    else:
        with _bounded(args, model):
            out = recommend.recommend_new_user(
                model, user, k=args.k, min_ratings=args.min_ratings, movies=movies,
                novelty=args.novelty,
            )  # fmt: skip
    if not model.capabilities.predicts_ratings:
        liked = liked_indices(model, user)
        titles = movies.set_index(ITEM_COL)[TITLE_COL] if movies is not None else None
        items = model.item_map.encode(out[ITEM_COL].to_numpy())
        why = np.full(len(out), "", dtype=object)
        warm = items >= 0
        why[warm] = because_you_liked(model, liked, items[warm], titles)
        for j in np.flatnonzero(~warm):  # nobody rated it: what it is places it
            row = model.features.matrix[model.features.rows([out[ITEM_COL].iloc[j]])]
            why[j] = f"nobody rated it; its features: {_feature_text(model.features, row)}"
        out["because"] = why
        order = (
            "score orders the list, it is no rating"
            if not args.novelty
            else f"ordered by score - {args.novelty:g} x log(1 + ratings of the movie) "
            "(--novelty); the score is the model's"
        )
        unrated = (
            "; movies nobody rated are included, placed from their features (vector_from)"
            if args.include_unrated
            else ""
        )
        heading = (
            f"{_describe(model, args)}: liked {len(liked)} of your {len(pairs)} movies "
            f"(rated {liked_threshold(model):g} or more); {order}{unrated}"
        )
        _print(out, SCORE_COL, args.json, heading)
    else:
        _print(out, "prediction", args.json, f"{_describe(model, args)}: predicted ratings")
    return 0


def _similar(args: argparse.Namespace) -> int:
    from recsys_utils import embeddings

    described = any(x is not None for x in (args.genres, args.tags, args.year))
    if args.list_tags:
        if described or args.movie is not None or args.include_unrated:
            raise ValueError("--list-tags lists the vocabulary and stops: give it alone")
        model = load_model(args)
        _require_placing(model, args, "--list-tags")
        return _list_tags(model.features, args.json)
    if described and args.movie is not None:
        raise ValueError(
            "give --movie ID or describe a new movie with --genres/--tags/--year, not both"
        )
    if not described and args.movie is None:
        raise ValueError(
            "similar needs --movie ID, or a new movie described by --genres/--tags/--year "
            "(with --model hybrid)"
        )
    if args.audience is not None and (args.json or args.audience < 0):
        raise ValueError(
            "--audience lists users in the table output: a number >= 0, without --json"
        )
    model = load_model(args)
    if described or args.include_unrated:
        _require_placing(
            model, args, "--genres/--tags/--year" if described else "--include-unrated"
        )
    movies = load_movies(model)
    if model.capabilities.places_new_movies:
        return _similar_placed(model, args, movies, described)
    if model.item_map.encode([args.movie])[0] < 0 and movies is not None:
        if (movies[ITEM_COL] == args.movie).any():  # in the data set, not in training
            raise ValueError(
                f"nobody rated movie {args.movie} in training, so {_describe(model, args)} "
                "has no vector for it; --model hybrid places it from its features"
            )
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


def _similar_placed(model, args, movies, described: bool) -> int:
    """``similar`` with the hybrid: any movie of the data set, or one described by hand."""
    from recsys_utils.embeddings.vectors import with_titles

    features = model.features
    if described:
        try:
            target = features.describe(genres=args.genres, tags=args.tags, year=args.year)
        except ValueError as err:
            if str(err).startswith("unknown "):  # a genre or tag: where the known ones are
                raise ValueError(f"{err}; --list-tags lists them all") from None
            raise
        what = f"a new movie ({_feature_text(features, target, args.year)})"
        unlearned = model.unlearned_features(target)
        if unlearned:
            print(
                f"note: no movie the model was trained on has {', '.join(unlearned)}: "
                "nothing learned comes from it",
                file=sys.stderr,
            )
    else:
        target = args.movie
        title = _title(movies, args.movie)
        what = f"{args.movie}{f' ({title})' if title else ''}"
    source = model.vector_from(target if described else [target])[0]
    with _bounded(args, model, len(model.unrated_movies()) if args.include_unrated else 0):
        out = model.neighbours(
            target, args.k, min_ratings=args.min_ratings, include_unrated=args.include_unrated
        )
    out = with_titles(out, movies)
    cold = source == "features only"
    origin = (
        "its vector comes from its features only"
        + ("" if described else " (nobody rated it in training)")
        if cold
        else f"its vector from {source}"
    )
    among = f"movies with at least {args.min_ratings} ratings" + (
        " and movies nobody rated (features only)" if args.include_unrated else ""
    )
    heading = (
        f"{_describe(model, args)}: movies like {what}; {origin}; cosine of the movie "
        f"vectors, among {among}"
    )
    _print(out, "similarity", args.json, heading)
    n = AUDIENCE if args.audience is None else args.audience
    if cold and not args.json and n > 0:
        _print_audience(model, target, min(n, len(model.user_map)), movies)
    return 0


def _title(movies, movie_id) -> str:
    if movies is None:
        return ""
    found = movies.loc[movies[ITEM_COL] == movie_id, TITLE_COL]
    return printable(found.iloc[0]) if len(found) else ""


def _print_audience(model, target, n: int, movies) -> None:
    """The users whose own list would put the movie highest, each with the three movies
    they liked that are closest to it."""
    import numpy as np

    fans = model.audience(target, k=n)
    vec = model.movie_vectors(target if not isinstance(target, int) else [target])[0][0]
    unit = vec / max(np.linalg.norm(vec), 1e-12)
    liked = model.liked()
    print(
        f"\nwho would like it most: {len(fans)} of the {len(model.user_map):,} users, those "
        "whose own list (movies they have not rated) would put it highest"
    )
    for row in fans.itertuples(index=False):
        mine = liked[model.user_map.encode([row.user_id])[0]].indices
        W = model.W_out_[mine]
        sims = (W @ unit) / np.maximum(np.linalg.norm(W, axis=1), 1e-12)
        top = model.item_map.decode(mine[np.argsort(-sims, kind="stable")[:3]])
        names = "; ".join(_title(movies, m) or str(m) for m in top)
        print(
            f"  user {row.user_id:>6}  would rank it #{row.rank:<5}  liked {mine.size:>4} "
            f"movies, closest to it: {names}"
        )


def _list_tags(features, as_json: bool) -> int:
    """The genres and kept tags of the model's feature table, each with its movie count."""
    import numpy as np

    counts = np.bincount(features.matrix.indices, minlength=features.n_features)
    vocab = {
        kind: {
            label: int(counts[c])
            for label, c in zip(features.labels(kind), features.columns(kind), strict=True)
        }
        for kind in ("genre", "tag")
    }
    if as_json:
        print(json.dumps(vocab, ensure_ascii=False, indent=1))
        return 0
    for kind, heading in (("genre", "genres"), ("tag", "tags (kept: used by enough users)")):
        items = ", ".join(f"{printable(x)} ({n})" for x, n in vocab[kind].items())
        print(f"{heading}, with the movies carrying each: {items or 'none'}")
    return 0
