"""Grading many files at once, from the process that asked (a terminal, a notebook).

The files are graded by grader workers, one per file graded at the same time, started
from a forkserver that has torch, vaelab and the checks imported already. For each file a
worker forks the learner's process, then runs the checks
(``vaelab.grading.runtime.runner.serve_jobs``). So the asking process never imports torch for
grading (a cold ``vaelab grade`` pays for one torch import, in the forkserver), each file
costs one fork as before, and a class's files are checked on every core. This module
imports nothing heavy.
"""

from __future__ import annotations

import multiprocessing
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import wait
from pathlib import Path

from vaelab.grading import new_seed
from vaelab.grading.records import ExerciseResult
from vaelab.grading.runtime.processes import start_forkserver

SPARE_SECONDS = 30.0  # a worker stops its learner at the time limit; this is a backstop


@dataclass
class Job:
    """One file to grade as one exercise ("ex03")."""

    path: Path
    exercise: str


def _context():
    if "forkserver" in multiprocessing.get_all_start_methods():
        start_forkserver()
        return multiprocessing.get_context("forkserver")
    return multiprocessing.get_context("spawn")


def _work(conn) -> None:
    """A grader worker: grade the files sent on ``conn`` until told to stop."""
    from vaelab.grading.runtime import runner

    runner.serve_jobs(conn)


class _Worker:
    def __init__(self, ctx):
        self.conn, there = ctx.Pipe()
        # not a daemon: it starts processes of its own (the learners')
        self.process = ctx.Process(target=_work, args=(there,), daemon=False)
        self.process.start()
        there.close()

    def stop(self, *, kill: bool = False) -> None:
        if kill:
            self.process.kill()
        else:
            try:
                self.conn.send(None)
            except OSError:
                pass
        self.process.join(timeout=5.0)
        if self.process.exitcode is None:
            self.process.kill()
            self.process.join(timeout=5.0)
        self.conn.close()


def _failed_entry(job: Job, error: str, seconds: float, seed: int) -> ExerciseResult:
    return ExerciseResult(
        exercise=job.path.stem,
        path=str(job.path),
        error=error,
        seconds=round(seconds, 2),
        seed=seed,
    )


def run_jobs(
    jobs: Sequence[Job],
    *,
    timeout: float = 60.0,
    parallel: int = 2,
    memory_gb: float | None = None,
    seed: int | None = None,
) -> list[ExerciseResult]:
    """Grade each job in a learner process of its own, ``parallel`` at a time; results in
    job order. All jobs share the run's seed (None draws one)."""
    seed = new_seed() if seed is None else seed
    if not jobs:
        return []
    ctx = _context()
    entries: list[ExerciseResult | None] = [None] * len(jobs)
    waiting = list(enumerate(jobs))
    workers = [_Worker(ctx) for _ in range(max(1, min(parallel, len(jobs))))]
    idle, busy = list(workers), {}  # busy: connection -> (worker, index, job, start)
    try:
        with tempfile.TemporaryDirectory(prefix="vaelab-grade-") as tmp:
            while waiting or busy:
                while waiting and idle:
                    worker, (index, job) = idle.pop(), waiting.pop(0)
                    output = f"{tmp}/{index}.out"
                    worker.conn.send((job.exercise, str(job.path), timeout, memory_gb, output))
                    worker.conn.send(seed)  # read once the learner's process exists
                    busy[worker.conn] = (worker, index, job, time.monotonic())
                deadline = min(start for *_, start in busy.values()) + timeout + SPARE_SECONDS
                ready = wait(list(busy), timeout=max(0.0, deadline - time.monotonic()))
                now = time.monotonic()
                for conn in list(busy):
                    worker, index, job, start = busy[conn]
                    if conn in ready:
                        try:
                            entries[index] = conn.recv()
                            idle.append(worker)
                            del busy[conn]
                            continue
                        except (EOFError, OSError):
                            error = "the grader failed (its process ended)"
                    elif now >= start + timeout + SPARE_SECONDS:
                        error = "the grader did not finish"
                    else:
                        continue
                    entries[index] = _failed_entry(job, error, now - start, seed)
                    del busy[conn]
                    worker.stop(kill=True)
                    workers.remove(worker)
                    replacement = _Worker(ctx)
                    workers.append(replacement)
                    idle.append(replacement)
    finally:
        for worker in workers:
            worker.stop()
    return [entry for entry in entries if entry is not None]
