"""Unzip a MovieLens release safely: every entry checked before anything is written.

Refused, each as a one-line ``DataError`` and nothing left behind: absolute paths,
``..`` parts, symbolic links, encrypted entries, compression methods this Python
cannot read (deflate64, ...), a zip bomb (more than ``MAX_TOTAL_BYTES`` uncompressed
in all, or a member compressed more than ``MAX_RATIO`` times), and a zip without the
release's folder or its data files. Extraction goes to ``home/.extract-*`` and is
renamed to ``home/folder`` only when complete; the sizes are enforced while writing
too, so a zip whose headers lie stops at the cap.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from recsys_utils.data.validation import DataError

MAX_TOTAL_BYTES = 4 << 30  # the largest release (ml-32m) unzips to about 1.2 GB
MAX_RATIO = 100  # MovieLens CSVs compress about 3-6 times; a bomb, thousands of times
RATIO_FLOOR = 1 << 20  # members smaller than this are never refused for their ratio
SUPPORTED_METHODS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
EXTRACT_PREFIX = ".extract-"


def _unsafe_reason(info: zipfile.ZipInfo, max_ratio: float) -> str | None:
    name = info.filename.replace("\\", "/")
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return "an absolute path"
    if ".." in PurePosixPath(name).parts:
        return "a path outside the target folder ('..')"
    if stat.S_ISLNK(info.external_attr >> 16):
        return "a symbolic link"
    if info.flag_bits & 0x1:
        return "encrypted (password-protected zips are not supported)"
    if info.compress_type not in SUPPORTED_METHODS:
        return f"compressed with method {info.compress_type} (only stored/deflate/bzip2/lzma)"
    if info.file_size > RATIO_FLOOR and info.file_size > max_ratio * max(1, info.compress_size):
        return (
            f"compressed {info.file_size / max(1, info.compress_size):.0f} times "
            f"(more than {max_ratio:g}: a zip bomb?)"
        )
    return None


def safe_extract(
    zip_path: Path,
    home: Path,
    folder: str,
    replace: bool = False,
    *,
    required: tuple[str, ...] = (),
    max_total: int | None = None,
    max_ratio: float | None = None,
) -> Path:
    """Extract ``zip_path`` and return ``home/folder``, refusing unsafe or unexpected zips.

    Args:
        zip_path: the verified zip.
        home: where ``folder`` goes (the temp folder is made here too).
        folder: the top-level folder the zip must hold.
        replace: replace an existing ``home/folder`` (``fetch --force``).
        required: file names that must be in ``folder/`` (the ratings and movies files).
        max_total: most bytes written in all (declared sizes, and bytes actually written);
            default ``MAX_TOTAL_BYTES``.
        max_ratio: most uncompressed/compressed ratio of a member over ``RATIO_FLOOR``
            bytes; default ``MAX_RATIO``.
    """
    max_total = MAX_TOTAL_BYTES if max_total is None else max_total
    max_ratio = MAX_RATIO if max_ratio is None else max_ratio
    try:
        with zipfile.ZipFile(zip_path) as zf:
            infos = zf.infolist()
            for info in infos:
                reason = _unsafe_reason(info, max_ratio)
                if reason:
                    raise DataError(f"{zip_path}: refused: entry {info.filename!r} is {reason}")
            names = {i.filename.replace("\\", "/") for i in infos}
            if not any(n.startswith(f"{folder}/") for n in names):
                raise DataError(
                    f"{zip_path}: no '{folder}/' folder inside; not the expected data set"
                )
            missing = [f for f in required if f"{folder}/{f}" not in names]
            if missing:
                raise DataError(
                    f"{zip_path}: '{folder}/' has no {', '.join(missing)}; not the expected data set"
                )
            total = sum(i.file_size for i in infos)
            if total > max_total:
                raise DataError(
                    f"{zip_path}: refused: unzips to {total:,} bytes, more than the "
                    f"{max_total:,} allowed (a zip bomb?)"
                )
            tmp = Path(tempfile.mkdtemp(prefix=EXTRACT_PREFIX, dir=home))
            try:
                _extract_capped(zf, infos, tmp, zip_path, max_total)
                target = home / folder
                if target.exists() and replace:
                    shutil.rmtree(target)
                os.replace(tmp / folder, target)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
    except (zipfile.BadZipFile, EOFError, zlib.error) as err:
        raise DataError(
            f"{zip_path}: not a complete zip file (truncated or corrupt: {err})"
        ) from None
    except (NotImplementedError, RuntimeError) as err:  # methods or encryption zipfile lacks
        raise DataError(f"{zip_path}: cannot extract: {err}") from None
    except OSError as err:
        raise DataError(f"{zip_path}: cannot extract: {err.strerror or err}") from None
    return home / folder


def _extract_capped(zf: zipfile.ZipFile, infos, tmp: Path, zip_path: Path, max_total: int):
    """Write every entry under ``tmp``, stopping at ``max_total`` bytes or a member's own size."""
    written = 0
    for info in infos:
        dest = tmp / info.filename.replace("\\", "/")
        if info.is_dir():
            dest.mkdir(parents=True, exist_ok=True)
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        with zf.open(info) as src, open(dest, "wb") as out:
            member = 0
            for block in iter(lambda: src.read(1 << 20), b""):
                member += len(block)
                written += len(block)
                if member > info.file_size or written > max_total:
                    raise DataError(
                        f"{zip_path}: refused: entry {info.filename!r} unzips to more than "
                        "it declares or than allowed (a zip bomb?)"
                    )
                out.write(block)
