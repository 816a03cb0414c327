"""The downloader: local mirror, loopback HTTP (retries, 404, timeouts, truncation), md5, cache."""

from __future__ import annotations

import shutil

import pytest

from recsys_utils.constants import MIRROR_ENV, raw_dir
from recsys_utils.data import download
from recsys_utils.data.validation import DataError

NAME = "ml-latest-small"


def _leftovers(home):
    """Temp files or folders the downloader may have left (there must be none)."""
    return [p.name for p in home.rglob("*") if p.name.startswith(".") or p.suffix == ".part"]


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
