"""What counts as a bad ratings table, and the one-line error that says so.

Every check names the source (a file path or ``"<DataFrame>"``), the first offending
row and what was expected, so a user reads one line instead of a pandas traceback.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from recsys_utils.constants import (
    ITEM_COL,
    RATING_COL,
    RATINGS_COLUMNS,
    TIMESTAMP_COL,
    USER_COL,
    DatasetSpec,
    get_spec,
)


class DataError(ValueError):
    """A data file or table is not what the workbench expects (one-line message)."""


def show(value, width: int = 40) -> str:
    """A short printable form of a bad value (huge fields are cut)."""
    text = repr(value.item() if isinstance(value, np.generic) else value)
    return text if len(text) <= width else text[: width - 3] + "..."


def fail(source, problem: str, row: int | None = None, line_offset: int | None = None):
    """Raise a one-line ``DataError`` naming ``source``, the row and the problem."""
    where = ""
    if row is not None:
        where = f"line {row + line_offset}: " if line_offset is not None else f"row {row}: "
    message = f"{source}: {where}{problem}".replace("\r", " ").replace("\n", " ")
    raise DataError(message)


def _numeric(df: pd.DataFrame, col: str, source, line_offset) -> pd.Series:
    """The column as numbers; non-numbers and missing values raise ``DataError``."""
    values = df[col]
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        coerced = pd.to_numeric(values, errors="coerce")
        bad = coerced.isna() & values.notna()
        if bad.any():
            label = bad.idxmax()
            fail(source, f"{col} {show(values[label])} is not a number", label, line_offset)
        values = coerced
    missing = values.isna()
    if missing.any():
        fail(source, f"missing {col} (NaN or empty)", missing.idxmax(), line_offset)
    return values


def _integers(df: pd.DataFrame, col: str, source, line_offset, allow_negative: bool) -> None:
    values = _numeric(df, col, source, line_offset)
    if not pd.api.types.is_integer_dtype(values):
        frac = np.asarray(values, dtype=np.float64) % 1 != 0
        if frac.any():
            label = values.index[int(np.argmax(frac))]
            fail(source, f"{col} {show(values[label])} is not an integer", label, line_offset)
    too_big = values.abs() > np.iinfo(np.int32).max if col != TIMESTAMP_COL else values != values
    if too_big.any():
        label = too_big.idxmax()
        fail(source, f"{col} {values[label]} is too large for an int32 id", label, line_offset)
    if not allow_negative:
        neg = values < 0
        if neg.any():
            label = neg.idxmax()
            fail(source, f"{col} {values[label]} is negative; ids must be >= 0", label, line_offset)


def check_movie_ids(ids: pd.Series, source, line_offset: int) -> None:
    """Movie ids must be integers in 0..int32 max (checked before any cast) and unique."""
    values = np.asarray(ids)
    bad = (values < 0) | (values > np.iinfo(np.int32).max)
    if bad.any():
        i = int(np.argmax(bad))
        fail(source, f"movieId {values[i]} is not an id in 0 to 2147483647", i, line_offset)
    dup = pd.Series(values).duplicated()
    if dup.any():
        i = int(dup.idxmax())
        first = int(np.argmax(values == values[i]))
        fail(
            source,
            f"movieId {values[i]} repeats the movie of line {first + line_offset}",
            i,
            line_offset,
        )


def validate_ratings(
    df: pd.DataFrame,
    spec: DatasetSpec | str | None = None,
    source: str = "<DataFrame>",
    line_offset: int | None = None,
) -> None:
    """Check a tidy ratings table; raise ``DataError`` at the first problem.

    Args:
        df: a table with columns ``user_id, item_id, rating, timestamp`` (extra columns
            are allowed).
        spec: the data set whose rating scale and step apply (default ml-latest-small).
        source: what to name in the error (a file path when parsing a file).
        line_offset: added to the row label to give the file's line number; ``None``
            reports the row label instead.

    Raises:
        DataError: missing column, missing or non-numeric value, negative or
            non-integer id, rating off the scale or off the ``rating_step`` grid.
    """
    spec = get_spec(spec) if isinstance(spec, str) else spec or get_spec("ml-latest-small")
    missing = [c for c in RATINGS_COLUMNS if c not in df.columns]
    if missing:
        fail(
            source, f"missing column(s) {', '.join(missing)}; expected {', '.join(RATINGS_COLUMNS)}"
        )
    _integers(df, USER_COL, source, line_offset, allow_negative=False)
    _integers(df, ITEM_COL, source, line_offset, allow_negative=False)
    _integers(df, TIMESTAMP_COL, source, line_offset, allow_negative=True)
    rating = np.asarray(_numeric(df, RATING_COL, source, line_offset), dtype=np.float64)
    lo, hi, step = spec.rating_min, spec.rating_max, spec.rating_step
    off = (rating < lo - 1e-9) | (rating > hi + 1e-9)
    if off.any():
        i = int(np.argmax(off))
        fail(
            source,
            f"rating {rating[i]:g} is off the scale {lo:g} to {hi:g}",
            df.index[i],
            line_offset,
        )
    steps = (rating - lo) / step
    off_grid = np.abs(steps - np.round(steps)) > 1e-6
    if off_grid.any():
        i = int(np.argmax(off_grid))
        problem = f"rating {rating[i]:g} is off the {step:g} grid of {spec.name} ({lo:g}, {lo + step:g}, ...)"
        fail(source, problem, df.index[i], line_offset)


# --- file-level checks (the parsers in ``data`` call these) -----------------------
def check_head(path: Path, header: list[str] | None) -> None:
    """Empty file, BOM, wrong header, header only: one-line errors before pandas.

    CRLF line endings are accepted: the mirror's own ml-latest-small uses them.
    """
    with open(path, "rb") as fh:
        first = fh.readline(1 << 20)
        rest = fh.read(4096)
    if not first.strip() and not rest.strip():
        fail(path, "empty file; expected ratings")
    if first.startswith(b"\xef\xbb\xbf"):
        fail(path, "line 1: starts with a UTF-8 byte-order mark (BOM); save it without BOM")
    if header is None:
        return
    found = first.decode("utf-8", errors="replace").rstrip("\r\n").split(",")
    if found != header:
        missing = [c for c in header if c not in found]
        extra = [c for c in found if c not in header]
        detail = "; ".join(
            p
            for p in (
                missing and f"missing {', '.join(missing)}",
                extra and f"unexpected {', '.join(map(show, extra))}",
            )
            if p
        )
        fail(
            path,
            f"line 1: header {show(','.join(found))} is not {','.join(header)}"
            + (f" ({detail})" if detail else ""),
        )
    if not rest.strip():
        fail(path, "has a header but no data rows")


def scan_ratings(path: Path, sep: str, header: bool, encoding: str) -> None:
    """Slow line-by-line pass that finds why pandas could not parse a ratings file.

    Raises ``DataError`` at the first bad line; returns if every line looks right.
    """
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            if header and lineno == 1:
                continue
            try:
                text = raw.decode(encoding).rstrip("\r\n")
            except UnicodeDecodeError:
                fail(
                    path,
                    f"line {lineno}: not valid {encoding} text (latin-1 where UTF-8 is expected?)",
                )
            fields = text.split(sep)
            if len(fields) != 4:
                hint = " (truncated last line?)" if not raw.endswith(b"\n") else ""
                fail(
                    path,
                    f"line {lineno}: expected 4 fields separated by {sep!r}, found {len(fields)}{hint}",
                )
            for col, value, kind in zip(
                RATINGS_COLUMNS, fields, (int, int, float, int), strict=True
            ):
                try:
                    number = kind(value)
                except ValueError:
                    what = "an integer" if kind is int else "a number"
                    fail(path, f"line {lineno}: {col} {show(value)} is not {what}")
                if kind is int and not -(2**62) < number < 2**62:
                    fail(path, f"line {lineno}: {col} {show(value)} is out of range")


def summarize(ratings: pd.DataFrame) -> dict:
    """Headline numbers of a ratings table: sizes, density, observed scale, duplicates."""
    n = len(ratings)
    n_users = int(ratings[USER_COL].nunique())
    n_items = int(ratings[ITEM_COL].nunique())
    return {
        "n_ratings": n,
        "n_users": n_users,
        "n_movies": n_items,
        "density": n / (n_users * n_items) if n_users and n_items else 0.0,
        "rating_min": float(ratings[RATING_COL].min()) if n else float("nan"),
        "rating_max": float(ratings[RATING_COL].max()) if n else float("nan"),
        "mean_rating": float(ratings[RATING_COL].mean()) if n else float("nan"),
        "duplicate_pairs": int(ratings.duplicated([USER_COL, ITEM_COL]).sum()),
    }
