"""The grading process's side of a learner's process: start it, ask it, stop it.

The learner's file is imported only in a process of its own (``vaelab.grading.runtime.child``),
started through a forkserver that has torch and vaelab imported already, so it starts in
a few hundredths of a second. The grading process sends it requests and waits for each
answer with what is left of the exercise's time; past that it kills the process and its
process group. Everything printed goes to a file the grading process reads at the end, so
nothing the learner's code prints can pose as a result.
"""

from __future__ import annotations

import multiprocessing
import os
import select
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vaelab.grading.runtime import child, wire
from vaelab.grading.runtime.processes import FORKSERVER_PRELOAD

OUTPUT_KEPT = 2000  # characters kept from the start and from the end of the output
NOT_AN_ANSWER = (
    "the grading process sent something that is not the grader's answer on the grader's "
    "pipe: does your code write to file descriptors it did not open?"
)


class Stopped(BaseException):
    """The learner's process is gone, too slow, or talking nonsense: this file's grading ends.

    A BaseException, so that no check's ``except Exception`` swallows it.
    """


@dataclass
class Event:
    """What the learner's process reported on its own: a reference called, an act refused."""

    kind: str  # "reference" or "refused"
    detail: str  # "losses.kl_divergence", or the act in words


@dataclass
class Hello:
    """What the learner's process says once the file is imported."""

    names: dict[str, str | None] = field(default_factory=dict)  # name -> None when callable
    import_error: dict | None = None
    events: list[Event] = field(default_factory=list)  # reported while importing


def _context():
    """A forkserver that has torch and vaelab imported; spawn where forkserver is missing."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(FORKSERVER_PRELOAD)
        return ctx
    return multiprocessing.get_context("spawn")


def _fork_context():
    """Fork from this process (a grader process, before it has run any torch operation)."""
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


def _widen(fd: int, size: int = 2**20) -> None:
    """Let a pipe hold ``size`` bytes (Linux), so a large answer crosses in few wake-ups."""
    try:
        import fcntl

        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), size)
    except (ImportError, OSError):
        pass


def why_it_stopped(exitcode: int | None) -> str:
    """The end of a learner's process that stopped answering, in words."""
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


class _Fd:
    """A raw pipe end with the ``close`` of a multiprocessing connection."""

    def __init__(self, fd: int):
        self.fd = fd

    def fileno(self) -> int:
        return self.fd

    def close(self) -> None:
        if self.fd is not None:
            fd, self.fd = self.fd, None
            os.close(fd)


@dataclass
class Sandbox:
    """Where a learner's process runs when the operating system walls it in
    (``vaelab.grading.runtime.isolation``): the zygote that forks it, the filtered vaelab
    its sandbox holds, and the private folder with the learner's file."""

    zygote: Any
    tree: Path
    folder: Path


class RemoteLearner:
    """A learner's file, imported in a process of its own, whose functions we can call.

    Args:
        path: the learner's file.
        protected: vaelab functions switched off there ("losses.kl_divergence", ...).
        timeout: seconds for the whole exercise, from now.
        memory_gb: GiB the process may allocate beyond what it starts with (Linux).
        output_path: where everything it prints goes.
        fork: fork the process from this one rather than take it from the forkserver.
        sandbox: start it in a sandbox of its own instead (``path`` is then the learner's
            private copy, in ``sandbox.folder``).
        drop_to: without a sandbox, the (uid, gid) the process becomes before the learner's
            code runs (untrusted code, a grader running as root).
    """

    def __init__(
        self,
        path: Path,
        *,
        protected: list[str],
        timeout: float,
        memory_gb: float | None,
        output_path: Path,
        fork: bool = False,
        sandbox: Sandbox | None = None,
        drop_to: tuple[int, int] | None = None,
    ):
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout
        self.events: list[Event] = []
        self.stopped: str | None = None
        self.sandboxed = sandbox is not None
        if sandbox is not None:
            self._start_sandboxed(path, protected, memory_gb, output_path, sandbox)
            return
        ctx = _fork_context() if fork else _context()
        request_read, request_write = ctx.Pipe(duplex=False)
        reply_read, reply_write = ctx.Pipe(duplex=False)
        self.process = ctx.Process(
            target=child.main,
            args=(
                str(path),
                protected,
                request_read,
                reply_write,
                str(output_path),
                memory_gb,
                drop_to,
            ),
            daemon=True,
        )
        self.process.start()
        request_read.close()  # the child holds the only other ends: EOF means it is gone
        reply_write.close()
        self._request, self._reply = request_write, reply_read
        self.request_fd, self.reply_fd = request_write.fileno(), reply_read.fileno()
        os.set_blocking(self.request_fd, False)
        for fd in (self.request_fd, self.reply_fd):
            _widen(fd)

    def _start_sandboxed(self, path, protected, memory_gb, output_path, sandbox) -> None:
        from vaelab.grading.runtime import isolation

        request_read, request_write = os.pipe()
        reply_read, reply_write = os.pipe()
        output = os.open(output_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        theirs = (request_read, reply_write, output)
        try:
            self.process = isolation.start_learner(
                sandbox.zygote,
                sandbox.tree,
                sandbox.folder,
                Path(path).name,
                protected,
                request_read,
                reply_write,
                output,
                memory_gb,
            )
        except BaseException:
            for fd in (*theirs, request_write, reply_read):
                os.close(fd)
            raise
        for fd in theirs:  # the learner's process holds the only other ends
            os.close(fd)
        self._request, self._reply = _Fd(request_write), _Fd(reply_read)
        self.request_fd, self.reply_fd = request_write, reply_read
        os.set_blocking(self.request_fd, False)
        for fd in (self.request_fd, self.reply_fd):
            _widen(fd)

    # ------------------------------------------------------------ reading and writing

    def _stop(self, reason: str) -> Stopped:
        self.kill()
        self.stopped = reason
        return Stopped(reason)

    def _ended(self) -> Stopped:
        """The child closed its end: wait for it to exit and say how it ended."""
        self.process.join(timeout=max(0.0, min(2.0, self.deadline - time.monotonic())))
        if self.process.exitcode is None:
            return self._stop(
                "the grading process stopped answering: does your code close or replace file "
                "descriptors it did not open?"
            )
        return self._stop(why_it_stopped(self.process.exitcode))

    def _time_limit(self) -> str:
        return (
            f"grading stopped at the time limit of {self.timeout:g} s: an endless loop, or "
            "code far too slow?"
        )

    def _frame(self) -> tuple[bytes, bytes]:
        try:
            return wire.read_frame(self.reply_fd, self.deadline)
        except TimeoutError:
            raise self._stop(self._time_limit()) from None
        except EOFError:
            raise self._ended() from None
        except wire.FrameTooLarge as e:
            raise self._stop(
                f"the grading process sent an answer of {e}, far more than any check needs: "
                "does a function return (or print) something huge?"
            ) from None
        except (wire.WireError, OSError):
            raise self._stop(NOT_AN_ANSWER) from None

    def _await(self, kind: bytes) -> Any:
        """The next frame of ``kind`` (events on the way are kept), loaded as plain data."""
        while True:
            got, payload = self._frame()
            if got == wire.EVENT:
                what, _, detail = payload.decode("utf-8", "replace").partition("\x1f")
                self.events.append(Event(what, detail))
                continue
            if got == wire.FAILED:
                raise self._stop(
                    "the grader failed: " + payload.decode("utf-8", "replace")[:300]
                ) from None
            if got != kind:
                raise self._stop(NOT_AN_ANSWER)
            try:
                return wire.loads(payload)
            except wire.WireError as e:
                if kind == wire.HELLO:
                    raise self._stop(
                        "the grading process's first answer could not be read as plain data: "
                        "does your code change how the grader's answers are sent?"
                    ) from None
                return wire.Unreadable(str(e))

    def _send(self, data: bytes) -> None:
        view = memoryview(wire.frame(wire.REQUEST, data))
        while view:
            wait = self.deadline - time.monotonic()
            if wait <= 0 or not select.select([], [self.request_fd], [], wait)[1]:
                raise self._stop(self._time_limit())
            try:
                view = view[os.write(self.request_fd, view) :]
            except BlockingIOError:
                continue
            except OSError:  # the child is gone
                raise self._ended() from None

    # ------------------------------------------------------------ what checks use

    def hello(self) -> Hello:
        """Wait until the file is imported; what it holds, or why it could not be imported."""
        answer = self._await(wire.HELLO)
        events, self.events = self.events, []
        if not isinstance(answer, dict):
            raise self._stop("the grading process's first answer is unreadable")
        return Hello(
            names=answer.get("names") or {}, import_error=answer.get("import_error"), events=events
        )

    def call(self, request: dict) -> tuple[Any, list[Event]]:
        """Send one request; its reply (a dict, or ``wire.Unreadable``) and the events
        reported while it ran."""
        if self.stopped:
            raise Stopped(self.stopped)
        self._send(wire.pack(request))
        reply = self._await(wire.REPLY)
        events, self.events = self.events, []
        return reply, events

    def close(self) -> None:
        """Let the process end (it exits when its request pipe closes), then make sure."""
        try:
            self._request.close()
        except OSError:
            pass
        if not self.stopped:
            self.process.join(timeout=2.0)
        self.kill()
        try:
            self._reply.close()
        except OSError:
            pass

    def kill(self) -> None:
        """End the process and any process the learner's code started (its process group)."""
        if self.sandboxed:  # the sandbox goes, and every process in it
            self.process.kill()
            return
        pid = self.process.pid
        if pid and hasattr(os, "killpg"):
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:  # none left: the usual case
                pass
        if self.process.exitcode is None:
            self.process.kill()
        self.process.join(timeout=5.0)


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
