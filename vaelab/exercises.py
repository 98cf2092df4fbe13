"""The learner's exercise functions, for the lessons to go on with once they are graded.

A lesson leads up to its exercise and stops; the check cell grades the learner's file; the
lesson then goes on with the learner's own function where it passed, else with vaelab's
reference, and says which::

    report = grade.check("ex04")
    negative_elbo = exercises.use(report, "negative_elbo", reference=my_reference)

Outside the repository (the course installed with ``pip install``, a lesson opened alone in a
hosted notebook) the stubs ship with the package: ``exercises.get("ex03")`` writes
``exercises/ex03_reparameterize.py`` into the working folder, never over a file that is
there; ``grade.check`` does the same when it finds no file to grade.
"""

from __future__ import annotations

import os
import runpy
import sys
from collections.abc import Callable
from pathlib import Path

from vaelab.grading import EXERCISES
from vaelab.grading.records import Report
from vaelab.grading.stubs import _key, get, stub

__all__ = ["exercise_magic", "get", "load_ipython_extension", "save", "stub", "use"]


def _passes(report: Report, name: str) -> bool:
    """True when the graded exercise has checks of ``name`` and every one of them passed
    (the exercise's other functions need not pass)."""
    if len(report.exercises) != 1:
        raise ValueError(f"expected the report of one exercise, got {len(report.exercises)}")
    graded = report.exercises[0]
    if graded.error is not None or graded.path is None:
        return False
    checks = graded.checks_of(name)
    if not checks:
        functions = sorted({f for c in graded.checks for f in c.functions})
        raise ValueError(
            f"no check of {graded.exercise} grades `{name}`; its functions are "
            f"{', '.join(functions)}"
        )
    if not all(c.passed for c in checks):
        return False
    # a check that passed with vaelab's reference standing in for a failing helper: the
    # learner's function still calls the learner's helper, so it waits for that one
    helpers = {h for c in checks for h in c.stand_in if h != name}
    return all(_passes(report, helper) for helper in helpers)


def use(report: Report, name: str, reference: Callable) -> Callable:
    """The learner's function ``name`` if every check that grades it passed, else ``reference``.

    Prints one line saying which is used, so that the numbers that follow are read right.

    Args:
        report: what ``vaelab.grade.check("exNN")`` returned for the exercise.
        name: the function's name in the exercise file, e.g. "negative_elbo".
        reference: what to use until the learner's function passes (vaelab's own).
    """
    if _passes(report, name):
        path = report.exercises[0].path
        function = runpy.run_path(path)[name]
        print(f"using your `{name}` from {path} (it passed every check of it)")
        return function
    label = getattr(reference, "__qualname__", repr(reference))
    module = getattr(reference, "__module__", "")
    where = f"{module}.{label}" if module and module != "__main__" else label
    print(f"using {where} for `{name}` until your `{name}` passes every check of it")
    return reference


# ------------------------------------------------- exercises from a notebook cell: %%exercise


def save(exercise: str | int, code: str, folder: str | os.PathLike | None = None) -> Path:
    """Write the functions of ``code`` into ``exercises/<name>.py`` in ``folder`` and return it.

    Each function (or class) the code defines replaces the one of that name in the file (the
    stub's when there is no file yet), or is added at its end; the code's imports and
    top-level assignments go in too. Anything else at the top level (a call, a print) is
    left out, since the grader imports the file. The file as it was before is kept beside it
    as ``.<name>.py.previous``: nothing is lost.
    """
    import ast

    key = _key(exercise)
    try:
        cell = ast.parse(code)
    except SyntaxError as err:
        raise SyntaxError(
            f"{key}: line {err.lineno} of the cell: {err.msg}; nothing was saved or graded"
        ) from None
    lines = code.splitlines()

    def segment(node: ast.stmt) -> str:
        first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
        return "\n".join(lines[first - 1 : node.end_lineno])

    defs = [
        n for n in cell.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    ]
    if not defs:
        raise ValueError(
            f"{key}: the cell defines no function; write the exercise's functions in it "
            f"(def ...), as in {EXERCISES[key]}.py"
        )
    imports = [segment(n) for n in cell.body if isinstance(n, ast.Import | ast.ImportFrom)]
    assigns = [n for n in cell.body if isinstance(n, ast.Assign | ast.AnnAssign)]

    target = Path(folder or Path.cwd()) / "exercises" / f"{EXERCISES[key]}.py"
    before = target.read_text(encoding="utf-8") if target.exists() else None
    text = before if before is not None else stub(key).read_text(encoding="utf-8")
    file = ast.parse(text)
    file_lines = text.splitlines()
    edits: list[tuple[int, int, str]] = []  # (first line, last line, new text), 1-based
    appended: list[str] = []

    def names(node: ast.stmt) -> set[str]:
        if isinstance(node, ast.Assign):
            return {t.id for t in node.targets if isinstance(t, ast.Name)}
        if isinstance(node, ast.AnnAssign):
            return {node.target.id} if isinstance(node.target, ast.Name) else set()
        return {node.name} if hasattr(node, "name") else set()

    top: list[str] = []  # new imports and constants: after the file's imports
    for node in [*assigns, *defs]:
        wanted = names(node)
        match = next((n for n in file.body if wanted and names(n) == wanted), None)
        if match is None:
            (appended if node in defs else top).append(segment(node))
            continue
        first = min([match.lineno, *(d.lineno for d in getattr(match, "decorator_list", []))])
        edits.append((first, match.end_lineno, segment(node)))
    for first, last, new in sorted(edits, reverse=True):
        file_lines[first - 1 : last] = new.splitlines()
    have = {line.strip() for line in file_lines}
    new_imports = [i for i in imports if i.strip() not in have]
    if top:
        new_imports += ["", *top]
    if new_imports:
        last_import = max(
            (n.end_lineno for n in file.body if isinstance(n, ast.Import | ast.ImportFrom)),
            default=file.body[0].end_lineno if ast.get_docstring(file) else 0,
        )
        # Imports sit above every definition, so no edit above has moved them.
        file_lines[last_import:last_import] = new_imports
    result = "\n".join(file_lines).rstrip("\n") + "\n"
    for block in appended:
        result += "\n\n" + block.rstrip("\n") + "\n"

    target.parent.mkdir(parents=True, exist_ok=True)
    if before is not None and before != result:
        target.with_name(f".{target.name}.previous").write_text(before, encoding="utf-8")
    partial = target.with_name(f".{target.name}.partial")
    partial.write_text(result, encoding="utf-8")
    partial.replace(target)
    return target


def _skipped(code: str) -> list[str]:
    """The cell's top-level statements that ``save`` leaves out (first line of each)."""
    import ast

    kept = (
        ast.Import,
        ast.ImportFrom,
        ast.FunctionDef,
        ast.AsyncFunctionDef,
        ast.ClassDef,
        ast.Assign,
        ast.AnnAssign,
    )
    lines = code.splitlines()
    return [lines[n.lineno - 1].strip() for n in ast.parse(code).body if not isinstance(n, kept)]


def exercise_magic(line: str, cell: str):
    """``%%exercise ex03 [--hint] [--seed N] [--timeout S]``: the cell holds your functions.

    They are written to ``exercises/ex03_reparameterize.py`` in the working folder (so the
    same file can be graded later with ``vaelab grade`` or submitted), then graded by
    ``vaelab.grade.check``: the same checks, table and isolation as ``vaelab grade``.
    ``--hint`` also prints the next hint for the first failing check (``grade.hint``).
    Returns nothing: the lesson's check cell, or ``grade.check("ex03")``, gives the report.
    """
    import shlex

    from vaelab import grade

    words = shlex.split(line)
    usage = "usage: %%exercise exNN [--hint] [--seed N] [--timeout SECONDS]"
    if not words:
        print(f"{usage}\n(name the exercise, e.g. %%exercise ex03)")
        return None
    options: dict = {}
    show_hint = False
    rest = words[1:]
    while rest:
        word = rest.pop(0)
        if word == "--hint":
            show_hint = True
        elif word in {"--seed", "--timeout"} and rest:
            value = rest.pop(0)
            try:
                options[word[2:]] = int(value) if word == "--seed" else float(value)
            except ValueError:
                print(f"{word} takes a number, got {value!r}\n{usage}")
                return None
        else:
            print(f"unknown option {word!r}\n{usage}")
            return None
    try:
        key = _key(words[0])
        path = save(key, cell)
    except (SyntaxError, ValueError) as err:
        print(err)
        return None
    skipped = _skipped(cell)
    where = os.path.relpath(path) if not os.path.relpath(path).startswith("..") else str(path)
    print(f"saved to {where} (grade it later with: vaelab grade {where})")
    if skipped:
        print("left out of the file (the grader imports it): " + "; ".join(skipped))
    grade.check(key, path=path, **options)
    if show_hint:
        grade.hint(key, path=path, seed=options.get("seed"))
    return None


def load_ipython_extension(ipython) -> None:
    """Register ``%%exercise``: ``%load_ext vaelab.exercises``; importing ``vaelab.exercises``
    in IPython or Jupyter does it too (every lesson's first code cell does)."""
    ipython.register_magic_function(exercise_magic, magic_kind="cell", magic_name="exercise")


def _register_in_ipython() -> None:
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is not None:
        load_ipython_extension(shell)


_register_in_ipython()
