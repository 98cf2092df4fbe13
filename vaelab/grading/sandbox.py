"""Grade each learner file in its own process, with a time limit and captured output.

The parent never imports learner code. Each grading process writes JSON lines to a file
the parent chose (a plan, then each check's start and result, then "done"), so nothing
the learner prints can pose as a result, and a process that dies still leaves the
results of the checks it finished. Processes come from a forkserver that has already
imported torch, so each starts in a few hundredths of a second instead of seconds.
"""

from __future__ import annotations

import io
import json
import multiprocessing
import os
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from multiprocessing.connection import wait
from pathlib import Path

OUTPUT_FILE_LIMIT = 32 * 2**20  # bytes C code may write to stdout/stderr (more fails the write)
PRINT_CAP = 2**20  # characters kept from Python's prints (the rest is counted, not kept)
OUTPUT_KEPT = 2000  # characters kept from the start and from the end of the output
PRELOAD = ["vaelab.grading.runner", *(f"vaelab.grading.ex{n:02d}" for n in range(1, 9))]


@dataclass
class Job:
    """One file to grade as one exercise ("ex03")."""

    path: Path
    exercise: str


# ---------------------------------------------------------------- inside the grading process


def _limit_memory(gigabytes: float | None) -> None:
    """Let this grading process allocate at most ``gigabytes`` GiB more than it holds now.

    Linux only (``RLIMIT_DATA`` counts malloc and anonymous mmap there): past the limit an
    allocation fails with MemoryError or torch's "can't allocate memory", which the checks
    report as feedback, instead of the machine swapping or the kernel killing a process.
    """
    if not gigabytes or not sys.platform.startswith("linux"):
        return
    try:
        import resource

        with open("/proc/self/status", encoding="ascii") as f:
            held = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmData:"))
        limit = held + int(gigabytes * 2**30)
        resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
    except (ImportError, OSError, ValueError, StopIteration):
        return
    from vaelab.grading import toolkit

    toolkit.MEMORY_LIMIT_GB = gigabytes


def _limit_output_size() -> None:
    try:
        import resource

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (OUTPUT_FILE_LIMIT, OUTPUT_FILE_LIMIT))
    except (ImportError, AttributeError, ValueError, OSError):
        pass


class _CappedWriter(io.TextIOBase):
    """A text stream onto a file descriptor that keeps the first ``cap`` characters and then
    only counts, so that printing never fails and never fills the disk."""

    def __init__(self, fd: int, cap: int = PRINT_CAP):
        self.fd, self.cap, self.written, self.dropped = fd, cap, 0, 0

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        text = str(text)
        room = self.cap - self.written
        if room > 0:
            part = text[:room]
            try:
                os.write(self.fd, part.encode("utf-8", "replace"))
            except OSError:
                pass
            self.written += len(part)
        self.dropped += max(0, len(text) - max(room, 0))
        return len(text)

    def close_note(self) -> None:
        if self.dropped:
            os.write(self.fd, f"\n[... {self.dropped:,} more characters not kept ...]\n".encode())
            self.dropped = 0


def _capture_output(output_path: str) -> tuple[_CappedWriter, _CappedWriter]:
    """Send everything printed, by Python or by C code, to ``output_path``."""
    fd = os.open(output_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    sys.stdout, sys.stderr = _CappedWriter(1), _CappedWriter(2)
    return sys.stdout, sys.stderr


def child_main(
    path: str, exercise: str, result_path: str, output_path: str, memory_gb: float | None = None
) -> None:
    """Entry point of a grading process: grade ``path`` and write JSON lines to ``result_path``."""
    results = open(result_path, "a", encoding="utf-8")  # noqa: SIM115  (open until os._exit)

    def emit(record: dict) -> None:
        results.write(json.dumps(record) + "\n")
        results.flush()

    writers = ()
    try:
        if hasattr(os, "setpgrp"):
            os.setpgrp()  # so that a timeout also ends any process the learner started
        writers = _capture_output(output_path)
        _limit_output_size()
        _limit_memory(memory_gb)
        import torch

        from vaelab.grading.runner import run_exercise

        torch.set_num_threads(1)
        run_exercise(exercise, path, emit)
    except BaseException as e:  # the grader itself failed: say so rather than vanish
        try:
            emit({"error": f"the grader failed: {type(e).__name__}: {e}"})
        except BaseException:
            pass
    finally:
        try:
            results.close()
            for writer in writers:
                writer.close_note()
        finally:
            os._exit(0)  # skip atexit handlers and the learner's non-daemon threads


# ---------------------------------------------------------------- in the parent


def _context():
    """A forkserver that has torch and the checks imported; spawn where forkserver is missing."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(PRELOAD)
        return ctx
    return multiprocessing.get_context("spawn")


def read_output(path: Path, kept: int = OUTPUT_KEPT) -> str:
    """The captured output: all of it when short, else its start and end around a note."""
    try:
        size = path.stat().st_size
    except OSError:
        return ""
    with open(path, "rb") as f:
        if size <= 2 * kept:
            return f.read().decode("utf-8", "replace")
        head = f.read(kept).decode("utf-8", "replace")
        f.seek(size - kept)
        tail = f.read(kept).decode("utf-8", "replace")
    return f"{head}\n[... {size - 2 * kept:,} bytes of output left out ...]\n{tail}"


def _read_records(path: Path) -> list[dict]:
    records = []
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return records
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:  # a line cut short when the process was killed
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def _why_it_stopped(exitcode: int | None, timed_out: bool, timeout: float) -> str:
    if timed_out:
        return (
            f"grading stopped at the time limit of {timeout:g} s: an endless loop, or code "
            "far too slow?"
        )
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        if -exitcode == getattr(signal, "SIGKILL", 9):
            return (
                f"the grading process was killed ({name}): out of memory? (vaelab grade "
                "--memory sets how much each exercise may use)"
            )
        return f"the grading process crashed ({name})"
    return (
        f"the grading process ended early with exit code {exitcode}: does your code call "
        "os._exit() or exit the interpreter?"
    )


def collect(
    job: Job, result_path: Path, output_path: Path, *, exitcode, timed_out, timeout, seconds
):
    """Turn a finished (or killed) process's records into the exercise's report entry."""
    records = _read_records(result_path)
    planned = next((r["plan"] for r in records if "plan" in r), None)
    if planned is None:  # died before saying which checks exist
        from vaelab.grading.runner import plan

        planned = plan(job.exercise)
    results = {r["result"]["name"]: r["result"] for r in records if "result" in r}
    started = [r["start"] for r in records if "start" in r]
    error = next((r["error"] for r in records if "error" in r), None)
    done = any(r.get("done") for r in records)
    if not done and error is None:
        error = _why_it_stopped(exitcode, timed_out, timeout)
        if started and started[-1] not in results:
            error += f" (during the check '{started[-1]}')"
    checks = []
    for item in planned:
        if item["name"] in results:
            checks.append(results[item["name"]])
        else:
            checks.append(
                {
                    "name": item["name"],
                    "points": 0.0,
                    "max_points": item["max_points"],
                    "passed": False,
                    "feedback": f"not graded: {error}",
                }
            )
    return {
        "exercise": job.path.stem,
        "path": str(job.path),
        "points": round(sum(c["points"] for c in checks), 6),
        "max_points": round(sum(c["max_points"] for c in checks), 6),
        "error": error,
        "checks": checks,
        "output": read_output(output_path),
        "seconds": round(seconds, 2),
    }


def _kill(process) -> None:
    try:
        if hasattr(os, "killpg") and process.pid:
            os.killpg(process.pid, signal.SIGKILL)
    except OSError:
        pass
    process.kill()


def _kill_stragglers(pid: int | None) -> None:
    """End processes the learner's code left behind in the grading process's group."""
    if pid and hasattr(os, "killpg"):
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:  # none left: the usual case
            pass


def run_jobs(
    jobs: list[Job], *, timeout: float = 60.0, parallel: int = 2, memory_gb: float | None = None
) -> list[dict]:
    """Grade each job in its own process, at most ``parallel`` at a time; reports in job order.

    ``memory_gb``: GiB each process may allocate beyond what it starts with (Linux; None or
    0 for no limit)."""
    ctx = _context()
    reports: list[dict | None] = [None] * len(jobs)
    waiting = list(enumerate(jobs))
    running: dict = {}  # sentinel -> (index, job, process, start, result_path, output_path)
    with tempfile.TemporaryDirectory(prefix="vaelab-grade-") as tmp:
        while waiting or running:
            while waiting and len(running) < max(1, parallel):
                index, job = waiting.pop(0)
                result_path = Path(tmp, f"{index}.jsonl")
                output_path = Path(tmp, f"{index}.out")
                args = (str(job.path), job.exercise, str(result_path), str(output_path), memory_gb)
                process = ctx.Process(target=child_main, args=args, daemon=True)
                process.start()
                running[process.sentinel] = (
                    index,
                    job,
                    process,
                    time.monotonic(),
                    result_path,
                    output_path,
                )
            now = time.monotonic()
            next_deadline = min(start + timeout for _, _, _, start, _, _ in running.values())
            ready = wait(list(running), timeout=max(0.0, next_deadline - now))
            now = time.monotonic()
            for sentinel in list(running):
                index, job, process, start, result_path, output_path = running[sentinel]
                timed_out = sentinel not in ready and now >= start + timeout
                if sentinel not in ready and not timed_out:
                    continue
                if timed_out:
                    _kill(process)
                process.join()
                _kill_stragglers(process.pid)
                del running[sentinel]
                reports[index] = collect(
                    job,
                    result_path,
                    output_path,
                    exitcode=process.exitcode,
                    timed_out=timed_out,
                    timeout=timeout,
                    seconds=now - start,
                )
    return [r for r in reports if r is not None]
