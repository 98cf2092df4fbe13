"""Fixtures for the browser tests: headless Chromium from the system, driven by Playwright.

Playwright's own browser download is not used (it cannot work offline): the tests launch
Debian's ``chromium``. Where it or Playwright is missing they skip with one line saying how
to install it, except in CI (``CI=true``), where they must run and fail instead.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"  # screenshots and logs (git-ignored)
IN_CI = os.environ.get("CI", "").strip().lower() == "true"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_path() -> str | None:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    return found or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)


def skip_or_fail(reason: str) -> None:
    """Skip outside CI; in CI the browser tests must run, so fail with the same reason."""
    if IN_CI:
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser():
    """A headless Chromium (the system's), shared by the browser tests of a session."""
    path = chromium_path()
    if path is None:
        skip_or_fail("Chromium is missing: install it with `sudo apt-get install chromium`")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip_or_fail("Playwright is missing: `pip install playwright` (no `playwright install`)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=path, headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def site() -> Path:
    """The book built from FAST runs by ``make book FAST=1`` (``make test`` builds it first)."""
    built = ROOT / "book" / "_build" / "fast" / "html"
    if not (built / "index.html").exists():
        skip_or_fail(f"no FAST book in {built.relative_to(ROOT)}: build it with `make book FAST=1`")
    return built
