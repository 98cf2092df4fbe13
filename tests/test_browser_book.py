"""The FAST book in headless Chromium, served from a local HTTP server.

Every page loads with no console error, no failed request and no request leaving this
machine; every figure of a lesson has loaded; lesson 04's formulas are typeset by the
MathJax that ships with the book; the navigation reaches every lesson. Screenshots go to
``test-artifacts/``.
"""

from __future__ import annotations

import functools
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlparse

import pytest

pytestmark = [pytest.mark.book, pytest.mark.browser]

ROOT = Path(__file__).resolve().parents[1]
LESSONS = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
# Wait for MathJax (when the page loads it) to finish typesetting, then for the fonts it asked
# for to arrive (or fail, which the watch records).
TYPESET = """() => ((window.MathJax && MathJax.startup && MathJax.startup.promise)
    ? MathJax.startup.promise : Promise.resolve())
    .then(() => document.fonts.ready).then(() => true)"""


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):  # no access log in the test output
        pass


@pytest.fixture(scope="module")
def server(site):
    handler = functools.partial(QuietHandler, directory=str(site))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


class Watch:
    """Records, for one page, what a reader would see go wrong."""

    def __init__(self, page):
        self.problems: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        page.on("requestfailed", self._failed)
        page.on("response", self._response)

    def _console(self, message):
        if message.type == "error":
            self.problems.append(f"console error: {message.text}")

    def _failed(self, request):
        self.problems.append(f"request failed: {request.url} ({request.failure})")

    def _response(self, response):
        if response.status >= 400:
            self.problems.append(f"HTTP {response.status}: {response.url}")


@pytest.fixture(scope="module")
def context(browser):
    """A browser context that aborts, and records, every request leaving this machine."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    outside: list[str] = []

    def route(route):
        url = route.request.url
        if urlparse(url).scheme in ("data", "blob") or urlparse(url).hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            outside.append(url)
            route.abort()

    context.route("**/*", route)
    context.outside = outside
    yield context
    context.close()


def open_page(context, url):
    page = context.new_page()
    watch = Watch(page)
    page.goto(url, wait_until="load")
    page.evaluate(TYPESET)
    return page, watch


def test_every_page_loads_cleanly_and_stays_on_this_machine(context, server, site):
    pages = [  # not the theme's template snippets that Sphinx copies into _static/
        p.relative_to(site).as_posix()
        for p in sorted(site.rglob("*.html"))
        if "_static" not in p.relative_to(site).parts
    ]
    assert len(pages) >= len(LESSONS) + 5
    problems = []
    for name in pages:
        page, watch = open_page(context, server + name)
        problems += [f"{name}: {p}" for p in watch.problems]
        page.close()
    assert not context.outside, f"requests to other hosts: {sorted(set(context.outside))}"
    assert not problems, "\n".join(problems)


def test_every_figure_of_every_lesson_has_loaded(context, server, artifacts):
    for stem in LESSONS:
        page, _ = open_page(context, f"{server}lessons/{stem}.html")
        images = page.eval_on_selector_all(
            "article img",
            """imgs => Promise.all(imgs.map(img => img.decode().catch(() => null)))
                .then(() => imgs.map(img => [img.getAttribute('src'), img.naturalWidth]))""",
        )
        assert images, f"{stem}: no figure on the page"
        unloaded = [src for src, width in images if width == 0]
        assert not unloaded, f"{stem}: figures that did not load: {unloaded}"
        if stem.startswith("05"):
            figure = page.locator("article .cell_output img").first
            figure.scroll_into_view_if_needed()
            page.screenshot(path=artifacts / "book-lesson05-figure.png")
        page.close()


def test_lesson_04_formulas_are_typeset(context, server, artifacts):
    stem = next(s for s in LESSONS if s.startswith("04"))
    page, watch = open_page(context, f"{server}lessons/{stem}.html")
    sources = page.locator("article .math").count()  # what MyST marked as math
    typeset = page.locator("article mjx-container").count()  # what MathJax rendered
    assert sources >= 10 and typeset >= sources, (sources, typeset)
    assert page.locator("mjx-merror").count() == 0  # no TeX error in any formula
    assert page.locator("article mjx-container[display='true']").count() >= 1
    assert not watch.problems, watch.problems
    page.locator("article mjx-container[display='true']").first.scroll_into_view_if_needed()
    page.screenshot(path=artifacts / "book-lesson04-formulas.png")
    page.close()


def test_the_navigation_reaches_every_lesson(context, server, artifacts):
    page, _ = open_page(context, server + "index.html")
    page.screenshot(path=artifacts / "book-landing.png", full_page=True)
    seen, queue = set(), [server + "index.html"]
    while queue:  # follow the sidebar and the previous / next links only
        url = queue.pop()
        if url in seen:
            continue
        seen.add(url)
        page.goto(url, wait_until="domcontentloaded")
        hrefs = page.eval_on_selector_all(
            "nav.bd-docs-nav a, .prev-next-area a", "links => links.map(a => a.href)"
        )
        for href in hrefs:
            target = urldefrag(urljoin(url, href))[0]
            if target.startswith(server) and target not in seen:
                queue.append(target)
    reached = {urlparse(u).path.lstrip("/") for u in seen}
    missing = [s for s in LESSONS if f"lessons/{s}.html" not in reached]
    assert not missing, f"lessons the navigation does not reach: {missing}"
    page.close()


def test_a_quiz_option_unfolds_its_explanation(context, server, artifacts):
    from vaelab import quiz

    page, _ = open_page(context, server + "quizzes.html")
    q = quiz.get("04.kl_sign")
    box = page.locator(f"#quiz-{q.id.replace('.', '-')}")
    wrong = (q.correct + 1) % len(q.options)
    explanation = box.locator("details").nth(wrong).locator("p")
    assert not explanation.is_visible()  # folded away until the reader asks
    box.locator("summary").nth(wrong).click()
    box.locator("summary").nth(q.correct).click()
    assert explanation.is_visible() and "Not quite." in explanation.inner_text()
    assert "Right." in box.locator("details").nth(q.correct).inner_text()
    box.scroll_into_view_if_needed()
    box.screenshot(path=artifacts / "book-quiz-unfolded.png")
    page.close()
