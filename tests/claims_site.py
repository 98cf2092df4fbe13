"""A small lesson-like Sphinx site for the tests of the book's claim marks (book/_ext/claims.py).

The notebook's report output is made here, by ``vaelab.claims`` itself, and stored in the
notebook, so that the site builds without a kernel (``nb_execution_mode = "off"``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CONF = f"""
import sys
sys.path.insert(0, {str(ROOT / "book" / "_ext")!r})
extensions = ["myst_nb", "claims"]
nb_execution_mode = "off"
html_theme = "sphinx_book_theme"
html_context = {{"default_mode": "auto"}}
exclude_patterns = ["_build"]
"""


def report_output(fast: bool, assert_claims) -> dict:
    """The display_data output of ``claims.report(4)`` after ``assert_claims(claims)``."""
    import os

    from vaelab import claims

    before = os.environ.get("VAELAB_FAST")
    os.environ["VAELAB_FAST"] = "1" if fast else "0"
    try:
        claims.reset()
        assert_claims(claims)
        bundle = claims.report(4)._repr_mimebundle_()
    finally:
        claims.reset()
        if before is None:
            del os.environ["VAELAB_FAST"]
        else:
            os.environ["VAELAB_FAST"] = before
    return {"output_type": "display_data", "metadata": {}, "data": bundle}


def write_site(folder: Path, markdown: str, output: dict) -> Path:
    """A site with one lesson page: ``markdown``, then a cell whose output is ``output``."""
    folder.mkdir(parents=True, exist_ok=True)
    cells = [
        {"cell_type": "markdown", "id": "m1", "metadata": {}, "source": markdown},
        {
            "cell_type": "code",
            "id": "c1",
            "metadata": {},
            "execution_count": 1,
            "source": "claims.report(4)",
            "outputs": [output],
        },
    ]
    kernel = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb = {"cells": cells, "metadata": {"kernelspec": kernel}, "nbformat": 4, "nbformat_minor": 5}
    (folder / "lesson.ipynb").write_text(json.dumps(nb), encoding="utf-8")
    (folder / "index.md").write_text("# Site\n\n```{toctree}\nlesson\n```\n", encoding="utf-8")
    (folder / "conf.py").write_text(CONF, encoding="utf-8")
    return folder


def build(source: Path, out: Path) -> subprocess.CompletedProcess:
    """sphinx-build as the book runs it: warnings are errors."""
    return subprocess.run(
        [sys.executable, "-m", "sphinx", "-b", "html", "-W", "--keep-going", "-n", "-T", "-q"]
        + [str(source), str(out)],
        capture_output=True,
        text=True,
        timeout=600,
    )


LESSON = (
    "# 04 · A lesson\n\n"
    "While the VAE trains, the KL rises over the epochs.<!-- claim: 04.kl_rises --> "
    "The rest of the paragraph goes on, so that the mark sits inside running text.\n\n"
    "The larger latent gives sharper images, more than a decibel better."
    "<!-- claim: 04.psnr_gain -->\n\n"
    "- In short: the KL rises. <!-- claim: 04.kl_rises -->\n"
)


def assert_two_claims(claims) -> None:
    claims.hold("04.kl_rises", True, measured="KL 7.3 -> 22.6 nats")
    claims.above("04.psnr_gain", 1.4, 1.0, unit="dB", full_only=True)
