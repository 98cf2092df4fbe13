"""The checks of each exercise: ``exNN`` holds exercise NN's ``checks`` (a ``Checklist``)
and ``PROTECTED``; ``toolkit`` is what every check uses, ``common`` what several share.

To add a check, read ``toolkit`` (its module doc says what a check is) and one ``exNN``:
a check is a function decorated with ``@check(id, name, points, hints)``. Its ``id``
("values", made "ex04.kl_divergence.values" with the exercise and the function it grades) is
what its inputs are drawn from and what the hint memory is keyed by, so the display
``name`` can be reworded freely.

The functions here load ``exNN`` by name when asked, so importing this package imports no
torch and no exercise module imports it (no import circles).
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING

from vaelab.grading import EXERCISES

if TYPE_CHECKING:
    from vaelab.grading.checks.toolkit import Check

__all__ = ["checks_for", "hints_for", "protected_for"]


def _module(exercise: str) -> ModuleType:
    if exercise not in EXERCISES:
        raise KeyError(f"no checks for {exercise!r}; known: {sorted(EXERCISES)}")
    return importlib.import_module(f"vaelab.grading.checks.{exercise}")


def checks_for(exercise: str) -> list[Check]:
    """The checks of one exercise, in order ("ex03" -> [Check, ...])."""
    return list(_module(exercise).checks)


def hints_for(exercise: str) -> dict[str, tuple[str, ...]]:
    """Each check's hints, by check id ("ex04.kl_divergence.values" -> ("nudge", ...))."""
    return {item.id: item.hints for item in checks_for(exercise)}


def protected_for(exercise: str) -> list[str]:
    """The vaelab functions switched off while ``exercise`` is graded ("losses.kl_divergence")."""
    return list(_module(exercise).PROTECTED)
