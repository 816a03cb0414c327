"""The report index: rounded figures, checks folded away, thumbnails, no machine paths."""

import base64
import json

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
