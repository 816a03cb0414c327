"""The glossary of the reports, and the links from a page's words to it.

``GLOSSARY`` holds each term with its definition and the pattern that finds it in running
text; ``link_terms`` links the first place each term appears on a page (outside links,
code, scripts and styles) to its entry, ``index.html#term-...``. "The blog post" is the
document this workbench started from; "random seed" is the number that fixes a run's
random choices: the two are never called by one name.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Term:
    """A glossary entry: the ``name`` shown, its ``definition`` and the ``pattern`` (a
    regular expression, case-sensitive unless it says otherwise) that finds it in text."""

    name: str
    definition: str
    pattern: str

    @property
    def anchor(self) -> str:
        """The entry's id on the index page: ``term-`` and the name in lower-case letters."""
        return "term-" + re.sub(r"[^a-z0-9]+", "-", self.name.lower().replace("²", "2")).strip("-")


def _t(name: str, definition: str, pattern: str | None = None) -> Term:
    return Term(name, definition, pattern or rf"(?<![\w-]){re.escape(name)}(?![\w-])")


GLOSSARY: tuple[Term, ...] = (
    _t("the blog post", "the blog post this workbench started from: movie embeddings learned "
       "from MovieLens ratings with PyTorch nn.Embedding, judged by RMSE. Its claims are "
       "checked in notebook 07.", r"(?i)\bthe blog(?: post)?'?s?\b"),
    _t("random seed", "the number that fixes a run's random choices (the split, the starting "
       "weights, the order of batches). \"5 seeds\" means five runs with different random "
       "seeds; a figure over seeds is their mean.", r"(?i)\brandom seeds?\b"),
    _t("MF", "matrix factorisation: a vector per user and per movie, the predicted rating "
       "r̂(u,i) = μ + b_u + b_i + p_u·q_i, trained on the stars users gave."),
    _t("CollabFNet", "the blog post's neural model: the user and movie vectors side by side "
       "go through a small two-layer network that predicts the rating."),
    _t("ImplicitMF", "MF whose user vector also adds the vectors of the movies the user rated "
       "(and each movie those of its raters): it learns from what was rated, not only how."),
    _t("BPR", "Bayesian personalised ranking: vectors trained so that a movie a user liked "
       "scores above a random other movie (library implicit)."),
    _t("EASE", "a linear item-to-item model with a closed-form solution (Steck, 2019), a strong "
       "ranking baseline."),
    _t("iALS", "implicit alternating least squares: matrix factorisation of who liked what, "
       "unobserved pairs weighted low (library implicit)."),
    _t("RMSE", "root mean squared error of predicted ratings on held-out ratings, in stars; "
       "lower is better."),
    _t("NDCG", "NDCG@k, normalised discounted cumulative gain: hits near the top of the list "
       "count more (1/log2(rank+1)), divided by the best possible; 1 is a perfect ordering.",
       r"\bNDCG(?:@\d+)?"),
    _t("Recall", "Recall@k: the share of a user's relevant held-out movies found in their "
       "top-k, divided by min(k, number held out) so a perfect list scores 1.",
       r"\b[Rr]ecall(?:@\d+)?\b"),
    _t("AUC", "area under the ROC curve: the chance that a random positive scores above a "
       "random negative; 0.5 is chance, 1 is perfect."),
    _t("R²", "the share of a quantity's variance that a (cross-validated) linear fit "
       "explains: 0 is none, 1 all.", r"R²"),
    _t("k-core", "the part of the data where every user and every movie has at least k "
       "ratings (filtering repeats until it holds).", r"\b[kK]-core\b"),
    _t("relevant", "a held-out movie the user rated 4.0 stars or more; what a top-N list "
       "should contain."),
    _t("coverage", "the share of the catalogue that appears in anyone's top-10."),
    _t("fold-in", "computing a new user's vector from the movies they rated, without "
       "retraining the model.", r"\bfold(?:ed)?[- ]in\b"),
    _t("strong generalisation", "the ranking protocol: test users are held out of training "
       "entirely and folded in from 80% of their liked movies; the other 20% are scored.",
       r"(?i)\bstrong generali[sz]ation\b"),
    _t("95% interval", "the range that holds the true mean in 95 of 100 repeated "
       "experiments: a t-interval over users (the unit), pooled over random seeds.",
       r"95% (?:confidence )?interval"),
    _t("on par", "the verdict when the 95% interval of a paired difference holds 0: the "
       "data cannot tell the two apart. \"Ahead\" only where it excludes 0.", r"\bon par\b"),
    _t("paired test", "a test on the difference between two models on the same users (paired "
       "t-test); with many pairs, Holm's correction keeps the chance of any false 'ahead' "
       "at 5%.", r"\bpaired(?: t)?[- ]test\b"),
    _t("UMAP", "a method that draws high-dimensional vectors on a 2-D map, keeping each "
       "point's nearest neighbours near it."),
    _t("Jaccard", "overlap of two sets: the size of the intersection over the size of the "
       "union (0 to 1)."),
    _t("blend", "a weighted sum of several models' predictions, the weights fitted on "
       "validation users.", r"\bblend\b"),
)  # fmt: skip

_SKIP = re.compile(r"(<script\b.*?</script>|<style\b.*?</style>)", re.S | re.I)
_TAG = re.compile(r"(<[^>]+>)")
_OPAQUE = ("a", "code", "pre", "dt", "h1", "title", "summary", "textarea", "button")


def glossary_html(terms=GLOSSARY) -> str:
    """The glossary as a definition list, each entry with its ``id`` for the links."""
    return "<dl>" + "".join(
        f'<dt id="{t.anchor}">{html.escape(t.name)}</dt><dd>{html.escape(t.definition)}</dd>'
        for t in terms
    ) + "</dl>"  # fmt: skip


def map_text(page: str, fn) -> str:
    """``page`` (HTML) with ``fn`` applied to each run of text outside tags, links, code,
    level-1 headings, scripts and styles (where a link must not go)."""
    out, opaque = [], []
    for chunk in _SKIP.split(page):
        if _SKIP.fullmatch(chunk):
            out.append(chunk)
            continue
        for part in _TAG.split(chunk):
            if part.startswith("<"):
                name = re.match(r"</?\s*([a-zA-Z0-9]+)", part)
                tag = name.group(1).lower() if name else ""
                if tag in _OPAQUE and not part.endswith("/>"):
                    if not part.startswith("</"):
                        opaque.append(tag)
                    elif tag in opaque:
                        opaque.remove(tag)
                out.append(part)
            else:
                out.append(part if opaque or not part.strip() else fn(part))
    return "".join(out)


def link_terms(page: str, href: str = "index.html", terms=GLOSSARY) -> str:
    """``page`` (HTML) with the first place each term appears linked to its glossary entry.

    Only text is touched (``map_text``); each term is linked once a page.

    Args:
        page: the HTML.
        href: the page holding the glossary (``""`` on that page itself).
        terms: the glossary.
    """
    todo = {t.name: (t, re.compile(t.pattern)) for t in terms}
    return map_text(page, lambda text: _link_text(text, todo, href) if todo else text)


def _link_text(text: str, todo: dict, href: str) -> str:
    """Link the first match of each term still to do in ``text`` (already HTML-escaped)."""
    spans = []
    for name, (term, pattern) in list(todo.items()):
        m = pattern.search(text)
        if m and not any(m.start() < e and s < m.end() for s, e, _ in spans):
            spans.append((m.start(), m.end(), term))
            del todo[name]
    for start, end, term in sorted(spans, key=lambda s: -s[0]):
        title = html.escape(term.definition, quote=True)
        link = (f'<a class="term" href="{href}#{term.anchor}" title="{title}">'
                f"{text[start:end]}</a>")  # fmt: skip
        text = text[:start] + link + text[end:]
    return text
