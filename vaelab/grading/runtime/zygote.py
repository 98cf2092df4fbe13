"""The zygote: a fresh interpreter that forks learners' processes into their sandboxes.

A grader worker starts it as ``python -I zygote.py`` (``isolation.Zygote``): a new
program, not a fork of the grader, with torch imported and nothing of vaelab (vaelab is
imported by each learner's process, from the filtered tree its sandbox holds). For each
file the worker sends, on a Unix socket, the request (file, protected functions, memory)
with descriptors: the sandbox's namespaces (``isolation.NAMESPACES`` order), the request
pipe's read end, the reply pipe's write end, the output file, the status pipe's write end.
The zygote forks; that process joins the sandbox (``enter``) and forks the learner's
process inside its PID namespace, waits for it and writes its wait status to the status
pipe.

This module imports only the standard library at the top, so ``isolation`` can import
``enter`` from it.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import struct
import sys
from collections.abc import Sequence

SANDBOX_UID = 65534  # the learner's uid and gid inside the sandbox ("nobody")
PR_SET_PDEATHSIG = 1
PR_SET_NO_NEW_PRIVS = 38
_CAP_VERSION_3 = 0x20080522


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def enter(namespaces: Sequence[int]) -> None:
    """Join a sandbox's namespaces (descriptors, the user namespace last if any) from this
    single-threaded process, become uid/gid 65534 (as root: the real uid 65534; otherwise
    the sandbox's), give up every capability and any way to gain one (``no_new_privs``).

    The PID namespace holds this process's children, not this process: fork after it.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    if os.getuid() == 0:
        os.setgroups([])  # no supplementary group (root's) goes into the sandbox
    for fd in namespaces:
        if libc.setns(fd, 0) != 0:
            error = ctypes.get_errno()
            raise OSError(error, f"setns: {os.strerror(error)}")
    os.setresgid(SANDBOX_UID, SANDBOX_UID, SANDBOX_UID)
    os.setresuid(SANDBOX_UID, SANDBOX_UID, SANDBOX_UID)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
    header, data = _CapHeader(_CAP_VERSION_3, 0), (_CapData * 2)()
    if libc.capset(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), "capset")
    os.chdir("/tmp")


def _learner(request: dict, request_fd: int, reply_fd: int, output_fd: int) -> None:
    """The learner's process, inside the sandbox: never returns."""
    try:
        os.setsid()  # a session and process group of its own: kill(0) reaches only it
        os.dup2(output_fd, 1)
        os.dup2(output_fd, 2)
        os.close(output_fd)
        sys.path.insert(0, request["package_root"])
        import importlib

        importlib.invalidate_caches()
        from vaelab.grading.runtime import child

        child.serve_fds(
            request["path"], request["protected"], request_fd, reply_fd, request["memory_gb"]
        )
    except BaseException as e:  # the grader's own failure, before the learner's file: say so
        try:
            os.write(2, f"vaelab: the learner's process could not start: {e!r}\n".encode())
        except OSError:
            pass
    finally:
        os._exit(0)


def _joiner(request: dict, fds: list[int]) -> None:
    """The zygote's fork for one file: join the sandbox, fork the learner's process in it,
    report how it ended. Never returns."""
    code = 1
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        count = request["namespaces"]
        namespaces, rest = fds[:count], fds[count:]
        request_fd, reply_fd, output_fd, status_fd = rest
        enter(namespaces)
        for fd in namespaces:
            os.close(fd)
        pid = os.fork()
        if pid == 0:
            os.close(status_fd)
            _learner(request, request_fd, reply_fd, output_fd)
        for fd in (request_fd, reply_fd, output_fd):
            os.close(fd)
        _, status = os.waitpid(pid, 0)
        os.write(status_fd, struct.pack("=i", status))
        code = 0
    except BaseException as e:
        try:
            os.write(2, f"vaelab zygote: could not start a learner's process: {e}\n".encode())
        except OSError:
            pass
    finally:
        os._exit(code)


def main() -> None:
    import socket

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # ends with its grader worker
    if sys.path and sys.path[0] == os.path.dirname(os.path.abspath(__file__)):
        sys.path.pop(0)
    sock = socket.socket(fileno=int(os.environ.pop("VAELAB_ZYGOTE_FD")))
    import torch  # what every learner's process needs, imported once

    torch.set_num_threads(1)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the joiners are reaped by the kernel
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(sock, 2**16, 16)
        except (OSError, EOFError):
            return
        if not message:
            return
        try:
            request = json.loads(message)
            if len(fds) == request["namespaces"] + 4 and os.fork() == 0:
                sock.close()
                _joiner(request, fds)
        finally:
            for fd in fds:
                os.close(fd)


if __name__ == "__main__":
    main()
