"""``reports/index.html``: the page a colleague reads in a minute, and the links between reports.

From the top: three sentences of takeaway (``takeaways``: what the notebooks recorded,
each comparison with its interval), one table (the first headline table), then one card
per notebook (a thumbnail of its first figure linking to its report, its first finding,
its table where it fits the card or a link to it, its key figures rounded, its run time),
the run's parameters, and the glossary, each term linked where it first appears. Figures
that are checks for the tests (booleans) and long values fold into a collapsed section.

``link_reports`` (called by ``write_index``) gives every report a bar back to the index,
on to the next report and to its executed notebook, links its "notebook 03" mentions and
the first place each glossary term appears. Paths on the pages are relative to
``reports/``; nothing names the machine's folders.
"""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from recsys_utils.app._glossary import glossary_html, link_terms, map_text
from recsys_utils.app.figures import FINDINGS_KEY, finding_html, findings_of, format_value

THUMBS_DIR = "thumbs"
MAX_INLINE_ITEMS = 8  # dicts/lists longer than this go to the collapsed section
MAX_CARD_FIGURES = 8  # a card without a findings table shows its first figures
MAX_CARD_COLUMNS = 4  # a wider table does not fit a card: the card links to it instead
N_TAKEAWAYS = 3
TAKEAWAY_KEY = "takeaway"  # a notebook's one sentence for the top of the index
VERDICT_MARK = 'class="verdict"'  # what evaluation.stats.verdict wraps its sentences in
NAV_START, NAV_END = "<!-- report-nav -->", "<!-- /report-nav -->"


def _is_long(value: Any) -> bool:
    return isinstance(value, (Mapping, list, tuple)) and (
        len(value) > MAX_INLINE_ITEMS or any(isinstance(v, (Mapping, list)) for v in value)
    )


def split_figures(figures: Mapping[str, Any]) -> tuple[dict, dict, list[str]]:
    """(key figures for the card, the rest for the collapsed section, headline sentences)."""
    key, rest = {}, {}
    for name, value in figures.items():
        if name in (FINDINGS_KEY, TAKEAWAY_KEY):
            continue
        (rest if isinstance(value, bool) or _is_long(value) else key)[name] = value
    return key, rest, findings_of(figures)


def thumbnail(executed_nb: str | Path, out_dir: Path, name: str) -> str | None:
    """Save the notebook's first PNG output as ``thumbs/<name>.png``; its relative path."""
    try:
        nb = json.loads(Path(executed_nb).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    for cell in nb.get("cells", []):
        for output in cell.get("outputs", []):
            png = output.get("data", {}).get("image/png")
            if png:
                folder = out_dir / THUMBS_DIR
                folder.mkdir(parents=True, exist_ok=True)
                data = "".join(png) if isinstance(png, list) else png
                (folder / f"{name}.png").write_bytes(base64.b64decode(data))
                return f"{THUMBS_DIR}/{name}.png"
    return None


def _table(figures: Mapping[str, Any]) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(k.replace('_', ' '))}</td><td>{html.escape(format_value(v))}</td></tr>"
        for k, v in figures.items()
    )
    return f'<table class="figs">{rows}</table>' if rows else ""


def takeaways(entries: list[dict[str, Any]], n: int = N_TAKEAWAYS) -> list[str]:
    """The index's opening sentences, at most ``n`` and one a notebook, in run order: a
    notebook's recorded ``takeaway`` first; for the places left, its first finding that
    carries a verdict (a comparison with its interval), then its first finding."""
    figs = [e.get("figures") or {} for e in entries]
    tiers = (
        lambda f: findings_of({FINDINGS_KEY: f.get(TAKEAWAY_KEY)}),
        lambda f: [s for s in findings_of(f) if VERDICT_MARK in s],
        findings_of,
    )
    chosen: dict[int, str] = {}
    for tier in tiers:
        for k, f in enumerate(figs):
            if len(chosen) < n and k not in chosen and tier(f):
                chosen[k] = tier(f)[0]
    return [chosen[k] for k in sorted(chosen)]


def _columns(table_html: str) -> int:
    """How many columns the first row of an HTML table has (header cells included)."""
    row = re.search(r"<tr\b.*?</tr>", table_html, re.S)
    return len(re.findall(r"<t[hd]\b", row.group(0))) if row else 0


def _card(entry: Mapping[str, Any]) -> str:
    key, rest, findings = split_figures(entry.get("figures", {}))
    link = html.escape(entry["html"])
    thumb = entry.get("thumbnail")
    picture = (
        f'<a href="{link}"><img class="thumb" src="{html.escape(thumb)}" alt="first figure of '
        f'{html.escape(entry["name"])}"></a>'
        if thumb
        else ""
    )
    status = "" if entry["ok"] else ' <span class="failed">FAILED</span>'
    found = f"<ul>{''.join(f'<li>{finding_html(s)}</li>' for s in findings[:1])}</ul>"
    if len(findings) > 1:
        more_found = "".join(f"<li>{finding_html(s)}</li>" for s in findings[1:])
        found += f"<details><summary>{len(findings) - 1} more findings</summary><ul>{more_found}</ul></details>"
    table_html = (entry.get("table") or (None, False))[0]
    if table_html and _columns(table_html) > MAX_CARD_COLUMNS:
        table_html = (
            f'<p><a href="{link}">its table ({_columns(table_html)} columns) in the report</a></p>'
        )
    shown = dict(list(key.items())[:MAX_CARD_FIGURES]) if not table_html else {}
    folded = {**{k: v for k, v in key.items() if k not in shown}, **rest}
    more = (
        f"<details><summary>all recorded values and checks ({len(folded)})</summary>"
        f"{_table(folded)}</details>"
        if folded
        else ""
    )
    return (
        f'<section class="card"><h2><a href="{link}">{html.escape(entry["name"])}</a>{status}</h2>'
        f'<p class="title">{html.escape(entry["title"])} · {entry["seconds"]:.0f} s</p>'
        f'{picture}{found}<div class="cardtable">{table_html or ""}</div>'
        f"{_table(shown)}{more}</section>"
    )


def _relative(path: Any, out_dir: Path) -> str | None:
    """``path`` relative to ``out_dir`` (the reports folder), or None when it lies outside."""
    try:
        return Path(path).resolve().relative_to(Path(out_dir).resolve()).as_posix()
    except (TypeError, ValueError):
        return None


def report_nav(entries: list[dict[str, Any]], k: int, out_dir: Path) -> str:
    """The bar of report ``k``: back to the index, the previous and the next report, and
    the executed notebook it was made from."""
    links = ['<a href="index.html">← all reports (index)</a>']
    if k > 0:
        links.append(f'<a href="{html.escape(entries[k - 1]["html"])}">← previous: '
                     f"{html.escape(entries[k - 1]['name'])}</a>")  # fmt: skip
    if k + 1 < len(entries):
        links.append(f'<a href="{html.escape(entries[k + 1]["html"])}">next: '
                     f"{html.escape(entries[k + 1]['name'])} →</a>")  # fmt: skip
    executed = _relative(entries[k].get("executed"), out_dir)
    if executed:
        links.append(f'<a href="{html.escape(executed)}">the executed notebook (.ipynb)</a>')
    bar = " · ".join(links)
    return f'{NAV_START}<nav class="report-nav" style="font:14px sans-serif;margin:.6em 0">{bar}</nav>{NAV_END}'


def link_notebooks(page: str, entries: list[dict[str, Any]]) -> str:
    """``page`` with each mention of "notebook 03" (or "notebooks 02 and 03": the first
    number; "notebook 05b" for an inserted one) linked to that notebook's report."""
    reports = {e["name"].split("_")[0]: e["html"] for e in entries}

    def link(text: str) -> str:
        def one(m: re.Match) -> str:
            target = reports.get(m.group(2))
            return f'<a href="{html.escape(target)}">{m.group(0)}</a>' if target else m.group(0)

        return re.sub(r"\b([Nn]otebooks? )(\d\d[a-z]?)\b", one, text)

    return map_text(page, link)


def link_reports(out_dir: Path, entries: list[dict[str, Any]]) -> None:
    """Give every exported report its bar (``report_nav``) at the top and the bottom, link
    its "notebook NN" mentions and the first place each glossary term appears. Running it
    again replaces the bars and adds no second set of links."""
    for k, entry in enumerate(entries):
        path = Path(out_dir) / entry["html"]
        if not path.is_file():
            continue
        page = re.sub(re.escape(NAV_START) + ".*?" + re.escape(NAV_END), "",
                      path.read_text(encoding="utf-8"), flags=re.S)  # fmt: skip
        if 'class="term"' not in page:
            page = link_terms(link_notebooks(page, entries), href="index.html")
        nav = report_nav(entries, k, out_dir)
        page = re.sub(r"(<body\b[^>]*>)", lambda m, nav=nav: m.group(1) + nav, page, count=1)
        end = page.rfind("</body>")
        page = page[:end] + nav + page[end:] if end >= 0 else page + nav
        path.write_text(page, encoding="utf-8")


def write_index(out_dir: Path, entries: list[dict[str, Any]], parameters: Mapping | None) -> Path:
    """Write ``out_dir/index.html`` from the report entries (see ``report.report_one``), and
    link the reports to it and to each other (``link_reports``)."""
    head = "".join(f"<li>{finding_html(s)}</li>" for s in takeaways(entries))
    tables = [e for e in entries if (e.get("table") or (None, False))[1] and e["table"][0]]
    table = "".join(
        f'<section class="headtable"><h3><a href="{html.escape(e["html"])}">'
        f"{html.escape(e['title'])}</a></h3>{e['table'][0]}</section>"
        for e in tables[:1]
    )
    params = (
        ", ".join(f"{k} = {format_value(v)}" for k, v in (parameters or {}).items()) or "defaults"
    )
    total = sum(e["seconds"] for e in entries)
    failed = [e["name"] for e in entries if not e["ok"]]
    body = f"""<h1>Movie embeddings: what this run found</h1>
<ul class="headline">{head or "<li>No findings were recorded in this run.</li>"}</ul>
{table}
<div class="cards">{"".join(_card(e) for e in entries)}</div>
<h2>This run</h2>
<p>Built {datetime.now():%Y-%m-%d %H:%M}; {len(entries)} notebooks in {total:.0f} s
{"(failed: " + html.escape(", ".join(failed)) + ")" if failed else ""}; parameters: {html.escape(params)}.</p>"""
    body = link_terms(link_notebooks(body, entries), href="")
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Movie embeddings: what this run found</title>
<style>body{{font-family:sans-serif;margin:2em auto;max-width:72em;line-height:1.4;color:#222}}
.cards{{display:grid;grid-template-columns:repeat(auto-fill,minmax(22em,1fr));gap:1em}}
.card{{border:1px solid #ddd;border-radius:6px;padding:.6em 1em;min-width:0}}.card h2{{margin:.2em 0;font-size:1.1em}}
.title{{color:#555;margin:.2em 0}}.thumb{{width:100%;max-height:14em;object-fit:contain;border:1px solid #eee}}
table.figs{{border-collapse:collapse;font-size:.9em;width:100%}}
table.figs td{{border-top:1px solid #eee;padding:.15em .4em}}table.figs td:last-child{{text-align:right}}
.failed{{color:#b00;font-weight:bold}}dt{{font-weight:bold;margin-top:.4em}}dd{{margin-left:1.5em}}
.headline{{font-size:1.1em}}.headline li{{margin:.4em 0}}.headtable table,.cardtable table{{border-collapse:collapse;font-size:.9em}}
.headtable td,.headtable th,.cardtable td,.cardtable th{{border-top:1px solid #eee;padding:.15em .5em}}
.cardtable,.headtable{{overflow-x:auto}}a.term{{color:inherit;text-decoration:underline dotted}}</style></head>
<body>{body}
<h2 id="glossary">Glossary</h2>{glossary_html()}
</body></html>
"""
    index = out_dir / "index.html"
    index.write_text(page, encoding="utf-8")
    link_reports(out_dir, entries)
    return index
