"""Grading a class: ``vaelab grade --class`` on 20 learners x 4 exercises, with its summary.

The class is built in a temporary folder from the test suite's reference solutions and
known mistakes (``tests/grading``): for exercises ex03, ex04, ex06 and ex07, each learner
hands in the reference, one of the known mistakes, the untouched stub, or nothing, in a
fixed pattern. The command line runs in this process, as an instructor would run it; the
run prints the gradebook, the summary of what the class got wrong, and the times: the
whole command, and the summary alone. Target: the whole run under 10 s on 2 cores (it
took about 6 s before the summary existed; the summary itself should cost milliseconds).

Run: ``.venv/bin/python benchmarks/grade_class.py [--learners 20] [--keep DIR]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from grading.mutants import MUTANTS  # noqa: E402
from grading.solutions import NAMES, source  # noqa: E402

from vaelab import grade  # noqa: E402

EXERCISES = ["ex03", "ex04", "ex06", "ex07"]
TARGET_SECONDS = 10.0


def build_class(folder: Path, num_learners: int) -> None:
    """Learner i: for each exercise, the reference, a known mistake, the stub or nothing."""
    mistakes = {e: [s for m, _, s, _ in MUTANTS if m == e] for e in EXERCISES}
    for i in range(num_learners):
        learner = folder / f"learner{i + 1:02d}"
        learner.mkdir(parents=True)
        for j, exercise in enumerate(EXERCISES):
            kind = (i + j) % 5
            name = f"{NAMES[exercise]}.py"
            if kind in (0, 1):
                text = source(exercise)
            elif kind in (2, 3):  # mistakes, the first few more often, as in a real class
                wrong = mistakes[exercise][(i * 3 + j) % min(4, len(mistakes[exercise]))]
                text = source(exercise) + "\n\n" + wrong
            elif i % 2:
                text = (REPO / "exercises" / name).read_text()
            else:
                continue  # not handed in
            (learner / name).write_text(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=20)
    parser.add_argument("--keep", help="keep the class and its gradebook in this folder")
    args = parser.parse_args()
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="vaelab-class-"))
    if work.exists() and args.keep:
        shutil.rmtree(work)
    build_class(work / "class", args.learners)
    book = work / "gradebook.json"
    load = os.getloadavg()
    start, cpu = time.perf_counter(), time.process_time()
    code = grade.main(["--class", str(work / "class"), "--json", str(book)])
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    start = time.perf_counter()
    grade.class_summary(grade.Gradebook.from_json(json.loads(book.read_text())))
    summary_ms = (time.perf_counter() - start) * 1000
    files = len(list((work / "class").rglob("*.py")))
    print(
        f"\n{args.learners} learners x {len(EXERCISES)} exercises ({files} files): "
        f"{seconds:.1f} s wall for the whole command, {cpu:.1f} s CPU in this process "
        f"(the grading processes not counted), summary alone {summary_ms:.1f} ms; "
        f"load average before {load[0]:.2f} on {os.cpu_count()} CPUs"
    )
    if not args.keep:
        shutil.rmtree(work)
    ok = code == 0 and seconds < TARGET_SECONDS
    print(f"target: under {TARGET_SECONDS:g} s - {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
