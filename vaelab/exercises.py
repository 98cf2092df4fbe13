"""The learner's exercise functions, for the lessons to go on with once they are graded.

A lesson leads up to its exercise and stops; the check cell grades the learner's file; the
lesson then goes on with the learner's own function where it passed, else with vaelab's
reference, and says which::

    report = grade.check("ex04")
    negative_elbo = exercises.use(report, "negative_elbo", reference=my_reference)
"""

from __future__ import annotations

import runpy
from collections.abc import Callable

from vaelab.grading.records import Report

__all__ = ["use"]


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
