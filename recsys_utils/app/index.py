"""``reports/index.html``: the page a colleague reads in a minute.

From the top: headline sentences (each notebook's ``findings``, recorded with the run's
numbers), one card per notebook (a thumbnail of its first figure linking to its report,
its key figures as a small table rounded to 3 decimals, its run time), the run's
parameters, and a glossary of the terms the reports use. Figures that are checks for the
tests (booleans) and long values fold into a collapsed section, never the page body.
Paths on the page are relative to ``reports/``; nothing names the machine's folders.
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from recsys_utils.app.figures import FINDINGS_KEY, finding_html, findings_of, format_value

THUMBS_DIR = "thumbs"
MAX_INLINE_ITEMS = 8  # dicts/lists longer than this go to the collapsed section
MAX_CARD_FIGURES = 8  # a card without a findings table shows its first figures

GLOSSARY = {
    "the seed": "the blog post this workbench started from: embeddings from MovieLens "
    "ratings with PyTorch nn.Embedding, judged by RMSE.",
    "RMSE": "root mean squared error of predicted ratings on held-out ratings (stars; lower "
    "is better).",
    "relevant": "a held-out movie the user rated 4.0 stars or more; these are what a "
    "top-N list should contain.",
    "Recall@k": "share of a user's relevant held-out movies found in their top-k, divided "
    "by min(k, number held out) so a perfect list scores 1.",
    "NDCG@k": "normalised discounted cumulative gain: hits near the top of the list count "
    "more (1/log2(rank+1)), divided by the best possible; 1 is a perfect ordering.",
    "HR@k": "hit rate: share of users with at least one relevant movie in their top-k.",
    "coverage": "share of the catalogue that appears in anyone's top-10.",
    "fold-in": "computing the vector of a new user from the movies they rated, without "
    "retraining the model.",
    "strong generalisation": "the ranking protocol: test users are held out of training "
    "entirely and folded in from 80% of their liked movies; the other 20% are scored.",
    "UMAP": "a method that draws high-dimensional vectors on a 2-D map, keeping each "
    "point's nearest neighbours near it.",
    "Jaccard": "overlap of two sets: size of the intersection over size of the union (0 to 1).",
    "blend": "a weighted sum of several models' predictions, the weights fitted on "
    "validation ratings.",
    "EASE": "a linear item-to-item model with a closed-form solution (Steck, 2019), a strong "
    "ranking baseline.",
    "iALS": "implicit alternating least squares: matrix factorisation of who watched what, "
    "with unobserved pairs weighted low (library `implicit`).",
}


def _is_long(value: Any) -> bool:
    return isinstance(value, (Mapping, list, tuple)) and (
        len(value) > MAX_INLINE_ITEMS or any(isinstance(v, (Mapping, list)) for v in value)
    )


def split_figures(figures: Mapping[str, Any]) -> tuple[dict, dict, list[str]]:
    """(key figures for the card, the rest for the collapsed section, headline sentences)."""
    key, rest = {}, {}
    for name, value in figures.items():
        if name == FINDINGS_KEY:
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
    found = "".join(f"<li>{finding_html(s)}</li>" for s in findings)
    table_html = (entry.get("table") or (None, False))[0]
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
        f'{picture}<ul>{found}</ul><div class="cardtable">{table_html or ""}</div>'
        f"{_table(shown)}{more}</section>"
    )


def write_index(out_dir: Path, entries: list[dict[str, Any]], parameters: Mapping | None) -> Path:
    """Write ``out_dir/index.html`` from the report entries (see ``report.report_one``)."""
    headlines = [s for e in entries for s in split_figures(e.get("figures", {}))[2][:1]]
    head = "".join(f"<li>{finding_html(s)}</li>" for s in headlines)
    tables = "".join(
        f'<section class="headtable"><h3><a href="{html.escape(e["html"])}">'
        f"{html.escape(e['title'])}</a></h3>{e['table'][0]}</section>"
        for e in entries
        if (e.get("table") or (None, False))[1] and e["table"][0]
    )
    params = (
        ", ".join(f"{k} = {format_value(v)}" for k, v in (parameters or {}).items()) or "defaults"
    )
    total = sum(e["seconds"] for e in entries)
    failed = [e["name"] for e in entries if not e["ok"]]
    glossary = "".join(
        f'<dt id="{html.escape(k.replace(" ", "-").lower())}">{html.escape(k)}</dt>'
        f"<dd>{html.escape(v)}</dd>"
        for k, v in GLOSSARY.items()
    )
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Movie embeddings: what this run found</title>
<style>body{{font-family:sans-serif;margin:2em auto;max-width:72em;line-height:1.4;color:#222}}
.cards{{display:grid;grid-template-columns:repeat(auto-fill,minmax(22em,1fr));gap:1em}}
.card{{border:1px solid #ddd;border-radius:6px;padding:.6em 1em}}.card h2{{margin:.2em 0;font-size:1.1em}}
.title{{color:#555;margin:.2em 0}}.thumb{{width:100%;max-height:14em;object-fit:contain;border:1px solid #eee}}
table.figs{{border-collapse:collapse;font-size:.9em;width:100%}}
table.figs td{{border-top:1px solid #eee;padding:.15em .4em}}table.figs td:last-child{{text-align:right}}
.failed{{color:#b00;font-weight:bold}}dt{{font-weight:bold;margin-top:.4em}}dd{{margin-left:1.5em}}
.headline li{{margin:.3em 0}}.headtable table,.cardtable table{{border-collapse:collapse;font-size:.9em}}
.headtable td,.headtable th,.cardtable td,.cardtable th{{border-top:1px solid #eee;padding:.15em .5em}}
.cardtable{{overflow-x:auto}}</style></head>
<body><h1>Movie embeddings: what this run found</h1>
<ul class="headline">{head or "<li>No findings were recorded in this run.</li>"}</ul>
{tables}
<div class="cards">{"".join(_card(e) for e in entries)}</div>
<h2>This run</h2>
<p>Built {datetime.now():%Y-%m-%d %H:%M}; {len(entries)} notebooks in {total:.0f} s
{"(failed: " + html.escape(", ".join(failed)) + ")" if failed else ""}; parameters: {html.escape(params)}.</p>
<h2 id="glossary">Glossary</h2><dl>{glossary}</dl>
</body></html>
"""
    index = out_dir / "index.html"
    index.write_text(page, encoding="utf-8")
    return index
