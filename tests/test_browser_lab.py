"""JupyterLab in headless Chromium, started the way a learner starts it: ``make lab``.

One server, in a copy of the course (so that nothing the tests type reaches this checkout),
started by the course's own Makefile and its ``.jupyter`` settings, as root where the tests
run as root:

- lesson 00 opens unmodified (its metadata is what JupyterLab writes), its quiz works (a
  wrong answer shows why it is wrong, the right one is marked right), a numeric quiz box
  starts empty and asks for a number, and ``train.fit``'s progress bar renders as a widget;
- lesson 05's exercise loop: the link in its exercise section opens
  ``exercises/ex05_sampling.py`` in JupyterLab's editor; a correct ``sample`` typed there and
  saved raises the score the lesson's check cell shows.

No pop-up asks about Jupyter news. Each step leaves a screenshot in ``test-artifacts/``.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
LESSON = "notebooks/00_setup_and_data.ipynb"
EXERCISE_LESSON = "notebooks/05_sampling_and_latent_space.ipynb"
# What `make lab` needs of the course: its Makefile, the notebooks and exercises it serves,
# the JupyterLab settings it applies. vaelab itself comes from this checkout (PYTHONPATH).
COURSE = ["Makefile", "pyproject.toml", "constraints.txt", "notebooks", "exercises", ".jupyter"]
SETTINGS = {  # JupyterLab user settings for the test server only (not the news: see .jupyter/)
    "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},  # every cell in the DOM
}
NEWS_POPUP = "official Jupyter news"
# A correct `sample` for exercise 05, typed into the editor over the stub's `raise`.
SAMPLE_BODY = (
    "    parameter = next(model.parameters())\n"
    "    z = torch.randn(\n"
    "        num_samples, model.latent_dim, generator=generator,\n"
    "        dtype=parameter.dtype, device=parameter.device,\n"
    "    )\n"
    "    with torch.no_grad():\n"
    "        return torch.sigmoid(model.decode(z))\n"
)
FIT_CELL = (
    "import time\n"
    "from vaelab import data, models, train\n"
    "x_small, _ = data.load_mnist('train', limit=512)\n"
    "hold = lambda epoch, history, model: time.sleep(8)  # keeps the bar up for the screenshot\n"
    "torch.manual_seed(0)\n"
    "history_small = train.fit(models.MLPVAE(latent_dim=2), x_small, num_epochs=1, "
    "batch_size=32, callbacks=[hold])"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    """A copy of the course's folder, for ``make lab`` to serve and the tests to change."""
    root = tmp_path_factory.mktemp("course")
    for name in COURSE:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, root / name, ignore=shutil.ignore_patterns(".ipynb_*"))
        else:
            shutil.copy2(source, root / name)
    return root


@pytest.fixture(scope="module")
def lab(tmp_path_factory, artifacts, course):
    """``make lab`` in ``course`` on a free port with a token; yields (base URL, token)."""
    if subprocess.run(["make", "--version"], capture_output=True).returncode != 0:
        pytest.skip("make is not installed")
    tmp = tmp_path_factory.mktemp("lab")
    for plugin, values in SETTINGS.items():
        path = tmp / "settings" / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    port, token = free_port(), secrets.token_hex(16)
    lab_args = (
        f"--no-browser --ip=127.0.0.1 --port={port} --ServerApp.port_retries=0 "
        f"--IdentityProvider.token={token} --LabApp.user_settings_dir={tmp / 'settings'} "
        f"--LabApp.workspaces_dir={tmp / 'workspaces'}"
    )
    venv = Path(sys.prefix)  # the environment running the tests: -o keeps make from installing
    command = [
        "make", "--no-print-directory", "-o", str(venv / ".installed"), "lab",
        f"VENV={venv}", f"LAB_ARGS={lab_args}",
    ]  # fmt: skip
    log = (artifacts / "lab-server.log").open("w")
    command.append("FAST=1")  # quick runs, which the kernels must inherit from the server
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("VAELAB_FAST", None)  # make test sets it: here FAST=1 alone must do it
    server = subprocess.Popen(
        command, cwd=course, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            if server.poll() is not None:
                pytest.fail(f"make lab exited ({server.returncode}):\n{tail(artifacts)}")
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not answer in 180 s:\n{tail(artifacts)}")
                time.sleep(1)
        yield base, token
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # make and the server it started; kernels end too
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()


def tail(artifacts: Path) -> str:
    return "\n".join((artifacts / "lab-server.log").read_text().splitlines()[-30:])


def wait_idle(page, timeout_ms: int = 120_000) -> None:
    page.wait_for_function(
        """() => {
            const el = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) '
                + '.jp-Notebook-ExecutionIndicator');
            return el && el.dataset.status === 'idle';
        }""",
        timeout=timeout_ms,
    )


def add_cell_and_run(page, source: str) -> None:
    """Below the selected cell: a new code cell holding ``source``, run in place."""
    page.keyboard.press("Escape")  # command mode
    page.keyboard.press("b")  # a new cell below, selected
    page.keyboard.press("Enter")  # edit it
    page.keyboard.insert_text(source)  # as a paste: no auto-closed brackets
    page.keyboard.press("Control+Enter")  # run it, stay on it


def code_cell(page, source: str):
    return page.locator(".jp-CodeCell").filter(has=page.locator(".jp-InputArea", has_text=source))


def test_lesson_00_quiz_and_progress_bar_in_jupyterlab(lab, course, browser, artifacts):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    try:
        run_lesson_00(page, *lab, course, artifacts)
    except Exception:
        page.locator(".jp-Cell").last.scroll_into_view_if_needed(timeout=5000)
        page.screenshot(path=artifacts / "lab-failure.png")
        text = page.locator(".jp-Notebook").inner_text(timeout=5000)
        (artifacts / "lab-failure.txt").write_text(text)  # every cell and output, as text
        raise
    finally:
        context.close()


def run_lesson_00(page, base: str, token: str, course: Path, artifacts: Path) -> None:
    from vaelab import quiz

    on_disk = (course / LESSON).read_bytes()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{base}/lab/workspaces/lesson00/tree/{LESSON}?token={token}")
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=120_000)
    wait_idle(page)
    page.wait_for_timeout(1500)  # let JupyterLab apply the kernel's info to the metadata
    tab = page.locator(".lm-TabBar-tab.jp-mod-current")
    assert "jp-mod-dirty" not in (tab.get_attribute("class") or ""), "opens modified"
    page.screenshot(path=artifacts / "lab-1-lesson00-opened.png")

    # Run the whole lesson (FAST), then answer the first quiz question.
    q = quiz.get("00.pixel_scaling")
    cell = code_cell(page, f'quiz.ask("{q.id}")')
    for attempt in range(2):  # once seen on a loaded machine: Run All stopped early, no error
        page.locator(".lm-MenuBar-itemLabel").get_by_text("Run", exact=True).click()
        page.locator(".lm-Menu-itemLabel").get_by_text("Run All Cells", exact=True).click()
        try:
            cell.locator(".widget-radio-box").wait_for(timeout=150_000)
            break
        except Exception:
            if attempt:
                raise
            (artifacts / "lab-run-all-retried.txt").write_text(
                page.locator(".jp-Notebook").inner_text(timeout=5000)
            )
            wait_idle(page)
    wait_idle(page, timeout_ms=180_000)
    line_height, font_size = cell.locator(".widget-html-content p").first.evaluate(
        "p => [getComputedStyle(p).lineHeight, getComputedStyle(p).fontSize].map(parseFloat)"
    )
    assert line_height < 1.7 * font_size, (line_height, font_size)  # not 28 px rows

    wrong = (q.correct + 1) % len(q.options)
    cell.locator(".widget-radio-box label", has_text=q.options[wrong]).click()
    cell.locator("button", has_text="Check").click()
    feedback = cell.locator(".widget-output")
    feedback.filter(has_text="Not quite.").wait_for(timeout=30_000)
    assert q.explanations[wrong][:40] in feedback.inner_text()
    cell.scroll_into_view_if_needed()
    cell.screenshot(path=artifacts / "lab-2-quiz-wrong-answer.png")

    cell.locator(".widget-radio-box label", has_text=q.options[q.correct]).click()
    cell.locator("button", has_text="Check").click()
    feedback.filter(has_text="Correct.").wait_for(timeout=30_000)
    text = feedback.inner_text()
    assert "Right:" not in text and q.explanations[q.correct][8:48] in text
    colour = feedback.locator("b").first.evaluate("b => getComputedStyle(b).color")
    assert colour == "rgb(26, 127, 55)", colour  # marked right in green
    cell.screenshot(path=artifacts / "lab-3-quiz-right-answer.png")

    # A new cell at the end: a numeric quiz box starts empty and asks for a number.
    page.locator(".jp-Cell .jp-InputPrompt").last.click()
    add_cell_and_run(page, 'quiz.ask("04.kl_value")')
    numeric = code_cell(page, 'quiz.ask("04.kl_value")')
    numeric.locator(".widget-text input").wait_for(timeout=60_000)
    assert numeric.locator(".widget-text input").input_value() == ""  # starts empty
    numeric.locator("button", has_text="Check").click()
    numeric.locator(".widget-output", has_text="Type a number").wait_for(timeout=30_000)
    numeric.scroll_into_view_if_needed()
    numeric.screenshot(path=artifacts / "lab-4-numeric-quiz-empty-check.png")

    # Another: one short epoch of train.fit, whose tqdm bar is a widget in JupyterLab.
    add_cell_and_run(page, FIT_CELL)
    fit = code_cell(page, "history_small = train.fit(")
    bar = fit.locator(".widget-hprogress, .widget-progress").first
    bar.wait_for(timeout=120_000)  # the tqdm widget, while the callback holds the epoch open
    assert "Error displaying widget" not in fit.inner_text()
    assert "fit" in fit.locator(".jp-OutputArea").inner_text()
    fit.scroll_into_view_if_needed()
    fit.screenshot(path=artifacts / "lab-5-fit-progress-widget.png")
    wait_idle(page, timeout_ms=120_000)
    assert "Error displaying widget" not in page.locator(".jp-Notebook").inner_text()
    assert "test_loss" in fit.inner_text() or "loss" in fit.inner_text()  # the epoch's log line

    assert not errors, errors
    assert (course / LESSON).read_bytes() == on_disk, "the test changed the lesson"
    assert page.get_by_text(NEWS_POPUP).count() == 0, "JupyterLab asks about Jupyter news"


EXPLORER_CELL = (
    "import torch\n"
    "from vaelab import explore, models\n"
    "torch.manual_seed(0)\n"
    "explorer_model = models.MLPVAE(latent_dim=2).eval()\n"
    "torch.manual_seed(1)\n"
    "explorer = explore.latent_map(explorer_model, torch.randn(300, 2), "
    "torch.randint(0, 10, (300,)))\n"
    "explorer"
)


def wait_for_output(page, cell, ready, attempts: int = 4) -> None:
    """Wait for ``ready`` in ``cell``; run the cell again if it never started (on a loaded
    machine a Ctrl+Enter was seen to leave a new cell unrun, its prompt still "[ ]:")."""
    for attempt in range(attempts):
        try:
            ready.wait_for(timeout=40_000)
            return
        except Exception:
            if attempt == attempts - 1:
                raise
            if cell.locator(".jp-InputPrompt").inner_text().strip() == "[ ]:":
                cell.locator(".jp-InputPrompt").click()
                page.keyboard.press("Control+Enter")


def test_the_latent_explorer_decodes_in_the_page_in_jupyterlab(lab, course, browser, artifacts):
    """vaelab.explore as an anywidget: the decoder runs in the page, and the code shown goes
    back to the kernel (``explorer.z``)."""
    import torch
    from test_browser_explore import TOLERANCE, map_point, python_pixels, shown, wait_for_code

    from vaelab import models

    base, token = lab
    on_disk = (course / LESSON).read_bytes()
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto(f"{base}/lab/workspaces/explorer/tree/{LESSON}?token={token}")
        page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=120_000)
        wait_idle(page)
        page.locator(".jp-Cell .jp-InputPrompt").first.click()
        add_cell_and_run(page, EXPLORER_CELL)
        cell = code_cell(page, "explorer = explore.latent_map(")
        wait_for_output(page, cell, cell.locator("canvas.vx-map"))
        assert cell.locator(".vaelab-explore-host").count() == 0, "the static copy, not the widget"
        cell.scroll_into_view_if_needed()
        torch.manual_seed(0)
        model = models.MLPVAE(latent_dim=2).eval()  # the same weights as the kernel's
        target = (1.2, -0.8)
        page.mouse.move(*map_point(page, target))
        box = page.locator("canvas.vx-map").bounding_box()
        wait_for_code(page, target, 0.1 * 60 / box["width"])
        z, pixels = shown(page)
        assert (pixels - python_pixels(model, z)).abs().max().item() <= TOLERANCE
        page.mouse.down()
        page.mouse.up()  # a click publishes the code at once
        cell.screenshot(path=artifacts / "lab-6-latent-explorer.png")
        add_cell_and_run(page, "print('code from the page:', [round(v, 4) for v in explorer.z])")
        echo = code_cell(page, "code from the page:")
        output = echo.locator(".jp-OutputArea-output").filter(has_text="code from the page: [")
        wait_for_output(page, echo, output)
        printed = echo.locator(".jp-OutputArea-output").inner_text()
        kernel_z = [float(v) for v in printed.split("[")[1].split("]")[0].split(",")]
        assert all(abs(a - b) < 1e-3 for a, b in zip(kernel_z, z, strict=True)), (kernel_z, z)
        assert "Error displaying widget" not in page.locator(".jp-Notebook").inner_text()
        assert not errors, errors
    except Exception:
        page.screenshot(path=artifacts / "lab-explorer-failure.png")
        text = page.locator(".jp-Notebook").inner_text(timeout=5000)
        (artifacts / "lab-explorer-failure.txt").write_text(text + "\n" + "\n".join(errors))
        raise
    finally:
        context.close()
    assert (course / LESSON).read_bytes() == on_disk, "the test changed the lesson"


SCORE = re.compile(r"ex05\w*: ([\d.]+) / ([\d.]+) points")


def test_lesson_05_exercise_link_editor_and_check_cell(lab, course, browser, artifacts):
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    try:
        run_exercise_loop(page, *lab, course, artifacts)
    except Exception:
        page.screenshot(path=artifacts / "lab-exercise-failure.png")
        raise
    finally:
        context.close()


def run_cell(page, cell, timeout_ms: int = 180_000) -> str:
    """Run ``cell`` and wait until it has finished (a new execution count); its output text.

    On a loaded machine a kernel that has just started can let the first Ctrl+Enter go by:
    a cell that has not started within 20 s is asked again.
    """
    prompt = cell.locator(".jp-InputPrompt")
    before = prompt.inner_text()
    deadline = time.monotonic() + timeout_ms / 1000
    while True:
        cell.locator(".jp-InputArea-editor").click()
        page.keyboard.press("Control+Enter")
        asked = time.monotonic()
        while (now := prompt.inner_text()) == before and time.monotonic() - asked < 20:
            page.wait_for_timeout(250)
        if now != before:
            break
    while "*" in now or not now.strip("[]: "):
        assert time.monotonic() < deadline, f"the cell did not finish: {now}"
        page.wait_for_timeout(250)
        now = prompt.inner_text()
    return cell.locator(".jp-OutputArea").inner_text()


def grade_score(page, check) -> tuple[float, float]:
    """Run the check cell; the (points, out of) its report shows."""
    text = run_cell(page, check)
    found = SCORE.search(text)
    assert found, text
    return float(found.group(1)), float(found.group(2))


def run_exercise_loop(page, base: str, token: str, course: Path, artifacts: Path) -> None:
    stub = course / "exercises" / "ex05_sampling.py"
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{base}/lab/workspaces/lesson05/tree/{EXERCISE_LESSON}?token={token}")
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=120_000)
    wait_idle(page)

    # The set-up cell (imports; quick runs come from `make lab FAST=1`), then the check cell
    # on the untouched stub.
    run_cell(page, code_cell(page, "FAST = vaelab.fast_mode()"))
    add_cell_and_run(page, 'print("fast mode:", vaelab.fast_mode())')
    fast = code_cell(page, 'print("fast mode:"').locator(".jp-OutputArea", has_text="fast mode")
    fast.wait_for(timeout=60_000)
    assert "fast mode: True" in fast.inner_text()
    check = code_cell(page, 'grade.check("ex05")')
    before, out_of = grade_score(page, check)
    assert before == 0, before

    # The exercise section's link opens the stub in JupyterLab's file editor.
    link = page.locator(".jp-MarkdownOutput a", has_text="exercises/ex05_sampling.py")
    link.scroll_into_view_if_needed()
    page.screenshot(path=artifacts / "lab-6-exercise-link.png")
    link.click()
    editor = page.locator(".jp-FileEditor:visible")
    editor.locator(".cm-content").wait_for(timeout=30_000)
    tab = page.locator(".lm-TabBar-tab.jp-mod-current")
    assert "ex05_sampling.py" in tab.inner_text()
    assert "def sample(" in editor.inner_text()
    page.screenshot(path=artifacts / "lab-7-exercise-in-editor.png")

    # Type a correct `sample` over its stub's `raise`: select from that statement to the end
    # of the file (the stretch function comes after it), from the end upwards so that the
    # selection starts at the line's first column, and type the rest back after the body.
    lines = stub.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("def sample("))
    first = next(i for i in range(start, len(lines)) if "raise NotImplementedError" in lines[i])
    last = next(i for i in range(first, len(lines)) if lines[i].strip() == ")")
    after_raise = "".join(line + "\n" for line in lines[last + 1 :])
    editor.locator(".cm-content").click()
    page.keyboard.press("Control+End")
    for _ in range(len(lines) - first):
        page.keyboard.press("Shift+ArrowUp")
    selected = page.evaluate("() => window.getSelection().toString()")
    assert selected.lstrip().startswith("raise NotImplementedError"), selected
    page.keyboard.insert_text(SAMPLE_BODY + after_raise)
    page.keyboard.press("Control+s")
    deadline = time.monotonic() + 30
    while "torch.sigmoid(model.decode(z))" not in stub.read_text():
        assert time.monotonic() < deadline, "the editor did not save the exercise"
        time.sleep(0.5)
    page.screenshot(path=artifacts / "lab-8-exercise-edited-and-saved.png")

    # Back in the lesson, the check cell grades the saved file: `sample` now scores.
    page.locator(".lm-TabBar-tab", has_text="05_sampling_and_latent_space").first.click()
    after, _ = grade_score(page, check)
    assert 0 < after < out_of, (before, after, out_of)  # `interpolate` is still a stub
    check.scroll_into_view_if_needed()
    page.screenshot(path=artifacts / "lab-9-score-after-edit.png")
    assert page.get_by_text(NEWS_POPUP).count() == 0, "JupyterLab asks about Jupyter news"
    assert not errors, errors
