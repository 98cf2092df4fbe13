"""Running an exercise's checks on a learner's file, in a grader worker.

The checks of exercise NN are ``vaelab.grading.checks.exNN``'s (``checks_for`` loads them by
name). Each file is graded in a grader process (``vaelab.grading.runtime.jobs`` starts
them) that drives the file's own learner process (``vaelab.grading.runtime.sandbox``); the
checks, their comparisons and their feedback run here, in the grader process, and what
happened becomes typed records (``vaelab.grading.records``).
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
from vaelab.grading.records import CheckResult, ExerciseResult, Status
from vaelab.grading.runtime import child, wire
from vaelab.grading.runtime.sandbox import RemoteLearner, Sandbox, Stopped, read_output


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


def run_check(item: Check, learner: Learner | ModuleType, seed: int | None = None) -> CheckResult:
    """Run one check and say what happened: passed, failed (a ``Mistake``), or not started
    (it failed because a function it grades raised NotImplementedError).

    Args:
        item: the check.
        learner: the learner's file (a ``Learner``, or a module imported in this process).
        seed: the run's seed for the inputs; None draws a fresh one. The inputs are drawn
            from it and the check's id.
    """
    if isinstance(learner, ModuleType):
        with one_torch_thread():
            return run_check(item, local_learner(learner), seed)
    learner.draw = Draw(new_seed() if seed is None else seed, item.id)
    learner.used, learner.not_started = set(), set()
    try:
        note = item.run(learner, learner.draw)
    except Stopped:
        raise
    except Mistake as e:
        return CheckResult.unscored(item, _failure(item, learner), str(e))
    except Exception as e:  # an output so odd that checking it failed
        feedback = f"could not check the result ({type(e).__name__}: {shorten(str(e), 200)})."
        return CheckResult.unscored(item, _failure(item, learner), feedback)
    return CheckResult(
        id=item.id,
        name=item.name,
        status=Status.PASSED,
        points=item.points,
        max_points=item.points,
        feedback=note if isinstance(note, str) else "ok",
        functions=item.functions,
        stretch=item.stretch,
        stand_in=tuple(sorted(learner.stood_in)),
    )


def _failure(item: Check, learner: Learner) -> Status:
    """Not started when a function the check grades raised NotImplementedError, else failed."""
    return Status.NOT_STARTED if learner.not_started & set(item.functions) else Status.FAILED


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
    sandbox: Sandbox | None = None,
    drop_to: tuple[int, int] | None = None,
) -> ExerciseResult:
    """Grade one file in a learner process of its own: the exercise's result.

    A crash, a time-out or nonsense from the learner's process ends the grading of the
    file; the checks not run yet are "not graded", with the reason, so every check is in
    the result.

    Args:
        seed: the run's seed, or a function that gives it once the learner's process runs.
        fork: fork the learner's process from this one (a grader process) rather than
            take it from the forkserver.
        sandbox: run the learner's process in a sandbox of its own instead
            (``vaelab.grading.runtime.isolation``).
        drop_to: without a sandbox, the (uid, gid) the learner's process becomes.
    """
    start = time.monotonic()
    items = checks_for(exercise)
    results: dict[str, CheckResult] = {}  # by check id
    used: dict[str, set[str]] = {}
    error, current, learner = None, None, None
    remote = RemoteLearner(
        path,
        protected=protected_for(exercise),
        timeout=timeout,
        memory_gb=memory_gb,
        output_path=output_path,
        fork=fork,
        sandbox=sandbox,
        drop_to=drop_to,
    )
    seed = seed() if callable(seed) else seed
    try:
        hello = remote.hello()
        if hello.import_error is not None:
            error = import_feedback(path, hello.import_error, hello.events, memory_gb)
        elif hello.events:  # the import worked, after trying something it may not
            feedback = "while your file is imported, " + _import_event(hello.events[0])
            results = {
                item.id: CheckResult.unscored(item, Status.FAILED, feedback) for item in items
            }
        else:
            learner = Learner(remote, hello.names, memory_gb)
            for item in items:
                current = item.name
                results[item.id] = run_check(item, learner, seed)
                used[item.id] = learner.used
            current = None
    except Stopped as e:
        error = str(e) + (f" (during the check '{current}')" if current else "")
    finally:
        remote.close()
    if learner is not None:  # a function that called a reference fails all its checks
        for item in items:
            names = sorted(used.get(item.id, set()) & set(learner.caught))
            caught = [learner.caught[name][0] for name in names]
            if caught and item.id in results:
                results[item.id] = CheckResult.unscored(item, Status.FAILED, caught[0])
    not_graded = f"not graded: {error}"
    return ExerciseResult(
        exercise=path.stem,
        path=str(path),
        checks=[
            results.get(item.id) or CheckResult.unscored(item, Status.NOT_GRADED, not_graded)
            for item in items
        ],
        error=error,
        output=read_output(output_path),
        seconds=round(time.monotonic() - start, 2),
        seed=seed,
    )


def serve_jobs(conn, sandboxed: bool = False) -> None:
    """A grader worker's loop (see ``vaelab.grading.runtime.jobs``): grade each file sent on
    ``conn``, send back its ``ExerciseResult``. The learner's process is forked before any check of
    its file runs and before the run's seed arrives, and the previous file's entry is
    dropped first, so it inherits neither the seed nor another learner's results.

    ``sandboxed``: the files come with a run folder and are graded in sandboxes; the
    zygote that forks their processes is started at once, to import torch meanwhile."""
    import torch

    torch.set_num_threads(1)  # the checks' tensors are tiny: one thread is fastest
    zygote = None
    if sandboxed:
        from vaelab.grading.runtime import isolation

        zygote = isolation.Zygote()
    try:
        while True:
            try:
                job = conn.recv()
            except (EOFError, OSError):
                return
            if job is None:
                return
            zygote = _serve_job(conn, job, zygote)
    finally:
        if zygote is not None:
            zygote.stop()


def _serve_job(conn, job, zygote):
    """Grade one job of ``serve_jobs``; the zygote, started on the first sandboxed job."""
    exercise, path, timeout, memory_gb, output_path, run_dir, drop_to = job
    received: list[int] = []  # the run's seed, once read
    try:
        sandbox = None
        if run_dir is not None:  # a sandbox of its own (see jobs.run_jobs)
            from vaelab.grading.runtime import isolation

            if zygote is None or not zygote.alive():
                zygote = isolation.Zygote()
            tree = isolation.tree_for(exercise, protected_for(exercise), Path(run_dir))
            sandbox = Sandbox(zygote, tree, Path(path).parent)
        entry = run_exercise(
            exercise,
            Path(path),
            seed=lambda received=received: received.append(conn.recv()) or received[-1],
            timeout=timeout,
            memory_gb=memory_gb,
            output_path=Path(output_path),
            fork=True,
            sandbox=sandbox,
            drop_to=drop_to,
        )
    except Exception as e:  # a bug of the grader's: say so, and go on
        if not received:
            conn.recv()  # the run's seed, still waiting
        entry = ExerciseResult(
            exercise=Path(path).stem,
            path=path,
            error=f"the grader failed: {type(e).__name__}: {shorten(str(e), 200)}",
        )
    conn.send(entry)
    return zygote
