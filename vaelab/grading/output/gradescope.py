"""The grader on Gradescope: its results.json format, and the autograder zip to upload.

Gradescope's autograder contract (its "Autograder Specifications"): a zip with
``setup.sh`` (run once, to build the image) and ``run_autograder`` (run for every
submission, with the learner's files in ``/autograder/submission``), which writes
``/autograder/results/results.json``: a top-level ``score`` and a list of ``tests``, each
with ``name``, ``number``, ``score``, ``max_score``, ``status``, ``output`` and
``visibility``. Here one check is one test.

Nothing here grades: ``results_json`` turns a report of ``vaelab.grade`` (a
``vaelab.grading.records.Report``) into that format, each test's ``extra_data`` holding
its check's id and status, and ``build_autograder`` writes a zip whose ``run_autograder``
(from ``templates/run_autograder`` here, as ``setup.sh`` is from ``templates/setup.sh``)
calls ``vaelab grade``.
"""

from __future__ import annotations

import json
import math
import os
import re
import shlex
import time
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from vaelab.grading import EXERCISES
from vaelab.grading.output.report import MISSING, status_line
from vaelab.grading.records import (
    CheckResult,
    ExerciseResult,
    Report,
    Status,
    exercise_key,
)

__all__ = [
    "AUTOGRADER_ROOT_VARIABLE",
    "TORCH_CPU_INDEX",
    "VISIBILITIES",
    "WHEN_SHOWN",
    "build_autograder",
    "exercise_key",
    "not_submitted",
    "parse_exercises",
    "results_json",
    "write_results",
]

VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
WHEN_SHOWN = {
    "hidden": "The checks' results are not shown to learners.",
    "after_due_date": "The checks' results and feedback are shown after the due date.",
    "after_published": "The checks' results and feedback are shown when grades are published.",
}
AUTOGRADER_ROOT_VARIABLE = "VAELAB_AUTOGRADER_ROOT"  # /autograder on Gradescope; tests set it


# ---------------------------------------------------------------- exercises by name


def parse_exercises(text: str | Iterable[str] | None) -> list[str]:
    """Exercise ids from "ex03,ex04" (or "3,4", or full names); every exercise for None or "all".

    Raises:
        ValueError: naming the entry that is not an exercise, and the ones that are.
    """
    if text is None or text == "all":
        return list(EXERCISES)
    parts = text.split(",") if isinstance(text, str) else list(text)
    keys = []
    for part in (p.strip() for p in parts):
        if not part:
            continue
        match = re.match(r"^(?:ex)?0*(\d{1,2})(?:_\w*)?$", part)
        key = f"ex{int(match.group(1)):02d}" if match else None
        if key not in EXERCISES:
            raise ValueError(
                f"{part!r} is not an exercise; the exercises are {', '.join(EXERCISES)} "
                "(give them as ex03,ex04 or 3,4)"
            )
        if key not in keys:
            keys.append(key)
    if not keys:
        raise ValueError("no exercise given: name them like ex03,ex04")
    return sorted(keys)


def planned_checks(exercise: str, status: Status, feedback: str) -> list[CheckResult]:
    """Every check of ``exercise`` at 0 points, with ``status`` and ``feedback``: for a file
    that could not be graded at all."""
    from vaelab.grading.checks import checks_for  # the checks import torch: only when needed

    return [CheckResult.unscored(item, status, feedback) for item in checks_for(exercise)]


def not_submitted(exercise: str, message: str) -> ExerciseResult:
    """The result of an exercise with no file: its checks listed at 0 points, not started."""
    return ExerciseResult(
        exercise=EXERCISES[exercise],
        path=None,
        checks=planned_checks(exercise, Status.NOT_STARTED, f"{MISSING}: {message}"),
        error=message,
    )


# ---------------------------------------------------------------- results.json


def _test(name: str, number: str, check: CheckResult, visibility: str) -> dict:
    output = "passed" if check.passed and check.feedback == "ok" else check.feedback
    extra = {"id": check.id, "status": check.status.value}
    if check.stretch:  # what the class summary reads back (vaelab.grading.output.summary)
        extra.update(stretch=True, max_points=check.max_points, feedback=output)
    if check.stretch:  # beyond the exercise's 10 points: shown, not added to the score
        earned = f"{check.points:g} / {check.max_points:g}"
        output = f"stretch, counted apart from the assignment's points ({earned}): {output}"
    return {
        "name": name,
        "number": number,
        "score": 0.0 if check.stretch else float(check.points),
        "max_score": 0.0 if check.stretch else float(check.max_points),
        "status": "passed" if check.passed else "failed",  # all Gradescope knows
        "output": output,
        "visibility": visibility,
        "extra_data": extra,
    }


def _tests(entry: ExerciseResult, visibility: str, stray: int) -> list[dict]:
    """One Gradescope test per check of one exercise's result; never none. ``stray``
    numbers the files that are no exercise (0.1, 0.2, ...)."""
    key = entry.key
    checks = entry.checks
    if not checks and key in EXERCISES:  # could not run, and no plan came back
        reason = f"not graded: {entry.error or 'no result'}"
        checks = planned_checks(key, Status.NOT_GRADED, reason)
    if not checks or key is None:  # a file that is no exercise: a test worth nothing
        failed = CheckResult("", "", Status.NOT_GRADED, 0.0, 0.0, entry.error or "")
        return [_test(f"{entry.exercise}: not graded", f"0.{stray}", failed, visibility)]
    return [
        _test(f"{key} {c.name}", f"{int(key[2:])}.{i}", c, visibility)
        for i, c in enumerate(checks, 1)
    ]


def _overview(report: Report, visibility: str) -> str:
    """The top-level output: the score per exercise (only when tests are visible), what
    could not be graded, and what the learner's code printed."""
    lines = []
    for entry in report.exercises:
        if visibility == "visible":
            score = f"{entry.points:g} / {entry.max_points:g} points"
            status = f"not graded: {entry.error}" if entry.error else status_line(entry)
            lines.append(f"{entry.exercise}: {score} - {status}")
        elif entry.error:
            lines.append(f"{entry.exercise}: not graded - {entry.error}")
        else:
            lines.append(f"{entry.exercise}: graded")
    lines += [f"note: {note}" for note in report.notes]
    if visibility != "visible":
        lines.append(WHEN_SHOWN[visibility])
    else:
        lines.append("Each test below is one check; a failed check's output says what is wrong.")
    for entry in report.exercises:
        printed = entry.output.rstrip()
        if printed and visibility == "visible":
            lines += ["", f"printed by your {entry.exercise}:", printed]
    return "\n".join(lines)


def results_json(
    report: Report, *, visibility: str = "visible", execution_time: float | None = None
) -> dict:
    """A grade report (``vaelab.grade.grade_paths``) in Gradescope's results.json format.

    Args:
        report: the grading report.
        visibility: "visible", "hidden", "after_due_date" or "after_published", for every
            test (and the assignment).
        execution_time: seconds the grading took; default the sum over the exercises.

    Returns:
        ``{"score", "execution_time", "output", "tests": [...], ...}``; ``score`` is the sum
        of the tests' scores, and every check of every exercise is a test, also when the
        exercise could not be graded (its tests then say why). The total possible,
        which Gradescope takes from the assignment's settings, is in ``extra_data``.
    """
    if visibility not in VISIBILITIES:
        raise ValueError(f"visibility must be one of {', '.join(VISIBILITIES)}, got {visibility!r}")
    tests, stray = [], 0
    for entry in report.exercises:
        stray += entry.key not in EXERCISES
        tests += _tests(entry, visibility, stray)
    seconds = sum(e.seconds for e in report.exercises)
    if execution_time is None:
        execution_time = seconds
    extra = {
        "max_score": round(sum(t["max_score"] for t in tests), 6),
        "grader": "vaelab grade",
    }
    if report.timeout is not None:
        extra["timeout"] = report.timeout
    if report.seed is not None:
        extra["seed"] = report.seed
    return {
        "score": round(sum(t["score"] for t in tests), 6),
        "execution_time": max(0, math.ceil(execution_time)),
        "output": _overview(report, visibility),
        "output_format": "text",
        "test_output_format": "text",
        "test_name_format": "text",
        "visibility": visibility,
        "stdout_visibility": "hidden",
        "extra_data": extra,
        "tests": tests,
    }


def write_results(results: dict, path: str | os.PathLike) -> Path:
    """Write ``results`` as JSON (no NaN or inf: Gradescope cannot read them) to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(results, indent=2, allow_nan=False)
    path.write_text(text + "\n", encoding="utf-8")
    return path


# ---------------------------------------------------------------- the autograder zip

TEMPLATES = "templates"  # setup.sh and run_autograder, beside this module


def template(name: str) -> str:
    """The text of ``templates/<name>`` ("setup.sh", "run_autograder"), with its @FIELDS@."""
    from importlib.resources import files

    return (files("vaelab.grading.output") / TEMPLATES / name).read_text(encoding="utf-8")


README = """# vaelab autograder for Gradescope

Built by `vaelab autograder` (vaelab {version}) on {built}.

| setting | value |
|---|---|
| exercises | {exercises} |
| points | {points} ({per_exercise}) |
| test visibility | `{visibility}` |
| time limit per exercise | {timeout:g} s |
| memory limit per exercise | {memory} |
| exercises graded at once | {jobs} |

Learners submit their exercise files, named as in the course's `exercises/` folder:
{files}. Any folder layout works (the files directly, an `exercises/` folder, a zip
of the course folder): `run_autograder` looks in every folder of the submission. An
exercise without its file scores 0, and its tests say which file was expected.

## Upload

1. On Gradescope, create a Programming Assignment worth {points} points (Gradescope
   takes the total from the assignment; the tests' points add up to it).
2. On its Configure Autograder page, upload this zip as it is (`setup.sh` and
   `run_autograder` must stay at the top of the zip), keep the default Ubuntu base
   image (22.04 or newer; setup.sh installs Python 3 if the image lacks it), and
   wait for the build to finish (a few minutes: it installs the CPU build of torch).
3. Test it with "Test Autograder": a correct solution of yours gets full marks, and a
   stub file from `exercises/` 0 points, every test saying "not implemented yet".

## What is in the zip

- `setup.sh`: installs Python 3 if needed and bubblewrap, creates the unprivileged user
  `vaelab-student`, makes `/autograder/vaelab-venv`, installs torch {torch} (CPU build,
  from {index}) and the other dependencies, pinned by `constraints.txt`, from
  `requirements.txt`.
- `run_autograder`: runs `vaelab grade` on the submission and writes
  `/autograder/results/results.json`: one test per check ("ex04 kl_divergence: ...",
  numbered 4.1, 4.2, ...), its feedback as the test's output. If the grader itself
  fails, it writes `fallback_results.json` (every test at 0, saying so) instead. The
  learner's code runs in a bubblewrap sandbox as uid 65534 (or, where the image allows no
  sandbox, as `vaelab-student`), never as root; results.json is written only after every
  process of the learner's has ended.
- `vaelab/`: the grader, this copy of vaelab (no install from PyPI needed).

## Afterwards

Learners see each check's feedback as the output of its test. To see what the class as
a whole got wrong, export the submissions (the assignment's Review Grades page), unzip
the export and run `vaelab grade --summarize FOLDER` on it: from its
`submission_metadata.yml` (or from results.json files), for each check, how many failed
it and the most common feedback among them.
"""


def _package_files(package: Path) -> list[tuple[Path, str]]:
    """(file, name in the zip) for vaelab's source and data, as the package ships them."""
    files = []
    for path in sorted(package.rglob("*")):
        relative = path.relative_to(package.parent)
        if "__pycache__" in relative.parts or not path.is_file():
            continue
        if path.suffix == ".py" or (path.parent.name == "_data" and path.suffix == ".gz"):
            files.append((path, relative.as_posix()))
    return files


def _requirements(checkout: Path) -> list[str]:
    """vaelab's run-time dependencies, as its pyproject.toml (or installed metadata) lists them."""
    pyproject = checkout / "pyproject.toml"
    if pyproject.is_file():
        try:
            import tomllib

            project = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {})
            if project.get("name") == "vaelab":
                return list(project["dependencies"])
        except ImportError:  # Python 3.10: read the installed metadata instead
            pass
    from importlib.metadata import requires

    return [r for r in requires("vaelab") or [] if "extra ==" not in r]


def _constraints(checkout: Path) -> str:
    """The pins of constraints.txt in the checkout, or the installed torch and torchvision."""
    path = checkout / "constraints.txt"
    if path.is_file():
        return path.read_text(encoding="utf-8")
    from importlib.metadata import version

    pins = [f"{name}=={version(name).split('+')[0]}" for name in ("torch", "torchvision")]
    return "# the versions vaelab autograder was built with\n" + "\n".join(pins) + "\n"


def _grade_args(
    exercises: Sequence[str], visibility: str, timeout: float, memory_gb: float, jobs: int
) -> str:
    args = [
        "--exercises",
        ",".join(exercises),
        "--visibility",
        visibility,
        "--timeout",
        f"{timeout:g}",
        "--memory",
        f"{memory_gb:g}",
        "--jobs",
        str(jobs),
    ]
    return " ".join(shlex.quote(a) for a in args)


def _fallback(exercises: Sequence[str], visibility: str) -> dict:
    message = (
        "the autograder failed before it could grade this submission; this is not your "
        "code's fault. Tell your instructor: the autograder's output says why."
    )
    entries = [
        ExerciseResult(
            exercise=EXERCISES[key],
            checks=planned_checks(key, Status.NOT_GRADED, f"not graded: {message}"),
            error=message,
        )
        for key in exercises
    ]
    report = Report(exercises=entries)
    results = results_json(report, visibility="visible", execution_time=0)
    for test in results["tests"]:
        test["visibility"] = visibility
    results["output"] = "The autograder failed: " + message
    return results


def build_autograder(
    out: str | os.PathLike,
    *,
    exercises: Sequence[str] | str | None = None,
    visibility: str = "visible",
    timeout: float = 60.0,
    memory_gb: float = 4.0,
    jobs: int = 1,
) -> Path:
    """Write the Gradescope autograder zip: setup.sh, run_autograder, a README, vaelab itself.

    Args:
        out: the zip to write ("autograder.zip"); its folder is created if needed.
        exercises: the exercises the assignment grades ("ex03,ex04" or ["ex03", "ex04"]);
            default all of them (``vaelab.grading.EXERCISES``).
        visibility: when learners see the tests: "visible", "hidden", "after_due_date"
            or "after_published".
        timeout: seconds each exercise may take.
        memory_gb: GiB each exercise may allocate (0: no limit).
        jobs: exercises graded at the same time.

    Returns:
        The path of the zip.
    """
    import vaelab

    keys = parse_exercises(exercises)
    if visibility not in VISIBILITIES:
        raise ValueError(f"visibility must be one of {', '.join(VISIBILITIES)}, got {visibility!r}")
    if not timeout > 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout}")
    if not memory_gb >= 0:
        raise ValueError(f"memory_gb must be 0 (no limit) or a number of GiB, got {memory_gb}")
    if jobs < 1:
        raise ValueError(f"jobs must be 1 or more, got {jobs}")
    package = Path(vaelab.__file__).resolve().parent
    checkout = package.parent
    constraints = _constraints(checkout)
    torch_pin = re.search(r"^torch\s*==\s*(\S+)", constraints, flags=re.M)
    fallback = _fallback(keys, visibility)
    points = fallback["extra_data"]["max_score"]
    settings = f"exercises {', '.join(keys)}; visibility {visibility}; time limit {timeout:g} s"
    readme = README.format(
        version=vaelab.__version__,
        built=time.strftime("%Y-%m-%d"),
        exercises=", ".join(keys),
        points=f"{points:g}",
        per_exercise="10 per exercise" if points == 10 * len(keys) else "see the tests",
        visibility=visibility,
        timeout=timeout,
        memory=f"{memory_gb:g} GiB" if memory_gb else "none",
        jobs=jobs,
        files=", ".join(f"`{EXERCISES[k]}.py`" for k in keys),
        torch=torch_pin.group(1) if torch_pin else "(latest)",
        index=TORCH_CPU_INDEX,
    )
    run = (
        template("run_autograder")
        .replace("@VERSION@", vaelab.__version__)
        .replace("@SETTINGS@", settings)
        .replace("@GRADE_ARGS@", _grade_args(keys, visibility, timeout, memory_gb, jobs))
    )
    texts = {
        "setup.sh": (template("setup.sh").replace("@TORCH_INDEX@", TORCH_CPU_INDEX), 0o755),
        "run_autograder": (run, 0o755),
        "README.md": (readme, 0o644),
        "requirements.txt": ("\n".join(_requirements(checkout)) + "\n", 0o644),
        "constraints.txt": (constraints, 0o644),
        "fallback_results.json": (json.dumps(fallback, indent=2, allow_nan=False) + "\n", 0o644),
    }
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    stamp = time.localtime()[:6]
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, (text, mode) in texts.items():
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.external_attr = (0o100000 | mode) << 16  # a regular file with these permissions
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, text)
        for path, name in _package_files(package):
            archive.write(path, name)
    return out
