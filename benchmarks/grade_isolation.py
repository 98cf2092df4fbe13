"""What the operating system's walls cost: class grading in sandboxes, and a cold grade.

1. A class (``benchmarks/grade_class.py``'s: reference solutions, known mistakes, stubs and
   missing files for ex03, ex04, ex06, ex07) graded with ``grade_class``, once with every
   file in a sandbox of its own (``isolate=True``, what ``vaelab grade --class`` does) and
   once forked from the grader as in self-grading (``isolate=False``), for comparison.
   Printed: wall seconds, seconds per exercise per learner, and the CPU seconds of every
   process of the run (sampled from /proc), which on a loaded machine say what the run
   would take on two idle cores. Target: at most 0.5 s per exercise per learner in
   sandboxes.
2. One cold ``vaelab grade FILE`` (a new process, the self-grading path) and one cold
   ``vaelab grade FILE --gradescope OUT`` (a stranger's file: a sandbox), each a new Python
   process timed from outside. Target: the first under 5 s.

On a busy machine every wall figure is "under load": the load average is printed with
them, and the targets are judged on the CPU figures there.

Run: ``.venv/bin/python benchmarks/grade_isolation.py [--learners 20]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
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


TICK = os.sysconf("SC_CLK_TCK")


class TreeCPU:
    """CPU seconds of this process and every process descending from it (the forkserver,
    grader workers, zygotes, sandboxes, learners' processes), sampled from /proc every
    20 ms while it runs: what the work cost, whatever else loads the machine."""

    def __init__(self):
        self.seen: dict[tuple[int, int], float] = {}  # (pid, start time) -> CPU seconds
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        stats = {}
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                with open(f"/proc/{name}/stat", "rb") as f:
                    fields = f.read().rpartition(b")")[2].split()
            except OSError:
                continue
            # after the name: state, ppid, ..., utime (12th), stime (13th), starttime (20th)
            stats[int(name)] = (int(fields[1]), int(fields[11]) + int(fields[12]), int(fields[19]))
        mine, frontier = {os.getpid()}, {os.getpid()}
        while frontier:
            frontier = {pid for pid, (parent, *_) in stats.items() if parent in frontier} - mine
            mine |= frontier
        for pid in mine:
            _, ticks, started = stats[pid]
            self.seen[(pid, started)] = max(self.seen.get((pid, started), 0.0), ticks / TICK)

    def _run(self) -> None:
        while not self.stop.is_set():
            self._sample()
            time.sleep(0.02)

    def __enter__(self):
        self._sample()
        self.before = sum(self.seen.values())
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()
        self.seconds = sum(self.seen.values()) - self.before


def class_run(folder: Path, isolate: bool) -> tuple[float, float, int]:
    files = len(list(folder.rglob("*.py")))
    start = time.perf_counter()
    with TreeCPU() as cpu:
        book = grade.grade_class(folder, isolate=isolate)
    seconds = time.perf_counter() - start
    assert len(book.learners) > 0
    return seconds, cpu.seconds, files


def cold(args: list[str], cwd: Path) -> tuple[float, float]:
    start = time.perf_counter()
    with TreeCPU() as cpu:
        done = subprocess.run(args, cwd=cwd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(done.stdout + done.stderr)
    return seconds, cpu.seconds


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
            quiet = cpu / per / min(2, os.cpu_count() or 1)
            print(
                f"class, {args.learners} learners x {len(EXERCISES)} exercises ({files} files "
                f"graded), {label}: {seconds:.1f} s wall, {each:.2f} s per exercise per "
                f"learner; {cpu:.1f} s CPU in all its processes (sampled), "
                f"{cpu / per:.2f} s CPU per exercise per learner, so about {quiet:.2f} s per "
                f"exercise per learner on 2 idle cores; load average {load:.1f} on "
                f"{os.cpu_count()} CPUs"
            )
            if isolate:
                ok = ok and min(each, quiet) <= PER_EXERCISE_TARGET
        assert graded
        file = work / "ex03_reparameterize.py"
        file.write_text(source("ex03"))
        vaelab = [str(Path(sys.executable).parent / "vaelab"), "grade"]
        for label, extra in (("", []), (" --gradescope", ["--gradescope", "out.json"])):
            load = os.getloadavg()[0]
            seconds, cpu = cold([*vaelab, str(file), *extra], work)
            print(
                f"cold `vaelab grade FILE{label}`: {seconds:.1f} s wall, {cpu:.1f} s CPU in all "
                f"its processes (sampled); load average {load:.1f}"
            )
            if not extra:
                ok = ok and min(seconds, cpu) < COLD_TARGET
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(
        f"targets: class in sandboxes <= {PER_EXERCISE_TARGET:g} s per exercise per learner, "
        f"cold grade < {COLD_TARGET:g} s - {'met' if ok else 'NOT met'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
