"""Fetch a MovieLens zip from GroupLens (or a mirror), check its md5, unzip it safely, cache it.

The base URL is ``constants.GROUPLENS_URL`` unless ``$RECSYS_DATA_MIRROR`` (or the
``mirror`` argument) names an http(s) URL or a local folder with the same layout:
``{name}.zip`` and ``{name}.zip.md5``. Every failure is a one-line ``DataError``, and a
URL's userinfo (a password) is never printed. Nothing half-written is left behind:
downloads go to a temp file renamed when complete and verified, and the zip is
extracted into a temp folder renamed at the end (``_archive.safe_extract``). Downloads
are capped (``MAX_DOWNLOAD_BYTES``, ``MAX_MD5_BYTES``) and each fetch has an overall
deadline. One fetch of a release runs at a time (``fcntl.flock`` on ``raw/.<name>.lock``,
a file kept); under the lock, temp files that killed fetches left are removed.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import http.client
import os
import re
import shutil
import socket
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path, PurePosixPath

from tqdm.auto import tqdm

from recsys_utils.constants import (
    DEFAULT_DATASET,
    GROUPLENS_URL,
    MIRROR_ENV,
    get_spec,
    processed_dir,
    raw_dir,
    redact_url,
)
from recsys_utils.data._archive import EXTRACT_PREFIX, safe_extract  # noqa: F401 (re-exported)
from recsys_utils.data.validation import DataError

MAX_DOWNLOAD_BYTES = 2 << 30  # the largest release zip (ml-32m) is about 240 MB
MAX_MD5_BYTES = 4096  # an md5 file is one line
DEADLINE_S = 3600.0  # one fetch, all attempts together
MD5_DEADLINE_S = 60.0  # the .md5 (one line): a server that drips it is given up soon
_HEX = r"(?P<hex>[0-9a-fA-F]{32})"
_MD5_FORMS = (
    re.compile(rf"^MD5\s*\(\s*(?P<name>.*?)\s*\)\s*=\s*{_HEX}$", re.IGNORECASE),  # GroupLens, BSD
    re.compile(rf"^{_HEX}\s+\*?(?P<name>.+?)$"),  # md5sum
)
_TRANSIENT = (
    urllib.error.URLError,
    TimeoutError,
    socket.timeout,
    ConnectionError,
    http.client.HTTPException,
)


def fetch(
    name: str = DEFAULT_DATASET,
    *,
    mirror: str | None = None,
    force: bool = False,
    retries: int = 3,
    timeout: float = 30,
    progress: bool = True,
    backoff: float = 1.0,
    deadline: float | None = None,
    max_bytes: int | None = None,
) -> Path:
    """Download, verify and extract a MovieLens release; return its extracted folder.

    Args:
        name: the release (a key of ``constants.DATASETS``).
        mirror: base URL or local folder; default ``$RECSYS_DATA_MIRROR``, else GroupLens.
        force: download and extract again even if the folder is cached; the parquet
            cache made from the old folder is removed.
        retries: extra attempts after a 5xx, a timeout or a dropped connection (never a 404).
        timeout: seconds per network operation.
        progress: show a tqdm progress bar while downloading.
        backoff: first wait between attempts, doubled each time.
        deadline: seconds for the whole fetch, all attempts (default ``DEADLINE_S``); the
            ``.md5`` gets at most ``MD5_DEADLINE_S`` of it.
        max_bytes: the most the zip may hold (default ``MAX_DOWNLOAD_BYTES``).

    Returns:
        ``raw_dir()/name/spec.folder``. When it holds the release's data files and
        ``force`` is false, no network or mirror access happens at all.

    Raises:
        DataError: missing mirror, HTTP error, md5 mismatch, bad or unsafe zip, a
        download over its size cap or past its deadline, a folder that cannot be written
        (read-only, no permission, a full disk: the message names the path).
    """
    spec = get_spec(name)
    home = raw_dir() / name
    target = home / spec.folder
    required = (spec.ratings_file, spec.movies_file)
    if _complete(target, required) and not force:
        return target
    try:
        cap = MAX_DOWNLOAD_BYTES if max_bytes is None else int(max_bytes)
        return _fetch_locked(name, home, target, required, mirror, force, retries, timeout,
                             progress, backoff, deadline, cap)  # fmt: skip
    except OSError as err:  # a read-only folder, no permission, a full disk
        path = err.filename or home
        raise DataError(f"{path}: cannot write ({err.strerror or err})") from None


def _fetch_locked(name, home, target, required, mirror, force, retries, timeout, progress,
                  backoff, deadline, cap) -> Path:  # fmt: skip
    spec = get_spec(name)
    home.mkdir(parents=True, exist_ok=True)
    with _fetch_lock(raw_dir() / f".{name}.lock"):
        if _complete(target, required) and not force:
            return target  # another process fetched it while this one waited
        _remove_stale(home)
        deadline_at = time.monotonic() + (DEADLINE_S if deadline is None else deadline)
        zip_path = _download(
            name, home, mirror, retries, timeout, backoff, progress, deadline_at, cap
        )
        folder = safe_extract(
            zip_path, home, spec.folder, replace=force or target.exists(), required=required
        )
        if force:  # the parquet cache was made from the old folder
            shutil.rmtree(processed_dir() / name, ignore_errors=True)
        return folder


def _complete(target: Path, required: tuple[str, ...]) -> bool:
    return target.is_dir() and all((target / f).is_file() for f in required)


@contextlib.contextmanager
def _fetch_lock(path: Path):
    """Hold ``path`` locked: one fetch (download and extract) of a release at a time.

    The lock file is kept (unlinking it would let two processes lock different files).
    """
    with open(path, "a+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _remove_stale(home: Path) -> None:
    """Remove what killed fetches left (``.*.part`` files, ``.extract-*`` folders).

    Called under the fetch lock, so no live fetch of this release owns any of them.
    """
    for path in home.iterdir():
        if path.name.startswith(EXTRACT_PREFIX) and path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        elif path.name.startswith(".") and path.name.endswith(".part"):
            path.unlink(missing_ok=True)


def _download(
    name, home, mirror, retries, timeout, backoff, progress, deadline_at, cap=MAX_DOWNLOAD_BYTES
) -> Path:
    """The verified zip: downloaded into ``home``, or the mirror folder's own file."""
    base = mirror or os.environ.get(MIRROR_ENV) or GROUPLENS_URL
    zip_name = f"{name}.zip"
    if re.match(r"^https?://", base):
        url = f"{base.rstrip('/')}/{zip_name}"
        args = (retries, timeout, backoff, deadline_at)
        md5_by = min(deadline_at, time.monotonic() + MD5_DEADLINE_S)
        md5_text = _get(
            url + ".md5", None, retries, timeout, backoff, md5_by, progress=False, cap=MAX_MD5_BYTES
        )
        md5_text = md5_text.decode("utf-8", "replace")
        zip_path = home / zip_name
        _get(url, zip_path, *args, progress=progress, cap=cap)
    else:
        folder = Path(base)
        if not folder.is_dir():
            raise DataError(
                redact_url(f"{base}: mirror folder not found (set {MIRROR_ENV} to a folder or URL)")
            )
        zip_path, md5_path = folder / zip_name, folder / f"{zip_name}.md5"
        for path in (zip_path, md5_path):
            if not path.is_file():
                raise DataError(f"{path}: not found in the mirror folder")
        with md5_path.open("rb") as fh:
            raw = fh.read(MAX_MD5_BYTES + 1)
        if len(raw) > MAX_MD5_BYTES:
            raise DataError(f"{md5_path}: more than {MAX_MD5_BYTES:,} bytes; not an md5 file")
        md5_text = raw.decode("utf-8", "replace")
        if zip_path.stat().st_size > cap:
            raise DataError(f"{zip_path}: larger than {cap:,} bytes; refused")
    expected = parse_md5(md5_text, zip_name)
    actual = md5sum(zip_path)
    if actual != expected:
        if zip_path.parent == home:
            zip_path.unlink(missing_ok=True)
        raise DataError(f"{zip_path}: md5 mismatch: got {actual}, {zip_name}.md5 says {expected}")
    return zip_path


def parse_md5(text: str, zip_name: str = "") -> str:
    """The hex digest for ``zip_name`` from ``MD5 (x.zip) = hex`` (GroupLens) or ``hex  x.zip``.

    A byte-order mark, surrounding whitespace and runs of spaces are accepted; a line for
    another file is skipped, and only such lines is an error naming the file they are for.
    """
    others = []
    for line in text.lstrip("\ufeff").splitlines():
        line = line.strip().lstrip("\ufeff").strip()
        for form in _MD5_FORMS:
            match = form.match(line)
            if match:
                named = PurePosixPath(match["name"].replace("\\", "/")).name
                if not zip_name or named == zip_name:
                    return match["hex"].lower()
                others.append(named)
                break
    if others:
        raise DataError(
            f"{zip_name}.md5: gives the md5 of {', '.join(map(repr, others[:3]))}, not of {zip_name}"
        )
    raise DataError(
        f"{zip_name}.md5: no md5 digest found; expected 'MD5 ({zip_name}) = <hex>' or '<hex>  {zip_name}'"
    )


def md5sum(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _get(
    url: str,
    dest: Path | None,
    retries: int,
    timeout: float,
    backoff: float,
    deadline_at: float,
    *,
    progress: bool,
    cap: int,
) -> bytes:
    """GET ``url`` into ``dest`` (temp file, then rename) or into memory; bounded retries.

    At most ``cap`` bytes are accepted, and nothing runs past ``deadline_at``
    (``time.monotonic()``); both are one-line errors, not retried.
    """
    last = ""
    for attempt in range(retries + 1):
        if attempt:
            time.sleep(max(0.0, min(backoff * 2 ** (attempt - 1), deadline_at - time.monotonic())))
        if time.monotonic() >= deadline_at:
            last = last or "deadline passed"
            break
        try:
            return _get_once(url, dest, timeout, progress, cap, deadline_at)
        except urllib.error.HTTPError as err:
            if err.code < 500:
                raise DataError(redact_url(f"{url}: HTTP {err.code} {err.reason}")) from None
            last = f"HTTP {err.code} {err.reason}"
        except _TRANSIENT as err:
            last = str(getattr(err, "reason", None) or err or type(err).__name__)
    raise DataError(
        redact_url(f"{url}: failed after {attempt + 1} attempts: {last}").replace("\n", " ")
    )


def _get_once(
    url: str, dest: Path | None, timeout: float, progress: bool, cap: int, deadline_at: float
) -> bytes:
    left = deadline_at - time.monotonic()
    with urllib.request.urlopen(url, timeout=max(0.1, min(timeout, left))) as resp:
        size = int(resp.headers.get("Content-Length") or 0) or None
        if size is not None and size > cap:
            raise DataError(redact_url(f"{url}: {size:,} bytes, more than the {cap:,} allowed"))
        if dest is None:
            return b"".join(_blocks(resp, url, cap, deadline_at))
        fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
        got = 0
        try:
            with (
                os.fdopen(fd, "wb") as out,
                tqdm(
                    total=size, unit="B", unit_scale=True, desc=dest.name, disable=not progress
                ) as bar,
            ):
                for block in _blocks(resp, url, cap, deadline_at):
                    out.write(block)
                    got += len(block)
                    bar.update(len(block))
            if size is not None and got != size:
                raise http.client.IncompleteRead(b"", size - got)
            os.replace(tmp, dest)
        finally:
            Path(tmp).unlink(missing_ok=True)
    return b""


def _blocks(resp, url: str, cap: int, deadline_at: float):
    """The body in blocks as they arrive; a one-line error past ``cap`` bytes or the deadline."""
    got = 0
    while True:
        block = resp.read1(1 << 16)
        if not block:
            return
        got += len(block)
        if got > cap:
            raise DataError(redact_url(f"{url}: more than the {cap:,} bytes allowed; refused"))
        if time.monotonic() > deadline_at:
            raise DataError(redact_url(f"{url}: not complete by the fetch's deadline; gave up"))
        yield block
