"""The HTML reports: papermill runs the notebooks, nbconvert exports them, offline.

A notebook's last cell calls :func:`record_figures` (from ``recsys_utils.app.figures``); the
figures travel inside the executed notebook, where tests and ``reports/index.html`` read
them back with :func:`read_figures`.

``python -m recsys_utils report`` (what ``make report`` runs; ``cli/report.py``) executes
every ``notebooks/NN_*.ipynb`` in order and writes ``reports/NN_name.html``,
``reports/executed/NN_name.ipynb`` and ``reports/index.html``. Each notebook runs into a
temporary folder whose files are moved into place when it succeeds: a failing notebook
leaves the previous good HTML, executed notebook and index where they were, and its own
run goes beside them as ``NN_name.failed.html`` (or in their place if there were none).
``-p NAME VALUE`` accepts only the names a notebook's ``parameters`` cell assigns, and
each value is a Python literal (``ast.literal_eval``) or else a string: never code. The HTML opens offline:
the kernel uses plotly's ``notebook`` renderer (plotly.js embedded once), and our
``offline`` template inlines require.js and the widget manager from ``.vendor/``.
"""

from __future__ import annotations

import ast
import contextlib
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from recsys_utils.app.figures import (  # re-exported: notebooks call report.record_figures
    FIGURES_MIME,
    figures_bundle,
    format_value,
    read_figures,
    read_table,
    record_figures,
)
from recsys_utils.app.index import thumbnail, write_index
from recsys_utils.constants import NOTEBOOKS_DIR, PROJECT_ROOT, REPORTS_DIR

__all__ = [
    "FIGURES_MIME",
    "NotebookError",
    "build_report",
    "check_parameters",
    "declared_parameters",
    "export_html",
    "figures_bundle",
    "find_notebooks",
    "format_value",
    "parse_literal",
    "read_figures",
    "record_figures",
    "run_notebook",
]

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
VENDOR_DIR = PROJECT_ROOT / ".vendor"
REQUIRE_JS = VENDOR_DIR / "require.js"
WIDGETS_JS = VENDOR_DIR / "embed-amd.js"
_CDN_MATHJAX = re.compile(r'<script[^>]*\ssrc="https?://[^"]*mathjax[^"]*"[^>]*>\s*</script>', re.I)
NOTEBOOK_GLOB = "[0-9][0-9]*_*.ipynb"  # 05b_... sorts between 05_... and 06_...
KERNEL_ENV = {
    "PLOTLY_RENDERER": "notebook",  # plotly.js inside the output, so the HTML draws it
    "MPLBACKEND": "module://matplotlib_inline.backend_inline",
}


class NotebookError(RuntimeError):
    """A notebook failed to execute: names the notebook and the failing cell."""

    def __init__(self, notebook: str, message: str, executed: Path | None = None):
        super().__init__(f"notebook {notebook} failed: {message}")
        self.notebook = notebook
        self.executed = executed


# --- execution and export ---------------------------------------------------------------
@contextlib.contextmanager
def _environ(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables for the kernels started inside the block."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run_notebook(
    path: str | Path,
    out_dir: str | Path,
    parameters: Mapping[str, Any] | None = None,
    *,
    kernel: str = "python3",
    cwd: str | Path | None = None,
    timeout: float | None = None,
    log_output: bool = False,
) -> Path:
    """Execute a notebook with papermill and save it as ``out_dir/<name>.ipynb``.

    Args:
        path: the ``.ipynb`` to run (its ``parameters`` cell receives ``parameters``).
        out_dir: where the executed copy goes (created if missing).
        parameters: values injected after the ``parameters`` cell.
        kernel: the Jupyter kernel name.
        cwd: working directory of the kernel; default the notebook's folder.
        timeout: seconds allowed per cell; ``None`` for no limit.
        log_output: echo the cells' output to this process's log.

    Returns:
        The path of the executed notebook.

    Raises:
        NotebookError: a cell raised, ran past ``timeout`` or killed the kernel; the message
            names the notebook and the cell, and the partly executed notebook is saved.
    """
    import papermill as pm
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    path = Path(path)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    out_path = out_dir / f"{path.stem}.ipynb"
    with _environ(KERNEL_ENV):
        try:
            pm.execute_notebook(
                str(path),
                str(out_path),
                parameters=dict(parameters or {}),
                kernel_name=kernel,
                language="python",
                cwd=str(cwd or path.parent),
                execution_timeout=timeout,
                log_output=log_output,
                progress_bar=True,
            )
        except pm.PapermillExecutionError as err:
            first_line = (err.source or "").strip().splitlines()[:1]
            where = f"cell {err.cell_index} (In [{err.exec_count}]: {''.join(first_line)!r})"
            raise NotebookError(path.stem, f"{where}: {err.ename}: {err.evalue}", out_path) from err
        except (CellTimeoutError, DeadKernelError) as err:
            saved = out_path if out_path.exists() else None
            raise NotebookError(path.stem, f"{type(err).__name__}: {err}", saved) from err
    return out_path


def _title(nb: Any, fallback: str) -> str:
    """The notebook's first markdown heading, else ``fallback``."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("#"):
                    return line.lstrip("#").strip()
            break
    return fallback


def _vendor_js(path: Path) -> str | None:
    # "</script" inside an inlined script would end it early; "<\/" means the same to JS.
    return (
        path.read_text(encoding="utf-8").replace("</script", "<\\/script")
        if path.is_file()
        else None
    )


def _strip_cdn_mathjax(nb: Any) -> None:
    """Drop the MathJax ``<script src=CDN>`` plotly writes into each figure's HTML.

    Offline, that tag blocks page load; plotly labels then show LaTeX untypeset.
    """
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if "text/html" in data:
                text = data["text/html"]
                text = "".join(text) if isinstance(text, list) else text
                data["text/html"] = _CDN_MATHJAX.sub("", text)


def export_html(executed_nb: str | Path, html_path: str | Path, *, keep_code: bool = False) -> Path:
    """Export an executed notebook to one self-contained HTML file.

    Args:
        executed_nb: the executed ``.ipynb``.
        html_path: the ``.html`` to write (folders created).
        keep_code: show the code cells and prompts (hidden by default, like ``--no-input``).

    Returns:
        ``html_path``.
    """
    import nbformat
    from markupsafe import Markup
    from nbconvert import HTMLExporter

    executed_nb, html_path = Path(executed_nb), Path(html_path)
    nb = nbformat.read(str(executed_nb), as_version=4)
    _strip_cdn_mathjax(nb)
    exporter = HTMLExporter(template_name="offline", extra_template_basedirs=[str(TEMPLATES_DIR)])
    exporter.exclude_input = not keep_code
    exporter.exclude_input_prompt = not keep_code
    exporter.exclude_output_prompt = not keep_code
    resources: dict[str, Any] = {"metadata": {"name": _title(nb, executed_nb.stem)}}
    for key, path in (("offline_require_js", REQUIRE_JS), ("offline_widgets_js", WIDGETS_JS)):
        js = _vendor_js(path)
        resources[key] = Markup(js) if js is not None else None
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    html_path.parent.mkdir(parents=True, exist_ok=True)
    html_path.write_text(body, encoding="utf-8")
    return html_path


# --- the report --------------------------------------------------------------------------
def find_notebooks(names: Sequence[str] | None = None, folder: Path = NOTEBOOKS_DIR) -> list[Path]:
    """The numbered notebooks in run order, or the named ones (stem, file name or path)."""
    if not names:
        return sorted(Path(folder).glob(NOTEBOOK_GLOB))
    paths = []
    for name in names:
        path = Path(name)
        if path.suffix != ".ipynb":
            path = Path(folder) / f"{path.name}.ipynb"
        elif not path.exists():
            path = Path(folder) / path.name
        if not path.is_file():
            raise FileNotFoundError(f"no notebook {path}")
        paths.append(path)
    return sorted(paths, key=lambda p: p.name)


def declared_parameters(path: str | Path) -> list[str]:
    """The names a notebook's ``parameters`` cell assigns (``NAME = ...``), in order."""
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    names: list[str] = []
    for cell in nb.cells:
        if cell.cell_type == "code" and "parameters" in cell.get("metadata", {}).get("tags", []):
            try:
                tree = ast.parse(cell.source)
            except SyntaxError:
                continue
            for node in tree.body:
                targets = (
                    node.targets
                    if isinstance(node, ast.Assign)
                    else [node.target]
                    if (isinstance(node, ast.AnnAssign))
                    else []
                )
                names += [t.id for t in targets if isinstance(t, ast.Name) and t.id not in names]
    return names


def check_parameters(paths: Sequence[Path], parameters: Mapping[str, Any]) -> dict[Path, dict]:
    """Each notebook's share of ``parameters``: the names its ``parameters`` cell declares.

    Raises:
        ValueError: a name no notebook declares (one line listing those declared).
    """
    declared = {path: declared_parameters(path) for path in paths}
    known = sorted({name for names in declared.values() for name in names})
    for name in parameters:
        if name not in known:
            raise ValueError(
                f"-p {str(name)[:80]!r}: no notebook run here declares it in its parameters "
                f"cell (declared: {', '.join(known) or 'none'})"
            )
    return {
        path: {k: v for k, v in parameters.items() if k in names}
        for path, names in declared.items()
    }


def _move_into_place(src: Path | None, dest: Path) -> None:
    if src is not None and src.exists():
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(src, dest)


def report_one(
    path: Path,
    out_dir: Path,
    parameters: Mapping[str, Any] | None = None,
    keep_code: bool = False,
    timeout: float | None = None,
) -> tuple[dict[str, Any], NotebookError | None]:
    """Run and export one notebook; its index entry and the error, if it failed.

    The run and its HTML are written in a temporary folder inside ``out_dir`` and moved
    into place when the notebook succeeds (or when there is no earlier good report to
    keep); a failure beside a good report is kept as ``<name>.failed.html`` and
    ``executed/<name>.failed.ipynb``. The entry (name, title, html, ok, figures,
    thumbnail, seconds, executed) is what ``index.write_index`` lays out.
    """
    import nbformat

    start, error = time.perf_counter(), None
    out_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{path.stem}-", dir=out_dir))
    try:
        try:
            executed = run_notebook(path, work / "executed", parameters, timeout=timeout)
        except NotebookError as err:
            executed, error = err.executed, err
        saved = executed is not None and executed.exists()
        html_tmp = work / f"{path.stem}.html"
        if saved:  # a failed run is exported too: its HTML shows the traceback
            export_html(executed, html_tmp, keep_code=keep_code)
        keep_good = error is not None and (out_dir / f"{path.stem}.html").exists()
        stem = f"{path.stem}.failed" if keep_good else path.stem
        html_path = out_dir / f"{stem}.html"
        final_nb = out_dir / "executed" / f"{stem}.ipynb"
        _move_into_place(html_tmp if saved else None, html_path)
        _move_into_place(executed if saved else None, final_nb)
        if error is None:  # an old failure of this notebook is no longer current
            (out_dir / f"{path.stem}.failed.html").unlink(missing_ok=True)
            (out_dir / "executed" / f"{path.stem}.failed.ipynb").unlink(missing_ok=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    title = _title(nbformat.read(str(final_nb if saved else path), as_version=4), path.stem)
    entry = {
        "name": path.stem,
        "title": title,
        "html": html_path.name,
        "ok": error is None,
        "figures": read_figures(final_nb) if error is None else {},
        "thumbnail": thumbnail(final_nb, out_dir, path.stem) if saved and not keep_good else None,
        "table": read_table(final_nb) if error is None else (None, False),
        "seconds": time.perf_counter() - start,
        "executed": final_nb if saved else None,
    }
    if error is not None:
        error.executed = final_nb if saved else None
    return entry, error


def build_report(
    notebooks: Sequence[str | Path] | None = None,
    out_dir: str | Path = REPORTS_DIR,
    parameters: Mapping[str, Any] | None = None,
    keep_code: bool = False,
) -> Path:
    """Run the notebooks in order and write their HTML reports and ``index.html``.

    Args:
        notebooks: names or paths; default every ``notebooks/NN_*.ipynb``.
        out_dir: the reports folder (``reports/``).
        parameters: injected into the notebooks whose ``parameters`` cell declares them.
        keep_code: show code cells in the HTML.

    Returns:
        The path of ``index.html``.

    Raises:
        ValueError: a parameter no notebook declares (before anything runs).
        NotebookError: a notebook failed; the previous good reports and index stay (the
            index is written only if there was none).
    """
    out_dir = Path(out_dir)
    paths = find_notebooks([str(n) for n in notebooks] if notebooks else None)
    if not paths:
        raise FileNotFoundError(f"no notebooks matching {NOTEBOOK_GLOB} in {NOTEBOOKS_DIR}")
    shares = check_parameters(paths, parameters or {})
    entries: list[dict[str, Any]] = []
    start_all = time.perf_counter()
    for i, path in enumerate(paths, 1):
        print(f"[{i}/{len(paths)}] {path.stem} ...", file=sys.stderr, flush=True)
        entry, error = report_one(path, out_dir, shares[path], keep_code)
        entries.append(entry)
        state = "done" if error is None else "FAILED"
        print(
            f"[{i}/{len(paths)}] {path.stem} {state} in {entry['seconds']:.1f} s "
            f"-> {out_dir / entry['html']}",
            file=sys.stderr,
            flush=True,
        )
        if error is not None:
            if not (out_dir / "index.html").exists():
                write_index(out_dir, entries, parameters or {})
            raise error
    index = write_index(out_dir, entries, parameters or {})
    total = time.perf_counter() - start_all
    print(f"{len(paths)} notebook(s) in {total:.1f} s -> {index}", file=sys.stderr)
    return index


def parse_literal(text: str) -> Any:
    """A ``-p`` value: a Python literal (``3``, ``0.1``, ``[1, 2]``, ``None``) or else the
    string (``none`` stays the word; ``tuning.config.parse_value`` reads sweep values)."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text
