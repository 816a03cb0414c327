"""Headless Chromium opens the exported HTML, offline, and sees it rendered.

Checked on each page: a title, at least one figure (an embedded image or a plotly plot
drawn by its JavaScript), and no error cell. Screenshots go to the session's temporary
folder (``screenshots/`` under pytest's base temp; ``--basetemp DIR`` keeps them where you
choose), never to ``reports/``: what ``make report`` publishes holds no test images.
Without Chromium the tests skip (``apt-get install chromium`` enables them), except
under ``CI=true``, where they fail.
"""

from __future__ import annotations

import html as html_lib
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from test_notebooks import discovered

from recsys_utils.app import report

pytestmark = pytest.mark.browser
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND",  # offline: any CDN request fails at once
    "--window-size=1280,2400",
    "--virtual-time-budget=15000",  # let the page's scripts run before the DOM is dumped
]
ERROR_CELL = re.compile(
    r'<div[^>]*class="[^"]*jp-RenderedText[^"]*"[^>]*'
    r'data-mime-type="application/vnd\.jupyter\.stderr"[^>]*>(.*?)</div>',
    re.S,
)


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory) -> Path:
    """Where this session's screenshots go: a temporary folder, never ``reports/``."""
    return tmp_path_factory.mktemp("screenshots")


@pytest.fixture(scope="session")
def browser() -> str:
    """The Chromium executable; skip (fail under CI=true) without one."""
    path = shutil.which("chromium") or (
        "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
    )
    if path is None:
        message = "Chromium not found: `apt-get install chromium` enables the browser tests"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " (CI=true: they must run)")
        pytest.skip(message)
    return path


def render(browser: str, html_path: Path, shot: Path, profile: Path) -> str:
    """Open ``html_path`` headless; the DOM after its scripts ran. Screenshot saved as ``shot``."""
    result = subprocess.run(
        [browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--screenshot={shot}",
         "--dump-dom", html_path.resolve().as_uri()],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, f"chromium failed on {html_path}:\n{result.stderr[-2000:]}"
    assert shot.is_file() and shot.stat().st_size > 0, f"no screenshot of {html_path}"
    return result.stdout


def problems(dom: str) -> list[str]:
    """What is wrong with a rendered page: no title, no figure, error cells."""
    found = []
    title = re.search(r"<title>(.*?)</title>", dom, re.S)
    if not title or not title.group(1).strip():
        found.append("no title")
    has_image = re.search(r'<img[^>]*src="data:image/(png|jpeg|svg)', dom)
    has_plotly = "plot-container" in dom and re.search(r'<svg[^>]*class="main-svg"', dom)
    if not (has_image or has_plotly):
        found.append("no figure (no embedded image, no drawn plotly plot)")
    for error in ERROR_CELL.findall(dom):
        if "Traceback" in error:
            text = html_lib.unescape(re.sub(r"<[^>]+>", "", error)).strip()
            found.append(f"error cell: {text[-300:]}")
    return found


SCRIPT_OR_STYLE = re.compile(r"<(script|style)\b.*?</\1>", re.S | re.I)
TAG = re.compile(r"<[^>]+>")
LONG_FLOAT = re.compile(r"(?<![\w.])(\d+)\.(\d+)(?![\w.])")
MACHINE_PATHS = ("/tmp/", "/root/", "/home/", str(Path(__file__).resolve().parents[2]))


def visible_text(dom: str) -> str:
    """The words a reader sees: scripts, styles and tags removed, entities decoded."""
    text = html_lib.unescape(TAG.sub(" ", SCRIPT_OR_STYLE.sub(" ", dom)))
    return re.sub(r"\s+", " ", text).strip()


def long_floats(text: str, limit: int = 6) -> list[str]:
    """The numbers in ``text`` written with more than ``limit`` significant digits."""
    out = []
    for whole, frac in LONG_FLOAT.findall(text):
        digits = (whole + frac).lstrip("0")
        if len(digits) > limit:
            out.append(f"{whole}.{frac}")
    return out


def reading_problems(dom: str) -> list[str]:
    """What a reader should not meet: long floats, machine paths, warnings, no findings."""
    text = visible_text(dom)
    found = [f"float with more than 6 significant digits: {f}" for f in long_floats(text)]
    found += [f"machine path {p!r} on the page" for p in MACHINE_PATHS if p in text]
    if re.search(r"\b\w*Warning\b:", text):
        found.append("a warning on the page: " + re.search(r".{0,80}\w*Warning\b:.{0,80}", text)[0])
    if "recsys-findings" not in dom[dom.rfind("jp-Cell ") :]:
        found.append("the report does not end with its findings")
    return found


def test_reading_problems_flags_what_a_reader_trips_on():
    bad = (
        "<div class='jp-Cell '><p>RMSE 0.861234567 in /tmp/x/data</p>"
        "<pre>plots.py:12: UserWarning: tight layout</pre></div>"
    )
    assert reading_problems(bad) == [
        "float with more than 6 significant digits: 0.861234567",
        "machine path '/tmp/' on the page",
        "a warning on the page: RMSE 0.861234567 in /tmp/x/data plots.py:12: UserWarning: tight layout",
        "the report does not end with its findings",
    ]
    good = "<div class='jp-Cell '><p>RMSE 0.861 of 100,836</p><div class='recsys-findings'></div></div>"
    assert reading_problems(good) == []


def test_problems_flags_broken_pages():
    """The checker itself: a bare page and a page with a traceback are both rejected."""
    assert problems("<html><head><title></title></head><body></body></html>") == [
        "no title",
        "no figure (no embedded image, no drawn plotly plot)",
    ]
    broken = (
        '<title>t</title><img src="data:image/png;base64,AAA">'
        '<div class="jp-RenderedText jp-OutputArea-output" '
        'data-mime-type="application/vnd.jupyter.stderr"><pre>Traceback (most recent call last)'
        "\nZeroDivisionError: division by zero</pre></div>"
    )
    assert problems(broken) == [
        "error cell: Traceback (most recent call last)\nZeroDivisionError: division by zero"
    ]


def test_tiny_report_renders_offline(browser, tiny_report, screenshots, tmp_path):
    dom = render(browser, tiny_report.html_path, screenshots / "tiny_report.png", tmp_path / "p")
    assert problems(dom) == []
    assert "<title>Tiny report</title>" in dom
    assert re.search(r'<svg[^>]*class="main-svg"', dom), "plotly did not draw offline"
    if report.REQUIRE_JS.is_file() and report.WIDGETS_JS.is_file():
        # the widget manager drew the slider with the value a later cell set
        assert re.search(r'class="widget-readout"[^>]*>14<', dom), "widgets did not render"


@pytest.mark.notebook
@pytest.mark.parametrize("name", discovered())
def test_notebook_report_renders(browser, name, notebook_runs, screenshots, tmp_path):
    html_path = notebook_runs.reports_dir / f"{name}.html"
    if not html_path.is_file():
        pytest.fail(f"no HTML report for {name}: {notebook_runs.errors.get(name, 'not run')}")
    dom = render(browser, html_path, screenshots / f"{name}.png", tmp_path / "profile")
    assert problems(dom) == [], f"{name}: {problems(dom)}"
    assert reading_problems(dom) == [], f"{name}: {reading_problems(dom)}"
    assert '<a href="index.html">' in dom, f"{name}: no link back to the index"


@pytest.mark.notebook
def test_report_index_reads_in_a_minute(browser, notebook_runs, screenshots, tmp_path):
    index = notebook_runs.reports_dir / "index.html"
    dom = render(browser, index, screenshots / "index.png", tmp_path / "profile")
    text = visible_text(dom)
    assert "what this run found" in dom.lower()
    headline = re.search(r'<ul class="headline">(.*?)</ul>', dom, re.S).group(1)
    assert 1 <= headline.count("<li>") <= 3  # three sentences of takeaway, not one a notebook
    assert dom.count('<section class="headtable">') <= 1  # one table
    assert dom.count('<section class="card">') == len(discovered())
    for thumb in re.findall(r'<img class="thumb" src="([^"]+)"', dom):
        assert (index.parent / thumb).is_file(), thumb
    assert 'id="glossary"' in dom and "NDCG@k" in text
    assert not [p for p in MACHINE_PATHS if p in text]
    assert long_floats(text, limit=4) == []  # the index rounds harder than the reports
