"""Which checks an exercise has, and running them on a learner's file.

The checks of exercise NN live in ``vaelab.grading.exNN``; this module loads that module
by name when it is asked for them, so no exercise module imports it (no import circles).
Each file is graded by a thread of the grading process that drives the file's own
learner process (``vaelab.grading.sandbox``); the checks, their comparisons and their
feedback run here, in the grading process.
"""

from __future__ import annotations

import contextlib
import importlib
import secrets
import tempfile
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from vaelab.grading import child, wire
from vaelab.grading.sandbox import RemoteLearner, Stopped, read_output
from vaelab.grading.toolkit import (
    Check,
    Draw,
    Learner,
    Mistake,
    hint_for,
    out_of_memory,
    reference_name,
    shorten,
)

EXERCISES = {
    "ex01": "ex01_autoencoder",
    "ex02": "ex02_gaussian_encoder",
    "ex03": "ex03_reparameterize",
    "ex04": "ex04_elbo",
    "ex05": "ex05_sampling",
    "ex06": "ex06_posterior_collapse",
    "ex07": "ex07_evaluation",
    "ex08": "ex08_anomaly",
}


def _module(exercise: str) -> ModuleType:
    if exercise not in EXERCISES:
        raise KeyError(f"no checks for {exercise!r}; known: {sorted(EXERCISES)}")
    return importlib.import_module(f"vaelab.grading.{exercise}")


def checks_for(exercise: str) -> list[Check]:
    """The checks of one exercise, in order ("ex03" -> [Check, ...])."""
    return list(_module(exercise).checks)


def protected_for(exercise: str) -> list[str]:
    """The vaelab functions switched off while ``exercise`` is graded ("losses.kl_divergence")."""
    return list(_module(exercise).PROTECTED)


def new_seed() -> int:
    """A fresh seed for a grading run's inputs."""
    return secrets.randbelow(2**31)


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
    seed: int,
    timeout: float,
    memory_gb: float | None,
    output_path: Path,
) -> dict:
    """Grade one file in a learner process of its own: the exercise's report entry.

    A crash, a time-out or nonsense from the learner's process ends the grading of the
    file; the checks not run yet fail with the reason, so every check is in the entry.
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
    )
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


@dataclass
class Job:
    """One file to grade as one exercise ("ex03")."""

    path: Path
    exercise: str


def run_jobs(
    jobs: Sequence[Job],
    *,
    timeout: float = 60.0,
    parallel: int = 2,
    memory_gb: float | None = None,
    seed: int | None = None,
) -> list[dict]:
    """Grade each job in a learner process of its own, ``parallel`` at a time; reports in
    job order. All jobs share the run's seed (None draws one)."""
    seed = new_seed() if seed is None else seed
    with (
        one_torch_thread(),
        tempfile.TemporaryDirectory(prefix="vaelab-grade-") as tmp,
        ThreadPoolExecutor(max_workers=max(1, parallel)) as pool,
    ):
        futures = [
            pool.submit(
                run_exercise,
                job.exercise,
                job.path,
                seed=seed,
                timeout=timeout,
                memory_gb=memory_gb,
                output_path=Path(tmp, f"{index}.out"),
            )
            for index, job in enumerate(jobs)
        ]
        return [future.result() for future in futures]
