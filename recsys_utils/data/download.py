"""Fetch a MovieLens zip from GroupLens (or a mirror), check its md5, unzip it safely, cache it.

The base URL is ``constants.GROUPLENS_URL`` unless ``$RECSYS_DATA_MIRROR`` (or the
``mirror`` argument) names an http(s) URL or a local folder with the same layout:
``{name}.zip`` and ``{name}.zip.md5``. Every failure is a one-line ``DataError``.
Nothing half-written is left behind: downloads go to a temp file renamed when
complete and verified, and the zip is extracted into a temp folder renamed at the end.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import shutil
import socket
import stat
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from tqdm.auto import tqdm

from recsys_utils.constants import DEFAULT_DATASET, GROUPLENS_URL, MIRROR_ENV, get_spec, raw_dir
from recsys_utils.data.validation import DataError

_MD5 = re.compile(
    r"^\s*(?:MD5 \((?P<a>[^)]*)\) = (?P<ha>[0-9a-fA-F]{32})|(?P<hb>[0-9a-fA-F]{32})\s+\*?(?P<b>\S+))\s*$"
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
) -> Path:
    """Download, verify and extract a MovieLens release; return its extracted folder.

    Args:
        name: the release (a key of ``constants.DATASETS``).
        mirror: base URL or local folder; default ``$RECSYS_DATA_MIRROR``, else GroupLens.
        force: download and extract again even if the folder is cached.
        retries: extra attempts after a 5xx, a timeout or a dropped connection (never a 404).
        timeout: seconds per network operation.
        progress: show a tqdm progress bar while downloading.
        backoff: first wait between attempts, doubled each time.

    Returns:
        ``raw_dir()/name/spec.folder``. When it exists and ``force`` is false, no
        network or mirror access happens at all.

    Raises:
        DataError: missing mirror, HTTP error, md5 mismatch, bad or unsafe zip.
    """
    spec = get_spec(name)
    home = raw_dir() / name
    target = home / spec.folder
    if target.is_dir() and not force:
        return target
    base = mirror or os.environ.get(MIRROR_ENV) or GROUPLENS_URL
    zip_name = f"{name}.zip"
    home.mkdir(parents=True, exist_ok=True)
    if re.match(r"^https?://", base):
        url = f"{base.rstrip('/')}/{zip_name}"
        md5_text = _get(url + ".md5", None, retries, timeout, backoff, False).decode(
            "utf-8", "replace"
        )
        zip_path = home / zip_name
        _get(url, zip_path, retries, timeout, backoff, progress)
    else:
        folder = Path(base)
        if not folder.is_dir():
            raise DataError(
                f"{folder}: mirror folder not found (set {MIRROR_ENV} to a folder or URL)"
            )
        zip_path, md5_path = folder / zip_name, folder / f"{zip_name}.md5"
        for path in (zip_path, md5_path):
            if not path.is_file():
                raise DataError(f"{path}: not found in the mirror folder")
        md5_text = md5_path.read_text(encoding="utf-8", errors="replace")
    expected = parse_md5(md5_text, zip_name)
    actual = md5sum(zip_path)
    if actual != expected:
        if zip_path.parent == home:
            zip_path.unlink(missing_ok=True)
        raise DataError(f"{zip_path}: md5 mismatch: got {actual}, {zip_name}.md5 says {expected}")
    return safe_extract(zip_path, home, spec.folder, replace=force)


def parse_md5(text: str, zip_name: str = "") -> str:
    """The hex digest from ``MD5 (x.zip) = hex`` (GroupLens) or ``hex  x.zip`` (md5sum)."""
    for line in text.splitlines():
        match = _MD5.match(line)
        if match:
            return (match["ha"] or match["hb"]).lower()
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
    url: str, dest: Path | None, retries: int, timeout: float, backoff: float, progress: bool
) -> bytes:
    """GET ``url`` into ``dest`` (temp file, then rename) or into memory; bounded retries."""
    last = ""
    for attempt in range(retries + 1):
        if attempt:
            time.sleep(backoff * 2 ** (attempt - 1))
        try:
            return _get_once(url, dest, timeout, progress)
        except urllib.error.HTTPError as err:
            if err.code < 500:
                raise DataError(f"{url}: HTTP {err.code} {err.reason}") from None
            last = f"HTTP {err.code} {err.reason}"
        except _TRANSIENT as err:
            last = str(getattr(err, "reason", None) or err or type(err).__name__)
    raise DataError(f"{url}: failed after {retries + 1} attempts: {last}".replace("\n", " "))


def _get_once(url: str, dest: Path | None, timeout: float, progress: bool) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        if dest is None:
            return resp.read()
        size = int(resp.headers.get("Content-Length") or 0) or None
        fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
        got = 0
        try:
            with (
                os.fdopen(fd, "wb") as out,
                tqdm(
                    total=size, unit="B", unit_scale=True, desc=dest.name, disable=not progress
                ) as bar,
            ):
                for block in iter(lambda: resp.read(1 << 16), b""):
                    out.write(block)
                    got += len(block)
                    bar.update(len(block))
            if size is not None and got != size:
                raise http.client.IncompleteRead(b"", size - got)
            os.replace(tmp, dest)
        finally:
            Path(tmp).unlink(missing_ok=True)
    return b""


def _unsafe_reason(info: zipfile.ZipInfo) -> str | None:
    name = info.filename.replace("\\", "/")
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return "an absolute path"
    if ".." in PurePosixPath(name).parts:
        return "a path outside the target folder ('..')"
    if stat.S_ISLNK(info.external_attr >> 16):
        return "a symbolic link"
    return None


def safe_extract(zip_path: Path, home: Path, folder: str, replace: bool = False) -> Path:
    """Extract ``zip_path`` and return ``home/folder``, refusing unsafe or unexpected zips.

    Every entry is checked before anything is written: absolute paths, ``..`` parts and
    symbolic links are refused, and the zip must hold ``folder/``. Extraction goes to a
    temp folder inside ``home`` that is renamed to ``home/folder`` only when complete.
    """
    try:
        with zipfile.ZipFile(zip_path) as zf:
            infos = zf.infolist()
            for info in infos:
                reason = _unsafe_reason(info)
                if reason:
                    raise DataError(f"{zip_path}: refused: entry {info.filename!r} is {reason}")
            if not any(i.filename.replace("\\", "/").startswith(f"{folder}/") for i in infos):
                raise DataError(
                    f"{zip_path}: no '{folder}/' folder inside; not the expected data set"
                )
            tmp = Path(tempfile.mkdtemp(prefix=".extract-", dir=home))
            try:
                zf.extractall(tmp)
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
    except OSError as err:
        raise DataError(f"{zip_path}: cannot extract: {err.strerror or err}") from None
    return home / folder
