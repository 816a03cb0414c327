"""The report pipeline on a tiny notebook: parameters, figures, offline HTML.

Also the test file of ``app/figures.py`` (record and read back a run's figures);
``app/map_plots.py`` is covered by ``tests/embeddings/test_vectors.py::test_figures_draw``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat
import numpy as np
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from recsys_utils.app import report

DANGER = "<script>alert(1)</script>"
TINY_CELLS = [
    ("markdown", "# Tiny report\nA notebook the tests build."),
    ("parameters", 'N_POINTS = 5\nLABEL = "default"'),
    ("code", "import matplotlib.pyplot as plt\nplt.plot(range(N_POINTS))\nplt.show()"),
    (
        "code",
        "import plotly.graph_objects as go\n"
        "go.Figure(go.Scatter(x=list(range(N_POINTS)), y=[i * i for i in range(N_POINTS)])).show()",
    ),
    ("code", "import ipywidgets as w\nslider = w.IntSlider(description='points')\ndisplay(slider)"),
    ("code", "slider.value = N_POINTS * 2  # set by a later cell: the saved state shows 14"),
    (
        "code",
        "import numpy as np\nfrom recsys_utils.app import report\n"
        "report.record_figures({'n_points': np.int64(N_POINTS), 'mean': np.float32(2.5),\n"
        f"                       'label': LABEL, 'danger': {DANGER!r}}})",
    ),
]


def write_notebook(path: Path, cells: list[tuple[str, str]]) -> Path:
    """A notebook from (kind, source) pairs; kind "parameters" is a tagged code cell."""
    nb = new_notebook()
    for kind, source in cells:
        if kind == "markdown":
            nb.cells.append(new_markdown_cell(source))
        else:
            tags = ["parameters"] if kind == "parameters" else []
            nb.cells.append(new_code_cell(source, metadata={"tags": tags}))
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, str(path))
    return path


@dataclass
class TinyReport:
    executed: Path
    html: str  # exported with the real .vendor assets if `make setup` fetched them
    html_path: Path
    html_with_code: str
    html_fake_vendor: str  # exported with stand-in vendor files: inlining checked without npm
    html_no_vendor: str  # exported with no vendor files: the CDN fallback


def make_tiny_report(root: Path) -> TinyReport:
    """The tiny notebook run with N_POINTS=7 injected, and its HTML exports.

    Run once a session by the ``tiny_report`` fixture in conftest.py (shared with
    test_browser.py).
    """
    source = write_notebook(root / "tiny.ipynb", TINY_CELLS)
    executed = report.run_notebook(source, root / "executed", {"N_POINTS": 7, "LABEL": "injected"})
    html_path = report.export_html(executed, root / "tiny.html")
    with_code = report.export_html(executed, root / "code.html", keep_code=True)
    fake_require, fake_widgets = root / "require.js", root / "embed-amd.js"
    fake_require.write_text("/* stand-in require.js */ var closing = '</script>';")
    fake_widgets.write_text("/* stand-in embed-amd.js */")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(report, "REQUIRE_JS", fake_require)
        mp.setattr(report, "WIDGETS_JS", fake_widgets)
        fake = report.export_html(executed, root / "fake.html")
        mp.setattr(report, "REQUIRE_JS", root / "missing.js")
        mp.setattr(report, "WIDGETS_JS", root / "missing.js")
        none = report.export_html(executed, root / "none.html")
    return TinyReport(
        executed,
        html_path.read_text(),
        html_path,
        with_code.read_text(),
        fake.read_text(),
        none.read_text(),
    )


def cdn_scripts(html: str) -> list[str]:
    return re.findall(r"<script[^>]*\ssrc=[\"']https?://[^\"']*", html)


# --- figures, no kernel -------------------------------------------------------------------
def test_figures_bundle_converts_numpy_and_keeps_order():
    bundle = report.figures_bundle({"b": np.int32(3), "a": np.float64(0.5), "c": np.arange(2)})
    stored = bundle[report.FIGURES_MIME]
    assert stored["figures"] == {"b": 3, "a": 0.5, "c": [0, 1]}
    assert type(stored["figures"]["b"]) is int
    assert stored["order"] == ["b", "a", "c"]
    json.dumps(stored)


def test_figures_bundle_escapes_html_and_names_bad_key():
    bundle = report.figures_bundle({"x": DANGER})
    assert DANGER not in bundle["text/html"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in bundle["text/html"]
    with pytest.raises(TypeError, match="'model'"):
        report.figures_bundle({"model": object()})


@pytest.mark.parametrize(
    ("value", "text"),
    [(100836, "100,836"), (0.876543, "0.877"), (1234.5678, "1,235"), (True, "yes"), ("ab", "ab")],
)
def test_format_value(value, text):
    assert report.format_value(value) == text


def test_record_figures_outside_a_kernel_prints(capsys):
    report.record_figures({"n": np.int64(4), "rmse": 0.25})
    assert capsys.readouterr().out == "n: 4\nrmse: 0.250\n"


def test_read_figures_later_record_overrides(tmp_path):
    nb = new_notebook()
    for figures in ({"a": 1, "b": 2}, {"b": 3}):
        cell = new_code_cell("")
        cell.outputs = [new_output("display_data", data=report.figures_bundle(figures))]
        nb.cells.append(cell)
    nbformat.write(nb, str(tmp_path / "x.ipynb"))
    assert report.read_figures(tmp_path / "x.ipynb") == {"a": 1, "b": 3}


def test_parse_parameter_values():
    assert report.parse_literal("3") == 3
    assert report.parse_literal("0.1") == 0.1
    assert report.parse_literal("[1, 2]") == [1, 2]
    assert report.parse_literal("ml-100k") == "ml-100k"


def test_main_unknown_notebook_exits_2(capsys):
    from recsys_utils.cli import main

    assert main(["report", "--only", "99_no_such_notebook"]) == 2
    assert "99_no_such_notebook" in capsys.readouterr().err


# --- the tiny notebook, executed ---------------------------------------------------------------
def test_parameters_are_injected_and_figures_read_back(tiny_report):
    figures = report.read_figures(tiny_report.executed)
    assert figures == {"n_points": 7, "mean": 2.5, "label": "injected", "danger": DANGER}
    assert list(figures) == ["n_points", "mean", "label", "danger"]


def test_html_embeds_png_plotly_and_widget_state(tiny_report):
    html = tiny_report.html
    assert "<title>Tiny report</title>" in html
    assert 'src="data:image/png;base64,' in html
    assert re.search(r"plotly\.js v\d", html), "plotly.js is not inlined"
    assert not [src for src in cdn_scripts(html) if "plot" in src]
    state_json = re.search(
        r'<script type="application/vnd.jupyter.widget-state\+json">(.*?)</script>', html, re.S
    )
    assert state_json, "no widget state saved"
    models = json.loads(state_json.group(1))["state"].values()
    sliders = [m["state"] for m in models if m["model_name"] == "IntSliderModel"]
    assert [s["value"] for s in sliders] == [14]


def test_html_escapes_figure_values(tiny_report):
    assert DANGER not in tiny_report.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in tiny_report.html


def test_code_hidden_unless_kept(tiny_report):
    assert "N_POINTS" not in tiny_report.html
    prompt = 'jp-InputArea-prompt">In'
    assert prompt not in tiny_report.html
    assert "N_POINTS" in tiny_report.html_with_code
    assert prompt in tiny_report.html_with_code


def test_vendor_scripts_are_inlined_and_mathjax_dropped(tiny_report):
    html = tiny_report.html_fake_vendor
    assert "/* stand-in require.js */" in html
    assert "/* stand-in embed-amd.js */" in html
    assert r"'<\/script>'" in html  # an inlined script cannot close its own tag
    assert cdn_scripts(html) == []
    assert not re.search(r"<script[^>]*src=[^>]*mathjax", html, re.I)


def test_without_vendor_files_the_cdn_is_used(tiny_report):
    html = tiny_report.html_no_vendor
    assert any("require" in src for src in cdn_scripts(html))
    assert "@jupyter-widgets/html-manager@" in html


def test_real_vendor_files_leave_no_cdn_script(tiny_report):
    if not (report.REQUIRE_JS.is_file() and report.WIDGETS_JS.is_file()):
        pytest.skip("no .vendor/ assets: run `make setup` (needs npm)")
    assert cdn_scripts(tiny_report.html) == []


# --- build_report: the index and a failing notebook ---------------------------------------------------
def test_build_report_writes_index_and_names_failing_cell(tmp_path):
    folder = tmp_path / "nbs"
    folder.mkdir()
    ok = write_notebook(
        folder / "01_ok.ipynb",
        [("markdown", "# All fine"), ("parameters", "K = 1"),
         ("code", "from recsys_utils.app import report\nreport.record_figures({'k_plus_one': K + 1})")],
    )  # fmt: skip
    boom = write_notebook(
        folder / "02_boom.ipynb", [("parameters", "K = 1"), ("code", "x = 1\n1 / 0")]
    )
    out = tmp_path / "reports"
    with pytest.raises(report.NotebookError) as info:
        report.build_report([ok, boom], out, parameters={"K": 41})
    message = str(info.value)
    assert "02_boom" in message and "x = 1" in message and "ZeroDivisionError" in message
    assert (out / "01_ok.html").is_file() and (out / "executed" / "01_ok.ipynb").is_file()
    assert (out / "02_boom.html").is_file()  # the partial run, traceback visible
    index = (out / "index.html").read_text()
    assert '<a href="01_ok.html">01_ok</a>' in index
    assert "<td>k plus one</td><td>42</td>" in index
    assert "All fine" in index
    assert '02_boom</a> <span class="failed">FAILED</span>' in index


def test_cell_timeout_is_a_notebook_error(tmp_path):
    slow = write_notebook(tmp_path / "03_slow.ipynb", [("code", "import time\ntime.sleep(60)")])
    with pytest.raises(report.NotebookError, match="03_slow.*CellTimeoutError"):
        report.run_notebook(slow, tmp_path / "out", timeout=2)
