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

__all__ = ["use"]


def _passed(report, name: str) -> bool:
    """True when the report gives the exercise full marks (every check, ``name``'s included)."""
    exercises = report["exercises"]
    if len(exercises) != 1:
        raise ValueError(f"expected the report of one exercise, got {len(exercises)}")
    graded = exercises[0]
    return graded["error"] is None and graded["points"] == graded["max_points"]


def use(report, name: str, reference: Callable) -> Callable:
    """The learner's function ``name`` if the graded exercise passed, else ``reference``.

    Prints one line saying which is used, so that the numbers that follow are read right.

    Args:
        report: what ``vaelab.grade.check("exNN")`` returned for the exercise.
        name: the function's name in the exercise file, e.g. "negative_elbo".
        reference: what to use until the learner's function passes (vaelab's own).
    """
    graded = report["exercises"][0] if report["exercises"] else None
    if graded is not None and _passed(report, name):
        function = runpy.run_path(graded["path"])[name]
        print(f"using your `{name}` from {graded['path']} (it passed every check)")
        return function
    label = getattr(reference, "__qualname__", repr(reference))
    module = getattr(reference, "__module__", "")
    where = f"{module}.{label}" if module and module != "__main__" else label
    print(f"using {where} for `{name}` until your exercise passes every check")
    return reference
