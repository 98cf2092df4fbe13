"""Walls of the operating system around a learner's process (class and Gradescope grading).

Where the machine allows it (Linux, bubblewrap installed, user namespaces), each learner's
file is graded in a sandbox of its own:

- a *holder*: ``bwrap`` started by the grader worker, which makes new PID, mount, IPC,
  network, UTS (and cgroup, where it can) namespaces, and, when the grader is not root, a
  user namespace whose only user is uid/gid 65534 (``--unshare-user --uid 65534``). It
  mounts a root that holds only ``/usr``, the Python installation and the virtual
  environment (read-only), a few files of ``/etc``, the learner's *private copy* of its own
  submission (read-only, at ``/submission``), a filtered vaelab (read-only, at
  ``/opt/vaelab/vaelab``: every ``.py`` file of the package but the checks, with the bodies
  of the exercise's protected functions replaced by a ``raise``: their source is not there
  to be read, compiled or not), a fresh ``/proc`` of its PID namespace, a minimal ``/dev``,
  and size-capped private tmpfs folders (``/tmp``, ``/dev/shm``); its only program, ``cat``,
  waits on a pipe the worker holds;
- the learner's process: a fork of the *zygote*, a fresh interpreter (``python -I
  zygote.py``, exec'd by the worker, never a fork of the grader) that has imported torch
  and nothing of vaelab. For each file the worker hands the zygote the holder's namespaces
  and the pipes; the zygote forks a process that drops its supplementary groups, joins the
  namespaces (so it sees only the sandbox's files, processes and no network), switches to
  uid 65534 (a grader running as root: the real uid 65534, no user namespace involved;
  otherwise the sandbox's), drops every capability and sets ``no_new_privs``, then forks
  the learner's process, in a session of its own, inside the PID namespace. That process
  imports vaelab from the filtered tree, caps its address space (``RLIMIT_AS``, which
  shared mappings count too) and imports the learner's file.

Ending the holder ends the PID namespace, and the kernel kills every process in it: the
learner's process and any daemon it started. The worker ends it when the file is graded,
at the time limit, and when the worker itself dies (``--die-with-parent``).

``unavailable()`` says why the sandbox cannot be made here (no bwrap, no user namespaces,
not Linux); the grader then grades as in self-grading, forked from the grader worker, and
prints one line saying the isolation is weaker (``WEAKER``).
"""

from __future__ import annotations

import ast
import compileall
import functools
import json
import os
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from vaelab.grading.runtime.zygote import SANDBOX_UID, enter

PACKAGE_ROOT = "/opt/vaelab"  # the filtered vaelab is PACKAGE_ROOT/vaelab there
SUBMISSION = "/submission"  # the learner's private copy of its own files
TMP_MB = 256  # size of the learner's /tmp
SHM_MB = 64  # size of its /dev/shm
ETC_FILES = (
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/passwd",
    "/etc/group",
    "/etc/nsswitch.conf",
    "/etc/localtime",
    "/etc/hosts",
)
NAMESPACES = ("ipc", "net", "uts", "pid", "mnt", "user")  # the order the zygote joins them


def namespaces_to_join() -> tuple[str, ...]:
    """A grader running as root makes the sandbox without a user namespace (its learner
    process then becomes the real uid 65534); any other user needs one."""
    return NAMESPACES[:-1] if os.geteuid() == 0 else NAMESPACES


WEAKER = (
    "vaelab grade: isolation is weaker on this machine ({why}): learner code runs as a "
    "fork of the grader{user}, guarded by Python only; grade untrusted code where bubblewrap "
    "and user namespaces are available (see exercises/README.md)"
)

# ---------------------------------------------------------------- is it possible here?


@functools.lru_cache(maxsize=1)
def unavailable() -> str | None:
    """None when learner code can be sandboxed here, else why not (in words).

    Starts one holder and joins its namespaces from a short-lived fork, so a machine that
    lists bwrap but forbids user namespaces (Docker's default seccomp profile) says so.
    """
    if os.environ.get("VAELAB_NO_SANDBOX"):
        return "VAELAB_NO_SANDBOX is set"
    if not sys.platform.startswith("linux"):
        return "not Linux"
    if shutil.which("bwrap") is None:
        return "bubblewrap is not installed: apt-get install bubblewrap"
    with tempfile.TemporaryDirectory(prefix="vaelab-probe-") as tmp:
        tree, submission = Path(tmp, "vaelab"), Path(tmp, "submission")
        Path(tree, "_data").mkdir(parents=True)
        submission.mkdir()
        try:
            holder = Holder(tree, submission)
        except OSError as e:
            return f"bwrap cannot make a sandbox here: {str(e)[:200]}"
        try:
            pid = os.fork()
            if pid == 0:  # pragma: no cover (a child)
                code = 1
                try:
                    enter(holder.namespaces)
                    code = 0
                finally:
                    os._exit(code)
            _, status = os.waitpid(pid, 0)
            if os.waitstatus_to_exitcode(status) != 0:
                return "joining a sandbox's namespaces is not permitted here"
        finally:
            holder.kill()
    return None


STUDENT_USER = "vaelab-student"  # the unprivileged user Gradescope's setup.sh creates


def fallback_user() -> tuple[int, int, bool] | None:
    """Where the sandbox cannot be made and the grader runs as root: the (uid, gid) learner
    code runs as instead, and whether that user is the dedicated ``vaelab-student`` (whose
    every process may be ended after the run); None when not root."""
    if not hasattr(os, "getuid") or os.getuid() != 0:
        return None
    try:
        import pwd

        entry = pwd.getpwnam(STUDENT_USER)
        return entry.pw_uid, entry.pw_gid, True
    except (ImportError, KeyError):
        return SANDBOX_UID, SANDBOX_UID, False


def sweep(uid: int) -> None:
    """End every process of ``uid`` (the dedicated learner user: daemons its code left),
    from a fork that becomes that user and signals all it may (``kill(-1)``)."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover (a child)
        try:
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            os.kill(-1, signal.SIGKILL)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)


def weaker_line() -> str | None:
    """The one line saying the isolation is weaker here, or None when the sandbox works."""
    why = unavailable()
    if not why:
        return None
    user = fallback_user()
    return WEAKER.format(why=why, user=f" as uid {user[0]}" if user else "")


# ---------------------------------------------------------------- the filtered vaelab


class _Strip(ast.NodeTransformer):
    """Replaces the body of the named functions ("kl_divergence", "_VAE.encode") by a raise."""

    def __init__(self, module: str, names: set[str]):
        self.module, self.names, self.scope, self.found = module, names, [], set()

    def _visit_function(self, node):
        name = ".".join([*self.scope, node.name])
        if name in self.names:
            self.found.add(name)
            message = (
                f"vaelab's own {self.module}.{name} is not in the grading sandbox: "
                "write it yourself"
            )
            node.body = [ast.parse(f"raise RuntimeError({message!r})").body[0]]
            return node
        self.scope.append(node.name)
        self.generic_visit(node)
        self.scope.pop()
        return node

    visit_FunctionDef = visit_AsyncFunctionDef = _visit_function

    def visit_ClassDef(self, node):
        self.scope.append(node.name)
        self.generic_visit(node)
        self.scope.pop()
        return node


def stripped_source(source: str, module: str, names: set[str]) -> str:
    """``source`` with the bodies of ``names`` replaced by a raise, comments and docstrings
    of those functions gone. Raises LookupError naming a function it did not find."""
    tree = ast.parse(source)
    strip = _Strip(module, names)
    tree = strip.visit(tree)
    missing = names - strip.found
    if missing:
        raise LookupError(f"protected {module}.{sorted(missing)[0]} is not defined in it")
    return ast.unparse(ast.fix_missing_locations(tree)) + "\n"


def build_tree(protected: Sequence[str], out: Path, package: Path | None = None) -> Path:
    """Write the vaelab a learner's process sees to ``out`` (made; returned): every ``.py``
    file of the package but ``grading/checks``, with the protected functions stripped, and
    compiled (so imports there cost no compiling); the bundled data is bound in separately.
    """
    if package is None:
        import vaelab

        package = Path(vaelab.__file__).resolve().parent
    by_module: dict[str, set[str]] = {}
    for label in protected:
        module, _, name = label.partition(".")
        by_module.setdefault(module, set()).add(name)
    out.mkdir(parents=True)
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package)
        if relative.parts[:2] == ("grading", "checks") or "__pycache__" in relative.parts:
            continue
        target = out / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        source = path.read_text(encoding="utf-8")
        module = relative.with_suffix("").as_posix().replace("/", ".")
        if module in by_module:
            source = stripped_source(source, module, by_module.pop(module))
        target.write_text(source, encoding="utf-8")
    if by_module:
        raise LookupError(f"protected module vaelab.{sorted(by_module)[0]} not found")
    (out / "_data").mkdir(exist_ok=True)
    compileall.compile_dir(str(out), quiet=2, workers=1)
    for path in [out, *out.rglob("*")]:  # readable by the sandbox's user, writable by none
        path.chmod(0o555 if path.is_dir() else 0o444)
    return out


def tree_for(exercise: str, protected: Sequence[str], run_dir: Path) -> Path:
    """The filtered vaelab for ``exercise`` under ``run_dir``, built once per run (two
    workers may race: each builds its own copy, the first rename wins)."""
    final = run_dir / f"vaelab-{exercise}"
    if final.is_dir():
        return final
    staging = Path(tempfile.mkdtemp(prefix=f".{exercise}-", dir=run_dir))
    build_tree(protected, staging / "vaelab")
    try:
        os.rename(staging / "vaelab", final)
    except OSError:  # another worker was first
        pass
    shutil.rmtree(staging, ignore_errors=True)
    return final


# ---------------------------------------------------------------- the holder (bwrap)


def _python_roots() -> list[tuple[str, str]]:
    """(source, place) pairs that make this Python and its packages work in the sandbox, at
    the paths this interpreter knows them by."""
    pairs = []
    for path in {sys.prefix, sys.base_prefix, sys.exec_prefix}:
        real = os.path.realpath(path)
        if real.startswith("/usr/") or real == "/usr":
            continue
        for place in {path, real}:
            pairs.append((real, place))
    return sorted(set(pairs), key=lambda p: (p[1].count("/"), p[1]))


def holder_command(tree: Path, submission: Path, info_fd: int) -> list[str]:
    """The bwrap command line of a learner's sandbox (see the module doc)."""
    if os.geteuid() == 0:  # the learner's process becomes uid 65534 outside as well
        unshare = ["--unshare-pid", "--unshare-ipc", "--unshare-net", "--unshare-uts"]
        unshare += ["--unshare-cgroup-try"]
    else:  # a user namespace of the grader's user, where it is uid 65534
        unshare = ["--unshare-all", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID)]
    args = [
        shutil.which("bwrap") or "bwrap",
        *unshare,
        "--die-with-parent",
        "--new-session",
        "--ro-bind",
        "/usr",
        "/usr",
    ]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = f"/{name}"
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    for path in ETC_FILES:
        args += ["--ro-bind-try", path, path]
    for source, place in _python_roots():
        args += ["--ro-bind", source, place]
    import vaelab

    data = Path(vaelab.__file__).resolve().parent / "_data"
    args += ["--ro-bind", str(tree), f"{PACKAGE_ROOT}/vaelab"]
    if data.is_dir():
        args += ["--ro-bind", str(data), f"{PACKAGE_ROOT}/vaelab/_data"]
    args += [
        "--ro-bind",
        str(submission),
        SUBMISSION,
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--size",
        str(TMP_MB * 2**20),
        "--tmpfs",
        "/tmp",
        "--size",
        str(SHM_MB * 2**20),
        "--tmpfs",
        "/dev/shm",
        *_open_parents(args),
        "--chmod",
        "1777",
        "/tmp",
        "--chmod",
        "1777",
        "/dev/shm",
        "--remount-ro",
        "/",
        "--chdir",
        "/tmp",
        "--info-fd",
        str(info_fd),
        "--",
        "/usr/bin/cat",
    ]
    return args


def _open_parents(args: list[str]) -> list[str]:
    """``--chmod 0755`` for every folder bwrap makes on the way to a mount (it makes them
    0700, which the learner's uid could not go through)."""
    places = set()
    for i, arg in enumerate(args):
        if arg in ("--ro-bind", "--ro-bind-try", "--bind", "--symlink"):
            places.add(args[i + 2])
    parents = set()
    for place in places:
        parent = os.path.dirname(place)
        while parent not in ("/", ""):
            parents.add(parent)
            parent = os.path.dirname(parent)
    result = []
    for parent in sorted(parents - places):
        result += ["--chmod", "0755", parent]
    return result


class Holder:
    """One learner's sandbox: namespaces and mounts held by ``bwrap`` running ``cat``,
    which waits on a pipe only this process holds. ``namespaces`` are open descriptors of
    them, for the zygote to join."""

    def __init__(self, tree: Path, submission: Path):
        info_read, info_write = os.pipe()
        hold_read, self._hold = os.pipe()
        try:
            self.process = subprocess.Popen(
                holder_command(tree, submission, info_write),
                stdin=hold_read,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                pass_fds=(info_write,),
                close_fds=True,
                start_new_session=True,
            )
        finally:
            os.close(info_write)
            os.close(hold_read)
        try:
            info = self._read_info(info_read)
        finally:
            os.close(info_read)
        if info is None:
            error = b""
            if self.process.stderr is not None:
                self.kill()
                error = self.process.stderr.read() or b""
            raise OSError(error.decode("utf-8", "replace").strip() or "bwrap failed")
        self.namespaces = []
        try:
            # bwrap's child (pid 1 there) runs the command in a user namespace of its own,
            # the one with the sandbox's uid: its namespaces are the sandbox's
            self.pid = self._command_pid(int(info["child-pid"]))
            for name in namespaces_to_join():
                self.namespaces.append(os.open(f"/proc/{self.pid}/ns/{name}", os.O_RDONLY))
        except OSError:
            self.kill()
            raise

    def _command_pid(self, parent: int, timeout: float = 10.0) -> int:
        deadline = time.monotonic() + timeout
        while True:
            for name in os.listdir("/proc"):
                if not name.isdigit() or int(name) <= parent:
                    continue
                try:
                    with open(f"/proc/{name}/stat", "rb") as f:
                        fields = f.read().rpartition(b")")[2].split()
                except OSError:
                    continue
                if int(fields[1]) == parent:  # the parent's pid comes after the state
                    return int(name)
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise OSError("the sandbox's command did not start")
            time.sleep(0.002)

    @staticmethod
    def _read_info(fd: int, timeout: float = 20.0) -> dict | None:
        data, deadline = b"", time.monotonic() + timeout
        while True:
            wait = deadline - time.monotonic()
            if wait <= 0 or not select.select([fd], [], [], wait)[0]:
                return None
            chunk = os.read(fd, 4096)
            if not chunk:
                return None
            data += chunk
            try:
                return json.loads(data)
            except ValueError:
                continue

    def kill(self) -> None:
        """End the sandbox: the PID namespace goes, and every process in it with it."""
        for fd in getattr(self, "namespaces", []):
            try:
                os.close(fd)
            except OSError:
                pass
        self.namespaces = []
        if self._hold is not None:
            os.close(self._hold)
            self._hold = None
        if self.process.poll() is None:
            self.process.kill()
        try:
            self.process.wait(timeout=10.0)
        except subprocess.TimeoutExpired:  # pragma: no cover
            pass
        if self.process.stderr is not None:
            self.process.stderr.close()


# ---------------------------------------------------------------- the zygote


class Zygote:
    """The fresh interpreter (``zygote.py``) that forks the learners' processes."""

    def __init__(self):
        here, there = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": "/tmp",
            "TMPDIR": "/tmp",
            "LANG": "C.UTF-8",
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "MPLBACKEND": "Agg",
            "PYTHONDONTWRITEBYTECODE": "1",
            "VAELAB_ZYGOTE_FD": str(there.fileno()),
        }
        script = Path(__file__).with_name("zygote.py")
        self.process = subprocess.Popen(
            [sys.executable, "-I", str(script)],
            env=env,
            stdin=subprocess.DEVNULL,
            pass_fds=(there.fileno(),),
            close_fds=True,
            cwd="/",
            start_new_session=True,  # no process group shared with the grader
        )
        there.close()
        self.socket = here

    def start(self, holder: Holder, request: dict, fds: Sequence[int]) -> None:
        """Ask for one learner's process in ``holder``'s sandbox; ``fds``: the request
        pipe's read end, the reply pipe's write end, the output file, the status pipe's
        write end."""
        socket.send_fds(self.socket, [json.dumps(request).encode()], [*holder.namespaces, *fds])

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        try:
            self.socket.close()
        except OSError:
            pass
        if self.process.poll() is None:
            try:
                self.process.wait(timeout=2.0)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class SandboxedProcess:
    """A learner's process in its sandbox, seen from the grader worker: ``exitcode`` (None
    while it runs; negative: the signal that ended it), ``join``, ``kill``."""

    def __init__(self, holder: Holder, status_fd: int):
        self.holder, self.status_fd, self.exitcode, self.pid = holder, status_fd, None, None

    def join(self, timeout: float | None = None) -> None:
        if self.exitcode is not None or self.status_fd is None:
            return
        ready = select.select([self.status_fd], [], [], timeout)[0]
        if not ready:
            return
        data = os.read(self.status_fd, 4)
        os.close(self.status_fd)
        self.status_fd = None
        if len(data) == 4:
            self.exitcode = os.waitstatus_to_exitcode(struct.unpack("=i", data)[0])
        else:  # the joining process itself died: the sandbox was ended
            self.exitcode = -signal.SIGKILL

    def kill(self) -> None:
        self.holder.kill()
        self.join(timeout=5.0)
        if self.status_fd is not None:
            os.close(self.status_fd)
            self.status_fd = None
            if self.exitcode is None:
                self.exitcode = -signal.SIGKILL


def start_learner(
    zygote: Zygote,
    tree: Path,
    submission: Path,
    file_name: str,
    protected: Sequence[str],
    request_fd: int,
    reply_fd: int,
    output_fd: int,
    memory_gb: float | None,
) -> SandboxedProcess:
    """A learner's process for ``submission/file_name`` in a new sandbox."""
    holder = Holder(tree, submission)
    status_read, status_write = os.pipe()
    try:
        zygote.start(
            holder,
            {
                "path": f"{SUBMISSION}/{file_name}",
                "protected": list(protected),
                "memory_gb": memory_gb,
                "package_root": PACKAGE_ROOT,
                "namespaces": len(holder.namespaces),
            },
            [request_fd, reply_fd, output_fd, status_write],
        )
    except OSError:
        holder.kill()
        os.close(status_read)
        raise
    finally:
        os.close(status_write)
    return SandboxedProcess(holder, status_read)
