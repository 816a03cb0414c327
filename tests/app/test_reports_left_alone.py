"""The check behind conftest's ``reports_left_alone``: tests leave ``reports/`` as it was."""

from __future__ import annotations

import os

from helpers import folder_state, written_between


def test_a_new_file_a_new_folder_and_a_changed_file_are_reported(tmp_path):
    reports = tmp_path / "reports"
    assert folder_state(reports) == {}  # no folder yet: nothing in it
    reports.mkdir()
    (reports / "index.html").write_text("<p>the run</p>")
    before = folder_state(reports)
    assert written_between(before, folder_state(reports)) == []  # untouched: nothing

    (reports / "screenshots").mkdir()
    (reports / "screenshots" / "tiny_report.png").write_bytes(b"png")
    (reports / "index.html").write_text("<p>another run</p>")
    assert written_between(before, folder_state(reports)) == [
        "index.html",
        "screenshots",
        "screenshots/tiny_report.png",
    ]


def test_a_rewrite_of_the_same_size_is_reported(tmp_path):
    page = tmp_path / "06.html"
    page.write_text("abc")
    os.utime(page, ns=(1_000_000_000, 1_000_000_000))
    before = folder_state(tmp_path)
    page.write_text("xyz")  # same size, new modification time
    assert written_between(before, folder_state(tmp_path)) == ["06.html"]
