"""What grading produces, as typed records: one check's result, one exercise's, a report, a
class's gradebook.

The runtime fills these in (``vaelab.grading.runtime.runner``), the output layer reads them
(tables, the JSON report, the gradebook, Gradescope's results.json, the class summary), and
``to_json`` / ``from_json`` turn them into the plain JSON the files hold and back. A check's
``status`` says what happened to it in one word; nothing reads it out of the feedback text.
This module imports nothing of vaelab and no torch.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CheckResult", "ExerciseResult", "Gradebook", "Report", "Status", "exercise_key"]


class Status(str, enum.Enum):
    """What happened to a check (or, summed up, to an exercise)."""

    PASSED = "passed"
    FAILED = "failed"
    NOT_STARTED = "not started"  # the function it grades still raises NotImplementedError,
    # or the exercise's file was not submitted
    NOT_GRADED = "not graded"  # the file could not be graded (a syntax error, a crash, ...)

    def __str__(self) -> str:
        return self.value


def _total(values: Iterable[float]) -> float:
    return round(sum(values), 6)


def exercise_key(name: str) -> str | None:
    """The exercise id of a report entry or file name: "ex04_elbo" -> "ex04"; None if none."""
    match = re.match(r"^(ex\d\d)(?:_|$)", name)
    return match.group(1) if match else None


@dataclass
class CheckResult:
    """One check's result.

    Fields:

    - ``id``: stable across rewordings of the display name ("ex04.kl_divergence.values"); the
      check's inputs are drawn from it and the hint memory is keyed by it.
    - ``name``: what the tables show ("kl_divergence: closed form, one value per example, ...").
    - ``status``: passed, failed, not started or not graded.
    - ``points``: what the learner got, ``max_points`` when it passed, else 0.
    - ``max_points``: what the check is worth.
    - ``feedback``: what the learner reads ("ok" for most passed checks).
    - ``functions``: the learner functions the check grades (``("kl_divergence",)``).
    - ``stretch``: whether the check grades the exercise's stretch function (beyond the
      lesson; its points are counted apart: ``ExerciseResult.stretch_points``).
    - ``stand_in``: learner functions that vaelab's reference stood in for while this check
      ran, because they fail their own checks (negative_elbo graded with vaelab's KL): the
      check's function passes on its own, but it is used only once these pass too.
    """

    id: str
    name: str
    status: Status
    points: float
    max_points: float
    feedback: str
    functions: tuple[str, ...] = ()
    stretch: bool = False
    stand_in: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return self.status is Status.PASSED

    @classmethod
    def unscored(cls, check: Any, status: Status, feedback: str) -> CheckResult:
        """A check (a ``vaelab.grading.checks.toolkit.Check``) at 0 points, with ``feedback``."""
        return cls(
            id=check.id,
            name=check.name,
            status=status,
            points=0.0,
            max_points=check.points,
            feedback=feedback,
            functions=tuple(check.functions),
            stretch=bool(getattr(check, "stretch", False)),
        )

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "name": self.name,
            "status": self.status.value,
            "points": self.points,
            "max_points": self.max_points,
            "passed": self.passed,
            "feedback": self.feedback,
            "functions": list(self.functions),
            "stretch": self.stretch,
            "stand_in": list(self.stand_in),
        }

    @classmethod
    def from_json(cls, data: dict) -> CheckResult:
        """From ``to_json``'s dict; one without a status (an older report) is passed or failed."""
        status = data.get("status")
        if status is None:
            status = Status.PASSED if data.get("passed") else Status.FAILED
        return cls(
            id=str(data.get("id") or ""),
            name=str(data.get("name", "")),
            status=Status(status),
            points=float(data.get("points", 0.0)),
            max_points=float(data.get("max_points", 0.0)),
            feedback=str(data.get("feedback", "")),
            functions=tuple(data.get("functions") or ()),
            stretch=bool(data.get("stretch", False)),
            stand_in=tuple(data.get("stand_in") or ()),
        )


@dataclass
class ExerciseResult:
    """One exercise file's result: every check of the exercise, in order.

    Fields:

    - ``exercise``: the file's name without ``.py`` ("ex04_elbo"), as the tables show it.
    - ``path``: the file graded; None when there was none.
    - ``checks``: every check of the exercise, also when the file could not be graded (they
      say why); empty only for a file that is no exercise.
    - ``error``: why the file could not be graded (or was not there); None when it was.
    - ``output``: what the learner's code printed (shortened).
    - ``seconds``: how long grading it took.
    - ``seed``: the seed its checks' inputs were drawn from.
    """

    exercise: str
    path: str | None = None
    checks: list[CheckResult] = field(default_factory=list)
    error: str | None = None
    output: str = ""
    seconds: float = 0.0
    seed: int | None = None

    @property
    def key(self) -> str | None:
        """The exercise id, "ex04"; None for a file that is no exercise."""
        return exercise_key(self.exercise)

    @property
    def points(self) -> float:
        """The points of the exercise's own checks (its stretch is counted apart)."""
        return _total(c.points for c in self.checks if not c.stretch)

    @property
    def max_points(self) -> float:
        return _total(c.max_points for c in self.checks if not c.stretch)

    @property
    def stretch_points(self) -> float:
        """The points of the stretch function's checks, beyond the exercise's own."""
        return _total(c.points for c in self.checks if c.stretch)

    @property
    def stretch_max_points(self) -> float:
        return _total(c.max_points for c in self.checks if c.stretch)

    @property
    def untouched(self) -> bool:
        """Whether the file was graded with every check "not started" (every function
        still raises NotImplementedError)."""
        return (
            self.error is None
            and bool(self.checks)
            and all(c.status is Status.NOT_STARTED for c in self.checks)
        )

    @property
    def status(self) -> Status:
        """Not started (every check is), not graded (an error), passed (every check) or failed."""
        if self.checks and all(c.status is Status.NOT_STARTED for c in self.checks):
            return Status.NOT_STARTED
        if self.error is not None or not self.checks:
            return Status.NOT_GRADED
        if all(c.passed for c in self.checks):
            return Status.PASSED
        return Status.FAILED

    def checks_of(self, function: str) -> list[CheckResult]:
        """The checks that grade the learner function ``function``."""
        return [c for c in self.checks if function in c.functions]

    def to_json(self) -> dict:
        return {
            "exercise": self.exercise,
            "path": self.path,
            "points": self.points,
            "max_points": self.max_points,
            "stretch_points": self.stretch_points,
            "stretch_max_points": self.stretch_max_points,
            "status": self.status.value,
            "error": self.error,
            "checks": [c.to_json() for c in self.checks],
            "output": self.output,
            "seconds": self.seconds,
            "seed": self.seed,
        }

    @classmethod
    def from_json(cls, data: dict) -> ExerciseResult:
        return cls(
            exercise=str(data["exercise"]),
            path=data.get("path"),
            checks=[CheckResult.from_json(c) for c in data.get("checks") or []],
            error=data.get("error"),
            output=str(data.get("output") or ""),
            seconds=float(data.get("seconds") or 0.0),
            seed=data.get("seed"),
        )


@dataclass(repr=False)
class Report:
    """A grading run's results: one ``ExerciseResult`` per file (``vaelab.grade.grade_paths``).

    Fields:

    - ``exercises``: the files' results, in the order given.
    - ``seed``: the seed every check's inputs were drawn from (the same seed repeats them).
    - ``timeout``: seconds each exercise could take.
    - ``notes``: remarks on the submission ("2 files for ex03: graded ...").
    - ``learner``: whose report it is, in a class's gradebook; None otherwise.
    """

    exercises: list[ExerciseResult] = field(default_factory=list)
    seed: int | None = None
    timeout: float | None = None
    notes: list[str] = field(default_factory=list)
    learner: str | None = None

    @property
    def points(self) -> float:
        return _total(e.points for e in self.exercises)

    @property
    def max_points(self) -> float:
        return _total(e.max_points for e in self.exercises)

    @property
    def stretch_points(self) -> float:
        return _total(e.stretch_points for e in self.exercises)

    @property
    def stretch_max_points(self) -> float:
        return _total(e.stretch_max_points for e in self.exercises)

    def __repr__(self) -> str:
        names = ", ".join(e.exercise for e in self.exercises)
        return f"<grade report {names}: {self.points:g} / {self.max_points:g} points>"

    def _repr_pretty_(self, printer, cycle) -> None:  # IPython: the one line, not the fields
        printer.text(repr(self))

    def to_json(self) -> dict:
        """The JSON report (``vaelab grade --json``): points, max_points, exercises, seed,
        timeout, notes."""
        data: dict[str, Any] = {} if self.learner is None else {"learner": self.learner}
        data.update(
            points=self.points,
            max_points=self.max_points,
            stretch_points=self.stretch_points,
            stretch_max_points=self.stretch_max_points,
            exercises=[e.to_json() for e in self.exercises],
            seed=self.seed,
            timeout=self.timeout,
            notes=list(self.notes),
        )
        return data

    @classmethod
    def from_json(cls, data: dict) -> Report:
        return cls(
            exercises=[ExerciseResult.from_json(e) for e in data.get("exercises") or []],
            seed=data.get("seed"),
            timeout=data.get("timeout"),
            notes=list(data.get("notes") or []),
            learner=data.get("learner"),
        )


@dataclass
class Gradebook:
    """A class graded at once (``vaelab.grade.grade_class``): one report per learner.

    Fields:

    - ``folder``: the class's folder.
    - ``seed``: the seed every learner's checks were drawn from.
    - ``timeout``: seconds each exercise could take.
    - ``exercises``: the exercises' names ("ex04_elbo"), each a column of the gradebook.
    - ``learners``: each learner's report (``Report.learner`` names them), one entry per
      exercise in ``exercises``, in that order.
    """

    folder: str
    seed: int | None
    timeout: float | None
    exercises: list[str]
    learners: list[Report]

    def to_json(self) -> dict:
        return {
            "folder": self.folder,
            "seed": self.seed,
            "timeout": self.timeout,
            "exercises": list(self.exercises),
            "learners": [
                {
                    "learner": r.learner,
                    "points": r.points,
                    "max_points": r.max_points,
                    "stretch_points": r.stretch_points,
                    "stretch_max_points": r.stretch_max_points,
                    "exercises": [e.to_json() for e in r.exercises],
                }
                for r in self.learners
            ],
        }

    @classmethod
    def from_json(cls, data: dict) -> Gradebook:
        return cls(
            folder=str(data.get("folder", "")),
            seed=data.get("seed"),
            timeout=data.get("timeout"),
            exercises=list(data.get("exercises") or []),
            learners=[
                Report.from_json({**lr, "seed": data.get("seed"), "timeout": data.get("timeout")})
                for lr in data.get("learners") or []
            ],
        )
