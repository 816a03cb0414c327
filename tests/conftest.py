"""Shared fixtures: the MovieLens mirror, a private data folder, a 7-row ratings table,
and a loopback HTTP server with scriptable failures for the downloader tests."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import folder_state, table, written_between

from recsys_utils.constants import DATA_DIR_ENV, REPORTS_DIR

REPO = Path(__file__).resolve().parent.parent
MIRROR = REPO.parent / "shared" / "data" / "movielens"


@pytest.fixture(scope="session", autouse=True)
def reports_left_alone():
    """Nothing under the real ``reports/`` is created or changed by the test suite: what
    ``make report`` publishes holds no test output (tests write under ``tmp_path``).
    Checked when the session ends; a breach is an error at the last test's teardown."""
    before = folder_state(REPORTS_DIR)
    yield
    written = written_between(before, folder_state(REPORTS_DIR))
    assert not written, (
        f"the tests wrote under {REPORTS_DIR}: {written[:10]}; write under tmp_path instead "
        "(or was `make report` running at the same time?)"
    )


@pytest.fixture
def mirror_dir() -> Path:
    """The read-only MovieLens mirror (``<repo>/../shared/data/movielens``)."""
    if not (MIRROR / "ml-latest-small.zip").is_file():
        pytest.skip(f"MovieLens mirror not found at {MIRROR}")
    return MIRROR


@pytest.fixture
def data_home(tmp_path, monkeypatch) -> Path:
    """A fresh data folder, set as ``$RECSYS_DATA_DIR`` for the test."""
    home = tmp_path / "data"
    home.mkdir()
    monkeypatch.setenv(DATA_DIR_ENV, str(home))
    return home


@pytest.fixture
def tiny_ratings() -> pd.DataFrame:
    """Seven ratings by three users on three movies (mean 23/7).

    user 1: movie 10 -> 4.0 (t=100), 20 -> 3.0 (t=200), 30 -> 5.0 (t=300)
    user 2: movie 10 -> 2.0 (t=150), 20 -> 4.5 (t=250)
    user 3: movie 20 -> 1.0 (t=120), 30 -> 3.5 (t=220)
    """
    return pd.DataFrame(
        {
            "user_id": pd.array([1, 1, 1, 2, 2, 3, 3], dtype="int32"),
            "item_id": pd.array([10, 20, 30, 10, 20, 20, 30], dtype="int32"),
            "rating": pd.array([4.0, 3.0, 5.0, 2.0, 4.5, 1.0, 3.5], dtype="float32"),
            "timestamp": pd.array([100, 200, 300, 150, 250, 120, 220], dtype="int64"),
        }
    )


class Loopback:
    """A directory served on 127.0.0.1, with failures scripted per file name.

    ``fail(name, 500, times=2)``, ``slow(name, seconds)``, ``truncate(name)`` queue
    actions consumed by the next requests of ``name``; ``log`` lists requested names.
    """

    def __init__(self, root: Path):
        self.root = root
        self.log: list[str] = []
        self._plan: dict[str, list[tuple]] = defaultdict(list)
        self._lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def fail(self, name: str, status: int, times: int = 1) -> None:
        self._plan[name] += [("status", status)] * times

    def slow(self, name: str, seconds: float, times: int = 1) -> None:
        self._plan[name] += [("sleep", seconds)] * times

    def truncate(self, name: str, times: int = 1) -> None:
        self._plan[name] += [("truncate", None)] * times

    def requests(self, name: str) -> int:
        return self.log.count(name)

    def next_action(self, name: str) -> tuple | None:
        with self._lock:
            self.log.append(name)
            return self._plan[name].pop(0) if self._plan[name] else None


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's name)
        loop: Loopback = self.server.loopback
        name = self.path.lstrip("/")
        action = loop.next_action(name)
        kind, arg = action or (None, None)
        if kind == "status":
            self.send_error(arg)
            return
        if kind == "sleep":
            time.sleep(arg)
        file = loop.root / name
        if not file.is_file():
            self.send_error(404)
            return
        body = file.read_bytes()
        try:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2] if kind == "truncate" else body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test)
        self.close_connection = True

    def log_message(self, *args):
        pass


@pytest.fixture
def loopback_server(tmp_path):
    """A ``Loopback`` serving ``tmp_path/'www'`` (empty; tests put files there)."""
    root = tmp_path / "www"
    root.mkdir()
    loop = Loopback(root)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.loopback = loop
    loop.server = server
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield loop
    server.shutdown()
    server.server_close()


def _write_zip(path: Path, entries: dict[str, bytes], symlinks: dict[str, str]) -> None:
    import stat
    import zipfile

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
        for name, target in symlinks.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, target)


@pytest.fixture
def make_mirror(tmp_path):
    """Build a mirror folder holding ``{name}.zip`` and ``{name}.zip.md5``.

    Call it with the zip's entries (name -> bytes), optional ``symlinks`` (name -> target),
    ``md5`` to override the digest line, ``truncate`` to keep only the first half of
    the zip (the md5 then matches the truncated file).
    """
    import hashlib

    def build(
        entries: dict[str, bytes],
        *,
        symlinks: dict[str, str] | None = None,
        md5: str | None = None,
        truncate: bool = False,
        name: str = "ml-latest-small",
        folder: Path | None = None,
    ) -> Path:
        folder = folder or tmp_path / "mirror"
        folder.mkdir(parents=True, exist_ok=True)
        zip_path = folder / f"{name}.zip"
        _write_zip(zip_path, entries, symlinks or {})
        if truncate:
            data = zip_path.read_bytes()
            zip_path.write_bytes(data[: len(data) // 2])
        digest = hashlib.md5(zip_path.read_bytes()).hexdigest()
        (folder / f"{name}.zip.md5").write_text(md5 or f"MD5 ({name}.zip) = {digest}\n")
        return folder

    return build


SMALL_RATINGS = b"userId,movieId,rating,timestamp\n1,10,4.0,100\n1,20,3.5,200\n2,10,5.0,150\n"
SMALL_MOVIES = b'movieId,title,genres\n10,Heat (1995),Action|Crime\n20,"Toy, The (1982)",Comedy\n'


@pytest.fixture
def small_zip_entries() -> dict[str, bytes]:
    """A minimal valid ml-latest-small zip: 3 ratings, 2 movies."""
    return {
        "ml-latest-small/": b"",
        "ml-latest-small/ratings.csv": SMALL_RATINGS,
        "ml-latest-small/movies.csv": SMALL_MOVIES,
    }


@pytest.fixture(scope="session")
def notebook_runs(tmp_path_factory):
    """Every notebook executed once a session (test_notebooks and test_browser share it)."""
    from test_notebooks import run_notebooks

    return run_notebooks(tmp_path_factory.mktemp("notebook_runs"))


@pytest.fixture(scope="session")
def tiny_report(tmp_path_factory):
    """The tiny report notebook run once a session (test_report and test_browser share it)."""
    from test_report import make_tiny_report

    return make_tiny_report(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="module")
def low_rank() -> pd.DataFrame:
    """25 users x 15 movies, 80% observed, ratings 3 + p.q from two factors."""
    rng = np.random.default_rng(1)
    p, q = rng.normal(0, 0.6, (25, 2)), rng.normal(0, 0.6, (15, 2))
    uu, ii = np.nonzero(rng.random((25, 15)) < 0.8)
    return table(uu + 1, ii + 100, np.clip(3 + (p @ q.T)[uu, ii], 0.5, 5))
