"""What the operating system's walls cost: class grading in sandboxes, and a cold grade.

1. A class (``benchmarks/grade_class.py``'s: reference solutions, known mistakes, stubs and
   missing files for ex03, ex04, ex06, ex07) graded with ``grade_class``, once with every
   file in a sandbox of its own (``isolate=True``, what ``vaelab grade --class`` does) and
   once forked from the grader as in self-grading (``isolate=False``), for comparison.
   Printed: wall seconds, seconds per exercise per learner, and CPU seconds (this process
   and the processes it waited for). Target: at most 0.5 s per exercise per learner in
   sandboxes.
2. One cold ``vaelab grade FILE`` (a new process, the self-grading path) and one cold
   ``vaelab grade FILE --gradescope OUT`` (a stranger's file: a sandbox), each a new Python
   process timed from outside. Target: the first under 5 s.

On a busy machine every figure is "under load": the load average is printed with them.

Run: ``.venv/bin/python benchmarks/grade_isolation.py [--learners 20]``.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "benchmarks"))

from grade_class import EXERCISES, build_class  # noqa: E402
from grading.solutions import source  # noqa: E402

from vaelab import grade  # noqa: E402
from vaelab.grading.runtime import isolation  # noqa: E402

PER_EXERCISE_TARGET = 0.5
COLD_TARGET = 5.0


def _cpu() -> float:
    me = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


def class_run(folder: Path, isolate: bool) -> tuple[float, float, int]:
    files = len(list(folder.rglob("*.py")))
    start, cpu = time.perf_counter(), _cpu()
    book = grade.grade_class(folder, isolate=isolate)
    seconds, cpu = time.perf_counter() - start, _cpu() - cpu
    assert len(book.learners) > 0
    return seconds, cpu, files


def cold(args: list[str], cwd: Path) -> tuple[float, float]:
    start = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(done.stdout + done.stderr)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return seconds, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=20)
    args = parser.parse_args()
    why = isolation.unavailable()
    print(f"sandbox: {'available' if why is None else 'NOT available: ' + why}")
    work = Path(tempfile.mkdtemp(prefix="vaelab-isolation-"))
    ok = True
    try:
        build_class(work / "class", args.learners)
        graded = len(list((work / "class").rglob("*.py")))
        per = args.learners * len(EXERCISES)
        for isolate in (True, False):
            load = os.getloadavg()[0]
            seconds, cpu, files = class_run(work / "class", isolate)
            each = seconds / per
            label = "in sandboxes" if isolate else "forked (self-grading path)"
            print(
                f"class, {args.learners} learners x {len(EXERCISES)} exercises ({files} files "
                f"graded), {label}: {seconds:.1f} s wall, {each:.2f} s per exercise per "
                f"learner, {cpu:.1f} s CPU (this process and the processes it waited for); "
                f"load average {load:.1f} on {os.cpu_count()} CPUs"
            )
            if isolate:
                ok = ok and each <= PER_EXERCISE_TARGET
        assert graded
        file = work / "ex03_reparameterize.py"
        file.write_text(source("ex03"))
        vaelab = [str(Path(sys.executable).parent / "vaelab"), "grade"]
        for label, extra in (("", []), (" --gradescope", ["--gradescope", "out.json"])):
            load = os.getloadavg()[0]
            seconds, cpu = cold([*vaelab, str(file), *extra], work)
            print(
                f"cold `vaelab grade FILE{label}`: {seconds:.1f} s wall, {cpu:.1f} s CPU "
                f"(its process and those it waited for); load average {load:.1f}"
            )
            if not extra:
                ok = ok and seconds < COLD_TARGET
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(
        f"targets: class in sandboxes <= {PER_EXERCISE_TARGET:g} s per exercise per learner, "
        f"cold grade < {COLD_TARGET:g} s - {'met' if ok else 'NOT met'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
