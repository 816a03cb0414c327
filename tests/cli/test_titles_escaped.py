"""Titles and tags from the data are printed as data: control characters escaped, so a
title cannot set the terminal's title or colours, and a table keeps one row per movie."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from recsys_utils.cli.recommend import _print
from recsys_utils.constants import printable

HOSTILE = [
    ("Toy Story\x1b]0;pwned\x07 (1995)", "Toy Story\\x1b]0;pwned\\x07 (1995)"),  # sets the title
    ("\x1b[31mRed\x1b[0m", "\\x1b[31mRed\\x1b[0m"),  # colours
    ('"Split\nRow" (2001)', '"Split\\nRow" (2001)'),  # a newline in a quoted title
    ("Carriage\rReturn", "Carriage\\rReturn"),
    ("tab\there", "tab\\there"),
    ("bidi \u202eevil", "bidi \\u202eevil"),  # right-to-left override
    ("c1 \x9b31m", "c1 \\x9b31m"),
]


@pytest.mark.parametrize(("raw", "shown"), HOSTILE)
def test_control_characters_are_escaped(raw, shown):
    assert printable(raw) == shown


@pytest.mark.parametrize("title", ["Amélie (2001)", "東京物語 (1953)", "Señor Ñ – “quoted”"])
def test_ordinary_titles_are_unchanged(title):
    assert printable(title) == title


def test_the_table_has_one_row_per_movie_whatever_the_titles_hold(capsys):
    frame = pd.DataFrame(
        {
            "item_id": range(1, len(HOSTILE) + 1),
            "score": [1.0] * len(HOSTILE),
            "title": [raw for raw, _ in HOSTILE],
            "because": [f"because you liked {raw} (50%)" for raw, _ in HOSTILE],
        }
    )
    _print(frame, "score", as_json=False, heading="top")
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert len(lines) == 1 + len(HOSTILE)
    assert "\x1b" not in out and "\r" not in out and "\u202e" not in out and "\x9b" not in out
    for line, (_, shown) in zip(lines[1:], HOSTILE, strict=True):
        assert line.count(shown) == 2  # the title and the reason
    _print(frame, "score", as_json=True)
    out = capsys.readouterr().out
    assert not any(c in out for c in "\x1b\r\x9b\u202e")
    records = json.loads(out)
    assert [r["title"] for r in records] == [raw for raw, _ in HOSTILE]  # JSON keeps the data
