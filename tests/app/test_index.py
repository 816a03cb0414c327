"""The report index: rounded figures, checks folded away, thumbnails, no machine paths."""

import base64
import json
import re

from recsys_utils.app import figures, index

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\nfake").decode()


def test_figures_are_rounded_for_people():
    fmt = figures.format_value
    assert fmt(0.123456789) == "0.123" and fmt(12.3456) == "12.35" and fmt(456.78) == "456.8"
    assert fmt(100836) == "100,836" and fmt(100836.0) == "100,836" and fmt(1234.5678) == "1,235"
    assert fmt(0.000123456) == "0.000123" and fmt(0.0) == "0"
    assert fmt({"mf": 0.85312, "ease": 0.35}) == "mf 0.853, ease 0.350"
    assert fmt(True) == "yes" and fmt(float("nan")) == "-" and fmt(None) == "-"


def test_recorded_findings_lead_the_visible_block_and_figures_fold_away():
    bundle = figures.figures_bundle(
        {"findings": "EASE leads.", "ndcg": 0.35412}, table={"ease": 0.35412}
    )
    page = bundle["text/html"]
    assert page.index("<li>EASE leads.</li>") < page.index(" >0.354<") < page.index("<details>")
    assert "<td>ndcg</td><td>0.354</td>" in page
    assert bundle["text/plain"] == "EASE leads.\nndcg: 0.354"


def test_checks_and_long_values_fold_away_and_findings_lead():
    figures = {
        "findings": ["EASE leads at NDCG@100 0.354.", "Second sentence."],
        "ndcg": 0.354,
        "app_html_has_table": True,
        "curve": {str(n): 0.1 * n for n in range(12)},
    }
    key, rest, findings = index.split_figures(figures)
    assert key == {"ndcg": 0.354}
    assert set(rest) == {"app_html_has_table", "curve"}
    assert findings == ["EASE leads at NDCG@100 0.354.", "Second sentence."]


def test_index_page_has_headlines_thumbnails_and_relative_links_only(tmp_path):
    executed = tmp_path / "executed.ipynb"
    cell = {
        "cell_type": "code",
        "outputs": [{"output_type": "display_data", "data": {"image/png": PNG}}],
    }
    executed.write_text(json.dumps({"cells": [cell]}))
    thumb = index.thumbnail(executed, tmp_path, "02_model_building")
    assert thumb == "thumbs/02_model_building.png"
    assert (tmp_path / thumb).read_bytes().startswith(b"\x89PNG")
    entries = [
        {"name": "02_model_building", "title": "Models", "html": "02_model_building.html",
         "ok": True, "seconds": 12.3, "thumbnail": thumb,
         "figures": {"findings": "Popularity scores 0.206.", "ndcg": 0.20612, "ok_flag": True}},
        {"name": "03_sweeps", "title": "Sweeps", "html": "03_sweeps.html", "ok": False,
         "seconds": 1.0, "thumbnail": None, "figures": {}},
    ]  # fmt: skip
    page = index.write_index(tmp_path, entries, {"EPOCHS": 2}).read_text()
    assert "<li>Popularity scores 0.206.</li>" in page
    assert '<img class="thumb" src="thumbs/02_model_building.png"' in page
    assert "<td>ndcg</td><td>0.206</td>" in page and "0.20612" not in page
    assert "<details><summary>all recorded values and checks (1)" in page
    assert "FAILED" in page and "EPOCHS = 2" in page and 'id="glossary"' in page
    assert str(tmp_path) not in page


def test_headline_tables_lead_the_index_and_cards_show_their_table(tmp_path):
    executed = tmp_path / "02.ipynb"
    bundle = figures.figures_bundle({"findings": "x.", "rmse": 0.8}, {"MF": 0.853}, headline=True)
    bundle[figures.FIGURES_MIME] = json.dumps(bundle[figures.FIGURES_MIME])
    cell = {"cell_type": "code", "id": "c1", "metadata": {}, "execution_count": 1, "source": "",
            "outputs": [{"output_type": "display_data", "metadata": {}, "data": bundle}]}  # fmt: skip
    nb = {"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    executed.write_text(json.dumps(nb))
    table_html, headline = figures.read_table(executed)
    assert headline is True and ">0.853<" in table_html.replace(" >", ">")
    entry = {"name": "02_model_building", "title": "Models", "html": "02.html", "ok": True,
             "seconds": 1.0, "figures": {"findings": "x.", "rmse": 0.8},
             "table": (table_html, headline)}  # fmt: skip
    page = index.write_index(tmp_path, [entry], {}).read_text()
    assert page.index('<section class="headtable">') < page.index('<section class="card">')
    assert page.count(">0.853<".replace(">", " >")) + page.count(">0.853<") >= 2  # top and card


def _entry(name, findings=(), **extra):
    return {"name": name, "title": name, "html": f"{name}.html", "ok": True, "seconds": 1.0,
            "figures": {"findings": list(findings), **extra.pop("figures", {})}, **extra}  # fmt: skip


VERDICT = '<span class="verdict" data-verdict="on par">EASE and ours are on par</span>'


def test_takeaways_prefer_the_recorded_ones_then_verdicts_then_first_findings():
    entries = [
        _entry("01_a", ["A first.", "A second."]),
        _entry("02_b", ["B first.", f"B says {VERDICT}."]),
        _entry("03_c", ["C first."], figures={"takeaway": "C's takeaway."}),
    ]
    # one a notebook, in run order
    assert index.takeaways(entries) == ["A first.", f"B says {VERDICT}.", "C's takeaway."]
    assert index.takeaways(entries, n=2) == [f"B says {VERDICT}.", "C's takeaway."]
    assert len(index.takeaways(entries + [_entry("04_d", ["D."])])) == 3


def test_one_table_on_top_and_a_wide_card_table_links_to_the_report(tmp_path):
    narrow = (
        "<table><tr><th>model</th><th>ndcg</th></tr><tr><td>EASE</td><td>0.35</td></tr></table>"
    )
    wide = "<table><tr>" + "<th>c</th>" * 9 + "</tr></table>"
    entries = [
        _entry("02_b", ["x."], table=(narrow, True)),
        _entry("03_c", ["y."], table=(wide, True)),
    ]
    page = index.write_index(tmp_path, entries, {}).read_text()
    assert page.count('<section class="headtable">') == 1
    assert "its table (9 columns) in the report" in page and page.count(wide) == 0


def test_the_glossary_holds_every_term_the_reports_use_and_links_its_first_use(tmp_path):
    from recsys_utils.app._glossary import GLOSSARY

    names = {t.name for t in GLOSSARY}
    for term in ("MF", "CollabFNet", "ImplicitMF", "BPR", "EASE", "iALS", "AUC", "R²", "k-core",
                 "NDCG", "Recall", "random seed", "the blog post"):  # fmt: skip
        assert term in names, term
    entries = [_entry("02_b", ["MF beats nothing; MF again; see notebook 03 and the blog post."]),
               _entry("03_c", ["EASE leads at NDCG@100."])]  # fmt: skip
    page = index.write_index(tmp_path, entries, {}).read_text()
    body = page[: page.index('id="glossary"')]
    assert body.count('href="#term-mf"') == 1 and 'href="#term-the-blog-post"' in body
    assert '<a href="03_c.html">notebook 03</a>' in body
    for anchor in re.findall(r'href="#(term-[\w-]+)"', body):
        assert f'id="{anchor}"' in page


def test_links_stay_out_of_tags_code_and_scripts():
    from recsys_utils.app._glossary import link_terms

    page = ('<p title="MF">x</p><code>MF</code><script>var MF = "<b>";</script>'
            '<a href="y">MF</a><p>then MF</p>')  # fmt: skip
    out = link_terms(page, href="index.html")
    assert out.count('class="term"') == 1 and '<p>then <a class="term"' in out
    assert '<p title="MF">' in out and "<code>MF</code>" in out and 'var MF = "<b>";' in out


def test_every_report_links_back_on_and_to_its_notebook_once(tmp_path):
    (tmp_path / "executed").mkdir()
    entries = []
    for name in ("01_a", "02_b"):
        (tmp_path / f"{name}.html").write_text(
            f"<html><body><h1>{name}</h1><p>MF is trained, as notebook 02 shows.</p></body></html>"
        )
        entries.append(_entry(name, ["x."], executed=tmp_path / "executed" / f"{name}.ipynb"))
    for _ in range(2):  # a second index run replaces the bars, adds no links
        index.write_index(tmp_path, entries, {})
    first = (tmp_path / "01_a.html").read_text()
    last = (tmp_path / "02_b.html").read_text()
    assert first.count('<a href="index.html">') == 2  # top and bottom
    assert 'href="02_b.html">next: 02_b' in first and "next:" not in last
    assert 'href="01_a.html">← previous: 01_a' in last
    assert 'href="executed/01_a.ipynb"' in first and str(tmp_path) not in first
    assert first.count('class="term"') == 1 and 'href="index.html#term-mf"' in first
    assert '<a href="02_b.html">notebook 02</a>' in first


def test_an_inserted_notebook_05b_is_found_in_order_and_linked_apart_from_05(tmp_path):
    from recsys_utils.app.report import find_notebooks

    for stem in ("06_c", "05b_b", "05_a", "5_x", "ab_y"):
        (tmp_path / f"{stem}.ipynb").write_text("{}")
    assert [p.stem for p in find_notebooks(folder=tmp_path)] == ["05_a", "05b_b", "06_c"]
    entries = [_entry("05_a", ["x."]), _entry("05b_b", ["y."])]
    page = index.link_notebooks("<p>see notebook 05 and notebook 05b</p>", entries)
    assert '<a href="05_a.html">notebook 05</a>' in page
    assert '<a href="05b_b.html">notebook 05b</a>' in page
