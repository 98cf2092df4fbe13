"""The FAST book in headless Chromium, served from a local HTTP server.

Every page is loaded once at desktop size (1366x900), and what a reader would meet is
recorded: errors and requests leaving this machine, the quick-run banner, leftover progress
bars, figures (each one clicked open), links from inline code and "lesson NN", the home
link and the search box, the navigation. The tests below read that record. A few more
pages are loaded at phone size (390x844: the sidebar, figures, sideways scrolling), in dark
mode (contrast of every text), and the search page (its snippets). Screenshots go to
``test-artifacts/``.
"""

from __future__ import annotations

import functools
import re
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlparse

import pytest

pytestmark = [pytest.mark.book, pytest.mark.browser]

ROOT = Path(__file__).resolve().parents[1]
LESSONS = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
WIDE_FIGURE_LESSON = next(s for s in LESSONS if s.startswith("06"))
# Wait for MathJax (when the page loads it) to finish typesetting, then for the fonts it asked
# for to arrive (or fail, which the watch records).
TYPESET = """() => ((window.MathJax && MathJax.startup && MathJax.startup.promise)
    ? MathJax.startup.promise : Promise.resolve())
    .then(() => document.fonts.ready).then(() => true)"""

# What a page shows, as the reader meets it.
READ_PAGE = r"""() => {
    const article = document.querySelector('article.bd-article') || document.body;
    const visible = (e) => { const r = e.getBoundingClientRect();
        return r.width > 0 && r.height > 0 && getComputedStyle(e).visibility !== 'hidden'; };
    const isRed = (e) => { const m = getComputedStyle(e).color.match(/\d+/g).map(Number);
        return m[0] > 150 && m[1] < 90 && m[2] < 90; };
    const inlineCode = [...article.querySelectorAll('code')]
        .filter(c => !c.closest('pre, .highlight, .cell_output, h1, h2, h3, h4, h5, h6'))
        .map(c => [c.textContent, c.closest('a') ? c.closest('a').getAttribute('href') : null]);
    // "lesson 06" in prose that no link covers
    const mentions = [];
    const walker = document.createTreeWalker(article, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
        if (n.parentElement.closest('a, code, pre, .cell_output, h1, h2, h3, h4, h5, h6, script'))
            continue;
        for (const m of n.textContent.matchAll(/\b[Ll]essons? (\d\d)/g)) mentions.push(m[0]);
    }
    // the grader's reports: each table after a "...: P / M points" heading, its red rows
    const reports = [...article.querySelectorAll('.cell_output h4')]
        .filter(h => /: [\d.]+ \/ [\d.]+ points/.test(h.textContent))
        .map(h => { const box = h.closest('.output') || h.parentElement;
            const rows = [...box.querySelectorAll('tbody tr')];
            return [h.textContent.trim(),
                    rows.filter(r => [r, ...r.querySelectorAll('*')].some(isRed)).length]; });
    const quiz = [...article.querySelectorAll('section')]
        .filter(s => /quiz/i.test((s.querySelector('h1, h2, h3') || {}).textContent || ''))
        .map(s => [...s.querySelectorAll(':scope > p')].map(p => p.textContent).join(' '));
    return {
        title: document.title,
        banner: (document.querySelector('.bd-header-announcement') || {}).innerText || '',
        text: article.innerText,
        images: [...article.querySelectorAll('img')].map(i =>
            [i.getAttribute('src'), i.naturalWidth, i.getBoundingClientRect().width]),
        nav: [...document.querySelectorAll('nav.bd-docs-nav a, .prev-next-area a')]
            .map(a => a.href),
        home: [...document.querySelectorAll('.bd-header a.navbar-brand')]
            .filter(visible).map(a => a.href),
        searchBoxes: [...document.querySelectorAll('.search-button-field, input[type=search]')]
            .filter(visible).filter(e => !e.closest('dialog')).length,
        ids: [...document.querySelectorAll('[id]')].map(e => e.id)
            .filter(id => id.startsWith('vaelab') || id.startsWith('module-vaelab')),
        inlineCode, mentions, reports, quiz,
        links: [...article.querySelectorAll('a[href]')].map(a => a.getAttribute('href')),
        math: [article.querySelectorAll('.math').length,
               article.querySelectorAll('mjx-container').length,
               document.querySelectorAll('mjx-merror').length,
               article.querySelectorAll("mjx-container[display='true']").length],
    };
}"""

# Click every figure open; for each: (inline width, width in the viewer, its natural width).
OPEN_FIGURES = """async () => {
    const viewer = () => document.querySelector('dialog.vaelab-viewer');
    const sizes = [];
    for (const img of document.querySelectorAll('article.bd-article img:not(a img)')) {
        img.scrollIntoView({block: 'center'});
        const inline = img.getBoundingClientRect().width;
        img.click();
        await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
        const open = viewer() && viewer().open;
        const shown = open ? viewer().querySelector('img') : null;
        sizes.push([img.getAttribute('src'), inline,
                    shown ? shown.getBoundingClientRect().width : 0, img.naturalWidth]);
        if (open) viewer().querySelector('.vaelab-viewer-close').click();
    }
    return sizes;
}"""


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


def offline_context(browser, **options):
    """A browser context that aborts, and records, every request leaving this machine."""
    context = browser.new_context(**options)
    context.set_default_timeout(120_000)  # a loaded machine can take a while over a lesson
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
    return context


@pytest.fixture(scope="module")
def context(browser):
    context = offline_context(browser, viewport=DESKTOP)
    yield context
    context.close()


def open_page(context, url):
    page = context.new_page()
    watch = Watch(page)
    page.goto(url, wait_until="load")
    page.evaluate(TYPESET)
    return page, watch


def site_pages(site: Path) -> list[str]:
    """Every page (not the theme's template snippets that Sphinx copies into _static/)."""
    return [
        p.relative_to(site).as_posix()
        for p in sorted(site.rglob("*.html"))
        if "_static" not in p.relative_to(site).parts
    ]


@pytest.fixture(scope="module")
def read(context, server, site, artifacts) -> dict[str, dict]:
    """Every page of the site, loaded once at desktop size: what it shows (READ_PAGE), the
    problems its load met, and for a lesson every figure clicked open."""
    record = {}
    for name in site_pages(site):
        page, watch = open_page(context, server + name)
        facts = page.evaluate(READ_PAGE)
        if name.startswith("lessons/"):
            facts["figures"] = page.evaluate(OPEN_FIGURES)
        if name == "index.html":
            page.screenshot(path=artifacts / "book-desktop-landing.png")
        if name == f"lessons/{WIDE_FIGURE_LESSON}.html":
            widest = max(facts["figures"], key=lambda f: f[3])  # lesson 06's KL per dimension
            figure = page.locator(f"article img[src='{widest[0]}']")
            figure.scroll_into_view_if_needed()
            page.screenshot(path=artifacts / "book-desktop-lesson06-wide-figure.png")
            figure.click()
            page.locator("dialog.vaelab-viewer[open] img").wait_for()
            page.screenshot(path=artifacts / "book-desktop-lesson06-figure-opened.png")
            page.keyboard.press("Escape")
        facts["problems"] = watch.problems
        record[name] = facts
        page.close()
    assert len(record) >= len(LESSONS) + 5
    return record


def lesson_pages(read: dict) -> dict[str, dict]:
    return {name: facts for name, facts in read.items() if name.startswith("lessons/")}


def test_every_page_loads_cleanly_and_stays_on_this_machine(read, context):
    problems = [f"{name}: {p}" for name, facts in read.items() for p in facts["problems"]]
    assert not context.outside, f"requests to other hosts: {sorted(set(context.outside))}"
    assert not problems, "\n".join(problems)


def test_the_quick_run_book_says_so_on_every_page(read):
    for name, facts in read.items():
        banner = facts["banner"]
        assert "Quick runs" in banner and "VAELAB_FAST=1" in banner, f"{name}: {banner!r}"
        assert "make book" in banner, f"{name}: no word on how to get the real ones"
    landing = read["index.html"]["text"]
    assert "which come from the full runs" not in landing  # what it said of a FAST book
    assert "make book FAST=1" in landing


def test_no_progress_bar_is_left_in_any_lesson_page(read):
    for name, facts in lesson_pages(read).items():
        bars = re.findall(r".{0,30}\d+%\|.{0,30}", facts["text"])
        assert not bars, f"{name}: {bars}"


def test_every_figure_of_every_lesson_has_loaded(read):
    for name, facts in lesson_pages(read).items():
        assert facts["images"], f"{name}: no figure on the page"
        unloaded = [src for src, width, _ in facts["images"] if width == 0]
        assert not unloaded, f"{name}: figures that did not load: {unloaded}"


def test_every_figure_opens_at_full_size(read):
    shrunk = 0
    for name, facts in lesson_pages(read).items():
        assert len(facts["figures"]) == len(facts["images"]), name
        for src, inline, opened, natural in facts["figures"]:
            assert opened == pytest.approx(natural, abs=1), f"{name}: {src} opened at {opened}"
            assert opened >= inline - 1, f"{name}: {src} opened smaller ({inline} -> {opened})"
            shrunk += natural > inline + 1
    assert shrunk >= 5  # the wide multi-panel figures, shrunk to the column, open larger
    widest = max(lesson_pages(read)[f"lessons/{WIDE_FIGURE_LESSON}.html"]["figures"],
                 key=lambda f: f[3])  # fmt: skip
    assert widest[2] > 1.5 * widest[1], widest  # lesson 06's KL per dimension, at 47% inline


def test_lesson_04_formulas_are_typeset(read):
    stem = next(s for s in LESSONS if s.startswith("04"))
    sources, typeset, errors, display = read[f"lessons/{stem}.html"]["math"]
    assert sources >= 10 and typeset >= sources, (sources, typeset)
    assert errors == 0  # no TeX error in any formula
    assert display >= 1


def test_the_navigation_reaches_every_lesson_and_the_header_links_home(read, server):
    seen, queue = set(), [server + "index.html"]
    while queue:  # follow the sidebar and the previous / next links only
        url = queue.pop()
        if url in seen:
            continue
        seen.add(url)
        facts = read.get(url[len(server) :])
        for href in facts["nav"] if facts else []:
            target = urldefrag(urljoin(url, href))[0]
            if target.startswith(server) and target not in seen:
                queue.append(target)
    reached = {urlparse(u).path.lstrip("/") for u in seen}
    missing = [s for s in LESSONS if f"lessons/{s}.html" not in reached]
    assert not missing, f"lessons the navigation does not reach: {missing}"
    for name, facts in read.items():
        home = [urldefrag(url)[0] for url in facts["home"]]
        assert home == [server + "index.html"], f"{name}: home link {facts['home']}"


def test_one_search_box_in_the_desktop_header(read):
    for name in ("index.html", f"lessons/{LESSONS[4]}.html", "api/index.html"):
        assert read[name]["searchBoxes"] == 1, name


def test_every_vaelab_name_in_a_lesson_links_to_its_api_entry(read):
    documented = {i for name, f in read.items() if name.startswith("api/") for i in f["ids"]}
    assert {"vaelab.losses.kl_divergence", "module-vaelab.losses"} <= documented
    linked, problems = 0, []
    for name, facts in lesson_pages(read).items():
        for code, href in facts["inlineCode"]:
            target = re.sub(r"\(.*\)$", "", code.strip())
            full = target if target.startswith("vaelab") else f"vaelab.{target}"
            anchor = next((a for a in (f"module-{full}", full) if a in documented), None)
            if anchor is None:
                if code.startswith("vaelab."):
                    problems.append(f"{name}: `{code}` names nothing the API pages document")
                continue
            if not href or not re.fullmatch(rf"\.\./api/\w+\.html#{re.escape(anchor)}", href):
                problems.append(f"{name}: `{code}` links to {href}, not its API entry")
            linked += 1
    assert not problems, "\n".join(problems)
    assert linked >= 20  # losses.kl_divergence, train.fit, vaelab.zoo, ... in the lessons


def test_lessons_link_the_lessons_and_exercises_they_name(read):
    for name, facts in lesson_pages(read).items():
        own = name.split("/")[1][:2]
        unlinked = [m for m in facts["mentions"] if not m.endswith(own)]
        assert not unlinked, f"{name}: lesson mentions without a link: {unlinked}"
    stem = next(s for s in LESSONS if s.startswith("05"))
    links = read[f"lessons/{stem}.html"]["links"]
    assert "../exercises/ex05_sampling.html" in links  # the stub's link, to its page
    assert not [h for h in links if h.endswith(".py")], "a link to a .py file the book lacks"


def test_the_quiz_instructions_speak_of_the_page_not_of_jupyter(read):
    for name, facts in lesson_pages(read).items():
        for text in facts["quiz"]:
            assert not re.search(r"\bbuttons?\b", text), f"{name}: {text}"


def test_an_untouched_stub_shows_at_most_one_red_row(read):
    reports = [(n, *r) for n, f in lesson_pages(read).items() for r in f["reports"]]
    assert len(reports) >= 8  # every lesson with an exercise grades its untouched stub
    too_red = [r for r in reports if r[2] > 1]
    assert not too_red, "\n".join(f"{n}: {h}: {red} red rows" for n, h, red in too_red)


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


EXPLORER_LESSONS = [s for s in LESSONS if s[:2] in ("05", "06", "09", "11")]


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


def test_search_snippets_are_prose(context, server, artifacts):
    page, watch = open_page(context, server + "search.html?q=posterior+collapse")
    results = page.locator("#search-results li p.context")
    results.first.wait_for(timeout=60_000)
    page.wait_for_function(  # every page found has its snippet
        "() => !document.querySelector('#search-progress') || "
        "document.querySelectorAll('#search-results li').length === "
        "document.querySelectorAll('#search-results li p.context').length",
        timeout=60_000,
    )
    snippets = results.all_inner_texts()
    assert len(snippets) >= 3
    noise = re.compile(r"\\\(|\\\[|\\frac|\\mathcal|Not quite|Right\.|Contents|Ctrl|Skip to")
    assert not [s for s in snippets if noise.search(s)], snippets
    page.screenshot(path=artifacts / "book-search-snippets.png")
    assert not watch.problems, watch.problems
    page.close()


def test_on_a_phone_the_sidebar_opens_figures_open_larger_nothing_runs_off(
    browser, server, artifacts
):
    context = offline_context(browser, viewport=PHONE, device_scale_factor=2, is_mobile=True)
    try:
        page, watch = open_page(context, server + "index.html")
        page.screenshot(path=artifacts / "book-phone-landing.png")
        assert not page.evaluate(RUNS_OFF), page.evaluate(RUNS_OFF)
        page.close()
        page, watch = open_page(context, server + "api/losses.html")  # long signatures
        assert not page.evaluate(RUNS_OFF), page.evaluate(RUNS_OFF)
        page.close()

        page, watch = open_page(context, f"{server}lessons/{WIDE_FIGURE_LESSON}.html")
        # the lesson list: the article header's button opens it as a dialog
        page.locator(".bd-header-article .primary-toggle").click()
        sidebar = page.locator("#pst-primary-sidebar-modal")
        sidebar.locator("nav.bd-docs-nav a", has_text="05 · Sampling").wait_for(timeout=10_000)
        assert sidebar.evaluate("d => d.open")
        page.screenshot(path=artifacts / "book-phone-sidebar-open.png")
        page.keyboard.press("Escape")
        page.wait_for_function("() => !document.querySelector('#pst-primary-sidebar-modal').open")
        # the contents of the page: the other button
        page.locator(".bd-header-article .secondary-toggle").click()
        contents = page.locator("#pst-secondary-sidebar-modal")
        contents.locator("a", has_text="Checks").wait_for(timeout=10_000)
        page.keyboard.press("Escape")

        # every figure opens larger than the column shows it
        figures = page.evaluate(OPEN_FIGURES)
        assert figures and all(opened > inline + 1 for _, inline, opened, _ in figures), figures
        widest = max(figures, key=lambda f: f[3])
        figure = page.locator(f"article img[src='{widest[0]}']")
        figure.scroll_into_view_if_needed()
        page.screenshot(path=artifacts / "book-phone-lesson06-wide-figure.png")
        figure.click()
        page.locator("dialog.vaelab-viewer[open] img").wait_for()
        page.screenshot(path=artifacts / "book-phone-lesson06-figure-opened.png")
        page.keyboard.press("Escape")

        # nothing runs off the page; what is wider scrolls, and shows it
        assert not page.evaluate(RUNS_OFF), page.evaluate(RUNS_OFF)
        hints = page.evaluate(
            """() => [...document.querySelectorAll('.vaelab-scrolls')].map(e => [
                e.tagName, e.scrollWidth > e.clientWidth,
                getComputedStyle(e.parentElement, '::after').opacity])"""
        )
        assert len(hints) >= 3, hints  # the logs and tables of lesson 06 at 390 px
        assert all(wider and shade == "1" for _, wider, shade in hints), hints
        assert not watch.problems, watch.problems
        page.close()

        stem = next(s for s in LESSONS if s.startswith("04"))  # long inline formulas
        page, watch = open_page(context, f"{server}lessons/{stem}.html")
        assert not page.evaluate(RUNS_OFF), page.evaluate(RUNS_OFF)
        assert page.locator("span.math.vaelab-wide-math").count() >= 1
        page.locator("span.math.vaelab-wide-math").first.scroll_into_view_if_needed()
        page.screenshot(path=artifacts / "book-phone-lesson04-wide-formula.png")
        assert not watch.problems, watch.problems
        page.close()
        assert not context.outside, context.outside
    finally:
        context.close()


# Elements of the article that end beyond its right edge outside anything that scrolls
# sideways (the page would cut them off, or scroll as a whole).
RUNS_OFF = r"""() => {
    const article = document.querySelector('article.bd-article');
    const edge = article.getBoundingClientRect().right + 1;
    const scrolls = (e) => ['auto', 'scroll'].includes(getComputedStyle(e).overflowX)
        && e.getBoundingClientRect().right <= edge;
    const off = [];
    for (const e of article.querySelectorAll('*')) {
        if (e.getBoundingClientRect().right <= edge || e.closest('dialog')) continue;
        let inside = false;
        for (let p = e.parentElement; p && p !== article; p = p.parentElement)
            if (scrolls(p)) { inside = true; break; }
        if (!inside && !scrolls(e)) off.push(`${e.tagName}.${e.className}: ${
            (e.textContent || '').trim().slice(0, 40)}`);
    }
    return off.slice(0, 10);
}"""

CONTRAST = r"""() => {
    const rgb = (c) => { const m = (c.match(/[\d.]+/g) || []).map(Number);
        return {r: m[0], g: m[1], b: m[2], a: m.length > 3 ? m[3] : 1}; };
    const lum = (c) => ['r', 'g', 'b'].map(k => c[k] / 255)
        .map(v => v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4))
        .reduce((s, v, i) => s + v * [0.2126, 0.7152, 0.0722][i], 0);
    const background = (e) => { for (; e; e = e.parentElement) {
        const c = rgb(getComputedStyle(e).backgroundColor); if (c.a > 0.5) return c; }
        return rgb(getComputedStyle(document.documentElement).backgroundColor); };
    const low = [], seen = new Set();
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
        const e = n.parentElement;
        if (!n.textContent.trim() || seen.has(e) || e.closest('script, style, mjx-container'))
            continue;
        seen.add(e);
        const box = e.getBoundingClientRect(), style = getComputedStyle(e);
        if (!box.width || !box.height || style.visibility === 'hidden') continue;
        const [hi, lo] = [lum(rgb(style.color)), lum(background(e))].sort((a, b) => b - a);
        const ratio = (hi + 0.05) / (lo + 0.05);
        if (ratio < 3) low.push(`${ratio.toFixed(2)} ${e.tagName}: ${n.textContent.trim()
            .slice(0, 40)} (${style.color} on ${getComputedStyle(e).backgroundColor})`);
    }
    return low;
}"""


def test_dark_mode_text_is_readable(browser, server, artifacts):
    context = offline_context(browser, viewport=DESKTOP, color_scheme="dark")
    stem = next(s for s in LESSONS if s.startswith("05"))  # the grader's table, quizzes
    try:
        for name in (f"lessons/{stem}.html", "quizzes.html", "api/losses.html"):
            page, _ = open_page(context, server + name)
            assert page.evaluate("document.documentElement.dataset.theme") == "dark"
            low = page.evaluate(CONTRAST)
            assert not low, f"{name}: text below 3:1 contrast:\n" + "\n".join(low)
            if name.startswith("lessons/"):
                page.locator(".cell_output h4").last.scroll_into_view_if_needed()
                page.screenshot(path=artifacts / "book-dark-lesson05-grade-table.png")
            page.close()
    finally:
        context.close()
