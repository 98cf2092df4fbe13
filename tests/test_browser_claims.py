"""The claim marks in headless Chromium: hover, keyboard, touch, narrow screens, dark mode.

Runs on the small lesson-like site of ``claims_site`` (built here, as strictly as the
book), so that it does not depend on which lessons carry claims yet. Screenshots go to
``test-artifacts/claims-*.png``.
"""

from __future__ import annotations

import functools
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest
from claims_site import LESSON, assert_two_claims, build, report_output, write_site

pytestmark = [pytest.mark.browser]

HELD = "#claim-04-kl_rises-mark-1"  # a claim this quick run checked
UNSHOWN = "#claim-04-psnr_gain-mark-1"  # a full-run-only claim
VISIBLE = "el => getComputedStyle(el.querySelector('.vaelab-claim-pop')).visibility"
# WCAG contrast ratio of two CSS colours (rgb/rgba strings), the second one opaque.
CONTRAST = """([fg, bg]) => {
    const parse = c => c.match(/[\\d.]+/g).map(Number);
    const lum = ([r, g, b]) => {
        const f = v => {
            v /= 255;
            return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
        };
        return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
    };
    const [a, b] = [lum(parse(fg)), lum(parse(bg))].sort((x, y) => y - x);
    return (a + 0.05) / (b + 0.05);
}"""


# For each mark: does it sit right after the last character of its sentence, on that line?
GLUED = """() => [...document.querySelectorAll('.vaelab-claim')].map(claim => {
    const text = claim.previousSibling;
    const range = document.createRange();
    range.setStart(text, text.data.length - 1);
    range.setEnd(text, text.data.length);
    const last = range.getBoundingClientRect();
    const mark = claim.querySelector('.vaelab-claim-mark').getBoundingClientRect();
    return mark.left >= last.right - 1 && mark.top < last.bottom && mark.bottom > last.top;
})"""


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    source = tmp_path_factory.mktemp("claims-browser") / "src"
    write_site(source, LESSON, report_output(True, assert_two_claims))
    out = source.parent / "html"
    result = build(source, out)
    assert result.returncode == 0, result.stderr
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=out))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/lesson.html"
    httpd.shutdown()
    httpd.server_close()


def open_page(browser, url, **options):
    context = browser.new_context(**{"viewport": {"width": 1000, "height": 700}, **options})
    page = context.new_page()
    errors: list[str] = []

    def console(message):
        url = message.location.get("url", "")
        if message.type == "error" and not url.endswith("/favicon.ico"):  # the site has none
            errors.append(f"{message.text} ({url})")

    page.on("console", console)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url, wait_until="load")
    return context, page, errors


def visibility(page, selector):
    return page.locator(selector).evaluate(VISIBLE)


def test_hover_shows_the_measured_value_and_leaving_hides_it(browser, server, artifacts):
    context, page, errors = open_page(browser, server)
    assert visibility(page, HELD) == "hidden"
    page.hover(f"{HELD} .vaelab-claim-mark")
    page.wait_for_timeout(200)
    assert visibility(page, HELD) == "visible"
    assert "KL 7.3 -> 22.6 nats" in page.locator(f"{HELD} .vaelab-claim-pop").inner_text()
    page.screenshot(path=str(artifacts / "claims-light-hover.png"))
    page.mouse.move(5, 650)
    page.wait_for_timeout(200)
    assert visibility(page, HELD) == "hidden"
    assert not errors, errors
    context.close()


def test_a_mark_never_wraps_away_from_its_sentence(browser, server):
    context, page, errors = open_page(browser, server)
    for width in range(300, 900, 7):  # every line length, so that some sentence ends a line
        page.set_viewport_size({"width": width, "height": 700})
        glued = page.evaluate(GLUED)
        assert len(glued) == 3 and all(glued), (width, glued)
    assert not errors, errors
    context.close()


def test_keyboard_focus_shows_it_and_escape_dismisses_it(browser, server):
    context, page, errors = open_page(browser, server)
    mark = page.locator(f"{UNSHOWN} .vaelab-claim-mark")
    for _ in range(40):  # tab through the page until the mark has focus
        page.keyboard.press("Tab")
        if mark.evaluate("el => el === document.activeElement"):
            break
    else:
        pytest.fail("the mark cannot be reached with the Tab key")
    assert visibility(page, UNSHOWN) == "visible"
    page.keyboard.press("Enter")  # Enter (or Space) opens it for good, like a click
    assert mark.get_attribute("aria-expanded") == "true"
    page.keyboard.press("Tab")  # on to the link inside the popover: it stays open
    assert page.evaluate("document.activeElement.className") == "vaelab-claim-link"
    assert visibility(page, UNSHOWN) == "visible"
    page.keyboard.press("Escape")
    page.wait_for_timeout(200)
    assert visibility(page, UNSHOWN) == "hidden"
    assert mark.get_attribute("aria-expanded") == "false"
    assert not errors, errors
    context.close()


def test_a_tap_opens_it_on_a_narrow_touch_screen_inside_the_window(browser, server, artifacts):
    context, page, errors = open_page(
        browser, server, viewport={"width": 360, "height": 640}, has_touch=True, is_mobile=True
    )
    for selector in (HELD, UNSHOWN):
        page.locator(f"{selector} .vaelab-claim-mark").tap()
        page.wait_for_timeout(200)
        assert visibility(page, selector) == "visible"
        box = page.locator(f"{selector} .vaelab-claim-pop").bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 360, box
    page.screenshot(path=str(artifacts / "claims-touch.png"))
    page.locator("article h1").tap()  # a tap elsewhere closes them
    page.wait_for_timeout(200)
    assert visibility(page, HELD) == visibility(page, UNSHOWN) == "hidden"
    assert not errors, errors
    context.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_marks_and_popovers_are_readable_in_both_colour_schemes(browser, server, artifacts, scheme):
    context, page, errors = open_page(browser, server, color_scheme=scheme)
    assert page.evaluate("document.documentElement.dataset.theme") == scheme
    page.hover(f"{UNSHOWN} .vaelab-claim-mark")
    page.wait_for_timeout(200)
    page.screenshot(path=str(artifacts / f"claims-{scheme}.png"))
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    for selector in (HELD, UNSHOWN):
        mark = page.locator(f"{selector} .vaelab-claim-mark").evaluate(
            "el => getComputedStyle(el).color"
        )
        assert page.evaluate(CONTRAST, [mark, background]) >= 3, (scheme, selector, mark)
    pop = page.locator(f"{UNSHOWN} .vaelab-claim-pop")
    text, surface = pop.evaluate(
        "el => [getComputedStyle(el).color, getComputedStyle(el).backgroundColor]"
    )
    assert page.evaluate(CONTRAST, [text, surface]) >= 4.5, (scheme, text, surface)
    assert "\\" not in pop.inner_text() and "$" not in pop.inner_text()  # no raw LaTeX
    assert not errors, errors
    context.close()
