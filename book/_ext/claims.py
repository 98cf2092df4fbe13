"""The claim ledger in the book: every checked sentence carries the value its run measured.

A lesson marks a sentence that reports its run with ``<!-- claim: 04.kl_rises -->`` at its
end, asserts it with ``claims.hold/above/below`` and ends its checks with
``claims.report(4)`` (see ``vaelab.claims``). That report's output carries the claims as
JSON, under the mime type ``application/vnd.vaelab.claims+json``. This extension:

1. renders that output, through MyST-NB's documented mime-renderer plugin interface (the
   ``myst_nb.mime_renderers`` entry point, registered by ``claims_book-0.dist-info`` next to
   this file, which ``conf.py`` puts on ``sys.path``), as a node holding the data;
2. once a page is read (``doctree-read``), replaces each claim comment, which MyST parses
   as an inline ``raw`` HTML node, with a small mark: a check mark whose popover (on hover,
   on keyboard focus, and on a tap) says what this run measured, or a "full run only" mark
   where the book was built from a quick run that does not check the claim;
3. turns the report into the page's table of claims, each row linked to its sentence.

A claim comment whose id the run did not report, a claim that does not hold, and a
comment that cannot be attached to its sentence are Sphinx warnings: ``make book`` (with
``-W``) fails on them. The marks' look is in ``_static/claims.css``, their behaviour on a
tap or Escape in ``_static/claims.js``.
"""

from __future__ import annotations

import html
import json
import sys
from collections import Counter
from pathlib import Path

from docutils import nodes
from sphinx.errors import ExtensionError
from sphinx.util import logging

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
STATIC = HERE.parent / "_static"
for _path in (str(HERE), str(ROOT)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from vaelab.claims import COMMENT, MIME_TYPE, SKIPPED  # noqa: E402

logger = logging.getLogger(__name__)
HTML_BUILDERS = ("html", "dirhtml", "singlehtml")


class claims_report(nodes.General, nodes.Element):  # noqa: N801 (docutils names nodes so)
    """The data of one ``claims.report(NN)`` output, until the page's marks are made."""


class ClaimsMimeRenderer:
    """MyST-NB mime renderer plugin: ``claims.report``'s JSON becomes a ``claims_report``.

    The HTML builders prefer it to the report's ``text/html`` copy; others keep their usual
    choice (``text/plain`` for text and LaTeX).
    """

    mime_priority_overrides = [(builder, MIME_TYPE, 0) for builder in HTML_BUILDERS]

    @staticmethod
    def handle_mime(renderer, data, inline: bool):
        if data.mime_type != MIME_TYPE:
            return None
        if inline:
            return []
        content = data.content
        if isinstance(content, str):
            content = json.loads(content)
        node = claims_report()
        node["report"] = json.loads(json.dumps(content))  # plain dicts (the doctree is pickled)
        return [node]


# ----------------------------------------------------------------------------------------
# Text of the marks


def anchor(claim_id: str) -> str:
    """The id of a claim's row in the page's table: "claim-04-kl_rises"."""
    return "claim-" + claim_id.replace(".", "-")


def status(claim: dict) -> str:
    """held, unshown (not checked by this run) or failed."""
    return {True: "held", None: "unshown", False: "failed"}[claim.get("held")]


def run_name(fast: bool) -> str:
    return "this quick run (VAELAB_FAST=1)" if fast else "this full run"


def _what_was_measured(claim: dict) -> str:
    measured = str(claim.get("measured", ""))
    prefix = f"{SKIPPED} ("
    if measured.startswith(prefix) and measured.endswith(")"):
        measured = measured[len(prefix) : -1]
    return measured


def _margin(claim: dict) -> str:
    margin = claim.get("margin")
    return "" if margin is None else f"{margin:.0%}"


def popover_text(claim: dict, fast: bool) -> tuple[str, str]:
    """(heading, sentence) of a mark's popover, as plain text."""
    measured = _what_was_measured(claim)
    kind = status(claim)
    if kind == "held":
        margin = f" (margin to failing: {_margin(claim)})" if _margin(claim) else ""
        return "Checked by this run", f"measured in {run_name(fast)}: {measured}{margin}."
    if kind == "unshown":
        return (
            "Not shown by this run",
            "this claim is checked by the full run only, and this book was built from a quick "
            f"run (VAELAB_FAST=1). The quick run measured: {measured}.",
        )
    return "Does not hold in this run", f"measured in {run_name(fast)}: {measured}."


MARK_TEXT = {"held": "\N{CHECK MARK}", "unshown": "full run only", "failed": "\N{BALLOT X}"}


def mark_html(claim: dict, fast: bool, mark_id: str) -> str:
    """The inline mark that replaces a claim comment: a button-like span and its popover."""
    kind = status(claim)
    heading, sentence = popover_text(claim, fast)
    claim_id = html.escape(claim["id"])
    pop_id = f"{mark_id}-pop"
    return (
        f'<span class="vaelab-claim vaelab-claim-{kind}" id="{mark_id}">'
        # an inline span, not a <button>: a button is an atomic inline, and the line could
        # break between the sentence's full stop and its mark
        f'<span class="vaelab-claim-mark" role="button" tabindex="0" aria-expanded="false" '
        f'aria-controls="{pop_id}" aria-describedby="{pop_id}">'
        f'<span aria-hidden="true">{MARK_TEXT[kind]}</span>'
        f'<span class="vaelab-claim-sr">claim {claim_id}: {html.escape(heading.lower())}</span>'
        f"</span>"
        f'<span class="vaelab-claim-pop" id="{pop_id}" role="tooltip">'
        f'<span class="vaelab-claim-heading">{html.escape(heading)}</span> '
        f"{html.escape(sentence)} "
        f'<a class="vaelab-claim-link" href="#{anchor(claim["id"])}">{claim_id} in the '
        f"lesson's checks</a></span></span>"
    )


STATUS_TEXT = {"held": "holds", "unshown": "full run only", "failed": "does NOT hold"}


def table_html(claims: list[dict], fast: bool, first_marks: dict[str, str]) -> str:
    """The page's table of the claims its run checked, one row (with an anchor) per claim."""
    rows = []
    for claim in claims:
        kind = status(claim)
        claim_id = html.escape(claim["id"])
        back = first_marks.get(claim["id"])
        back_link = (
            f' <a class="vaelab-claim-back" href="#{back}" title="the sentence">'
            f'<span aria-hidden="true">\N{UPWARDS ARROW}</span>'
            f'<span class="vaelab-claim-sr">back to the sentence</span></a>'
            if back
            else ""
        )
        rows.append(
            f'<tr id="{anchor(claim["id"])}"><td><code>{claim_id}</code>{back_link}</td>'
            f'<td><span class="vaelab-claim-status vaelab-claim-{kind}">{STATUS_TEXT[kind]}'
            f"</span></td><td>{html.escape(_what_was_measured(claim))}</td>"
            f"<td>{_margin(claim)}</td></tr>"
        )
    count = f"{len(claims)} claim{'' if len(claims) == 1 else 's'}"
    caption = f"{count} checked by {run_name(fast)}"
    if fast and any(status(c) == "unshown" for c in claims):
        caption += "; the full run also checks those marked full run only"
    return (
        f'<p class="vaelab-claims-caption">{html.escape(caption)}</p>'
        '<div class="vaelab-claims-table-wrapper"><table class="vaelab-claims-table">'
        "<thead><tr><th>claim</th><th>status</th><th>measured in this run</th>"
        f"<th>margin</th></tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


# ----------------------------------------------------------------------------------------
# The page


def _claim_comments(doctree: nodes.document) -> list[nodes.raw]:
    return [
        node
        for node in doctree.findall(nodes.raw)
        if "html" in node.get("format", "").split() and COMMENT.search(node.astext())
    ]


def _glue_to_sentence(node: nodes.raw) -> None:
    """Drop the space between a sentence and its comment, so that no line breaks there."""
    parent = node.parent
    index = parent.index(node)
    before = parent[index - 1] if index > 0 else None
    if isinstance(before, nodes.Text) and before.astext() != before.astext().rstrip():
        parent.replace(before, nodes.Text(before.astext().rstrip()))


def mark_claims(app, doctree: nodes.document) -> None:
    """Replace a page's claim comments with marks and its reports with tables."""
    reports = list(doctree.findall(claims_report))
    comments = _claim_comments(doctree)
    if not reports and not comments:
        return
    claims: dict[str, dict] = {}
    fast = False
    for report in reports:
        data = report["report"]
        fast = bool(data.get("fast"))
        claims.update({c["id"]: c for c in data.get("claims", [])})

    marks_so_far: Counter[str] = Counter()
    first_marks: dict[str, str] = {}
    for node in comments:
        text = node.astext().strip()
        match = COMMENT.fullmatch(text)
        if match is None or not isinstance(node.parent, nodes.TextElement):
            logger.warning(
                "a claim comment must end the sentence it marks, on the same line "
                f"({text[:60]!r} is not inline in a paragraph)",
                location=node,
                type="vaelab",
                subtype="claims",
            )
            continue
        claim_id = match.group("id")
        claim = claims.get(claim_id)
        if claim is None:
            reported = ", ".join(sorted(claims)) or "none"
            logger.warning(
                f"the sentence's claim {claim_id} is not in this run's claims.report "
                f"(reported: {reported}); assert it with claims.hold/above/below before the "
                f"lesson's claims.report, or drop the mark",
                location=node,
                type="vaelab",
                subtype="claims",
            )
            continue
        if claim.get("held") is False:
            logger.warning(
                f"claim {claim_id} does not hold in this run: {claim.get('measured')}",
                location=node,
                type="vaelab",
                subtype="claims",
            )
        _glue_to_sentence(node)
        marks_so_far[claim_id] += 1
        mark_id = f"{anchor(claim_id)}-mark-{marks_so_far[claim_id]}"
        first_marks.setdefault(claim_id, mark_id)
        node.replace_self(nodes.raw("", mark_html(claim, fast, mark_id), format="html"))

    for report in reports:
        data = report["report"]
        table = table_html(data.get("claims", []), bool(data.get("fast")), first_marks)
        report.replace_self(nodes.raw("", table, format="html"))


# ----------------------------------------------------------------------------------------
# Set-up


def _check_plugin() -> None:
    """MyST-NB finds mime renderers by entry point: make sure it sees ours."""
    from myst_nb.core.render import load_mime_renders

    load_mime_renders.cache_clear()
    if not any(getattr(p, "__name__", "") == "ClaimsMimeRenderer" for p in load_mime_renders()):
        raise ExtensionError(
            f"MyST-NB does not see the claims report renderer: {HERE} must be on sys.path "
            "(book/conf.py puts it there), with claims_book-0.dist-info in it"
        )


def _add_static_path(app) -> None:
    if str(STATIC) not in [
        str((Path(app.confdir) / p).resolve()) for p in app.config.html_static_path
    ]:
        app.config.html_static_path.append(str(STATIC))


def setup(app):
    _check_plugin()
    app.add_node(claims_report)
    app.connect("doctree-read", mark_claims)
    app.connect("builder-inited", _add_static_path)
    app.add_css_file("claims.css")
    app.add_js_file("claims.js", loading_method="defer")
    return {
        "version": "1",
        "env_version": 1,
        "parallel_read_safe": True,
        "parallel_write_safe": True,
    }
