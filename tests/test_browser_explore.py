"""The latent explorer (``vaelab.explore``) in headless Chromium, with no kernel.

Each test writes an explorer's self-contained page (``Explorer.save_html``: code, style and
weights inline, exactly what the book embeds), opens it from disk with every network request
aborted and recorded, and checks what the page draws against PyTorch:

- the pointer moved to a known code (z1, z2) decodes, in the browser, to the image that
  ``sigmoid(model.decode(z))`` gives in Python for the code the page shows (8-bit pixels, at
  most 2 levels apart), for the MLP decoder and for a conv decoder (transposed convolutions);
- the slider of a collapsed dimension (its decoder weights zero, its KL 0) changes no pixel,
  while the slider of an active dimension changes the digit;
- a finger dragged across the map on a 390 px wide phone screen decodes where it ends.

Screenshots go to ``test-artifacts/explore-*.png``.
"""

from __future__ import annotations

import json

import pytest
import torch

from vaelab import explore, models

pytestmark = pytest.mark.browser

TOLERANCE = 2  # 8-bit levels


def python_pixels(model, z) -> torch.Tensor:
    """The model's own image for code z as 8-bit levels (C*H*W,), rounded like the page."""
    with torch.no_grad():
        image = torch.sigmoid(model.decode(torch.tensor([z], dtype=torch.float32)))
    return (image.reshape(-1).double() * 255).round()


def seeded(make, seed=0):
    torch.manual_seed(seed)
    return make().eval()


def open_explorer(browser, tmp_path, widget, **options):
    """The widget's standalone page in a fresh context; returns (context, page, problems)."""
    path = widget.save_html(tmp_path / "explorer.html")
    context = browser.new_context(**{"viewport": {"width": 1000, "height": 800}, **options})
    problems = []
    context.route(
        "**/*",
        lambda route: (
            route.continue_()
            if route.request.url.startswith(("file:", "blob:", "data:"))
            else (problems.append(f"request: {route.request.url}"), route.abort())
        ),
    )
    page = context.new_page()
    page.on("pageerror", lambda err: problems.append(f"page error: {err}"))
    page.goto(path.as_uri())
    page.wait_for_selector(".vx canvas.vx-img")
    return context, page, problems


def shown(page, selector=".vx-side canvas.vx-img", index=0):
    """(code the canvas carries, its 8-bit grey levels (C*H*W,)) read back from the page."""
    data = page.evaluate(
        """([selector, index]) => {
            const canvas = document.querySelectorAll(selector)[index];
            const {width, height} = canvas;
            const rgba = canvas.getContext('2d').getImageData(0, 0, width, height).data;
            const grey = [];
            for (let q = 0; q < width * height; q++) grey.push(rgba[4 * q]);
            return {z: JSON.parse(canvas.dataset.z), grey};
        }""",
        [selector, index],
    )
    return data["z"], torch.tensor(data["grey"], dtype=torch.float64)


def map_point(page, z):
    """Page coordinates of code z on the map (the view's extent is on the canvas)."""
    box = page.locator("canvas.vx-map").bounding_box()
    x0, x1, y0, y1 = json.loads(page.locator("canvas.vx-map").get_attribute("data-extent"))
    return (
        box["x"] + (z[0] - x0) / (x1 - x0) * box["width"],
        box["y"] + (y1 - z[1]) / (y1 - y0) * box["height"],
    )


def wait_for_code(page, z, tolerance):
    page.wait_for_function(
        """([z, tol]) => {
            const c = document.querySelector('.vx-side canvas.vx-img');
            const shown = c && c.dataset.z ? JSON.parse(c.dataset.z) : null;
            return shown && shown.every((v, i) => Math.abs(v - z[i]) <= tol);
        }""",
        arg=[list(z), tolerance],
        timeout=10_000,
    )


@pytest.mark.parametrize(
    "name, make",
    [
        ("mlp", lambda: models.MLPVAE(latent_dim=2)),
        ("conv", lambda: models.ConvVAE(latent_dim=2)),
    ],
)
def test_the_pointer_decodes_what_the_python_decoder_gives(
    browser, tmp_path, artifacts, name, make
):
    model = seeded(make)
    torch.manual_seed(1)
    codes, labels = torch.randn(500, 2), torch.randint(0, 10, (500,))
    widget = explore.latent_map(model, codes, labels)
    context, page, problems = open_explorer(browser, tmp_path, widget)
    box = page.locator("canvas.vx-map").bounding_box()
    x0, x1, _, _ = json.loads(page.locator("canvas.vx-map").get_attribute("data-extent"))
    per_pixel = (x1 - x0) / box["width"]
    for target in [(0.5, -1.0), (-1.7, 1.2), (2.2, 2.0)]:
        page.mouse.move(*map_point(page, target))
        wait_for_code(page, target, 2 * per_pixel)  # the pointer lands within a pixel or two
        z, browser_pixels = shown(page)
        difference = (browser_pixels - python_pixels(model, z)).abs().max().item()
        assert difference <= TOLERANCE, f"{name} at z={z}: {difference} levels from model.decode"
        assert browser_pixels.std() > 1, "a flat image would pass any comparison"
    # Two clicks: both paths, each drawn step by step from the same decoder.
    for target in [(-2.0, -1.5), (2.0, 1.5)]:
        page.mouse.click(*map_point(page, target))
    page.wait_for_selector(".vx-paths:not([hidden])")
    steps = page.locator(".vx-strip[data-path='slerp'] canvas")
    assert steps.count() == widget.spec["num_steps"]
    for i in (0, steps.count() // 2):
        z, browser_pixels = shown(page, ".vx-strip[data-path='slerp'] canvas", i)
        assert (browser_pixels - python_pixels(model, z)).abs().max().item() <= TOLERANCE
    page.screenshot(path=artifacts / f"explore-map-{name}.png")
    context.close()
    assert problems == []


def test_a_collapsed_slider_changes_no_pixel_and_an_active_one_does(browser, tmp_path, artifacts):
    model = seeded(lambda: models.MLPVAE(latent_dim=6))
    collapsed = 3
    with torch.no_grad():  # what a collapsed dimension is: the decoder ignores it
        model.decoder[0].weight[:, collapsed] = 0
    kl = torch.tensor([1.9, 0.4, 2.6, 0.0, 1.1, 0.7])
    torch.manual_seed(2)
    widget = explore.sliders(model, torch.randn(6) * 0.5, kl_per_dim=kl)
    context, page, problems = open_explorer(browser, tmp_path, widget)
    labels = page.locator(".vx-dim").all_inner_texts()
    assert "KL 0.00" in labels[collapsed] and "KL 2.60" in labels[2], labels
    assert page.locator(".vx-dim[data-collapsed='true']").count() == 1

    def drag(dim, value):
        page.evaluate(
            """([dim, value]) => {
                const input = document.querySelector(`input[data-dim="${dim}"]`);
                input.value = String(value);
                input.dispatchEvent(new Event('input', {bubbles: true}));
            }""",
            [dim, value],
        )
        page.wait_for_function(
            "([d, v]) => Math.abs(JSON.parse(document.querySelector("
            "'.vx-side canvas.vx-img').dataset.z)[d] - v) < 1e-6",
            arg=[dim, value],
        )
        return shown(page)

    z_before, before = shown(page)
    z_after, after = drag(collapsed, 2.9)
    assert z_after[collapsed] != z_before[collapsed]
    assert torch.equal(before, after), "the collapsed dimension's slider changed pixels"
    assert (after - python_pixels(model, z_after)).abs().max().item() <= TOLERANCE
    _, moved = drag(2, -2.5)
    assert (moved - after).abs().max().item() > 20, "an active dimension left the digit as it was"
    page.screenshot(path=artifacts / "explore-sliders.png")
    context.close()
    assert problems == []


def test_a_finger_drags_the_code_on_a_phone(browser, tmp_path, artifacts):
    model = seeded(lambda: models.MLPVAE(latent_dim=2))
    torch.manual_seed(3)
    widget = explore.latent_map(model, torch.randn(300, 2), torch.randint(0, 10, (300,)))
    context, page, problems = open_explorer(
        browser, tmp_path, widget,
        viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True,
    )  # fmt: skip
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, "the page scrolls sideways"
    page.locator("canvas.vx-map").scroll_into_view_if_needed()
    start, end = map_point(page, (-1.5, -1.5)), map_point(page, (1.0, 1.8))
    cdp = context.new_cdp_session(page)
    touch = lambda kind, points: cdp.send(  # noqa: E731
        "Input.dispatchTouchEvent",
        {"type": kind, "touchPoints": [{"x": x, "y": y} for x, y in points]},
    )
    touch("touchStart", [start])
    for t in [i / 10 for i in range(1, 11)]:
        touch(
            "touchMove", [(start[0] + t * (end[0] - start[0]), start[1] + t * (end[1] - start[1]))]
        )
    touch("touchEnd", [])
    box = page.locator("canvas.vx-map").bounding_box()
    x0, x1, _, _ = json.loads(page.locator("canvas.vx-map").get_attribute("data-extent"))
    wait_for_code(page, (1.0, 1.8), 3 * (x1 - x0) / box["width"])
    z, browser_pixels = shown(page)
    assert (browser_pixels - python_pixels(model, z)).abs().max().item() <= TOLERANCE
    page.screenshot(path=artifacts / "explore-phone.png", full_page=True)
    context.close()
    assert problems == []
