"""Findings sentences keep the verdict marker on the page and nothing else unescaped."""

from __future__ import annotations

import pandas as pd

from recsys_utils.app.figures import (
    figures_bundle,
    finding_html,
    finding_text,
    unbacked_comparisons,
)
from recsys_utils.evaluation.stats import paired, verdict


def _verdict() -> str:
    rows = pd.DataFrame({"model": ["a"] * 4 + ["b"] * 4, "user": [0, 1, 2, 3] * 2,
                         "m": [0.5, 0.6, 0.7, 0.8, 0.1, 0.15, 0.2, 0.3]})  # fmt: skip
    return verdict(paired(rows, "a", "b", "m"), a="<ours>")


def test_a_verdict_keeps_its_marker_and_the_rest_is_escaped():
    sentence = f"R < 1 & {_verdict()}; <script>x</script>"
    out = finding_html(sentence)
    assert out.count('<span class="verdict" data-verdict="ahead">') == 1
    assert "&lt;ours&gt; is ahead of b" in out  # the words inside are escaped too
    assert "R &lt; 1 &amp;" in out and "&lt;script&gt;" in out and "<script>" not in out


def test_a_look_alike_span_is_escaped():
    fake = '<span class="verdict" data-verdict="best">x</span>'
    assert "<span" not in finding_html(fake)


def test_the_plain_text_drops_the_marker_and_keeps_the_words():
    text = finding_text(f"So: {_verdict()}.")
    assert "<span" not in text and text.startswith("So: <ours> is ahead of b on m by ")
    bundle = figures_bundle({"findings": [f"So: {_verdict()}."]})
    assert "<span" not in bundle["text/plain"]
    assert 'data-verdict="ahead"' in bundle["text/html"]


def test_comparison_words_outside_a_verdict_are_found():
    assert unbacked_comparisons(f"So: {_verdict()}.") == []
    assert unbacked_comparisons("EASE beats ours and MF stays ahead.") == ["beats", "ahead"]
    assert unbacked_comparisons(f"{_verdict()}; the blend is better than both.") == ["better than"]
