"""The downloader: local mirror, loopback HTTP (retries, 404, timeouts, truncation), md5, cache."""

from __future__ import annotations

import http.server
import shutil
import threading
import time

import pytest

from recsys_utils.cli import main
from recsys_utils.constants import MIRROR_ENV, raw_dir
from recsys_utils.data import _archive, download
from recsys_utils.data.validation import DataError

NAME = "ml-latest-small"


def _leftovers(home):
    """Temp files or folders the downloader may have left (there must be none).

    ``raw/.<name>.lock`` is the fetch lock, kept on purpose."""
    return [
        p.name
        for p in home.rglob("*")
        if (p.name.startswith(".") or p.suffix == ".part") and p.suffix != ".lock"
    ]


def test_fetch_from_local_mirror_then_cache(data_home, make_mirror, small_zip_entries, tmp_path):
    mirror = make_mirror(small_zip_entries)
    folder = download.fetch(NAME, mirror=str(mirror), progress=False)
    assert folder == data_home / "raw" / NAME / NAME
    assert (folder / "ratings.csv").read_bytes() == small_zip_entries[f"{NAME}/ratings.csv"]
    # second call: the mirror is gone, yet the cached folder comes back untouched
    shutil.rmtree(mirror)
    assert download.fetch(NAME, mirror=str(mirror), progress=False) == folder
    assert _leftovers(data_home) == []


def test_fetch_over_http_and_second_call_touches_no_network(
    data_home, loopback_server, make_mirror, small_zip_entries
):
    make_mirror(small_zip_entries, folder=loopback_server.root)
    folder = download.fetch(NAME, mirror=loopback_server.url, progress=False)
    assert (folder / "movies.csv").is_file()
    assert loopback_server.log == [f"{NAME}.zip.md5", f"{NAME}.zip"]
    download.fetch(NAME, mirror=loopback_server.url, progress=False)
    assert len(loopback_server.log) == 2  # cache hit: no request at all
    assert _leftovers(data_home) == []


def test_env_mirror_is_used(data_home, make_mirror, small_zip_entries, monkeypatch):
    monkeypatch.setenv(MIRROR_ENV, str(make_mirror(small_zip_entries)))
    assert (download.fetch(NAME, progress=False) / "ratings.csv").is_file()


def test_force_downloads_again(data_home, loopback_server, make_mirror, small_zip_entries):
    make_mirror(small_zip_entries, folder=loopback_server.root)
    download.fetch(NAME, mirror=loopback_server.url, progress=False)
    folder = download.fetch(NAME, mirror=loopback_server.url, progress=False, force=True)
    assert loopback_server.requests(f"{NAME}.zip") == 2
    assert (folder / "ratings.csv").is_file()


def test_real_mirror_zip_verifies(data_home, mirror_dir):
    folder = download.fetch(NAME, mirror=str(mirror_dir), progress=False)
    assert sorted(p.name for p in folder.iterdir()) == [
        "README.txt",
        "links.csv",
        "movies.csv",
        "ratings.csv",
        "tags.csv",
    ]


def test_http_404_is_not_retried(data_home, loopback_server):
    with pytest.raises(DataError, match=r"ml-latest-small\.zip\.md5: HTTP 404") as err:
        download.fetch(NAME, mirror=loopback_server.url, retries=3, backoff=0, progress=False)
    assert loopback_server.requests(f"{NAME}.zip.md5") == 1
    assert "\n" not in str(err.value)


def test_http_500_retried_then_succeeds(data_home, loopback_server, make_mirror, small_zip_entries):
    make_mirror(small_zip_entries, folder=loopback_server.root)
    loopback_server.fail(f"{NAME}.zip", 500, times=2)
    folder = download.fetch(NAME, mirror=loopback_server.url, retries=3, backoff=0, progress=False)
    assert (folder / "ratings.csv").is_file()
    assert loopback_server.requests(f"{NAME}.zip") == 3


def test_http_500_gives_up_after_bounded_retries(
    data_home, loopback_server, make_mirror, small_zip_entries
):
    make_mirror(small_zip_entries, folder=loopback_server.root)
    loopback_server.fail(f"{NAME}.zip", 503, times=10)
    with pytest.raises(DataError, match=r"failed after 3 attempts: HTTP 503"):
        download.fetch(NAME, mirror=loopback_server.url, retries=2, backoff=0, progress=False)
    assert loopback_server.requests(f"{NAME}.zip") == 3
    assert not (raw_dir() / NAME / NAME).exists()
    assert _leftovers(data_home) == []


def test_timeout_retried_then_succeeds(data_home, loopback_server, make_mirror, small_zip_entries):
    make_mirror(small_zip_entries, folder=loopback_server.root)
    loopback_server.slow(f"{NAME}.zip", 1.5, times=1)
    folder = download.fetch(
        NAME, mirror=loopback_server.url, retries=1, timeout=0.3, backoff=0, progress=False
    )
    assert (folder / "ratings.csv").is_file()
    assert loopback_server.requests(f"{NAME}.zip") == 2


def test_timeout_every_time_is_a_clear_error(
    data_home, loopback_server, make_mirror, small_zip_entries
):
    make_mirror(small_zip_entries, folder=loopback_server.root)
    loopback_server.slow(f"{NAME}.zip.md5", 1.5, times=5)
    with pytest.raises(DataError, match=r"\.md5: failed after 2 attempts: .*timed out"):
        download.fetch(
            NAME, mirror=loopback_server.url, retries=1, timeout=0.3, backoff=0, progress=False
        )


def test_truncated_body_retried_then_refused(
    data_home, loopback_server, make_mirror, small_zip_entries
):
    make_mirror(small_zip_entries, folder=loopback_server.root)
    loopback_server.truncate(f"{NAME}.zip", times=5)
    with pytest.raises(DataError, match=r"ml-latest-small\.zip: failed after 2 attempts"):
        download.fetch(NAME, mirror=loopback_server.url, retries=1, backoff=0, progress=False)
    assert loopback_server.requests(f"{NAME}.zip") == 2
    assert not (raw_dir() / NAME).exists() or list((raw_dir() / NAME).iterdir()) == []


def test_truncated_body_once_then_ok(data_home, loopback_server, make_mirror, small_zip_entries):
    make_mirror(small_zip_entries, folder=loopback_server.root)
    loopback_server.truncate(f"{NAME}.zip", times=1)
    folder = download.fetch(NAME, mirror=loopback_server.url, retries=1, backoff=0, progress=False)
    assert (folder / "ratings.csv").is_file()


def test_md5_mismatch_over_http_deletes_the_download(
    data_home, loopback_server, make_mirror, small_zip_entries
):
    make_mirror(
        small_zip_entries, folder=loopback_server.root, md5="0" * 32 + "  ml-latest-small.zip\n"
    )
    with pytest.raises(DataError, match=r"ml-latest-small\.zip: md5 mismatch: got [0-9a-f]{32}"):
        download.fetch(NAME, mirror=loopback_server.url, progress=False)
    assert list((raw_dir() / NAME).iterdir()) == []


@pytest.mark.parametrize(
    "line",
    [
        "MD5 (ml-latest-small.zip) = 3EAB772FE4E61E1B6C93CBE268344712",
        "3eab772fe4e61e1b6c93cbe268344712  ml-latest-small.zip",
        "3eab772fe4e61e1b6c93cbe268344712 *ml-latest-small.zip",
    ],
)
def test_parse_md5_accepts_both_published_forms(line):
    assert (
        download.parse_md5(line + "\n", "ml-latest-small.zip") == "3eab772fe4e61e1b6c93cbe268344712"
    )


def test_parse_md5_rejects_garbage():
    with pytest.raises(DataError, match=r"ml-latest-small\.zip\.md5: no md5 digest found"):
        download.parse_md5("<html>not found</html>", "ml-latest-small.zip")


def test_md5sum_of_known_bytes(tmp_path):
    path = tmp_path / "abc"
    path.write_bytes(b"abc")
    assert download.md5sum(path) == "900150983cd24fb0d6963f7d28e17f72"  # RFC 1321 test vector


# --- hostile servers and zips: caps, deadline, md5 lines, secrets -----------------------------
class _Hostile(http.server.BaseHTTPRequestHandler):
    """``/<mode>/<name>``: ``endless`` (no Content-Length, never ends), ``drip`` (a byte
    every 0.5 s), ``big`` (announces 10 GB)."""

    def do_GET(self):  # noqa: N802
        mode = self.path.strip("/").split("/")[0]
        try:
            self.send_response(200)
            if mode == "big":
                self.send_header("Content-Length", str(10 << 30))
            self.end_headers()
            for _ in range(100_000):
                if mode == "drip":
                    time.sleep(0.5)
                    self.wfile.write(b"0")
                else:
                    self.wfile.write(b"0" * 65536)
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.close_connection = True

    def log_message(self, *args):
        pass


@pytest.fixture
def hostile_url():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hostile)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    "mode, pattern",
    [
        ("endless", r"more than the 4,096 bytes allowed"),  # the .md5 body never ends
        ("big", r"10,737,418,240 bytes, more than the 4,096 allowed"),
        ("drip", r"not complete by the fetch's deadline"),
    ],
)
def test_hostile_server_is_capped(data_home, hostile_url, mode, pattern):
    start = time.monotonic()
    with pytest.raises(DataError, match=pattern):
        download.fetch(NAME, mirror=f"{hostile_url}/{mode}", progress=False, deadline=2)
    assert time.monotonic() - start < 10
    assert _leftovers(data_home) == []


def test_download_without_content_length_is_capped(data_home, hostile_url, monkeypatch):
    monkeypatch.setattr(download, "_get_once", _zip_from(download._get_once, hostile_url))
    monkeypatch.setattr(download, "MAX_DOWNLOAD_BYTES", 1 << 20)
    with pytest.raises(DataError, match=r"more than the 1,048,576 bytes allowed"):
        download.fetch(NAME, mirror="http://127.0.0.1:9/real", progress=False, retries=0)
    assert _leftovers(data_home) == [] and not (raw_dir() / NAME / f"{NAME}.zip").exists()


def _zip_from(get_once, hostile_url):
    """``_get_once`` that serves the md5 line itself and the zip from the endless server."""

    def fake(url, dest, *args):
        if url.endswith(".md5"):
            return b"MD5 (ml-latest-small.zip) = " + b"0" * 32
        return get_once(f"{hostile_url}/endless/x.zip", dest, *args)

    return fake


def test_zip_bomb_is_refused(data_home, make_mirror, small_zip_entries, monkeypatch):
    bomb = small_zip_entries | {f"{NAME}/big.csv": b"0" * (8 << 20)}  # 8 MiB of zeros: ~1000x
    mirror = make_mirror(bomb)
    with pytest.raises(DataError, match=r"'ml-latest-small/big.csv' is compressed \d+ times"):
        download.fetch(NAME, mirror=str(mirror), progress=False)
    monkeypatch.setattr(_archive, "MAX_TOTAL_BYTES", 1 << 20)  # and a total cap, ratio aside
    monkeypatch.setattr(_archive, "MAX_RATIO", 1e9)
    with pytest.raises(DataError, match=r"unzips to 8,388,\d{3} bytes, more than the 1,048,576"):
        download.fetch(NAME, mirror=str(mirror), progress=False)
    assert not (raw_dir() / NAME / NAME).exists() and _leftovers(data_home) == []


@pytest.mark.parametrize(
    "text",
    [
        "\ufeffMD5 (ml-latest-small.zip) = {h}\n",
        "  MD5  (ml-latest-small.zip)  =  {h}  \r\n",
        "{h}  ./ml-latest-small.zip\n",
        "{h}  other.zip\n{h}  ml-latest-small.zip\n",
    ],
    ids=["bom", "extra spaces", "path", "second line"],
)
def test_parse_md5_tolerates_bom_spaces_and_checks_the_name(text):
    h = "3eab772fe4e61e1b6c93cbe268344712"
    assert download.parse_md5(text.format(h=h), "ml-latest-small.zip") == h


def test_parse_md5_for_another_file_is_refused():
    with pytest.raises(DataError, match=r"gives the md5 of 'ml-25m.zip', not of ml-latest"):
        download.parse_md5("MD5 (ml-25m.zip) = " + "a" * 32, "ml-latest-small.zip")


def test_password_in_mirror_url_is_never_printed(data_home, loopback_server, capsys, monkeypatch):
    url = loopback_server.url.replace("http://", "http://me:hunter2@")
    monkeypatch.setenv(MIRROR_ENV, url)  # the server has no files: a 404
    assert main(["data", "fetch"]) == 2
    err = capsys.readouterr().err
    assert "hunter2" not in err and "***@" in err and err.count("\n") == 1
    monkeypatch.setenv(MIRROR_ENV, "ftp://me:hunter2@host/x")  # not http: taken as a folder
    assert main(["data", "fetch"]) == 2
    assert "hunter2" not in capsys.readouterr().err


# --- the cache after fetch --force; zips without the data files ---------------------------
def test_force_fetch_invalidates_the_parquet_cache(data_home, make_mirror, small_zip_entries):
    from recsys_utils.data.movielens import load_dataset

    download.fetch(NAME, mirror=str(make_mirror(small_zip_entries)), progress=False)
    assert len(load_dataset(NAME).ratings) == 3  # the parquet cache is made
    newer = small_zip_entries | {
        f"{NAME}/ratings.csv": small_zip_entries[f"{NAME}/ratings.csv"] + b"3,20,1.0,300\n"
    }
    download.fetch(NAME, mirror=str(make_mirror(newer)), progress=False, force=True)
    assert len(load_dataset(NAME).ratings) == 4  # the new data, not the old cache


def test_zip_with_the_folder_but_no_data_files_is_not_cached(data_home, make_mirror):
    mirror = make_mirror({f"{NAME}/": b"", f"{NAME}/README.txt": b"hello"})
    with pytest.raises(DataError, match=r"'ml-latest-small/' has no ratings.csv, movies.csv"):
        download.fetch(NAME, mirror=str(mirror), progress=False)
    assert not (raw_dir() / NAME / NAME).exists() and _leftovers(data_home) == []


# --- fetches at once, and what killed fetches left --------------------------------------------
def test_concurrent_fetches_all_succeed(data_home, make_mirror, small_zip_entries):
    from concurrent.futures import ThreadPoolExecutor

    mirror = str(make_mirror(small_zip_entries))
    with ThreadPoolExecutor(6) as pool:  # each its own flock: they take turns
        runs = [pool.submit(download.fetch, NAME, mirror=mirror, progress=False) for _ in range(6)]
        runs += [
            pool.submit(download.fetch, NAME, mirror=mirror, progress=False, force=True)
            for _ in range(3)
        ]
        folders = {r.result() for r in runs}
    assert folders == {raw_dir() / NAME / NAME} and _leftovers(data_home) == []


def test_stale_part_and_extract_files_are_removed(data_home, make_mirror, small_zip_entries):
    home = raw_dir() / NAME
    (home / ".extract-killed" / NAME).mkdir(parents=True)
    (home / ".extract-killed" / NAME / "ratings.csv").write_bytes(b"x" * 1000)
    (home / f".{NAME}.zip.k1ll3d.part").write_bytes(b"x" * 1000)
    download.fetch(NAME, mirror=str(make_mirror(small_zip_entries)), progress=False)
    assert _leftovers(data_home) == []
