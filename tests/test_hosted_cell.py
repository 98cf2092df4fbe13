"""Every lesson's hosted-notebook cell (tools/hosted_cell.py): present, current, and doing
nothing where vaelab is installed but installing it where it is not."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import hosted_cell  # noqa: E402

NOTEBOOKS = hosted_cell.NOTEBOOKS


def test_every_lesson_has_the_cell_up_to_date():
    done = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "hosted_cell.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(NOTEBOOKS) >= 11


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name[:2] for p in NOTEBOOKS])
def test_the_cell_follows_the_title_and_links_this_lesson(path):
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    assert cells[0]["cell_type"] == "markdown" and cells[0]["source"][0].startswith("# ")
    cell = cells[1]
    assert cell["id"] == hosted_cell.CELL_ID and cell["cell_type"] == "code"
    source = "".join(cell["source"])
    assert f"/blob/main/notebooks/{path.name}\n" in source
    assert sum(c.get("id") == hosted_cell.CELL_ID for c in cells) == 1
    exercise = sorted((ROOT / "exercises").glob(f"ex{path.name[:2]}_*.py"))
    assert (f"%%exercise ex{path.name[:2]}" in source) == bool(exercise)


def _run_cell(monkeypatch, importable: bool) -> list:
    source = "".join(json.loads(NOTEBOOKS[3].read_text())["cells"][1]["source"])
    calls = []
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: real(name, *a) if importable else None
    )
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: calls.append(a[0]))
    exec(compile(source, "hosted-install", "exec"), {})
    return calls


def test_the_cell_installs_nothing_where_vaelab_is_importable(monkeypatch):
    assert _run_cell(monkeypatch, importable=True) == []


def test_the_cell_installs_the_course_where_vaelab_is_missing(monkeypatch):
    (call,) = _run_cell(monkeypatch, importable=False)
    assert call[:4] == [sys.executable, "-m", "pip", "install"]
    assert call[-1] == f"vaelab @ git+{hosted_cell.repository()}"


def test_the_tool_inserts_once_and_leaves_the_other_cells_alone(tmp_path):
    lesson = tmp_path / NOTEBOOKS[3].name
    nb = json.loads(NOTEBOOKS[3].read_text())
    nb["cells"] = [c for c in nb["cells"] if c.get("id") != hosted_cell.CELL_ID]
    lesson.write_text(json.dumps(nb, indent=1, ensure_ascii=False, sort_keys=True) + "\n")
    others = [c for c in nb["cells"]]
    assert hosted_cell.main([str(lesson)]) == 0
    assert hosted_cell.main(["--check", str(lesson)]) == 0
    after = json.loads(lesson.read_text())["cells"]
    assert [c for c in after if c.get("id") != hosted_cell.CELL_ID] == others
    assert after[1]["id"] == hosted_cell.CELL_ID
