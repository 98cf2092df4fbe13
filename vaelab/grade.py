"""Grade the course's exercises against vaelab's reference functions.

Three ways in:

- ``vaelab grade [PATH ...] [--json FILE] [--class DIR] [--timeout S] [--memory GB]`` from
  a terminal (``main`` takes the arguments after the word "grade"); ``--gradescope FILE``
  also writes Gradescope's results.json, ``--summarize DIR`` tells what a class graded
  on Gradescope got wrong;
- ``vaelab.grade.check("ex03")`` in a notebook: grades ``exercises/ex03_*.py`` and shows
  the table inline; ``vaelab.grade.hint("ex03")`` prints the next hint;
- ``vaelab.grade.grade_paths(paths)`` from Python: the report;
  ``grade_submission(folder, exercises=...)`` for one learner's folder, searched through
  (what Gradescope's ``run_autograder`` uses), ``grade_class(folder)`` for a class.

Each exercise file is imported in a process of its own, with a time limit and, on Linux,
a memory limit, that only calls its functions on the grader's inputs and sends back what
came out (``vaelab.grading.runtime``); the checks of exercise NN
(``vaelab.grading.checks.exNN``) compare that with vaelab's reference in a grader worker,
a process the learner's code never runs in; ``vaelab.grading.output`` turns the results
into tables, the gradebook, Gradescope's results.json and a class's summary. Importing
this module imports no torch. The inputs are drawn from a seed, fresh for each run unless
given.

The results are typed records (``vaelab.grading.records``): a ``Report`` holds one
``ExerciseResult`` per file, which holds one ``CheckResult`` per check (``id``, ``name``,
``status``: passed, failed, not started or not graded, ``points``, ``max_points``,
``feedback``, ``functions``). ``report.to_json()`` is the JSON report::

    {"points": P, "max_points": M, "exercises": [{"exercise": "ex03_reparameterize",
     "path": ..., "points": p, "max_points": m, "status": "failed", "error": None,
     "checks": [{"id": "ex03.reparameterize.values", "name": ..., "status": "passed",
     "points": ..., "max_points": ..., "passed": True, "feedback": "ok",
     "functions": ["reparameterize"]}, ...], "output": ..., "seconds": ..., "seed": S}],
     "seed": S, "timeout": T, "notes": []}
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from vaelab._usage import Parser, UsageError
from vaelab.grading import EXERCISES, new_seed
from vaelab.grading.output import summary as class_summaries
from vaelab.grading.output.gradescope import (
    VISIBILITIES,
    not_submitted,
    parse_exercises,
    results_json,
    write_results,
)
from vaelab.grading.output.hints import Hint
from vaelab.grading.output.report import (
    MISSING,
    NOT_STARTED,
    format_gradebook,
    format_table,
    html_table,
    write_gradebook,
)
from vaelab.grading.records import (
    CheckResult,
    ExerciseResult,
    Gradebook,
    Report,
    Status,
)

__all__ = [
    "EXERCISES",
    "NOT_STARTED",
    "CheckResult",
    "ExerciseResult",
    "Gradebook",
    "Hint",
    "Report",
    "Status",
    "check",
    "class_summary",
    "hint",
    "format_gradebook",
    "format_table",
    "grade_class",
    "grade_paths",
    "grade_submission",
    "html_table",
    "main",
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


def _not_gradable(path: Path, error: str) -> ExerciseResult:
    return ExerciseResult(exercise=path.stem, path=str(path), error=error)


def _expand(paths: Iterable[str | os.PathLike]) -> list[tuple[Path, str | None, str | None]]:
    """(path, exercise id or None, error or None) for every file to grade."""
    items = []
    for raw in paths:
        path = Path(raw).expanduser()
        # a symbolic link stays one, so that grading untrusted files can refuse it
        path = Path(os.path.abspath(path)) if path.is_symlink() else path.resolve()
        if path.is_dir() and not path.is_symlink():
            files = exercise_files(path)
        elif path.is_file() or path.is_symlink():
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


def _run(
    items: list[tuple[Path, str | None, str | None]],
    timeout: float,
    parallel: int,
    memory_gb: float | None,
    seed: int,
    isolate: bool = False,
) -> list[ExerciseResult]:
    from vaelab.grading.runtime.jobs import Job, run_jobs

    jobs = [Job(path, exercise) for path, exercise, error in items if error is None]
    deadline, before = None, None
    if isolate:  # a deadline for the whole run: every file's time limit, and some to spare
        rounds = -(-len(jobs) // max(1, parallel))
        deadline = rounds * (timeout + 5.0) + 2 * timeout + 60.0
        keys = sorted({exercise for _, exercise, error in items if not error})
        before = lambda: _import_the_grader(keys)  # noqa: E731
    graded = iter(
        run_jobs(
            jobs,
            timeout=timeout,
            parallel=parallel,
            memory_gb=memory_gb,
            seed=seed,
            isolate=isolate,
            deadline=deadline,
            before=before,
        )
    )
    return [
        next(graded) if error is None else _not_gradable(path, error)
        for path, exercise, error in items
    ]


def _import_the_grader(exercises: Sequence[str]) -> None:
    """Import everything this process will use after learners' code ran (the checks,
    which list an exercise's checks for a missing file), so that nothing is imported from
    a file the learners' code could have reached meanwhile."""
    from vaelab.grading.checks import checks_for

    for exercise in exercises or EXERCISES:
        checks_for(exercise)


def isolation_note(isolate: bool = True) -> str | None:
    """One line when untrusted code would be graded with weaker isolation than the
    operating system's (no bubblewrap or user namespaces here); None when it is walled in."""
    if not isolate:
        return None
    from vaelab.grading.runtime import isolation

    return isolation.weaker_line()


def grade_paths(
    paths: Sequence[str | os.PathLike],
    *,
    timeout: float = DEFAULT_TIMEOUT,
    parallel: int = DEFAULT_PARALLEL,
    memory_gb: float | None = DEFAULT_MEMORY_GB,
    seed: int | None = None,
    isolate: bool = False,
) -> Report:
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
        isolate: grade untrusted code: each file copied privately and graded in a sandbox
            of its own (``vaelab.grading.runtime.isolation``; where the machine allows).
            Default False: self-grading, an honest learner's own files.

    Returns:
        The report: one ``ExerciseResult`` per file, with the seed and the time limit
        (see the module doc).
    """
    seed = new_seed() if seed is None else int(seed)
    exercises = _run(_expand(paths), timeout, parallel, memory_gb, seed, isolate)
    return Report(exercises=exercises, seed=seed, timeout=timeout)


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


def _file_to_grade(exercise: str | int) -> Path:
    """``find_exercise``; where it finds nothing (the course installed without the
    repository), the shipped stub written to ``exercises/`` in the working folder."""
    try:
        return find_exercise(exercise)
    except FileNotFoundError as missing:
        from vaelab.grading import stubs

        try:
            stubs.stub(exercise)
        except (FileNotFoundError, ValueError):
            raise missing from None
        return stubs.get(exercise)


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
) -> Report:
    """Grade one exercise from a notebook and show the table (HTML in Jupyter, else text).

    Args:
        exercise: "ex03" (or 3, or "ex03_reparameterize").
        path: the file to grade; default ``exercises/ex03_*.py`` found from the current
            folder upwards (none there and the course installed as a package: the stub is
            written to ``exercises/`` in the working folder first, and graded "not started").
        timeout: seconds the exercise may take.
        seed: the seed of the checks' inputs (None: a fresh one, recorded in the report).

    Returns:
        The report, as ``grade_paths`` gives it.
    """
    file = path or _file_to_grade(exercise)
    report = grade_paths([file], timeout=timeout, parallel=1, seed=seed)
    if _in_notebook():
        from IPython.display import HTML, display

        display(HTML(html_table(report)))
    else:
        print(format_table(report))
    return report


def hint(
    exercise: str | int,
    *,
    path: str | os.PathLike | None = None,
    reset: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
    seed: int | None = None,
) -> Hint:
    """Grade one exercise and print the next hint for its first failing check.

    The first time a check fails you get a nudge towards the lesson's formula; each time
    you ask again while the same check fails, the next, more specific hint. The hints
    seen are remembered in ``$VAELAB_CACHE/hints.json`` (default
    ``~/.cache/vaelab/hints.json``).

    Args:
        exercise: "ex04" (or 4, or "ex04_elbo").
        path: the file; default ``exercises/ex04_*.py`` found from the current folder up.
        reset: forget the hints seen for this exercise (start over) instead of giving one.
        timeout, seed: as for ``check``.

    Returns:
        A ``Hint``: ``str(hint)`` is the text printed. Jupyter shows nothing more for it
        (not the text a second time).
    """
    from vaelab.grading.output import hints

    key = _exercise_key(exercise)
    file = Path(path) if path else _file_to_grade(key)
    if reset:
        had = hints.reset(file)
        text = f"{key}: the hints start over{'' if had else ' (none seen yet)'}."
    else:
        report = grade_paths([file], timeout=timeout, parallel=1, seed=seed)
        text = _hint_text(report.exercises[0], key, f'vaelab.grade.hint("{key}")')
    print(text)
    return Hint(key, text)


def _hint_text(entry: ExerciseResult, key: str, again: str) -> str:
    from vaelab.grading.checks import hints_for
    from vaelab.grading.output import hints

    start_over = (
        f'vaelab.grade.hint("{key}", reset=True)'
        if again.startswith("vaelab.grade")
        else f"{again} --reset-hints"
    )
    return hints.hint_text(entry, key, hints_for, again=again, start_over=start_over)


def _in_notebook() -> bool:
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return shell is not None and hasattr(shell, "kernel")


# ---------------------------------------------------------------- one learner's submission

SKIPPED_FOLDERS = {"__MACOSX", "__pycache__", "node_modules"}


def _python_files(root: Path) -> list[Path]:
    """Every .py file under ``root``, in any subfolder except hidden and system ones."""
    files = []
    for folder, subfolders, names in os.walk(root):
        subfolders[:] = sorted(
            d for d in subfolders if not d.startswith(".") and d not in SKIPPED_FOLDERS
        )
        files += [Path(folder, n) for n in sorted(names) if n.endswith(".py")]
    return files


def _search(root: Path, keys: list[str]) -> tuple[dict[str, Path | None], list[str]]:
    """Each exercise's file anywhere under ``root`` (the least deep one, then by name), or
    None; and a note for every exercise with more than one file."""
    candidates: dict[str, list[Path]] = {key: [] for key in keys}
    for path in _python_files(root):
        match = EXERCISE_FILE.match(path.name)
        if match and match.group(1) in candidates:
            candidates[match.group(1)].append(path)
    found, notes = {}, []
    for key, paths in candidates.items():
        paths.sort(key=lambda p: (len(p.relative_to(root).parts), p.relative_to(root).as_posix()))
        found[key] = paths[0] if paths else None
        if len(paths) > 1:
            names = [p.relative_to(root).as_posix() for p in paths]
            notes.append(
                f"{len(paths)} files for {key}: graded {names[0]}, not {', '.join(names[1:])}"
            )
    return found, notes


def _no_file_message(key: str, root: Path) -> str:
    others = [
        p.relative_to(root).as_posix()
        for p in _python_files(root)
        if not EXERCISE_FILE.match(p.name)
    ]
    found = f"; other Python files in it: {', '.join(others[:6])}" if others else ""
    return (
        f"no file named {key}_*.py in the submission (all its folders searched): submit "
        f"your work as {EXERCISES[key]}.py{found}"
    )


def grade_submission(
    folder: str | os.PathLike,
    *,
    exercises: Sequence[str] | str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    parallel: int = DEFAULT_PARALLEL,
    memory_gb: float | None = DEFAULT_MEMORY_GB,
    seed: int | None = None,
    isolate: bool = True,
) -> Report:
    """Grade one learner's submission: the exercise files anywhere in ``folder``.

    Args:
        folder: the submission (Gradescope's ``/autograder/submission``, say); every
            subfolder is searched.
        exercises: the exercises to grade ("ex03,ex04" or ["ex03", "ex04"]); default
            those with a file. One without a file lists its checks at 0 points, saying
            which file was expected. With two files for one exercise, the least deep is
            graded, and ``report.notes`` says so.
        timeout, parallel, memory_gb, seed: as for ``grade_paths``.
        isolate: as for ``grade_paths``; default True (Gradescope: untrusted code).

    Returns:
        The report, as ``grade_paths`` gives it, with ``notes``.
    """
    root = Path(folder).expanduser().resolve()
    if not root.is_dir():
        raise FileNotFoundError(f"{folder}: no such folder")
    keys = parse_exercises(exercises) if exercises is not None else None
    found, notes = _search(root, keys or list(EXERCISES))
    if keys is None:
        found = {key: path for key, path in found.items() if path}
    present = [key for key, path in found.items() if path]
    report = grade_paths(
        [found[key] for key in present],
        timeout=timeout,
        parallel=parallel,
        memory_gb=memory_gb,
        seed=seed,
        isolate=isolate,
    )
    graded = dict(zip(present, report.exercises, strict=True))
    report.exercises = [
        graded.get(key) or not_submitted(key, _no_file_message(key, root)) for key in found
    ]
    report.notes = notes
    return report


# ---------------------------------------------------------------- a class of learners


def _learner_files(folder: Path, strict: bool = False) -> list[Path]:
    """The learner's exercise files; ``strict``: symbolic links count too (to be refused),
    and an ``exercises`` folder that is a link is not followed."""
    files = _exercise_entries(folder, strict)
    inner = folder / "exercises"
    if not files and inner.is_dir() and not (strict and inner.is_symlink()):
        files = _exercise_entries(inner, strict)
    return files


def _exercise_entries(folder: Path, strict: bool) -> list[Path]:
    if not strict:
        return exercise_files(folder)
    return sorted(
        p
        for p in folder.iterdir()
        if (p.is_symlink() or p.is_file()) and EXERCISE_FILE.match(p.name)
    )


def grade_class(
    folder: str | os.PathLike,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    parallel: int = DEFAULT_PARALLEL,
    memory_gb: float | None = DEFAULT_MEMORY_GB,
    seed: int | None = None,
    isolate: bool = True,
) -> Gradebook:
    """Grade every learner's subfolder of ``folder``: the gradebook, learner x exercise x check.

    ``timeout``, ``parallel``, ``memory_gb`` and ``seed`` are as for ``grade_paths``; every
    learner's checks get the same inputs.

    A learner folder holds the exercise files (or an ``exercises/`` folder with them). An
    exercise that some learners submitted and others did not scores 0 for the latter.
    With ``isolate`` (the default: a class's code is untrusted), every file is copied into
    a private folder before any learner's code runs and graded in a sandbox of its own
    (``vaelab.grading.runtime.isolation``); a learner folder or file that is a symbolic
    link, or a file that is not a regular one, is refused with one line.

    Returns:
        The ``Gradebook``: the exercises' names, and per learner a ``Report`` (named by
        ``learner``) with one result per exercise, in that order.
    """
    root = Path(folder).expanduser().resolve()
    if not root.is_dir():
        raise FileNotFoundError(f"{folder}: no such folder")
    learners = sorted(
        p
        for p in root.iterdir()
        if (p.is_dir() or p.is_symlink()) and not p.name.startswith((".", "_"))
    )
    items, owners, refused = [], [], {}
    for learner in learners:
        if learner.is_symlink():  # another learner's folder, maybe: refused
            refused[learner.name] = f"refused: the learner folder {learner.name} is a symbolic link"
            continue
        for path, exercise, error in _expand(_learner_files(learner, isolate)):
            items.append((path, exercise, error))
            owners.append(learner.name)
    seed = new_seed() if seed is None else int(seed)
    graded = _run(items, timeout, parallel, memory_gb, seed, isolate)
    plans: dict[str, ExerciseResult] = {}  # exercise name -> a graded one, to know its checks
    for entry in graded:
        if entry.checks:
            plans.setdefault(entry.exercise, entry)
    names = sorted({e.exercise for e in graded})
    reports = []
    for learner in learners:
        mine = {e.exercise: e for e, who in zip(graded, owners, strict=True) if who == learner.name}
        entries = [
            _planned(mine.get(name), plans.get(name))
            or _missing(name, plans.get(name), refused.get(learner.name))
            for name in names
        ]
        reports.append(Report(exercises=entries, seed=seed, timeout=timeout, learner=learner.name))
    return Gradebook(
        folder=str(root), seed=seed, timeout=timeout, exercises=names, learners=reports
    )


def _missing(
    name: str, example: ExerciseResult | None, refused: str | None = None
) -> ExerciseResult:
    """A learner's result for an exercise others submitted: its checks, not started (or
    not graded, with the reason, for a learner folder that was ``refused``)."""
    status, feedback = (Status.NOT_GRADED, refused) if refused else (Status.NOT_STARTED, MISSING)
    checks = [
        CheckResult(c.id, c.name, status, 0.0, c.max_points, feedback, c.functions, c.stretch)
        for c in (example.checks if example else [])
    ]
    error = refused or f"no file {name}.py in this learner's folder"
    return ExerciseResult(exercise=name, path=None, checks=checks, error=error)


def _planned(entry: ExerciseResult | None, example: ExerciseResult | None):
    """``entry``, with the exercise's checks at 0 (not graded, its error as their feedback)
    when it has none: a file refused before it could run still counts its points."""
    if entry is None or entry.checks or example is None or not entry.error:
        return entry
    feedback = f"not graded: {entry.error}"
    entry.checks = [
        CheckResult(
            c.id, c.name, Status.NOT_GRADED, 0.0, c.max_points, feedback, c.functions, c.stretch
        )
        for c in example.checks
    ]
    return entry


def class_summary(book: Gradebook) -> dict:
    """What the class got wrong: per check, how many learners failed it and the most
    common feedback among them (numbers masked to group it), most failed first.

    Args:
        book: the gradebook ``grade_class`` returns.

    Returns:
        ``{"learners", "checks": [{"exercise", "number", "check", "max_points", "passed",
        "failed", "not_started", "feedback": [{"count", "pattern", "example",
        "learners"}]}]}`` (see ``vaelab.grading.output.summary``).
    """
    outcomes = class_summaries.outcomes_from_gradebook(book)
    return class_summaries.summarize(outcomes, [lr.learner for lr in book.learners])


# ---------------------------------------------------------------- command line


def _parser() -> Parser:
    parser = Parser(
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
    parser.add_argument(
        "--hint",
        action="store_true",
        help="instead of the table, the next hint for the first failing check of PATH (an "
        "exercise file or ex04; default the first exercise you started that has one); ask "
        "again for the next, more specific hint",
    )
    parser.add_argument(
        "--reset-hints",
        action="store_true",
        help="with --hint: forget the hints seen for the exercise(s), start over",
    )
    _gradescope_options(parser)
    return parser


def _gradescope_options(parser: Parser) -> None:
    """The options for one learner's submission, Gradescope and class summaries."""
    parser.add_argument(
        "--exercises",
        metavar="LIST",
        help="grade these exercises (ex03,ex04) of the one submission folder given, finding "
        "their files in any subfolder; one without a file scores 0 and says which was expected",
    )
    parser.add_argument(
        "--gradescope",
        metavar="FILE",
        help="also write the results in Gradescope's results.json format to FILE",
    )
    parser.add_argument(
        "--visibility",
        choices=VISIBILITIES,
        help="with --gradescope: when learners see the tests (default visible)",
    )
    parser.add_argument(
        "--summarize",
        metavar="DIR",
        help="what a class got wrong, from Gradescope's results in DIR: its export of the "
        "submissions (submission_metadata.yml) or results.json files; writes summary.json "
        "and summary.csv (or --json FILE and its .csv)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """``vaelab grade``: ``argv`` are the arguments after "grade". Returns the exit status:
    0, or 2 with one line on stderr for a usage error (as ``vaelab``'s other commands)."""
    try:
        return _main(argv)
    except UsageError as err:
        print(f"vaelab grade: error: {err}", file=sys.stderr)
        return 2


def _main(argv: Sequence[str] | None) -> int:
    try:
        args = _parser().parse_args(argv)
    except SystemExit as e:  # --help
        return int(e.code or 0)
    if args.timeout <= 0:
        raise UsageError("--timeout must be a positive number of seconds")
    if not args.memory >= 0:  # also refuses nan
        raise UsageError("--memory must be 0 (no limit) or a number of GiB")
    usage = _usage_problem(args)
    if usage:
        raise UsageError(usage)
    if args.hint:
        return _main_hint(args)
    if args.summarize:
        return _main_summarize(args)
    if args.class_dir:
        return _main_class(args)
    paths = args.paths or _default_paths()
    if not paths:
        raise UsageError(
            "no exercises/ folder and no exercise files (exNN_*.py) here; run it from the "
            "course's folder or from exercises/, or give the exercise files to grade"
        )
    start = time.monotonic()
    options = {
        "timeout": args.timeout,
        "parallel": args.jobs,
        "memory_gb": args.memory,
        "seed": args.seed,
    }
    untrusted = bool(args.exercises or args.gradescope)  # Gradescope: a stranger's code
    note = isolation_note(untrusted)
    if note:
        print(note, file=sys.stderr)
    try:
        if args.exercises:
            report = grade_submission(paths[0], exercises=args.exercises, **options)
        else:
            report = grade_paths(paths, isolate=untrusted, **options)
    except FileNotFoundError as e:
        raise UsageError(str(e)) from None
    seconds = time.monotonic() - start
    if not report.exercises:
        raise UsageError(f"no exercise files (exNN_*.py) in {', '.join(map(str, paths))}")
    print(format_table(report))
    print(f"(inputs drawn from seed {report.seed}; --seed {report.seed} repeats them)")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report.to_json(), indent=2), encoding="utf-8")
        print(f"report written to {args.json}")
    if args.gradescope:
        results = results_json(
            report, visibility=args.visibility or "visible", execution_time=seconds
        )
        write_results(results, args.gradescope)
        print(f"Gradescope results written to {args.gradescope}")
    return 0


def _hint_paths(paths: list[str]) -> list[str]:
    """PATHs for --hint: exercise ids like ex04 become their files."""
    found = []
    for raw in paths:
        if not Path(raw).exists() and re.fullmatch(r"(ex)?\d{1,2}", raw.strip()):
            found.append(str(find_exercise(raw)))
        else:
            found.append(raw)
    return found


def _main_hint(args) -> int:
    from vaelab.grading.output import hints

    try:
        paths = _hint_paths(args.paths) if args.paths else _default_paths()
    except FileNotFoundError as e:
        raise UsageError(str(e)) from None
    if not paths:
        raise UsageError("--hint: no exercises/ folder here; give the exercise file")
    if args.reset_hints:
        try:
            items = _expand(paths)
        except FileNotFoundError as e:
            raise UsageError(str(e)) from None
        for path, exercise, _ in items:
            if exercise:
                hints.reset(path)
                print(f"{exercise}: the hints start over.")
        return 0
    try:
        report = grade_paths(
            paths, timeout=args.timeout, parallel=args.jobs, memory_gb=args.memory, seed=args.seed
        )
    except FileNotFoundError as e:
        raise UsageError(str(e)) from None
    entries = [e for e in report.exercises if e.checks or e.error]
    entries = [e for e in entries if e.key in EXERCISES]
    if not entries:
        raise UsageError(f"--hint: no exercise files (exNN_*.py) in {', '.join(paths)}")
    started = [e for e in entries if not e.untouched]
    failing = [e for e in started if e.error or not all(c.passed for c in e.checks)]
    entry = (failing or started or entries)[0] if len(entries) > 1 else entries[0]
    shown = _shown_path(entry.path)
    print(_hint_text(entry, entry.key, f"vaelab grade --hint {shown}"))
    return 0


def _shown_path(path: str) -> str:
    """``path`` relative to the current folder when it lies inside it (shorter to type)."""
    try:
        return Path(path).resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return str(path)


def _usage_problem(args) -> str | None:
    """What is wrong with this combination of options, in words; None if nothing."""
    if args.reset_hints and not args.hint:
        return "--reset-hints starts the hints of --hint over; give --hint too"
    if args.hint and (args.class_dir or args.summarize or args.gradescope or args.exercises):
        return (
            "--hint gives one hint for your own exercise files; not with --class, "
            "--summarize, --gradescope or --exercises"
        )
    if args.class_dir and args.paths:
        return "give either PATHs or --class DIR, not both"
    if args.summarize and (args.paths or args.class_dir):
        return "--summarize DIR reads Gradescope results; give no PATHs or --class with it"
    if args.visibility and not args.gradescope:
        return "--visibility sets the tests' visibility in --gradescope FILE; give that too"
    if args.gradescope and (args.class_dir or args.summarize):
        return "--gradescope writes one submission's results; not with --class or --summarize"
    if args.exercises:
        if args.class_dir or args.summarize:
            return "--exercises grades one submission folder; not with --class or --summarize"
        if len(args.paths) != 1 or not Path(args.paths[0]).is_dir():
            return "--exercises needs the one submission folder to search, e.g. PATH=submission/"
        try:
            parse_exercises(args.exercises)
        except ValueError as e:
            return f"--exercises: {e}"
    return None


def _default_paths() -> list[str]:
    """What ``vaelab grade`` grades without PATHs: the exercise files in the current folder
    when it holds any (run from inside exercises/), else ``exercises/``; [] if neither."""
    if exercise_files(Path.cwd()):
        return ["."]
    return ["exercises"] if Path("exercises").is_dir() else []


def _main_class(args) -> int:
    json_path = Path(args.json) if args.json else Path("gradebook.json")
    csv_path = json_path.with_suffix(".csv")
    summary_json = json_path.with_name("summary.json")
    summary_csv = json_path.with_name("summary.csv")
    if summary_json in (json_path, csv_path):
        raise UsageError(
            f"{summary_json} is where the class summary goes; give the gradebook another "
            "name with --json"
        )
    note = isolation_note()
    if note:
        print(note, file=sys.stderr)
    try:
        book = grade_class(
            args.class_dir,
            timeout=args.timeout,
            parallel=args.jobs,
            memory_gb=args.memory,
            seed=args.seed,
        )
    except FileNotFoundError as e:
        raise UsageError(str(e)) from None
    if not book.learners:
        raise UsageError(f"no learner folders in {args.class_dir}")
    json_path.parent.mkdir(parents=True, exist_ok=True)
    write_gradebook(book, json_path, csv_path)
    summary = class_summary(book)
    class_summaries.write_summary(summary, summary_json, summary_csv)
    print(format_gradebook(book))
    print()
    print(class_summaries.format_summary(summary))
    print()
    print(f"(inputs drawn from seed {book.seed}; --seed {book.seed} repeats them)")
    print(f"gradebook written to {json_path} and {csv_path}")
    print(f"summary written to {summary_json} and {summary_csv}")
    return 0


def _main_summarize(args) -> int:
    try:
        outcomes, learners, skipped = class_summaries.outcomes_from_gradescope(args.summarize)
    except (RuntimeError, FileNotFoundError) as e:  # PyYAML missing; no such folder
        raise UsageError(str(e)) from None
    for note in skipped:
        print(f"vaelab grade: skipped {note}", file=sys.stderr)
    if not learners:
        raise UsageError(
            f"no Gradescope results in {args.summarize} (looked for "
            "submission_metadata.yml and results.json files)"
        )
    summary = class_summaries.summarize(outcomes, learners)
    json_path = Path(args.json) if args.json else Path("summary.json")
    csv_path = json_path.with_suffix(".csv")
    json_path.parent.mkdir(parents=True, exist_ok=True)
    class_summaries.write_summary(summary, json_path, csv_path)
    print(class_summaries.format_summary(summary))
    print()
    print(f"summary written to {json_path} and {csv_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
