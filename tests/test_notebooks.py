"""Every lesson notebook carries the metadata JupyterLab writes, so it opens unmodified.

JupyterLab fills ``kernelspec`` from the kernel it starts and ``language_info`` from the
kernel's reply; when the stored values differ, a notebook that was only read is marked
modified and its tab asks "save changes?" on close. The browser test
(``test_browser_lab.py``) checks the same thing in a real JupyterLab.

Fix a notebook with ``python tests/test_notebooks.py notebooks/NN_name.ipynb``.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))

KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def language_info() -> dict:
    """What ipykernel reports (JupyterLab stores it as is), for the running Python."""
    return {
        "codemirror_mode": {"name": "ipython", "version": 3},
        "file_extension": ".py",
        "mimetype": "text/x-python",
        "name": "python",
        "nbconvert_exporter": "python",
        "pygments_lexer": "ipython3",
        "version": ".".join(map(str, sys.version_info[:3])),
    }


def test_the_expected_metadata_is_what_ipykernel_reports():
    ipkernel = pytest.importorskip("ipykernel.ipkernel")
    assert ipkernel.IPythonKernel.language_info == language_info()
    spec = Path(sys.prefix) / "share/jupyter/kernels/python3/kernel.json"
    if spec.exists():  # the kernel spec ipykernel installs into the environment
        assert json.loads(spec.read_text())["display_name"] == KERNELSPEC["display_name"]


def test_lessons_found():
    assert len(NOTEBOOKS) >= 10


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_metadata_is_what_jupyterlab_writes(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    fix = f"fix it with: python tests/test_notebooks.py notebooks/{path.name}"
    assert (nb["nbformat"], nb["nbformat_minor"]) == (4, 5), fix
    meta = nb["metadata"]
    assert meta.get("kernelspec") == KERNELSPEC, fix
    info = dict(meta.get("language_info", {}))
    # The Python version is the one line that depends on the learner's machine: JupyterLab
    # writes the running kernel's. The notebooks store the course's Python (CI's).
    assert re.fullmatch(r"3\.\d+\.\d+", str(info.pop("version", ""))), fix
    expected = language_info()
    expected.pop("version")
    assert info == expected, fix
    assert set(meta) <= {"kernelspec", "language_info"}, f"unexpected metadata: {sorted(meta)}"
    assert all("id" in cell for cell in nb["cells"]), f"cells without ids: {fix}"


def write_jupyterlab_metadata(path: Path) -> None:
    """Rewrite a notebook's metadata as JupyterLab would (keeping its cells byte for byte)."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    nb["metadata"] = {"kernelspec": KERNELSPEC, "language_info": language_info()}
    text = json.dumps(nb, indent=1, ensure_ascii=False, sort_keys=True) + "\n"
    path.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    for name in sys.argv[1:] or map(str, NOTEBOOKS):
        write_jupyterlab_metadata(Path(name))
