"""Grade the course's exercises against vaelab's reference functions.

Three ways in:

- ``vaelab grade [PATH ...] [--json FILE] [--class DIR] [--timeout S] [--memory GB]`` from
  a terminal (``main`` takes the arguments after the word "grade");
- ``vaelab.grade.check("ex03")`` in a notebook: grades ``exercises/ex03_*.py`` and shows
  the table inline;
- ``vaelab.grade.grade_paths(paths)`` from Python: the report as a dict.

Each exercise file is imported in a process of its own, with a time limit and, on Linux,
a memory limit, that only calls its functions on the grader's inputs and sends back what
came out (``vaelab.grading.sandbox``, ``vaelab.grading.child``); the checks of exercise NN
(``vaelab.grading.exNN``) compare that with vaelab's reference in a grader worker
(``vaelab.grading.jobs``), a process the learner's code never runs in, and
``vaelab.grading.report`` formats the results. Importing this module imports no torch.
The inputs are drawn from a seed, fresh for each run unless given. The report has the
shape::

    {"points": P, "max_points": M, "seed": S, "timeout": T, "exercises": [{"exercise":
     "ex03_reparameterize", "points": p, "max_points": m, "error": None, "seed": S,
     "checks": [{"name": ..., "points": ..., "max_points": ..., "passed": True,
     "feedback": "..."}], ...}]}
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from vaelab.grading import EXERCISES, new_seed
from vaelab.grading.report import (
    NOT_STARTED,
    GradeReport,
    format_gradebook,
    format_table,
    html_table,
    untouched,
    write_gradebook,
)

__all__ = [
    "EXERCISES",
    "NOT_STARTED",
    "check",
    "format_gradebook",
    "format_table",
    "grade_class",
    "grade_paths",
    "html_table",
    "main",
    "untouched",
    "write_gradebook",
]

EXERCISE_FILE = re.compile(r"^(ex\d\d)_\w*\.py$")
DEFAULT_TIMEOUT = 60.0
DEFAULT_PARALLEL = 2
DEFAULT_MEMORY_GB = 4.0  # GiB each grading process may allocate (Linux), 0 for no limit


# ---------------------------------------------------------------- finding and grading files


def exercise_files(folder: str | os.PathLike) -> list[Path]:
    """The exercise files (``exNN_*.py``) directly in ``folder``, in order."""
    return sorted(p for p in Path(folder).iterdir() if p.is_file() and EXERCISE_FILE.match(p.name))


def _not_gradable(path: Path, error: str) -> dict:
    return {
        "exercise": path.stem,
        "path": str(path),
        "points": 0.0,
        "max_points": 0.0,
        "error": error,
        "checks": [],
        "output": "",
        "seconds": 0.0,
    }


def _expand(paths: Iterable[str | os.PathLike]) -> list[tuple[Path, str | None, str | None]]:
    """(path, exercise id or None, error or None) for every file to grade."""
    items = []
    for raw in paths:
        path = Path(raw).expanduser().resolve()
        if path.is_dir():
            files = exercise_files(path)
        elif path.is_file():
            files = [path]
        else:
            raise FileNotFoundError(f"{raw}: no such file or folder")
        for file in files:
            match = EXERCISE_FILE.match(file.name)
            if not match:
                items.append(
                    (
                        file,
                        None,
                        "not an exercise file: exercises are named like ex03_reparameterize.py",
                    )
                )
            elif match.group(1) not in EXERCISES:
                items.append(
                    (
                        file,
                        None,
                        f"there are no checks for {match.group(1)}; the "
                        f"exercises are {', '.join(EXERCISES)}",
                    )
                )
            else:
                items.append((file, match.group(1), None))
    return items


def _summed(exercises: list[dict]) -> GradeReport:
    return GradeReport(
        points=round(sum(e["points"] for e in exercises), 6),
        max_points=round(sum(e["max_points"] for e in exercises), 6),
        exercises=exercises,
    )


def _run(
    items: list[tuple[Path, str | None, str | None]],
    timeout: float,
    parallel: int,
    memory_gb: float | None,
    seed: int,
):
    from vaelab.grading.jobs import Job, run_jobs

    jobs = [Job(path, exercise) for path, exercise, error in items if error is None]
    graded = iter(
        run_jobs(jobs, timeout=timeout, parallel=parallel, memory_gb=memory_gb, seed=seed)
    )
    return [
        next(graded) if error is None else _not_gradable(path, error)
        for path, exercise, error in items
    ]


def grade_paths(
    paths: Sequence[str | os.PathLike],
    *,
    timeout: float = DEFAULT_TIMEOUT,
    parallel: int = DEFAULT_PARALLEL,
    memory_gb: float | None = DEFAULT_MEMORY_GB,
    seed: int | None = None,
) -> GradeReport:
    """Grade exercise files, or folders of them; each in its own process.

    Args:
        paths: files named ``exNN_topic.py`` and/or folders holding them.
        timeout: seconds each exercise may take before it is stopped.
        parallel: exercises graded at the same time.
        memory_gb: GiB each exercise's process may allocate beyond what it starts with
            (enforced on Linux); past it an allocation fails and the check says so.
            None or 0: no limit.
        seed: the seed the checks' inputs are drawn from; None draws a fresh one. The
            report records it, and the same seed grades with the same inputs again.

    Returns:
        The report: ``{"points", "max_points", "exercises": [...], "seed", "timeout"}``
        (see the module doc).
    """
    seed = new_seed() if seed is None else int(seed)
    report = _summed(_run(_expand(paths), timeout, parallel, memory_gb, seed))
    report["seed"] = seed
    report["timeout"] = timeout
    return report


def find_exercise(exercise: str, start: str | os.PathLike | None = None) -> Path:
    """The file ``exercises/<exercise>_*.py`` in ``start`` (default: cwd) or its parents."""
    key = _exercise_key(exercise)
    here = Path(start or Path.cwd()).resolve()
    package_root = Path(__file__).resolve().parent.parent
    for base in (here, *here.parents, package_root):
        found = sorted((base / "exercises").glob(f"{key}_*.py"))
        if found:
            return found[0]
    raise FileNotFoundError(
        f"could not find exercises/{key}_*.py in {here} or its parent folders; "
        f'pass the file: check("{key}", path="path/to/{EXERCISES.get(key, key)}.py")'
    )


def _exercise_key(exercise: str | int) -> str:
    text = str(exercise).strip()
    match = re.match(r"^(?:ex)?0*(\d{1,2})", text)
    if not match:
        raise ValueError(f"expected an exercise like 'ex03', got {exercise!r}")
    return f"ex{int(match.group(1)):02d}"


def check(
    exercise: str | int,
    *,
    path: str | os.PathLike | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    seed: int | None = None,
) -> GradeReport:
    """Grade one exercise from a notebook and show the table (HTML in Jupyter, else text).

    Args:
        exercise: "ex03" (or 3, or "ex03_reparameterize").
        path: the file to grade; default ``exercises/ex03_*.py`` found from the current
            folder upwards.
        timeout: seconds the exercise may take.
        seed: the seed of the checks' inputs (None: a fresh one, recorded in the report).

    Returns:
        The report, as ``grade_paths`` gives it.
    """
    report = grade_paths([path or find_exercise(exercise)], timeout=timeout, parallel=1, seed=seed)
    if _in_notebook():
        from IPython.display import HTML, display

        display(HTML(html_table(report)))
    else:
        print(format_table(report))
    return report


def _in_notebook() -> bool:
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return shell is not None and hasattr(shell, "kernel")


# ---------------------------------------------------------------- a class of learners


def _learner_files(folder: Path) -> list[Path]:
    files = exercise_files(folder)
    if not files and (folder / "exercises").is_dir():
        files = exercise_files(folder / "exercises")
    return files


def grade_class(
    folder: str | os.PathLike,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    parallel: int = DEFAULT_PARALLEL,
    memory_gb: float | None = DEFAULT_MEMORY_GB,
    seed: int | None = None,
) -> dict:
    """Grade every learner's subfolder of ``folder``: the gradebook, learner x exercise x check.

    ``timeout``, ``parallel``, ``memory_gb`` and ``seed`` are as for ``grade_paths``; every
    learner's checks get the same inputs.

    A learner folder holds the exercise files (or an ``exercises/`` folder with them). An
    exercise that some learners submitted and others did not scores 0 for the latter.

    Returns:
        ``{"folder", "seed", "timeout", "exercises": [names], "learners": [{"learner",
        "points", "max_points", "exercises": [...]}]}``.
    """
    root = Path(folder).expanduser().resolve()
    if not root.is_dir():
        raise FileNotFoundError(f"{folder}: no such folder")
    learners = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
    items, owners = [], []
    for learner in learners:
        for path, exercise, error in _expand(_learner_files(learner)):
            items.append((path, exercise, error))
            owners.append(learner.name)
    seed = new_seed() if seed is None else int(seed)
    graded = _run(items, timeout, parallel, memory_gb, seed)
    plans: dict[str, dict] = {}  # exercise name -> a graded entry, to know its checks
    for entry in graded:
        if entry["checks"]:
            plans.setdefault(entry["exercise"], entry)
    names = sorted({e["exercise"] for e in graded})
    book = []
    for learner in learners:
        mine = {
            e["exercise"]: e for e, who in zip(graded, owners, strict=True) if who == learner.name
        }
        entries = [mine.get(name) or _missing(name, plans.get(name)) for name in names]
        book.append({"learner": learner.name, **_summed(entries)})
    return {
        "folder": str(root),
        "seed": seed,
        "timeout": timeout,
        "exercises": names,
        "learners": book,
    }


def _missing(name: str, example: dict | None) -> dict:
    checks = [
        {**c, "points": 0.0, "passed": False, "feedback": "not submitted"}
        for c in (example["checks"] if example else [])
    ]
    entry = _not_gradable(Path(name + ".py"), f"no file {name}.py in this learner's folder")
    entry.update(path=None, checks=checks, max_points=sum(c["max_points"] for c in checks))
    return entry


# ---------------------------------------------------------------- command line


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vaelab grade",
        description="Grade exercises against vaelab's reference functions.",
    )
    parser.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="exercise files or folders of them (default: the exNN_*.py files in the current "
        "folder if there are any, else exercises/)",
    )
    parser.add_argument("--json", metavar="FILE", help="also write the report as JSON to FILE")
    parser.add_argument(
        "--class",
        dest="class_dir",
        metavar="DIR",
        help="grade DIR's subfolders, one per learner, into a gradebook (CSV and JSON)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="S",
        help=f"seconds each exercise may take (default {DEFAULT_TIMEOUT:g})",
    )
    parser.add_argument(
        "--memory",
        type=float,
        default=DEFAULT_MEMORY_GB,
        metavar="GB",
        help="GiB each exercise may allocate; past it the allocation fails and the check says "
        f"so (Linux; default {DEFAULT_MEMORY_GB:g}, 0 for no limit)",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=DEFAULT_PARALLEL,
        metavar="N",
        help=f"exercises graded at the same time (default {DEFAULT_PARALLEL})",
    )
    parser.add_argument(
        "--seed",
        type=int,
        metavar="N",
        help="draw the checks' inputs from seed N, to grade with the same inputs as an "
        "earlier run (default: a fresh seed, printed and saved in the report)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """``vaelab grade``: ``argv`` are the arguments after "grade". Returns the exit status."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help, or a usage error already printed
        return int(e.code or 0)
    if args.timeout <= 0:
        print("vaelab grade: --timeout must be a positive number of seconds", file=sys.stderr)
        return 2
    if not args.memory >= 0:  # also refuses nan
        print("vaelab grade: --memory must be 0 (no limit) or a number of GiB", file=sys.stderr)
        return 2
    try:
        if args.class_dir:
            if args.paths:
                print("vaelab grade: give either PATHs or --class DIR, not both", file=sys.stderr)
                return 2
            return _main_class(args)
        paths = args.paths or _default_paths()
        if not paths:
            print(
                "vaelab grade: no exercises/ folder and no exercise files (exNN_*.py) here; "
                "run it from the course's folder or from exercises/, or give the exercise "
                "files to grade",
                file=sys.stderr,
            )
            return 2
        report = grade_paths(
            paths,
            timeout=args.timeout,
            parallel=args.jobs,
            memory_gb=args.memory,
            seed=args.seed,
        )
    except FileNotFoundError as e:
        print(f"vaelab grade: {e}", file=sys.stderr)
        return 2
    if not report["exercises"]:
        print(f"vaelab grade: no exercise files (exNN_*.py) in {', '.join(paths)}", file=sys.stderr)
        return 2
    print(format_table(report))
    print(f"(inputs drawn from seed {report['seed']}; --seed {report['seed']} repeats them)")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=2), encoding="utf-8")
        print(f"report written to {args.json}")
    return 0


def _default_paths() -> list[str]:
    """What ``vaelab grade`` grades without PATHs: the exercise files in the current folder
    when it holds any (run from inside exercises/), else ``exercises/``; [] if neither."""
    if exercise_files(Path.cwd()):
        return ["."]
    return ["exercises"] if Path("exercises").is_dir() else []


def _main_class(args) -> int:
    book = grade_class(
        args.class_dir,
        timeout=args.timeout,
        parallel=args.jobs,
        memory_gb=args.memory,
        seed=args.seed,
    )
    if not book["learners"]:
        print(f"vaelab grade: no learner folders in {args.class_dir}", file=sys.stderr)
        return 2
    json_path = Path(args.json) if args.json else Path("gradebook.json")
    csv_path = json_path.with_suffix(".csv")
    json_path.parent.mkdir(parents=True, exist_ok=True)
    write_gradebook(book, json_path, csv_path)
    print(format_gradebook(book))
    print(f"(inputs drawn from seed {book['seed']}; --seed {book['seed']} repeats them)")
    print(f"gradebook written to {json_path} and {csv_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
