"""Exercises from a notebook: ``exercises.get`` writes a stub out, ``%%exercise exNN`` saves a
cell's functions into the exercise's file and grades them as ``vaelab grade`` does."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from grading.mutants import MUTANTS
from grading.solutions import HEADER, SOLUTIONS

from vaelab import exercises, grade
from vaelab.grading.output.report import format_table

REPO = Path(__file__).resolve().parent.parent
STUB04 = (REPO / "exercises" / "ex04_elbo.py").read_text()


def _functions(text: str) -> dict[str, str]:
    tree = ast.parse(text)
    return {n.name: ast.unparse(n) for n in tree.body if isinstance(n, ast.FunctionDef)}


@pytest.fixture
def shell(tmp_path, monkeypatch):
    """An IPython shell with ``%load_ext vaelab.exercises``, working in an empty folder."""
    from IPython.core.interactiveshell import InteractiveShell

    monkeypatch.chdir(tmp_path)
    ipython = InteractiveShell.instance()
    ipython.run_line_magic("load_ext", "vaelab.exercises")
    yield ipython
    InteractiveShell.clear_instance()


# ---------------------------------------------------------------- exercises.get


def test_get_writes_the_stub_and_never_overwrites_work(tmp_path, capsys):
    path = exercises.get("ex04", tmp_path)
    assert path == tmp_path / "exercises" / "ex04_elbo.py"
    assert path.read_text() == STUB04
    assert "wrote the stub of ex04" in capsys.readouterr().out
    assert exercises.get(4, tmp_path) == path  # untouched stub: nothing to do, no error
    path.write_text(STUB04 + "\n# my work\n")
    with pytest.raises(FileExistsError, match="differs from the stub"):
        exercises.get("ex04_elbo", tmp_path)
    assert path.read_text().endswith("# my work\n")


def test_get_names_the_exercises_on_a_wrong_name(tmp_path):
    with pytest.raises(ValueError, match="ex01, ex02.*ex10"):
        exercises.get("ex11", tmp_path)
    with pytest.raises(ValueError, match="no exercise 'elbo'"):
        exercises.get("elbo", tmp_path)


def test_check_writes_the_stub_when_no_file_is_found(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(grade, "find_exercise", _nothing_found)
    report = grade.check("ex04", seed=1)
    assert (tmp_path / "exercises" / "ex04_elbo.py").read_text() == STUB04
    assert report.points == 0 and report.max_points == 10
    assert grade.NOT_STARTED in capsys.readouterr().out


def _nothing_found(exercise, start=None):
    raise FileNotFoundError(f"could not find exercises/{exercise}_*.py")


# ---------------------------------------------------------------- exercises.save


def test_save_replaces_only_the_cells_functions(tmp_path):
    cell = (
        "import math\nimport torch\n\nHALF = 0.5\n\n"
        "def kl_divergence(mu, logvar):\n    return HALF * (mu**2).sum(1)\n\n"
        "print(kl_divergence(torch.zeros(1, 2), torch.zeros(1, 2)))\n"
    )
    path = exercises.save("ex04", cell, tmp_path)
    text = path.read_text()
    functions = _functions(text)
    assert functions["kl_divergence"] == _functions(cell)["kl_divergence"]
    assert functions["negative_elbo"] == _functions(STUB04)["negative_elbo"]  # the stub's
    assert "import math" in text and "HALF = 0.5" in text
    assert "print(" not in text  # a top-level call is left out: the grader imports the file
    assert text.index("HALF = 0.5") < text.index("def kl_divergence")
    assert ast.get_docstring(ast.parse(text)) == ast.get_docstring(ast.parse(STUB04))
    # A second cell replaces the other function; the first one's work stays, and the file
    # as it was is kept beside it.
    second = "def negative_elbo(x, x_logits, mu, logvar, beta=1.0):\n    return mu.sum(1)\n"
    exercises.save("ex04", second, tmp_path)
    assert _functions(path.read_text())["kl_divergence"] == functions["kl_divergence"]
    assert _functions(path.read_text())["negative_elbo"] == _functions(second)["negative_elbo"]
    assert (path.parent / ".ex04_elbo.py.previous").read_text() == text


def test_save_refuses_a_cell_without_functions_or_with_a_syntax_error(tmp_path):
    with pytest.raises(ValueError, match="defines no function"):
        exercises.save("ex04", "x = 1\n", tmp_path)
    with pytest.raises(SyntaxError, match="line 2 of the cell.*nothing was saved"):
        exercises.save("ex04", "def f():\n    return (\n", tmp_path)
    assert not (tmp_path / "exercises").exists()


# ---------------------------------------------------------------- %%exercise


def test_magic_saves_and_grades_like_vaelab_grade(shell, tmp_path, capsys):
    cell = HEADER + SOLUTIONS["ex04"] + "\nprint('trying it out')\n"
    shell.run_cell_magic("exercise", "ex04 --seed 11", cell)
    shown = capsys.readouterr().out
    path = tmp_path / "exercises" / "ex04_elbo.py"
    assert "saved to exercises/ex04_elbo.py" in shown
    assert "left out of the file" in shown and "print('trying it out')" in shown
    # The same file and seed through the grader's own entry points give the same table...
    report = grade.grade_paths([path], seed=11)
    assert report.points == report.max_points == 10
    assert format_table(report) in shown
    # ...and the command line, in a fresh process, grades the saved file the same way.
    cli = subprocess.run(
        [sys.executable, "-m", "vaelab.cli", "grade", str(path), "--seed", "11"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert "ex04_elbo: 10 / 10 points" in cli.stdout, cli.stdout + cli.stderr


def test_magic_reports_a_known_mistake_and_the_next_hint(shell, tmp_path, capsys):
    mistake = next(m for m in MUTANTS if m[0] == "ex04" and m[1] == "kl-wrong-sign")
    shell.run_cell_magic("exercise", "ex04 --hint --seed 2", mistake[2])
    shown = capsys.readouterr().out
    assert mistake[3] in shown  # the check's feedback
    assert "Hint 1 of" in shown
    assert "0 / " in shown


def test_magic_errors_save_nothing(shell, tmp_path, capsys):
    shell.run_cell_magic("exercise", "ex04", "def kl_divergence(mu, logvar):\n    return (\n")
    shell.run_cell_magic("exercise", "", "def f():\n    pass\n")
    shell.run_cell_magic("exercise", "ex04 --seed x", "def f():\n    pass\n")
    shown = capsys.readouterr().out
    assert "nothing was saved or graded" in shown
    assert "usage: %%exercise exNN" in shown and "--seed takes a number" in shown
    assert not (tmp_path / "exercises").exists()


def test_importing_exercises_in_ipython_registers_the_magic():
    code = (
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "shell = InteractiveShell.instance()\n"
        "assert 'exercise' not in shell.magics_manager.magics['cell']\n"
        "import vaelab.exercises\n"
        "assert 'exercise' in shell.magics_manager.magics['cell']\n"
        "print('registered')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "registered", done.stderr
