"""``make report`` (``python -m recsys_utils report``) under hostile parameters and failures:
only declared parameter names, values as literals (never run), and a failing notebook
that leaves the previous good report, executed notebook and index in place."""

from __future__ import annotations

import pytest
from test_report import write_notebook

from recsys_utils.app import report
from recsys_utils.cli import main

RECORD = "from recsys_utils.app import report\nreport.record_figures({'k': K, 'label': LABEL})"


@pytest.fixture
def notebooks(tmp_path):
    folder = tmp_path / "nbs"
    folder.mkdir()
    path = write_notebook(
        folder / "01_tiny.ipynb",
        [("markdown", "# Tiny"), ("parameters", "K = 1\nLABEL: str = 'x'"), ("code", RECORD)],
    )
    return path


def test_declared_parameters_are_read_from_the_parameters_cell(notebooks):
    assert report.declared_parameters(notebooks) == ["K", "LABEL"]


@pytest.mark.parametrize(
    "name",
    ["NOPE", "__import__('os').system('touch PWNED')", "K; import os", "k"],
)
def test_an_undeclared_parameter_name_is_refused_before_anything_runs(
    notebooks, tmp_path, capsys, name
):
    out = tmp_path / "reports"
    code = main(["report", "--only", str(notebooks), "--out", str(out), "-p", name, "1"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1, err
    assert "no notebook run here declares it" in err and "declared: K, LABEL" in err
    assert not out.exists() and not (tmp_path / "PWNED").exists()


def test_values_are_literals_or_strings_never_code(notebooks, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "reports"
    payload = "__import__('pathlib').Path('PWNED').touch()"
    code = main(
        ["report", "--only", str(notebooks), "--out", str(out), "-p", "K", "[1, 2]",
         "-p", "LABEL", payload]
    )  # fmt: skip
    assert code == 0
    figures = report.read_figures(out / "executed" / "01_tiny.ipynb")
    assert figures == {"k": [1, 2], "label": payload}  # the text, as a string
    assert not (tmp_path / "PWNED").exists() and not (notebooks.parent / "PWNED").exists()


def test_a_failing_notebook_leaves_the_previous_good_report_in_place(notebooks, tmp_path):
    out = tmp_path / "reports"
    report.build_report([notebooks], out, {"K": 7})
    good = {p: p.read_bytes() for p in (
        out / "01_tiny.html", out / "executed" / "01_tiny.ipynb", out / "index.html"
    )}  # fmt: skip
    write_notebook(notebooks, [("parameters", "K = 1\nLABEL = 'x'"), ("code", "x = 1\n1 / 0")])
    with pytest.raises(report.NotebookError, match="ZeroDivisionError"):
        report.build_report([notebooks], out, {"K": 8})
    for path, data in good.items():
        assert path.read_bytes() == data, f"{path.name} was overwritten by the failed run"
    assert "ZeroDivisionError" in (out / "01_tiny.failed.html").read_text()
    assert (out / "executed" / "01_tiny.failed.ipynb").is_file()
    assert not [p for p in out.iterdir() if p.name.startswith(".01_tiny-")]  # no temp left
    write_notebook(notebooks, [("parameters", "K = 1\nLABEL = 'x'"), ("code", RECORD)])
    report.build_report([notebooks], out, {"K": 9})
    assert report.read_figures(out / "executed" / "01_tiny.ipynb")["k"] == 9
    assert not (out / "01_tiny.failed.html").exists()  # fixed: the old failure is gone
