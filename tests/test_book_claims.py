"""The book's claim marks (book/_ext/claims.py), on a small lesson-like site and on the book.

A sentence that ends with ``<!-- claim: ID -->`` gets a mark with the value its run
measured; a claim the run did not check (full run only, in a FAST book) is marked "not
shown by this run"; a mark whose id the run did not report fails the strict build.
"""

from __future__ import annotations

import json
import re
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from claims_site import LESSON, assert_two_claims, build, report_output, write_site

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "book" / "_ext"))
pytest.importorskip("myst_nb")
import claims as book_claims  # noqa: E402  (book/_ext/claims.py)

from vaelab.claims import COMMENT  # noqa: E402


class Marks(HTMLParser):
    """The claim marks of a page: (id of the mark, its classes, its popover's text)."""

    def __init__(self):
        super().__init__()
        self.marks: list[dict] = []
        self.ids: set[str] = set()
        self.hrefs: list[str] = []
        self._depth = 0  # inside a popover: > 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        if attrs.get("href"):
            self.hrefs.append(attrs["href"])
        classes = (attrs.get("class") or "").split()
        if "vaelab-claim" in classes:
            self.marks.append({"id": attrs["id"], "classes": classes, "pop": ""})
        if self._depth:
            self._depth += 1
        elif "vaelab-claim-pop" in classes:
            self._depth = 1

    def handle_endtag(self, tag):
        if self._depth:
            self._depth -= 1

    def handle_data(self, data):
        if self._depth:
            self.marks[-1]["pop"] += data


def marks_of(html: str) -> Marks:
    parser = Marks()
    parser.feed(html)
    return parser


# ----------------------------------------------------------------------------------------
# The text of the marks


def test_a_held_claim_says_what_this_run_measured():
    claim = {"id": "04.kl", "held": True, "measured": "KL 7.3 -> 22.6 nats", "margin": 0.123}
    heading, sentence = book_claims.popover_text(claim, fast=False)
    assert heading == "Checked by this run"
    assert sentence == "measured in this full run: KL 7.3 -> 22.6 nats (margin to failing: 12%)."


def test_a_full_run_claim_in_a_quick_run_is_not_shown_by_it():
    claim = {
        "id": "04.gain",
        "held": None,
        "measured": "not checked by this quick run (0.8 dB (must be above 1 dB))",
        "margin": None,
        "full_only": True,
    }
    heading, sentence = book_claims.popover_text(claim, fast=True)
    assert heading == "Not shown by this run"
    assert "full run only" in sentence and "measured: 0.8 dB (must be above 1 dB)." in sentence


def test_the_mark_escapes_what_it_shows():
    claim = {"id": "04.kl", "held": True, "measured": "<b>x</b> & y", "margin": None}
    html = book_claims.mark_html(claim, fast=True, mark_id="claim-04-kl-mark-1")
    assert "<b>x</b>" not in html and "&lt;b&gt;x&lt;/b&gt; &amp; y" in html
    assert 'href="#claim-04-kl"' in html and 'aria-controls="claim-04-kl-mark-1-pop"' in html


# ----------------------------------------------------------------------------------------
# A small site, built as strictly as the book


@pytest.fixture(scope="module")
def fast_site(tmp_path_factory):
    source = tmp_path_factory.mktemp("claims-site") / "src"
    write_site(source, LESSON, report_output(True, assert_two_claims))
    out = source.parent / "html"
    result = build(source, out)
    assert result.returncode == 0, result.stderr
    return out


@pytest.mark.slow
def test_every_claim_comment_becomes_a_mark_with_the_measured_value(fast_site):
    html = (fast_site / "lesson.html").read_text(encoding="utf-8")
    page = marks_of(html)
    assert "<!-- claim" not in html
    assert [m["id"] for m in page.marks] == [
        "claim-04-kl_rises-mark-1",
        "claim-04-psnr_gain-mark-1",
        "claim-04-kl_rises-mark-2",  # a takeaway repeating a claim gets its own mark
    ]
    held, unshown, _ = page.marks
    assert "vaelab-claim-held" in held["classes"]
    assert "KL 7.3 -> 22.6 nats" in held["pop"] and "this quick run" in held["pop"]
    assert "vaelab-claim-unshown" in unshown["classes"]
    assert "Not shown by this run" in unshown["pop"] and "1.4 dB" in unshown["pop"]
    assert "full run only" in html  # the unshown mark's visible text
    # The table of claims: one row per claim, each linked to and from its sentence.
    assert {"claim-04-kl_rises", "claim-04-psnr_gain"} <= page.ids
    for href in ("#claim-04-kl_rises", "#claim-04-psnr_gain", "#claim-04-kl_rises-mark-1"):
        assert href in page.hrefs
    assert re.search(r"2 claims checked by this quick run", html)
    for name in ("claims.css", "claims.js"):
        assert (fast_site / "_static" / name).is_file()
        assert f"_static/{name}" in html


@pytest.mark.slow
def test_a_full_build_marks_every_claim_as_checked(tmp_path):
    source = write_site(tmp_path / "src", LESSON, report_output(False, assert_two_claims))
    result = build(source, tmp_path / "html")
    assert result.returncode == 0, result.stderr
    page = marks_of((tmp_path / "html" / "lesson.html").read_text(encoding="utf-8"))
    assert all("vaelab-claim-held" in m["classes"] for m in page.marks)
    assert all("this full run" in m["pop"] for m in page.marks)


@pytest.mark.slow
def test_a_mark_the_run_did_not_report_fails_the_build(tmp_path):
    def failing(claims):
        claims.hold("04.kl_rises", True, measured="KL 7.3 -> 22.6 nats")
        with pytest.raises(claims.ClaimFailed):
            claims.hold("04.falls", False, measured="KL 22 -> 7 nats")

    text = (
        "# 04 · A lesson\n\nThe KL rises.<!-- claim: 04.kl_rises -->\n\n"
        "A sentence whose claim the run never checked.<!-- claim: 04.never_asserted -->\n\n"
        "A sentence whose claim fails.<!-- claim: 04.falls -->\n\n"
        "A comment alone on its line ends the paragraph\n<!-- claim: 04.kl_rises -->\n"
    )
    source = write_site(tmp_path / "src", text, report_output(True, failing))
    result = build(source, tmp_path / "html")
    assert result.returncode != 0
    assert "claim 04.never_asserted is not in this run's claims.report" in result.stderr
    assert "claim 04.falls does not hold in this run: KL 22 -> 7 nats" in result.stderr
    assert "must end the sentence it marks, on the same line" in result.stderr
    assert "lesson.ipynb" in result.stderr  # each warning names the page


# ----------------------------------------------------------------------------------------
# The book built by make book FAST=1


@pytest.mark.book
def test_every_lesson_claim_is_marked_in_the_book(site):
    for notebook in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        nb = json.loads(notebook.read_text(encoding="utf-8"))
        marked = [
            m.group("id")
            for cell in nb["cells"]
            if cell["cell_type"] == "markdown"
            for m in COMMENT.finditer("".join(cell["source"]))
        ]
        html = (site / "lessons" / f"{notebook.stem}.html").read_text(encoding="utf-8")
        page = marks_of(html)
        assert "<!-- claim" not in html, notebook.name
        shown = [re.sub(r"^claim-(\d\d)-(.*)-mark-\d+$", r"\1.\2", m["id"]) for m in page.marks]
        assert shown == marked, notebook.name
        for claim_id in set(marked):
            assert book_claims.anchor(claim_id) in page.ids, f"{claim_id}: no row in the table"
