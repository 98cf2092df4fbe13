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


EXPLORER_LESSONS = [s for s in LESSONS if s[:2] in ("05", "06", "09", "10")]


def decoder_from_spec(spec: dict):
    """The decoder the page runs, rebuilt in PyTorch from the weights embedded in the page."""
    import base64

    import numpy as np
    import torch
    from torch import nn

    def tensor(text, *shape):
        values = np.frombuffer(base64.b64decode(text), dtype="<f4").copy()
        return torch.from_numpy(values).reshape(*shape)

    layers = []
    for layer in spec["layers"]:
        kind = layer["kind"]
        if kind == "linear":
            module = nn.Linear(layer["in_features"], layer["out_features"])
            module.weight.data = tensor(layer["weight"], layer["out_features"], -1)
        elif kind in ("conv", "conv_transpose"):
            (cin, h, _), (cout, oh, _) = layer["in_shape"], layer["out_shape"]
            k, s, p = layer["kernel_size"], layer["stride"], layer["padding"]
            if kind == "conv":
                module = nn.Conv2d(cin, cout, k, stride=s, padding=p)
                module.weight.data = tensor(layer["weight"], cout, cin, k, k)
            else:
                extra = oh - ((h - 1) * s - 2 * p + k)
                module = nn.ConvTranspose2d(cin, cout, k, stride=s, padding=p, output_padding=extra)
                module.weight.data = tensor(layer["weight"], cin, cout, k, k)
        elif kind == "upsample_nearest":
            layers.append(nn.Upsample(size=tuple(layer["out_shape"][1:]), mode="nearest"))
            continue
        elif kind == "unflatten":
            layers.append(nn.Unflatten(1, tuple(layer["shape"])))
            continue
        else:
            layers.append({"relu": nn.ReLU(), "tanh": nn.Tanh(), "sigmoid": nn.Sigmoid()}[kind])
            continue
        module.bias.data = tensor(layer["bias"], -1)
        layers.append(module)
    return nn.Sequential(*layers).eval()


@pytest.mark.parametrize("stem", EXPLORER_LESSONS)
def test_the_latent_explorer_decodes_in_the_book_without_a_kernel(context, server, artifacts, stem):
    """The lesson's explorer runs from the page alone, and what it draws for the code it shows
    is what the decoder gives for that code, rebuilt in PyTorch from the page's own weights."""
    import json

    import torch

    page, watch = open_page(context, f"{server}lessons/{stem}.html")
    host = page.locator(".vaelab-explore-host").first
    host.locator("canvas.vx-img").first.wait_for(timeout=20_000)
    host.scroll_into_view_if_needed()
    data = json.loads(host.locator("xpath=following-sibling::script[1]").text_content())
    spec = data["spec"]
    image = host.locator(".vx-side canvas.vx-img")
    before = image.get_attribute("data-z")
    if spec["mode"] == "map":
        box = host.locator("canvas.vx-map").bounding_box()
        page.mouse.move(box["x"] + 0.62 * box["width"], box["y"] + 0.41 * box["height"])
    else:
        host.locator("input[data-dim]").first.evaluate(
            "el => { el.value = '1.5'; el.dispatchEvent(new Event('input', {bubbles: true})); }"
        )
    page.wait_for_function(
        "([el, before]) => el.dataset.z !== before", arg=[image.element_handle(), before]
    )
    z = json.loads(image.get_attribute("data-z"))
    grey = torch.tensor(
        image.evaluate(
            """c => Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data)
                .filter((_, i) => i % 4 === 0)"""
        ),
        dtype=torch.float64,
    )
    with torch.no_grad():
        logits = decoder_from_spec(spec["decoder"])(torch.tensor([z], dtype=torch.float32))
    expected = (torch.sigmoid(logits).reshape(-1).double() * 255).round()
    assert (grey - expected).abs().max().item() <= 2, f"{stem}: the page draws another image"
    host.screenshot(path=artifacts / f"book-explorer-{stem[:2]}.png")
    page.close()
    assert not watch.problems, watch.problems
    assert not context.outside, context.outside
