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


# seccomp: system calls a learner's process has no use for, refused with an error. They open
# what the other walls cannot close: the kernel keyring is not namespaced (a key left by one
# learner outlives the sandbox and can be read by the next: a channel between submissions),
# and new user namespaces give a process every capability in them (mounts with no size
# cap, the kernel's namespaced-root surface). x86-64 only; elsewhere the filter is skipped.
_SECCOMP_DENIED = {
    248: "add_key",
    249: "request_key",
    250: "keyctl",
    272: "unshare",
    308: "setns",
}
_CLONE = 56
_CLONE3 = 435  # refused with ENOSYS: the C library falls back to clone, whose flags we see
_CLONE_NAMESPACES = 0x10000000 | 0x00020000 | 0x40000000 | 0x08000000 | 0x04000000 | 0x20000000
_AUDIT_ARCH_X86_64 = 0xC000003E
PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 22, 2


class _SockFilter(ctypes.Structure):
    _fields_ = [
        ("code", ctypes.c_uint16),
        ("jt", ctypes.c_uint8),
        ("jf", ctypes.c_uint8),
        ("k", ctypes.c_uint32),
    ]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_uint16), ("filter", ctypes.POINTER(_SockFilter))]


def _seccomp_program() -> list[tuple[int, int, int, int]]:
    """The classic-BPF filter: (code, jump if true, jump if false, k) per instruction."""
    load, jeq, jset, ret = 0x20, 0x15, 0x45, 0x06  # BPF_LD|W|ABS, JMP|JEQ|K, JMP|JSET|K, RET|K
    allow, eperm, enosys = 0x7FFF0000, 0x00050001, 0x00050026  # SECCOMP_RET_ERRNO | errno
    kill = 0x80000000  # SECCOMP_RET_KILL_PROCESS: another architecture's calls
    denied = sorted(_SECCOMP_DENIED)
    program = [(load, 0, 0, 4), (jeq, 1, 0, _AUDIT_ARCH_X86_64), (ret, 0, 0, kill)]
    program.append((load, 0, 0, 0))  # the call's number
    # the table below: per denied call one jump to "eperm"; clone3 to "enosys"; clone's flags
    rest = len(denied) + 2  # instructions after the jumps' block before the returns
    for i, number in enumerate(denied):
        program.append((jeq, len(denied) - i + 4, 0, number))
    program.append((jeq, 5, 0, _CLONE3))  # -> enosys
    program.append((jeq, 1, 0, _CLONE))  # -> flags
    program.append((ret, 0, 0, allow))
    program.append((load, 0, 0, 16))  # clone's first argument (flags), low 32 bits
    program.append((jset, 0, 1, _CLONE_NAMESPACES))
    program.append((ret, 0, 0, eperm))
    program.append((ret, 0, 0, allow))
    program.append((ret, 0, 0, enosys))
    del rest
    return program


def _deny_system_calls(libc) -> None:
    """Install the seccomp filter (after ``no_new_privs``; children inherit it)."""
    import platform

    if platform.machine() != "x86_64":
        return
    program = _seccomp_program()
    filters = (_SockFilter * len(program))(*[_SockFilter(*i) for i in program])
    fprog = _SockFprog(len(program), filters)
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP)")


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
    _deny_system_calls(libc)
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
        for procs in request.get("cgroups", []):  # the learner's cgroups, joined as root
            with open(procs, "w") as f:
                f.write(str(os.getpid()))
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
