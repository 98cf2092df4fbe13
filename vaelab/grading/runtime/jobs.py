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
import os
import shutil
import stat
import tempfile
import time
from collections.abc import Callable, Sequence
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


def _work(conn, sandboxed: bool = False) -> None:
    """A grader worker: grade the files sent on ``conn`` until told to stop."""
    from vaelab.grading.runtime import runner

    runner.serve_jobs(conn, sandboxed=sandboxed)


class _Worker:
    def __init__(self, ctx, sandboxed: bool = False):
        self.conn, there = ctx.Pipe()
        # not a daemon: it starts processes of its own (the learners')
        self.process = ctx.Process(target=_work, args=(there, sandboxed), daemon=False)
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


def private_copy(path: Path, folder: Path) -> Path:
    """Copy the learner's file ``path`` into ``folder`` (made), read once through a
    descriptor that follows no symbolic link; OSError (with the reason in words) for a
    symbolic link or anything but a regular file."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as e:
        if os.path.islink(path):
            raise OSError(f"{path.name} is a symbolic link: submit the file itself") from None
        raise OSError(f"{path.name} cannot be read ({e.strerror})") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{path.name} is not a regular file")
        folder.mkdir(parents=True, exist_ok=False)
        folder.parent.chmod(0o711)
        folder.chmod(0o755)
        target = folder / path.name
        with os.fdopen(os.dup(fd), "rb") as source, open(target, "xb") as copy:
            shutil.copyfileobj(source, copy)
        target.chmod(0o444)
        return target
    finally:
        os.close(fd)


def run_jobs(
    jobs: Sequence[Job],
    *,
    timeout: float = 60.0,
    parallel: int = 2,
    memory_gb: float | None = None,
    seed: int | None = None,
    isolate: bool = False,
    deadline: float | None = None,
    before: Callable[[], None] | None = None,
) -> list[ExerciseResult]:
    """Grade each job in a learner process of its own, ``parallel`` at a time; results in
    job order. All jobs share the run's seed (None draws one).

    With ``isolate`` (class and Gradescope grading), each file is first copied into a
    private folder of the run (a symbolic link or a non-regular file is refused, with the
    reason), and, where ``isolation.unavailable()`` is None, graded in a sandbox of its own
    that sees only that copy. ``deadline``: seconds the whole run may take; files not
    graded by then say so. ``before`` runs once the workers are starting, before any
    learner's code runs.
    """
    seed = new_seed() if seed is None else seed
    if not jobs:
        return []
    ctx = _context()
    entries: list[ExerciseResult | None] = [None] * len(jobs)
    waiting = list(enumerate(jobs))
    run_dir, drop_to, sweep_uid = None, None, None
    sandboxed = False
    if isolate:
        from vaelab.grading.runtime import isolation

        sandboxed = isolation.unavailable() is None
        user = None if sandboxed else isolation.fallback_user()
        if user is not None:
            drop_to = user[:2]
            sweep_uid = user[0] if user[2] else None
    workers = [_Worker(ctx, sandboxed) for _ in range(max(1, min(parallel, len(jobs))))]
    idle, busy = list(workers), {}  # busy: connection -> (worker, index, job, start)
    ends = None if deadline is None else time.monotonic() + deadline
    try:
        with tempfile.TemporaryDirectory(prefix="vaelab-grade-") as tmp:
            if sandboxed:
                run_dir = f"{tmp}/trees"
                os.mkdir(run_dir)
            if before is not None:
                before()
            if sandboxed:  # each exercise's vaelab for the sandboxes, built once, here
                from vaelab.grading.checks import protected_for

                for exercise in sorted({job.exercise for _, job in waiting}):
                    isolation.tree_for(exercise, protected_for(exercise), Path(run_dir))
            copies: dict[int, Path] = {}
            if isolate:  # searchable, not listable: a learner's user finds only its own copy
                os.chmod(tmp, 0o711)
                os.mkdir(f"{tmp}/files", 0o711)
            for index, job in list(waiting) if isolate else []:
                try:
                    folder = Path(tempfile.mkdtemp(dir=f"{tmp}/files")) / "submission"
                    copies[index] = private_copy(job.path, folder)
                except OSError as e:
                    entries[index] = _failed_entry(job, f"refused: {e}", 0.0, seed)
                    waiting.remove((index, job))
            while waiting or busy:
                if ends is not None and time.monotonic() >= ends:
                    for index, job in waiting:
                        entries[index] = _failed_entry(job, "the run's deadline passed", 0.0, seed)
                    waiting = []
                while waiting and idle:
                    worker, (index, job) = idle.pop(), waiting.pop(0)
                    output = f"{tmp}/{index}.out"
                    path = str(copies.get(index, job.path))
                    worker.conn.send(
                        (job.exercise, path, timeout, memory_gb, output, run_dir, drop_to)
                    )
                    worker.conn.send(seed)  # read once the learner's process exists
                    busy[worker.conn] = (worker, index, job, time.monotonic())
                if not busy:
                    continue
                deadline_now = min(start for *_, start in busy.values()) + timeout + SPARE_SECONDS
                if ends is not None:
                    deadline_now = min(deadline_now, ends)
                ready = wait(list(busy), timeout=max(0.0, deadline_now - time.monotonic()))
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
                    elif ends is not None and now >= ends:
                        error = "the run's deadline passed"
                    else:
                        continue
                    entries[index] = _failed_entry(job, error, now - start, seed)
                    del busy[conn]
                    worker.stop(kill=True)
                    workers.remove(worker)
                    replacement = _Worker(ctx, sandboxed)
                    workers.append(replacement)
                    idle.append(replacement)
    finally:
        for worker in workers:
            worker.stop()
        if sweep_uid is not None:  # whatever the learners' code left running
            isolation.sweep(sweep_uid)
    for index, entry in enumerate(entries):
        if entry is not None and index in copies:
            entry.path = str(jobs[index].path)  # the learner's file, not the private copy
    return [entry for entry in entries if entry is not None]
