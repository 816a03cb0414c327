"""What a sweep may open: study names (never paths), journal files of ours, database URLs.

Every refusal is a one-line ``ValueError`` (the CLI prints ``error: ...`` and exits 2),
raised before anything is written: a file that is not an Optuna journal is never opened
for writing, and a URL's password is never printed.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from recsys_utils.constants import redact_url

STUDY_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}")  # a name, never a path
JOURNAL_HEAD = re.compile(rb'\{\s*"op_code"\s*:')  # how every journal record begins


def check_study_name(study_name: str) -> str:
    """``study_name`` if it is a name (``[A-Za-z0-9._-]``, no leading dot, 100 at most)."""
    if not isinstance(study_name, str) or not STUDY_NAME.fullmatch(study_name):
        raise ValueError(
            f"study name {str(study_name)[:120]!r} is not a name: use letters, digits, "
            "'.', '_' and '-' (not first: '.'), at most 100 characters"
        )
    return study_name


def check_journal(path: Path) -> None:
    """Refuse (``ValueError``) a path that is not a journal file of ours, or to be one.

    A missing or empty file is fine (Optuna starts it); otherwise its first line must be
    a journal record: a JSON object with an ``op_code``, or (a kill mid-append of the
    first record) the start of one. Nothing else is ever opened for writing.
    """
    if path.is_dir():
        raise ValueError(f"--storage {path}: is a directory, not a journal file")
    if not path.exists():
        if path.parent.exists() and not path.parent.is_dir():
            raise ValueError(f"--storage {path}: {path.parent} is not a directory")
        return
    if not path.is_file():
        raise ValueError(f"--storage {path}: not a regular file")
    try:
        with path.open("rb") as f:
            head = f.read(1 << 16)
    except OSError as err:
        raise ValueError(f"--storage {path}: cannot read: {err.strerror or err}") from None
    if not head:
        return
    first, newline, _ = head.partition(b"\n")
    ok = JOURNAL_HEAD.match(first) is not None
    if ok and newline:
        try:
            record = json.loads(first)
            ok = isinstance(record, dict) and isinstance(record.get("op_code"), int)
        except ValueError:
            ok = False
    if not ok:
        raise ValueError(
            f"--storage {path}: not an Optuna journal (its first line is not a journal "
            "record); refusing to write to it: give a new file or a database URL"
        )


def _repair_journal_tail(path: Path) -> None:
    """Drop a half-written last line (a kill mid-append) so the journal replays.

    Only in a journal of ours (``check_journal``): any other file is refused, untouched.
    """
    check_journal(path)
    if not path.is_file() or path.stat().st_size == 0:
        return
    with path.open("rb+") as f:
        f.seek(-1, os.SEEK_END)
        if f.read(1) == b"\n":
            return
        f.truncate(path.read_bytes().rfind(b"\n") + 1)


def check_database_url(storage: str) -> None:
    """Refuse (``ValueError``) a database URL SQLAlchemy cannot parse or has no driver for."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        make_url(str(storage)).get_dialect()
    except (ArgumentError, ValueError) as err:
        raise ValueError(
            f"--storage {redact_url(storage)}: not a usable database URL: {_one_line(err)}"
        ) from None


def storage_error(storage, err: Exception) -> ValueError:
    """The one-line ``ValueError`` for a storage that cannot be opened (a database error)."""
    return ValueError(f"--storage {redact_url(storage)}: cannot open: {_one_line(err)}")


def _one_line(err: Exception) -> str:
    text = str(getattr(err, "orig", None) or err or type(err).__name__).strip()
    return redact_url(text.splitlines()[0] if text else type(err).__name__)


# Every table Optuna's RDBStorage creates (``alembic_version`` holds its schema version).
OPTUNA_TABLES = frozenset(
    {
        "studies",
        "study_directions",
        "study_user_attributes",
        "study_system_attributes",
        "trials",
        "trial_user_attributes",
        "trial_system_attributes",
        "trial_params",
        "trial_values",
        "trial_intermediate_values",
        "trial_heartbeats",
        "version_info",
        "alembic_version",
    }
)


def check_study_store(storage: str) -> None:
    """Refuse (``ValueError``) a database that holds tables other than Optuna's.

    Read only: lists the tables of the default schema. An empty database, or one that
    holds Optuna's tables only, is a study store; an ``alembic_version`` without
    Optuna's ``version_info`` is another application's migrations.
    """
    import sqlalchemy as sa
    from sqlalchemy.pool import NullPool

    url = sa.engine.make_url(str(storage))
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        path = Path(url.database)
        if not path.exists():
            return  # a new file: Optuna creates it
        if not path.is_file():
            raise ValueError(f"--storage {redact_url(storage)}: {path} is not a regular file")
    engine = sa.create_engine(url, poolclass=NullPool)
    try:
        tables = set(sa.inspect(engine).get_table_names())
    except sa.exc.SQLAlchemyError as err:
        raise ValueError(
            f"--storage {redact_url(storage)}: cannot open: {_one_line(err)}"
        ) from None
    finally:
        engine.dispose()
    foreign = sorted(tables - OPTUNA_TABLES)
    if "alembic_version" in tables and "version_info" not in tables:
        foreign = sorted({*foreign, "alembic_version"})
    if foreign:
        shown = ", ".join(foreign[:5]) + (
            f" and {len(foreign) - 5} more" if len(foreign) > 5 else ""
        )
        raise ValueError(
            f"--storage {redact_url(storage)}: not a study store (it holds tables that are not "
            f"Optuna's: {shown}); refusing to write to it: give a new database or file"
        )
