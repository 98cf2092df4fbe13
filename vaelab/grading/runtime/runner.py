"""Which checks an exercise has, and running them on a learner's file.

The checks of exercise NN live in ``vaelab.grading.checks.exNN``; this module loads that module
by name when it is asked for them, so no exercise module imports it (no import circles).
Each file is graded in a grader process (``vaelab.grading.runtime.jobs`` starts them) that drives
the file's own learner process (``vaelab.grading.runtime.sandbox``); the checks, their
comparisons and their feedback run here, in the grader process.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

from vaelab.grading import new_seed
from vaelab.grading.checks import checks_for, protected_for
from vaelab.grading.checks.toolkit import (
    Check,
    Draw,
    Learner,
    Mistake,
    hint_for,
    out_of_memory,
    reference_name,
    shorten,
)
from vaelab.grading.runtime import child, wire
from vaelab.grading.runtime.sandbox import RemoteLearner, Stopped, read_output


@contextlib.contextmanager
def one_torch_thread() -> Iterator[None]:
    """Run torch on one thread meanwhile: the checks' tensors are tiny, and a pool of threads
    costs far more than it saves on them (ten times more on a busy 2-core machine)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


# ---------------------------------------------------------------- running checks


class LocalTransport:
    """Runs requests in this process, on a module imported here (tests of the checks only:
    nothing is switched off and nothing is isolated). Replies go through the same plain
    data as from a learner's process."""

    def __init__(self, module: ModuleType):
        self.module = module

    def call(self, request: dict) -> tuple:
        reply = child.handle(self.module, wire.unpack(wire.pack(request)))
        try:
            return wire.loads(wire.dumps(reply)), []
        except wire.WireError as e:
            return wire.Unreadable(str(e)), []


def local_learner(module: ModuleType) -> Learner:
    """A ``Learner`` on a module imported in this process (for tests of the checks)."""
    return Learner(LocalTransport(module), child.names_of(module))


def run_check(item: Check, learner: Learner | ModuleType, seed: int | None = None) -> dict:
    """Run one check: a result dict with name, points, max_points, passed, feedback.

    Args:
        item: the check.
        learner: the learner's file (a ``Learner``, or a module imported in this process).
        seed: the run's seed for the inputs; None draws a fresh one.
    """
    if isinstance(learner, ModuleType):
        with one_torch_thread():
            return run_check(item, local_learner(learner), seed)
    learner.draw = Draw(new_seed() if seed is None else seed, f"{item.exercise}/{item.name}")
    learner.used = set()
    try:
        note = item.run(learner, learner.draw)
        passed, feedback = True, note if isinstance(note, str) else "ok"
    except Stopped:
        raise
    except Mistake as e:
        passed, feedback = False, str(e)
    except Exception as e:  # an output so odd that checking it failed
        passed = False
        feedback = f"could not check the result ({type(e).__name__}: {shorten(str(e), 200)})."
    return {
        "name": item.name,
        "points": item.points if passed else 0.0,
        "max_points": item.points,
        "passed": passed,
        "feedback": feedback,
    }


def _failed(item: Check, feedback: str) -> dict:
    return {
        "name": item.name,
        "points": 0.0,
        "max_points": item.points,
        "passed": False,
        "feedback": feedback,
    }


def import_feedback(path: Path, error: dict, events: list, memory_gb: float | None) -> str:
    """Why the learner's file could not be imported, in words."""
    kind = error.get("kind")
    if kind == "unreadable":
        return f"{path.name} cannot be imported as a Python file."
    if kind == "syntax":
        return (
            f"{path.name} has a syntax error on line {error.get('line')}: {error.get('message')}. "
            "Fix it and grade again."
        )
    if kind == "exit":
        return f"{path.name} called sys.exit({error.get('code')}) while being imported."
    where = f" (line {error['line']})" if error.get("line") else ""
    if events:
        return f"importing {path.name} failed{where}: " + _import_event(events[0])
    text = str(error.get("message", ""))
    memory = out_of_memory(error.get("kind", ""), text, memory_gb)
    if memory:
        return f"importing {path.name}{where} {memory}"
    return (
        f"importing {path.name} failed{where}: {error.get('type')}: {shorten(text)}{hint_for(text)}"
    )


def _import_event(event) -> str:
    if event.kind == "reference":
        return (
            f"it calls vaelab's own `{reference_name(event.detail)}`, which is switched off "
            "while your file is graded: write the exercise's functions yourself."
        )
    return f"your code {event.detail}, which grading does not allow."


def run_exercise(
    exercise: str,
    path: Path,
    *,
    seed: int | Callable[[], int],
    timeout: float,
    memory_gb: float | None,
    output_path: Path,
    fork: bool = False,
) -> dict:
    """Grade one file in a learner process of its own: the exercise's report entry.

    A crash, a time-out or nonsense from the learner's process ends the grading of the
    file; the checks not run yet fail with the reason, so every check is in the entry.

    Args:
        seed: the run's seed, or a function that gives it once the learner's process runs.
        fork: fork the learner's process from this one (a grader process) rather than
            take it from the forkserver.
    """
    start = time.monotonic()
    items = checks_for(exercise)
    results: dict[str, dict] = {}
    used: dict[str, set[str]] = {}
    error, current, learner = None, None, None
    remote = RemoteLearner(
        path,
        protected=protected_for(exercise),
        timeout=timeout,
        memory_gb=memory_gb,
        output_path=output_path,
        fork=fork,
    )
    seed = seed() if callable(seed) else seed
    try:
        hello = remote.hello()
        if hello.import_error is not None:
            error = import_feedback(path, hello.import_error, hello.events, memory_gb)
        elif hello.events:  # the import worked, after trying something it may not
            feedback = "while your file is imported, " + _import_event(hello.events[0])
            results = {item.name: _failed(item, feedback) for item in items}
        else:
            learner = Learner(remote, hello.names, memory_gb)
            for item in items:
                current = item.name
                results[item.name] = run_check(item, learner, seed)
                used[item.name] = learner.used
            current = None
    except Stopped as e:
        error = str(e) + (f" (during the check '{current}')" if current else "")
    finally:
        remote.close()
    if learner is not None:  # a function that called a reference fails all its checks
        for item in items:
            names = sorted(used.get(item.name, set()) & set(learner.caught))
            caught = [learner.caught[name][0] for name in names]
            if caught and item.name in results:
                results[item.name] = _failed(item, caught[0])
    checks = [results.get(item.name) or _failed(item, f"not graded: {error}") for item in items]
    return {
        "exercise": path.stem,
        "path": str(path),
        "points": round(sum(c["points"] for c in checks), 6),
        "max_points": round(sum(c["max_points"] for c in checks), 6),
        "error": error,
        "checks": checks,
        "output": read_output(output_path),
        "seconds": round(time.monotonic() - start, 2),
        "seed": seed,
    }


def serve_jobs(conn) -> None:
    """A grader worker's loop (see ``vaelab.grading.runtime.jobs``): grade each file sent on
    ``conn``, send back its entry. The learner's process is forked before any check of
    its file runs and before the run's seed arrives, and the previous file's entry is
    dropped first, so it inherits neither the seed nor another learner's results."""
    import torch

    torch.set_num_threads(1)  # the checks' tensors are tiny: one thread is fastest
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        exercise, path, timeout, memory_gb, output_path = job
        received: list[int] = []  # the run's seed, once read
        try:
            entry = run_exercise(
                exercise,
                Path(path),
                seed=lambda received=received: received.append(conn.recv()) or received[-1],
                timeout=timeout,
                memory_gb=memory_gb,
                output_path=Path(output_path),
                fork=True,
            )
        except Exception as e:  # a bug of the grader's: say so, and go on
            if not received:
                conn.recv()  # the run's seed, still waiting
            entry = {
                "exercise": Path(path).stem,
                "path": path,
                "points": 0.0,
                "max_points": 0.0,
                "error": f"the grader failed: {type(e).__name__}: {shorten(str(e), 200)}",
                "checks": [],
                "output": "",
                "seconds": 0.0,
                "seed": None,
            }
        conn.send(entry)
        del job, entry, received
