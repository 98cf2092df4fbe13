"""The grader on Gradescope: its results.json format, and the autograder zip to upload.

Gradescope's autograder contract (its "Autograder Specifications"): a zip with
``setup.sh`` (run once, to build the image) and ``run_autograder`` (run for every
submission, with the learner's files in ``/autograder/submission``), which writes
``/autograder/results/results.json``: a top-level ``score`` and a list of ``tests``, each
with ``name``, ``number``, ``score``, ``max_score``, ``status``, ``output`` and
``visibility``. Here one check is one test.

Nothing here grades: ``results_json`` turns a report of ``vaelab.grade`` into that format,
and ``build_autograder`` writes a zip whose ``run_autograder`` calls ``vaelab grade``.
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
from vaelab.grading.output.report import MISSING, _status

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


def exercise_key(name: str) -> str | None:
    """The exercise id of a report entry or file name: "ex04_elbo" -> "ex04"; None if none."""
    match = re.match(r"^(ex\d\d)(?:_|$)", name)
    return match.group(1) if match else None


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


def planned_checks(exercise: str, feedback: str) -> list[dict]:
    """Every check of ``exercise`` at 0 points, failed, with ``feedback``: for a file that
    could not be graded at all."""
    from vaelab.grading.checks import checks_for  # the checks import torch: only when needed

    return [
        {
            "name": item.name,
            "points": 0.0,
            "max_points": item.points,
            "passed": False,
            "feedback": feedback,
        }
        for item in checks_for(exercise)
    ]


def not_submitted(exercise: str, message: str) -> dict:
    """A report entry for an exercise with no file: its checks listed at 0 points."""
    checks = planned_checks(exercise, f"{MISSING}: {message}")
    return {
        "exercise": EXERCISES[exercise],
        "path": None,
        "points": 0.0,
        "max_points": round(sum(c["max_points"] for c in checks), 6),
        "error": message,
        "checks": checks,
        "output": "",
        "seconds": 0.0,
    }


# ---------------------------------------------------------------- results.json


def _test(name: str, number: str, check: dict, visibility: str) -> dict:
    return {
        "name": name,
        "number": number,
        "score": float(check["points"]),
        "max_score": float(check["max_points"]),
        "status": "passed" if check["passed"] else "failed",
        "output": "passed" if check["passed"] and check["feedback"] == "ok" else check["feedback"],
        "visibility": visibility,
    }


def _tests(entry: dict, visibility: str, stray: int) -> list[dict]:
    """One Gradescope test per check of one report entry; never none. ``stray`` numbers
    the files that are no exercise (0.1, 0.2, ...)."""
    key = exercise_key(entry["exercise"])
    checks = entry["checks"]
    if not checks and key in EXERCISES:  # could not run, and no plan came back
        checks = planned_checks(key, f"not graded: {entry.get('error') or 'no result'}")
    if not checks or key is None:  # a file that is no exercise: a test worth nothing
        failed = {"points": 0, "max_points": 0, "passed": False, "feedback": entry["error"] or ""}
        return [_test(f"{entry['exercise']}: not graded", f"0.{stray}", failed, visibility)]
    return [
        _test(f"{key} {c['name']}", f"{int(key[2:])}.{i}", c, visibility)
        for i, c in enumerate(checks, 1)
    ]


def _overview(report: dict, visibility: str) -> str:
    """The top-level output: the score per exercise (only when tests are visible), what
    could not be graded, and what the learner's code printed."""
    lines = []
    for entry in report["exercises"]:
        if visibility == "visible":
            score = f"{entry['points']:g} / {entry['max_points']:g} points"
            status = f"not graded: {entry['error']}" if entry.get("error") else _status(entry)
            lines.append(f"{entry['exercise']}: {score} - {status}")
        elif entry.get("error"):
            lines.append(f"{entry['exercise']}: not graded - {entry['error']}")
        else:
            lines.append(f"{entry['exercise']}: graded")
    lines += [f"note: {note}" for note in report.get("notes", [])]
    if visibility != "visible":
        lines.append(WHEN_SHOWN[visibility])
    else:
        lines.append("Each test below is one check; a failed check's output says what is wrong.")
    for entry in report["exercises"]:
        printed = (entry.get("output") or "").rstrip()
        if printed and visibility == "visible":
            lines += ["", f"printed by your {entry['exercise']}:", printed]
    return "\n".join(lines)


def results_json(
    report: dict, *, visibility: str = "visible", execution_time: float | None = None
) -> dict:
    """A grade report (``vaelab.grade.grade_paths``) in Gradescope's results.json format.

    Args:
        report: ``{"points", "max_points", "exercises": [...]}``.
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
    for entry in report["exercises"]:
        stray += exercise_key(entry["exercise"]) not in EXERCISES
        tests += _tests(entry, visibility, stray)
    seconds = sum(e.get("seconds", 0.0) for e in report["exercises"])
    if execution_time is None:
        execution_time = seconds
    extra = {
        "max_score": round(sum(t["max_score"] for t in tests), 6),
        "grader": "vaelab grade",
    }
    for key in ("timeout", "seed"):
        if key in report:
            extra[key] = report[key]
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

SETUP_SH = r"""#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image (Ubuntu).
# It installs Python 3 if the image lacks it, then, in a virtual environment, the CPU
# build of torch and vaelab's other dependencies, pinned as in constraints.txt.
# vaelab itself needs no install: it is in this zip, and run_autograder puts this folder
# (/autograder/source) on PYTHONPATH.
set -euo pipefail

ROOT="${VAELAB_AUTOGRADER_ROOT:-/autograder}"
SOURCE="$ROOT/source"
VENV="$ROOT/vaelab-venv"
TORCH_INDEX="@TORCH_INDEX@"

python_ok() {
    command -v python3 >/dev/null 2>&1 &&
        python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)'
}

if ! python_ok; then
    echo "setup.sh: installing Python 3 with apt"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y --no-install-recommends python3 python3-venv python3-pip
fi
if ! python_ok; then
    echo "setup.sh: vaelab needs Python 3.10 or newer; this image has" \
        "$(python3 --version 2>&1). Choose a newer Ubuntu base image on the" \
        "assignment's Configure Autograder page." >&2
    exit 1
fi

rm -rf "$VENV"
if ! python3 -m venv "$VENV"; then
    echo "setup.sh: python3 -m venv failed; installing python3-venv with apt"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y --no-install-recommends python3-venv
    rm -rf "$VENV"
    python3 -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip)
"${PIP[@]}" install --upgrade pip
# torch and torchvision: the CPU build from PyTorch's CPU wheel index (no CUDA libraries)
"${PIP[@]}" install --index-url "$TORCH_INDEX" -c "$SOURCE/constraints.txt" torch torchvision
# vaelab's other dependencies from PyPI, under the same pins
"${PIP[@]}" install -c "$SOURCE/constraints.txt" -r "$SOURCE/requirements.txt"

# the grader imports, and torch is the CPU build
PYTHONPATH="$SOURCE" "$VENV/bin/python" -c '
import torch, vaelab
from vaelab.grading import EXERCISES
print("vaelab", vaelab.__version__, "with torch", torch.__version__)
print("CUDA build:", torch.version.cuda, "(None: the CPU build, as it should be)")
print("exercises:", ", ".join(EXERCISES))
'
echo "setup.sh: done"
"""

RUN_AUTOGRADER = r"""#!/usr/bin/env bash
# Gradescope runs this for every submission. It grades the learner's exercise files,
# wherever they sit in /autograder/submission, and writes /autograder/results/results.json.
# Built by `vaelab autograder` (vaelab @VERSION@): @SETTINGS@.
set -uo pipefail

ROOT="${VAELAB_AUTOGRADER_ROOT:-/autograder}"
SOURCE="$ROOT/source"
RESULTS="$ROOT/results/results.json"
PYTHON="$ROOT/vaelab-venv/bin/python"  # made by setup.sh
if [ ! -x "$PYTHON" ]; then
    PYTHON="$(command -v python3 || echo python3)"
fi

mkdir -p "$ROOT/results"
rm -f "$RESULTS"
export PYTHONPATH="$SOURCE${PYTHONPATH:+:$PYTHONPATH}"
export MPLBACKEND=Agg
cd "$SOURCE" || exit 1

"$PYTHON" -m vaelab.cli grade "$ROOT/submission" @GRADE_ARGS@ \
    --gradescope "$RESULTS"
status=$?

if [ ! -s "$RESULTS" ]; then
    # the grader itself failed (see the output above): every test at 0, saying so
    echo "run_autograder: vaelab grade wrote no results (exit status $status)" >&2
    cp "$SOURCE/fallback_results.json" "$RESULTS"
fi
exit 0
"""

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

- `setup.sh`: installs Python 3 if needed, makes `/autograder/vaelab-venv`, installs
  torch {torch} (CPU build, from {index}) and the other dependencies, pinned by
  `constraints.txt`, from `requirements.txt`.
- `run_autograder`: runs `vaelab grade` on the submission and writes
  `/autograder/results/results.json`: one test per check ("ex04 kl_divergence: ...",
  numbered 4.1, 4.2, ...), its feedback as the test's output. If the grader itself
  fails, it writes `fallback_results.json` (every test at 0, saying so) instead.
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
    entries = [not_submitted(key, message) for key in exercises]
    for entry in entries:
        for check in entry["checks"]:
            check["feedback"] = f"not graded: {message}"
    report = {"exercises": entries, "notes": []}
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
        RUN_AUTOGRADER.replace("@VERSION@", vaelab.__version__)
        .replace("@SETTINGS@", settings)
        .replace("@GRADE_ARGS@", _grade_args(keys, visibility, timeout, memory_gb, jobs))
    )
    texts = {
        "setup.sh": (SETUP_SH.replace("@TORCH_INDEX@", TORCH_CPU_INDEX), 0o755),
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
