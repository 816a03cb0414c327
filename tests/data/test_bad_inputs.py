"""The bad-input corpus: each case is written here, and each must give a one-line
``DataError`` naming the file and the problem, ``data validate`` exit 2, and leave
nothing in the cache. Cases that are not errors (duplicates, CRLF) are pinned too.

Also the test file of ``data/validation.py`` (the checks behind every row here).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from recsys_utils import data
from recsys_utils.cli import main
from recsys_utils.constants import processed_dir, raw_dir
from recsys_utils.data.download import fetch
from recsys_utils.data.validation import DataError

REPO = Path(__file__).resolve().parents[2]
HEADER = b"userId,movieId,rating,timestamp\n"
SMALL_RATINGS = HEADER + b"1,10,4.0,100\n1,20,3.5,200\n2,10,5.0,150\n"
SMALL_MOVIES = b"movieId,title,genres\n10,Heat (1995),Action|Crime\n20,Toy (1982),Comedy\n"
GOOD = b"1,10,4.0,100\n"

# id -> (file name, content, regex the message must match after "<path>: ")
FILE_CASES = {
    "missing column": (
        "ratings.csv",
        b"userId,movieId,timestamp\n1,10,100\n",
        r"line 1: header .* \(missing rating\)",
    ),
    "extra column": (
        "ratings.csv",
        b"userId,movieId,rating,timestamp,tag\n1,10,4.0,100,x\n",
        r"line 1: .*unexpected 'tag'",
    ),
    "renamed column": (
        "ratings.csv",
        b"userId,movieId,score,timestamp\n1,10,4.0,100\n",
        r"missing rating; unexpected 'score'",
    ),
    "non-numeric rating": (
        "ratings.csv",
        HEADER + GOOD + b"1,20,four,200\n",
        r"line 3: rating 'four' is not a number",
    ),
    "empty rating": ("ratings.csv", HEADER + GOOD + b"1,20,,200\n", r"line 3: missing rating"),
    "NaN rating": ("ratings.csv", HEADER + b"1,20,NaN,200\n", r"line 2: missing rating"),
    "rating above scale": (
        "ratings.csv",
        HEADER + GOOD + GOOD + b"2,10,7.0,100\n",
        r"line 4: rating 7 is off the scale 0.5 to 5",
    ),
    "rating zero": ("ratings.csv", HEADER + b"2,10,0,100\n", r"line 2: rating 0 is off the scale"),
    "rating off 0.5 grid": (
        "ratings.csv",
        HEADER + b"2,10,3.7,100\n",
        r"line 2: rating 3.7 is off the 0.5 grid",
    ),
    "half star in ml-100k": (
        "u.data",
        b"1\t10\t4\t100\n1\t20\t3.5\t100\n",
        r"line 2: rating 3.5 is off the 1 grid of ml-100k",
    ),
    "negative user id": (
        "ratings.csv",
        HEADER + b"-3,10,4.0,100\n",
        r"line 2: user_id -3 is negative",
    ),
    "non-integer movie id": (
        "ratings.csv",
        HEADER + GOOD + b"1,2.5,4.0,100\n",
        r"line 3: item_id '2.5' is not an integer",
    ),
    "non-numeric user id": (
        "ratings.csv",
        HEADER + b"abc,10,4.0,100\n",
        r"line 2: user_id 'abc' is not an integer",
    ),
    "empty user id": (
        "ratings.csv",
        HEADER + b",10,4.0,100\n",
        r"line 2: user_id '' is not an integer",
    ),
    "id beyond int32": (
        "ratings.csv",
        HEADER + b"3000000000,10,4.0,100\n",
        r"line 2: user_id 3000000000 is too large",
    ),
    "id beyond int64": (
        "ratings.csv",
        HEADER + b"99999999999999999999,10,4.0,100\n",
        r"line 2: user_id .* out of range",
    ),
    "bad timestamp": (
        "ratings.csv",
        HEADER + b"1,10,4.0,yesterday\n",
        r"line 2: timestamp 'yesterday' is not an integer",
    ),
    "empty file": ("ratings.csv", b"", r"empty file"),
    "header only": ("ratings.csv", HEADER, r"has a header but no data rows"),
    "byte-order mark": ("ratings.csv", b"\xef\xbb\xbf" + HEADER + GOOD, r"byte-order mark"),
    "latin-1 in utf-8 ratings": (
        "ratings.csv",
        HEADER + GOOD + b"1,20,4.0,1\xe9\n",
        r"line 3: not valid utf-8 text",
    ),
    "truncated last line": (
        "ratings.csv",
        HEADER + GOOD + b"1,2",
        r"line 3: expected 4 fields .* found 2 \(truncated last line\?\)",
    ),
    "too many fields": (
        "ratings.csv",
        HEADER + GOOD + b"1,20,4.0,100,9\n",
        r"line 3: expected 4 fields separated by ',', found 5",
    ),
    "blank line": (
        "ratings.csv",
        HEADER + GOOD + b"\n" + GOOD,
        r"line 3: expected 4 fields .* found 1",
    ),
    "huge field": (
        "ratings.csv",
        HEADER + b"x" * 5_000_000 + b",10,4.0,100\n",
        r"line 2: user_id 'xxxx.*\.\.\. is not an integer",
    ),
    "comma-separated ml-1m": (
        "ratings.dat",
        b"1,10,4,100\n",
        r"line 1: expected 4 fields separated by '::', found 1",
    ),
    "header in u.data": (
        "u.data",
        b"user\titem\trating\ttimestamp\n1\t10\t4\t100\n",
        r"line 1: user_id 'user' is not an integer",
    ),
}

FOLDER_CASES = {
    "latin-1 movies.csv": (
        {
            "ratings.csv": SMALL_RATINGS,
            "movies.csv": b"movieId,title,genres\n10,Heat (1995),Action\n20,Am\xe9lie (2001),Comedy\n",
        },
        "movies.csv",
        r"line 3: not valid UTF-8 text",
    ),
    "folder without movies file": ({"ratings.csv": SMALL_RATINGS}, "", r"missing movies.csv"),
    "movieId past int32 (wraps to 1)": (
        {
            "ratings.csv": SMALL_RATINGS,
            "movies.csv": b"movieId,title,genres\n1,Heat (1995),Action\n4294967297,X (2001),Comedy\n",
        },
        "movies.csv",
        r"line 3: movieId 4294967297 is not an id in 0 to 2147483647",
    ),
    "duplicate movieId": (
        {
            "ratings.csv": SMALL_RATINGS,
            "movies.csv": b"movieId,title,genres\n10,Heat (1995),Action\n20,A (2001),Comedy\n"
            b"10,Other (1990),Drama\n",
        },
        "movies.csv",
        r"line 4: movieId 10 repeats the movie of line 2",
    ),
}


def _assert_one_line(err: DataError, path, pattern: str) -> None:
    message = str(err)
    assert "\n" not in message and len(message) < 400
    assert message.startswith(f"{path}: ")
    import re

    assert re.search(pattern, message), message


def _assert_cli_exit_2(path, capsys) -> None:
    assert main(["data", "validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: {path}")


@pytest.mark.parametrize("case", list(FILE_CASES))
def test_bad_file(case, tmp_path, data_home, capsys):
    name, content, pattern = FILE_CASES[case]
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DataError) as err:
        data.load_ratings_file(path)
    _assert_one_line(err.value, path, pattern)
    _assert_cli_exit_2(path, capsys)
    assert not processed_dir().exists()


@pytest.mark.parametrize("case", list(FOLDER_CASES))
def test_bad_folder(case, tmp_path, data_home, capsys):
    files, culprit, pattern = FOLDER_CASES[case]
    folder = tmp_path / "ml-latest-small"
    folder.mkdir()
    for name, content in files.items():
        (folder / name).write_bytes(content)
    with pytest.raises(DataError) as err:
        data.load_folder(folder)
    _assert_one_line(err.value, folder / culprit if culprit else folder, pattern)
    _assert_cli_exit_2(folder, capsys)


def test_bad_raw_folder_leaves_no_cache(data_home):
    folder = raw_dir() / "ml-latest-small" / "ml-latest-small"
    folder.mkdir(parents=True)
    (folder / "ratings.csv").write_bytes(HEADER + b"1,10,9.0,100\n")
    (folder / "movies.csv").write_bytes(SMALL_MOVIES)
    with pytest.raises(DataError, match="off the scale"):
        data.load_dataset(fetch=False)
    assert not (processed_dir() / "ml-latest-small").exists()


def test_python_dash_m_exits_2_with_one_line(tmp_path):
    path = tmp_path / "ratings.csv"
    path.write_bytes(HEADER + b"1,10,6.5,100\n")
    done = subprocess.run(
        [sys.executable, "-m", "recsys_utils", "data", "validate", str(path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr == f"error: {path}: line 2: rating 6.5 is off the scale 0.5 to 5\n"


# --- not errors: pinned so a change of policy is deliberate -------------------------
def test_crlf_parses_like_lf(tmp_path):
    lf, crlf = tmp_path / "lf.csv", tmp_path / "crlf.csv"
    lf.write_bytes(SMALL_RATINGS)
    crlf.write_bytes(SMALL_RATINGS.replace(b"\n", b"\r\n"))
    assert data.read_ratings(crlf).equals(data.read_ratings(lf))


def test_duplicates_are_reported_not_refused(tmp_path, capsys):
    path = tmp_path / "ratings.csv"
    path.write_bytes(HEADER + GOOD + b"1,10,3.0,200\n")
    assert main(["data", "validate", str(path)]) == 0
    out = capsys.readouterr().out
    assert "2 ratings by 1 users on 1 movies" in out and "1 repeated (user, movie) pairs" in out


def test_validate_takes_the_folder_data_fetch_fills(
    data_home, make_mirror, small_zip_entries, capsys, monkeypatch
):
    # raw/ml-latest-small/ holds the zip and the extracted ml-latest-small/ folder
    monkeypatch.setenv("RECSYS_DATA_MIRROR", str(make_mirror(small_zip_entries)))
    assert main(["data", "fetch"]) == 0
    home = raw_dir() / "ml-latest-small"
    assert (home / "ml-latest-small" / "ratings.csv").is_file()
    capsys.readouterr()
    assert main(["data", "validate", str(home)]) == 0
    assert "3 ratings by 2 users on 2 movies (2 in the movies file)" in capsys.readouterr().out
    assert data.load_folder(home).ratings.equals(data.load_folder(home / "ml-latest-small").ratings)


def test_validate_does_not_guess_between_two_data_folders(tmp_path, capsys):
    for name in ("a", "b"):
        (tmp_path / "top" / name).mkdir(parents=True)
        (tmp_path / "top" / name / "ratings.csv").write_bytes(SMALL_RATINGS)
        (tmp_path / "top" / name / "movies.csv").write_bytes(SMALL_MOVIES)
    with pytest.raises(DataError, match="missing ratings.csv"):
        data.load_folder(tmp_path / "top")
    _assert_cli_exit_2(tmp_path / "top", capsys)


# --- zip and mirror cases (fetch), each a one-line error and nothing left half-written ----
def _nothing_extracted():
    home = raw_dir() / "ml-latest-small"
    return not home.exists() or [p.name for p in home.iterdir()] == []


@pytest.mark.parametrize(
    "entries, symlinks, pattern",
    [
        (
            {"ml-latest-small/ratings.csv": SMALL_RATINGS, "../evil.txt": b"x"},
            None,
            r"refused: entry '\.\./evil\.txt' is a path outside",
        ),
        (
            {"ml-latest-small/ratings.csv": SMALL_RATINGS, "ml-latest-small/../../evil.txt": b"x"},
            None,
            r"refused: .* is a path outside",
        ),
        (
            {"ml-latest-small/ratings.csv": SMALL_RATINGS, "/tmp/evil.txt": b"x"},
            None,
            r"refused: entry '/tmp/evil\.txt' is an absolute path",
        ),
        (
            {"ml-latest-small/ratings.csv": SMALL_RATINGS},
            {"ml-latest-small/link": "/etc/passwd"},
            r"refused: entry 'ml-latest-small/link' is a symbolic link",
        ),
        ({"other/ratings.csv": SMALL_RATINGS}, None, r"no 'ml-latest-small/' folder inside"),
    ],
    ids=["dotdot", "nested dotdot", "absolute", "symlink", "wrong folder"],
)
def test_unsafe_or_wrong_zip_refused_before_writing(
    entries, symlinks, pattern, data_home, tmp_path, make_mirror, capsys, monkeypatch
):
    mirror = make_mirror(entries, symlinks=symlinks)
    with pytest.raises(DataError, match=pattern) as err:
        fetch("ml-latest-small", mirror=str(mirror), progress=False)
    assert str(err.value).startswith(str(mirror / "ml-latest-small.zip"))
    assert _nothing_extracted() and not (tmp_path / "evil.txt").exists()
    monkeypatch.setenv("RECSYS_DATA_MIRROR", str(mirror))
    assert main(["data", "fetch"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_truncated_zip(data_home, make_mirror, small_zip_entries):
    mirror = make_mirror(small_zip_entries, truncate=True)
    with pytest.raises(
        DataError, match=r"ml-latest-small\.zip: not a complete zip file \(truncated"
    ):
        fetch("ml-latest-small", mirror=str(mirror), progress=False)
    assert _nothing_extracted()


def test_md5_mismatch_local(data_home, make_mirror, small_zip_entries):
    mirror = make_mirror(small_zip_entries, md5="MD5 (ml-latest-small.zip) = " + "f" * 32)
    with pytest.raises(
        DataError,
        match=r"ml-latest-small\.zip: md5 mismatch: got [0-9a-f]{32}, "
        r"ml-latest-small\.zip\.md5 says f{32}",
    ):
        fetch("ml-latest-small", mirror=str(mirror), progress=False)
    assert _nothing_extracted()
    assert (mirror / "ml-latest-small.zip").exists()  # never delete a mirror's file


def test_missing_mirror_folder(data_home, tmp_path):
    with pytest.raises(DataError, match=r"nowhere: mirror folder not found"):
        fetch("ml-latest-small", mirror=str(tmp_path / "nowhere"), progress=False)


def test_mirror_without_md5(data_home, make_mirror, small_zip_entries):
    mirror = make_mirror(small_zip_entries)
    (mirror / "ml-latest-small.zip.md5").unlink()
    with pytest.raises(
        DataError, match=r"ml-latest-small\.zip\.md5: not found in the mirror folder"
    ):
        fetch("ml-latest-small", mirror=str(mirror), progress=False)


@pytest.mark.parametrize(
    "patch, pattern",
    [("method", r"compressed with method 9"), ("encrypted", r"is encrypted")],
    ids=["deflate64", "encrypted"],
)
def test_deflate64_or_encrypted_entries_are_one_line(
    patch, pattern, data_home, make_mirror, small_zip_entries, capsys, monkeypatch
):
    import hashlib
    import struct

    mirror = make_mirror(small_zip_entries)
    zip_path = mirror / "ml-latest-small.zip"
    raw = bytearray(zip_path.read_bytes())
    for sig, flag_at, method_at in ((b"PK\x03\x04", 6, 8), (b"PK\x01\x02", 8, 10)):
        at = raw.find(sig)
        while at != -1:  # every local and central header: as a real such zip says
            if patch == "method":
                raw[at + method_at : at + method_at + 2] = struct.pack("<H", 9)
            else:
                flags = struct.unpack_from("<H", raw, at + flag_at)[0] | 0x1
                raw[at + flag_at : at + flag_at + 2] = struct.pack("<H", flags)
            at = raw.find(sig, at + 4)
    zip_path.write_bytes(bytes(raw))
    (mirror / "ml-latest-small.zip.md5").write_text(
        f"MD5 (ml-latest-small.zip) = {hashlib.md5(bytes(raw)).hexdigest()}\n"
    )
    with pytest.raises(DataError, match=pattern):
        fetch("ml-latest-small", mirror=str(mirror), progress=False)
    assert _nothing_extracted()
    monkeypatch.setenv("RECSYS_DATA_MIRROR", str(mirror))
    assert main(["data", "fetch"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
