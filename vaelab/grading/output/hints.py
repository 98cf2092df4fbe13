"""Hints on demand: the next hint for the first failing check of a graded exercise.

Each check may carry hints (``@check(id, name, points, hints)`` in
``vaelab.grading.checks.exNN``), from a nudge towards the lesson's formula to the step that is
usually missed. Asking again for the same failing check gives the next one. How many hints of
each check a learner has seen is remembered in a small JSON file, ``$VAELAB_CACHE/hints.json``
(default ``~/.cache/vaelab/hints.json``), keyed by the exercise file and the check's id (not
its display name, which may be reworded); ``reset`` starts an exercise over. Nothing here
imports torch: the hints are asked of the exercise's checks
(``vaelab.grading.checks.hints_for``) only when one is given.
"""

from __future__ import annotations

import json
import os
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from vaelab.grading.records import ExerciseResult, Status

__all__ = ["Hint", "hint_text", "reset", "state_path"]


@dataclass(frozen=True)
class Hint:
    """What ``vaelab.grade.hint`` gives back: the text it printed, as ``str(hint)``.

    It shows nothing more in Jupyter (no second copy of the text as the cell's value) and
    one line in a Python prompt.
    """

    exercise: str  # "ex04"
    text: str

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"<hint for {self.exercise}: printed above; str(hint) is its text>"

    def _ipython_display_(self) -> None:  # Jupyter: the text was printed; show nothing more
        pass


def state_path() -> Path:
    """Where the hints seen so far are remembered: ``$VAELAB_CACHE/hints.json``."""
    root = os.environ.get("VAELAB_CACHE")
    return (Path(root).expanduser() if root else Path.home() / ".cache" / "vaelab") / "hints.json"


def _load(path: Path) -> dict:
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def _save(path: Path, state: dict) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(state, indent=1, sort_keys=True), encoding="utf-8")
    except OSError:  # a read-only home: the hint is still given, just not remembered
        pass


def _key(file: str | os.PathLike) -> str:
    return str(Path(file).resolve())


def reset(file: str | os.PathLike) -> bool:
    """Forget the hints seen for the exercise ``file``; True if there were any."""
    path = state_path()
    state = _load(path)
    had = state.pop(_key(file), None) is not None
    if had:
        _save(path, state)
    return had


def _wrap(text: str, indent: str = "  ") -> str:
    return textwrap.fill(text, 88, initial_indent=indent, subsequent_indent=indent)


def hint_text(
    entry: ExerciseResult,
    exercise: str,
    hints_for: Callable[[str], dict[str, tuple[str, ...]]],
    *,
    again: str,
    start_over: str,
) -> str:
    """The next hint for the first failing check of one graded exercise, as text, and the
    step remembered.

    Args:
        entry: the exercise's result in a grading report.
        exercise: its id, "ex04".
        hints_for: the checks' hints by check id (``vaelab.grading.checks.hints_for``).
        again: how to ask again ('vaelab.grade.hint("ex04")').
        start_over: how to start the exercise's hints over ('... reset=True').
    """
    name = entry.exercise
    score = f"{entry.points:g} / {entry.max_points:g} points"
    if entry.error:
        return f"{name}: not graded - {entry.error}\nFix that first; no hint was used up."
    failing = next((c for c in entry.checks if not c.passed), None)
    if failing is None:
        return f"{name}: {score}. Every check passes: no hint needed."
    hints = tuple(hints_for(exercise).get(failing.id, ()))
    lines = [
        f"{name}: {score}. The first check that fails:",
        _wrap(failing.name),
        "It says:",
        _wrap(failing.feedback),
    ]
    path = state_path()
    if not hints:
        lines.append("There is no hint for this check beyond its feedback above.")
        return "\n".join(lines)
    state = _load(path)
    seen = state.setdefault(_key(entry.path or name), {})
    step = min(int(seen.get(failing.id, 0) or 0), len(hints) - 1)
    lines.append(f"Hint {step + 1} of {len(hints)}:")
    lines.append(_wrap(hints[step]))
    if step + 1 < len(hints):
        lines.append(f"Still stuck? Ask again ({again}) for the next hint.")
    else:
        lines.append("That was the last hint for this check; the lesson has the rest.")
    if failing.status is Status.NOT_STARTED:  # an untouched function uses no hint up
        lines.append("(Not counted: the function is not started yet.)")
    else:
        seen[failing.id] = step + 1
        _save(path, state)
    lines.append(f"(The hints you have seen are remembered in {path}; {start_over} starts over.)")
    return "\n".join(lines)
