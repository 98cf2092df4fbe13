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
from collections.abc import Callable
from pathlib import Path

from vaelab.grading import EXERCISES
from vaelab.grading.records import Report

__all__ = ["get", "stub", "use"]

_PACKAGE = Path(__file__).resolve().parent


def _key(exercise: str | int) -> str:
    """ "ex03" for "ex03", 3, "03" or "ex03_reparameterize"; a clear error for anything else."""
    text = str(exercise).strip().lower()
    digits = text[2:] if text.startswith("ex") else text
    digits = digits.split("_", 1)[0]
    key = f"ex{int(digits):02d}" if digits.isdigit() else text
    if key not in EXERCISES:
        raise ValueError(
            f'no exercise {exercise!r}: the exercises are {", ".join(EXERCISES)} (e.g. "ex03")'
        )
    return key


def stub(exercise: str | int) -> Path:
    """The shipped stub of ``exercise``: ``vaelab/_stubs/`` in an installed package, the
    repository's ``exercises/`` in a checkout."""
    key = _key(exercise)
    for folder in (_PACKAGE / "_stubs", _PACKAGE.parent / "exercises"):
        path = folder / f"{EXERCISES[key]}.py"
        if path.is_file():
            return path
    raise FileNotFoundError(
        f"the stub of {key} is missing from this install of vaelab ({_PACKAGE}); "
        "reinstall the course: pip install --force-reinstall vaelab"
    )


def get(exercise: str | int, folder: str | os.PathLike | None = None) -> Path:
    """Write the stub of ``exercise`` to ``exercises/<name>.py`` in ``folder`` (default: the
    working folder) and return its path.

    A file already there is never overwritten: if it is the untouched stub, its path is
    returned; if it differs (your work), ``FileExistsError`` says so and how to start over.
    """
    source = stub(exercise)
    target = Path(folder or Path.cwd()) / "exercises" / source.name
    text = source.read_text(encoding="utf-8")
    if target.exists():
        if target.is_file() and target.read_text(encoding="utf-8") == text:
            return target
        raise FileExistsError(
            f"{target} already exists and differs from the stub (your work?): it is left as "
            f"it is. To start over from the stub, rename or delete that file first."
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with open(target, "x", encoding="utf-8") as file:  # "x": never replaces a file
            file.write(text)
    except FileExistsError:
        return get(exercise, folder)  # written meanwhile: the checks above decide
    print(f"wrote the stub of {_key(exercise)} to {target}: fill it in, then grade it")
    return target


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
    return all(c.passed for c in checks)


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
