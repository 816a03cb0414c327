"""The key figures of a notebook run: shown as a table, stored in the executed notebook.

A notebook's last cell calls :func:`record_figures`; the figures travel inside the
executed ``.ipynb`` as an output of mimetype ``application/vnd.recsys.figures+json``,
where the notebook tests and ``reports/index.html`` read them back with
:func:`read_figures`. ``recsys_utils.app.report`` re-exports both.
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

FIGURES_MIME = "application/vnd.recsys.figures+json"


def _jsonable(key: str, value: Any) -> Any:
    """``value`` as plain JSON types (numpy scalars and arrays, paths become Python/str)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "item") and getattr(value, "shape", None) == ():
        return value.item()  # numpy (and torch) scalars
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(f"{key}.{k}", v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(key, v) for v in value]
    raise TypeError(f"figure {key!r}: {type(value).__name__} is not JSON-serialisable")


def format_value(value: Any) -> str:
    """A figure as people read it: 4 significant digits at most, never more than 3 decimals.

    Integers (and floats that are whole and 1,000 or more) get thousands separators;
    0.354123 -> ``0.354``, 12.3456 -> ``12.35``, 100836.0 -> ``100,836``, 0.000123 ->
    ``0.000123``; booleans ``yes``/``no``, NaN and None ``-``; dicts ``key value, ...``.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        size = abs(value)
        if size >= 1000 or value == 0:
            return f"{value:,.0f}"
        if size < 0.001:
            return f"{value:.3g}"
        decimals = min(3, max(0, 3 - math.floor(math.log10(size))))
        return f"{value:,.{decimals}f}"
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        return ", ".join(f"{k} {format_value(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(format_value(v) for v in value)
    return str(value)


def tidy(table: Any, index: bool | None = None):
    """A table (DataFrame, Series or dict) styled for a report: every cell through
    :func:`format_value`, so counts keep no decimals and floats at most three.

    Args:
        table: a DataFrame; a Series or dict becomes a one-column ``value`` table.
        index: show the index; default only when it is not a plain 0..n-1 range.

    Returns:
        a pandas ``Styler`` (it renders as HTML in notebooks and exported reports).
    """
    import pandas as pd

    if isinstance(table, Mapping):
        table = pd.Series(dict(table), name="value")
    if isinstance(table, pd.Series):
        table = table.to_frame(table.name or "value")
    styler = table.style.format(format_value).format_index(format_value, axis=0)
    styler = styler.format_index(format_value, axis=1)
    text = [c for c in table.columns if not pd.api.types.is_numeric_dtype(table[c])]
    if text:  # words read from the left; numbers stay right-aligned to compare digits
        styler = styler.set_properties(subset=text, **{"text-align": "left"})
    plain = isinstance(table.index, pd.RangeIndex) and table.index.start == 0
    if not (index if index is not None else not plain):
        styler = styler.hide(axis="index")
    return styler


def folded(summary: str, content: Any):
    """A collapsed section for a report: ``summary`` shown, ``content`` (text, or anything
    :func:`tidy` takes) behind a click. Logs, long tables and paths go here, not the body.

    Returns:
        an ``IPython.display.HTML`` object (display it, or leave it last in a cell).
    """
    from IPython.display import HTML

    if isinstance(content, str):
        inner = f"<pre>{html.escape(content)}</pre>"
    else:
        inner = tidy(content).to_html()
    return HTML(f"<details><summary>{html.escape(summary)}</summary>{inner}</details>")


FINDINGS_KEY = "findings"  # a notebook's "what this run found" sentences (str or list)
# The marker ``evaluation.stats.verdict`` wraps each comparison sentence in.
_VERDICT = re.compile(r'<span class="verdict" data-verdict="(ahead|behind|on par)">(.*?)</span>')


def finding_html(sentence: str) -> str:
    """A findings sentence as HTML: everything escaped except the verdict markers that
    ``evaluation.stats.verdict`` put around its comparison sentences (kept, so the page
    tests can find them)."""
    out, end = [], 0
    for m in _VERDICT.finditer(sentence):
        out.append(html.escape(sentence[end : m.start()]))
        word, text = m.group(1), html.escape(m.group(2))
        out.append(f'<span class="verdict" data-verdict="{word}">{text}</span>')
        end = m.end()
    return "".join(out) + html.escape(sentence[end:])


# Words that compare two things; in a findings sentence they belong inside a verdict.
_COMPARISON = re.compile(
    r"(?i)\b(ahead|behind|beats?|outperforms?|better than|worse than|on par|wins?|loses)\b"
)


def unbacked_comparisons(sentence: str) -> list[str]:
    """The comparison words ("ahead", "beats", "on par"...) of a findings sentence that
    stand outside a verdict marker, i.e. that no paired test from
    ``evaluation.stats.verdict`` backs. A page test asserts this is empty."""
    return _COMPARISON.findall(_VERDICT.sub(" ", sentence))


def finding_text(sentence: str) -> str:
    """A findings sentence as plain text: the verdict markers dropped, their words kept."""
    return _VERDICT.sub(lambda m: m.group(2), sentence)


def findings_of(figures: Mapping[str, Any]) -> list[str]:
    """The recorded ``findings`` sentences as a list (empty when none were recorded)."""
    found = figures.get(FINDINGS_KEY) or []
    return [found] if isinstance(found, str) else [str(s) for s in found]


def _figures_table(figures: Mapping[str, Any], table: Any = None) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(k)}</td><td>{html.escape(format_value(v))}</td></tr>"
        for k, v in figures.items()
        if k != FINDINGS_KEY
    )
    listing = f'<table class="recsys-figures"><tr><th>figure</th><th>value</th></tr>{rows}</table>'
    found = findings_of(figures)
    if not found:
        return listing
    items = "".join(f"<li>{finding_html(s)}</li>" for s in found)
    shown = tidy(table).to_html() if table is not None else ""
    return (
        f'<div class="recsys-findings"><ul>{items}</ul>{shown}'
        f"<details><summary>every figure this run recorded</summary>{listing}</details></div>"
    )


def figures_bundle(
    figures: Mapping[str, Any], table: Any = None, headline: bool = False
) -> dict[str, Any]:
    """The display bundle :func:`record_figures` emits: JSON figures, HTML and text tables.

    With ``findings`` among the figures the HTML shows those sentences, then ``table``
    (anything :func:`tidy` takes), then every figure in a collapsed section. The table's
    HTML is stored too (``read_table``), and ``headline`` asks the report index to show
    it at the top.

    Raises:
        TypeError: a value that cannot be stored as JSON (the message names its key).
    """
    clean = {str(k): _jsonable(str(k), v) for k, v in figures.items()}
    json.dumps(clean, allow_nan=True)  # fail here, not when the notebook is saved
    text = "\n".join(
        [finding_text(s) for s in findings_of(clean)]
        + [f"{k}: {format_value(v)}" for k, v in clean.items() if k != FINDINGS_KEY]
    )
    # nbformat sorts JSON keys when saving: keep the order the notebook gave separately
    stored = {"figures": clean, "order": list(clean)}
    if table is not None:
        stored |= {"table_html": tidy(table).to_html(), "headline": bool(headline)}
    return {FIGURES_MIME: stored, "text/html": _figures_table(clean, table), "text/plain": text}


def record_figures(figures: Mapping[str, Any], table: Any = None, headline: bool = False) -> None:
    """Show this run's findings and store its key figures in the notebook's output.

    Args:
        figures: name -> value; numbers, strings, lists, dicts (numpy scalars are converted).
            ``findings`` (a sentence or a list of them) is what the report closes with;
            ``takeaway`` (one sentence, its comparison through ``evaluation.stats.verdict``)
            is what ``reports/index.html`` opens with.
        table: the one tidy table shown under the findings (a DataFrame, Series or dict).
        headline: show that table at the top of ``reports/index.html`` too.
    """
    bundle = figures_bundle(figures, table, headline)
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # pragma: no cover - IPython comes with ipykernel
        get_ipython = None
    if get_ipython is None or get_ipython() is None:
        print(bundle["text/plain"])  # a plain script: no display machinery
        return
    display(bundle, raw=True)


def _recorded(notebook_path: str | Path) -> list[dict[str, Any]]:
    """Every bundle :func:`record_figures` stored in an executed notebook, in order."""
    import nbformat

    nb = nbformat.read(str(notebook_path), as_version=4)
    values = [
        output.get("data", {}).get(FIGURES_MIME)
        for cell in nb.cells
        for output in cell.get("outputs", [])
    ]
    return [json.loads(v) if isinstance(v, str) else v for v in values if v is not None]


def read_figures(notebook_path: str | Path) -> dict[str, Any]:
    """The figures recorded in an executed notebook (later records override earlier ones)."""
    figures: dict[str, Any] = {}
    for stored in _recorded(notebook_path):
        figures.update((k, stored["figures"][k]) for k in stored["order"])
    return figures


def read_table(notebook_path: str | Path) -> tuple[str | None, bool]:
    """(the HTML of the table recorded with the findings, whether it is a headline); the
    last record with a table wins."""
    tables = [s for s in _recorded(notebook_path) if "table_html" in s]
    if not tables:
        return None, False
    return tables[-1]["table_html"], bool(tables[-1].get("headline"))
