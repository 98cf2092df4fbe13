"""How fast the grader is: a class of 20 learners x 4 exercises, and one file at a time.

    python benchmarks/grade_speed.py [--learners 20] [--exercises ex03,ex04,ex05,ex07]

Every learner hands in the hand-written reference solutions (tests/grading/solutions.py),
so every check runs to the end. Prints wall and CPU seconds (this process and its
children) and the machine's load average.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def _forkserver_cpu() -> float:
    """CPU seconds of multiprocessing's forkserver and of the children it has reaped."""
    from multiprocessing import forkserver

    pid = getattr(forkserver._forkserver, "_forkserver_pid", None)
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, TypeError):
        return 0.0
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")  # utime..cstime


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime + _forkserver_cpu()


def timed(label: str, fn) -> object:
    wall, cpu = time.perf_counter(), _cpu()
    result = fn()
    print(
        f"{label:<44} {time.perf_counter() - wall:6.2f} s wall  {_cpu() - cpu:6.2f} s cpu  "
        f"(load {os.getloadavg()[0]:.2f})"
    )
    return result


def main() -> None:
    from grading.solutions import NAMES, source

    from vaelab import grade

    parser = argparse.ArgumentParser()
    parser.add_argument("--learners", type=int, default=20)
    parser.add_argument("--exercises", default="ex03,ex04,ex05,ex07")
    args = parser.parse_args()
    exercises = args.exercises.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        klass = Path(tmp, "class")
        for i in range(args.learners):
            folder = klass / f"learner{i:02d}"
            folder.mkdir(parents=True)
            for ex in exercises:
                (folder / f"{NAMES[ex]}.py").write_text(source(ex))
        timed(
            "warm-up (one file, starts the forkserver)",
            lambda: grade.grade_paths([klass / "learner00" / f"{NAMES[exercises[0]]}.py"]),
        )
        book = timed(
            f"grade_class: {args.learners} learners x {len(exercises)} exercises",
            lambda: grade.grade_class(klass),
        )
        full = sum(lr.points == lr.max_points for lr in book.learners)
        print(f"  {full} of {len(book.learners)} learners with full marks")
        for ex in NAMES:
            path = Path(tmp, "one", f"{NAMES[ex]}.py")
            path.parent.mkdir(exist_ok=True)
            path.write_text(source(ex))
            report = timed(
                f"grade_paths, one file: {NAMES[ex]}", lambda p=path: grade.grade_paths([p])
            )
            assert report.points == report.max_points, grade.format_table(report)


if __name__ == "__main__":
    main()
