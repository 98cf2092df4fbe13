"""The learner's process: import the learner's file, call its functions when asked, answer.

This process only produces: it calls the function a request names on the request's
inputs and sends back what came out as plain data (``vaelab.grading.runtime.wire``), with the
inputs as they are after the call, gradients when asked for, any exception in words, and
the time taken. It compares nothing and scores nothing; the grading process does that, in
a torch the learner's code never touched.

Before the learner's file is imported:

- the vaelab reference functions that the exercise protects (its ``PROTECTED`` list) are
  switched off in this process: each function's code is replaced, in place, by code that
  reports the call and raises, so every way of reaching it (``from vaelab.losses import
  kl_divergence``, ``vaelab.losses.kl_divergence``, ``importlib``, ``__import__``, the
  names other vaelab modules imported) meets the switched-off function;
- an audit hook, which Python offers no way to remove, refuses to open vaelab's source
  or compiled files of those modules again (no reloading a fresh copy), to list or follow
  this process's objects through ``gc``, to trace or profile frames, and to start other
  programs, and reports each refusal to the grading process.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import inspect
import io
import linecache
import os
import signal
import struct
import sys
import time
import traceback
import types
from collections.abc import Sequence
from pathlib import Path, PurePath, PurePosixPath
from typing import Any

import torch

from vaelab import anomaly, latent, losses, metrics, models, schedules  # noqa: F401  (loaded before the learner's code)
from vaelab.grading.runtime import wire

REFERENCE_EVENT = "vaelab.grading.reference"
OUTPUT_FILE_LIMIT = 32 * 2**20  # bytes C code may write to stdout/stderr (more fails the write)
PRINT_CAP = 2**20  # characters kept from Python's prints (the rest is counted, not kept)
MESSAGE_CHARS = 2000  # characters of an exception message sent back


class ReferenceSwitchedOff(RuntimeError):
    """Raised by a protected vaelab function called while a learner's file is graded."""


# ---------------------------------------------------------------- limits and output


def limit_memory(gigabytes: float | None) -> None:
    """Let this process allocate at most ``gigabytes`` GiB more than it holds now.

    Linux only. ``RLIMIT_DATA`` counts malloc and private anonymous mmap, ``RLIMIT_AS``
    every mapping, shared ones too (a shared anonymous mapping escapes the first, not the
    second); both are inherited by any process the learner's code starts. Past the limit
    an allocation fails with MemoryError or torch's "can't allocate memory", which is sent
    back as the call's exception, instead of the machine swapping or the kernel killing a
    process.
    """
    if not gigabytes or not sys.platform.startswith("linux"):
        return
    try:
        import resource

        with open("/proc/self/status", encoding="ascii") as f:
            sizes = {
                line.split(":")[0]: int(line.split()[1]) * 1024
                for line in f
                if line.startswith(("VmData:", "VmSize:"))
            }
        extra = int(gigabytes * 2**30)
        for name, key in (("RLIMIT_DATA", "VmData"), ("RLIMIT_AS", "VmSize")):
            limit = sizes[key] + extra
            resource.setrlimit(getattr(resource, name), (limit, limit))
    except (ImportError, OSError, ValueError, KeyError):
        return


def limit_output_size() -> None:
    try:
        import resource

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (OUTPUT_FILE_LIMIT, OUTPUT_FILE_LIMIT))
    except (ImportError, AttributeError, ValueError, OSError):
        pass


class CappedWriter(io.TextIOBase):
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


def die_with_parent() -> None:
    """Linux: be killed when the process that started this one (a grader worker) dies, also
    when it is killed itself (a worker stopped at a run's deadline), so that no learner's
    process outlives it. Set again after a change of user, which clears it."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        parent = os.getppid()
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # it died meanwhile
            os._exit(0)
    except (OSError, AttributeError):
        pass


def close_other_descriptors(keep: Sequence[int]) -> None:
    """Close every file descriptor above 2 but ``keep``: the pipes this process inherited
    from the forkserver and the resource tracker are none of the learner's business."""
    edges = [2, *sorted(keep)]
    for low, high in zip(edges, [*edges[1:], None], strict=True):
        os.closerange(low + 1, high if high is not None else os.sysconf("SC_OPEN_MAX"))


def capture_output(output_path: str) -> tuple[CappedWriter, CappedWriter]:
    """Send everything printed, by Python or by C code, to ``output_path``."""
    fd = os.open(output_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    sys.stdout, sys.stderr = CappedWriter(1), CappedWriter(2)
    return sys.stdout, sys.stderr


# ---------------------------------------------------------------- switching references off


def _tripwire_code(fn: types.FunctionType, label: str) -> types.CodeType:
    """Code for ``fn`` that reports a call of ``label`` (an audit event) and raises.

    Its constants are the objects it uses (``sys.audit``, the exception class), so no
    name it looks up can be replaced by the learner's code. It keeps ``fn``'s number of
    closure cells, as Python requires of a function's new code.
    """
    cells = [f"_cell{i}" for i in range(len(fn.__code__.co_freevars))]
    source = "def factory():\n"
    source += "".join(f"    {cell} = None\n" for cell in cells)
    source += "    def switched_off(*args, **kwargs):\n"
    if cells:  # mention the cells without reading them, so they stay closure cells
        source += f"        keep = lambda: ({', '.join(cells)},)\n"
    source += (
        "        audit = '__AUDIT__'\n"
        "        audit('__EVENT__', '__LABEL__')\n"
        "        error = '__ERROR__'\n"
        "        raise error('__MESSAGE__')\n"
        "    return switched_off\n"
    )
    namespace: dict = {}
    exec(compile(source, "<vaelab grader>", "exec"), namespace)
    code = namespace["factory"]().__code__
    constants = {
        "__AUDIT__": sys.audit,
        "__EVENT__": REFERENCE_EVENT,
        "__LABEL__": label,
        "__ERROR__": ReferenceSwitchedOff,
        "__MESSAGE__": f"vaelab's own {label} is switched off while your file is graded: "
        "write it yourself",
    }
    consts = tuple(constants.get(c, c) if isinstance(c, str) else c for c in code.co_consts)
    return code.replace(co_consts=consts, co_name=fn.__code__.co_name)


def switch_off(protected: Sequence[str]) -> list[Path]:
    """Replace the code of each protected function ("losses.kl_divergence",
    "models._VAE.encode") by a tripwire; returns the source files of their modules."""
    files = []
    for label in protected:
        module_name, *attributes = label.split(".")
        module = importlib.import_module(f"vaelab.{module_name}")
        target: Any = module
        for name in attributes:
            target = getattr(target, name)
        fn = inspect.unwrap(target)  # the function under decorators such as torch.no_grad()
        if not isinstance(fn, types.FunctionType):
            raise TypeError(f"protected {label} is not a Python function")
        fn.__code__ = _tripwire_code(fn, label)
        fn.__defaults__, fn.__kwdefaults__ = None, None
        files.append(Path(module.__file__))
    return files


REFUSED = (  # audit event -> what the learner's code did, in words
    ("gc.get_objects", "inspects the grading process's objects (gc)"),
    ("gc.get_referrers", "inspects the grading process's objects (gc)"),
    ("gc.get_referents", "inspects the grading process's objects (gc)"),
    ("sys.addaudithook", "adds an audit hook"),
    ("sys.settrace", "traces frames (sys.settrace)"),
    ("sys.setprofile", "profiles frames (sys.setprofile)"),
    ("sys._current_frames", "reads the grading process's frames"),
    ("sys.monitoring.register_callback", "installs sys.monitoring callbacks"),
    ("subprocess.Popen", "starts another program (subprocess)"),
    ("os.system", "starts another program (os.system)"),
    ("os.exec", "starts another program (os.exec)"),
    ("os.posix_spawn", "starts another program (os.posix_spawn)"),
    ("os.spawn", "starts another program (os.spawn)"),
    ("os.fork", "starts another process (os.fork)"),
    ("os.forkpty", "starts another process (os.forkpty)"),
    ("pty.spawn", "starts another program (pty.spawn)"),
)


def install_guard(reply_fd: int, sources: Sequence[Path]) -> None:
    """Add the audit hook described in the module doc.

    Everything the hook holds is a builtin function or an immutable value, and it calls no
    helper of its own: a traceback through it shows nothing that could change what it
    does, and it never runs the learner's code.
    """
    stems = frozenset(path.stem for path in sources)
    files = set()
    for path in sources:  # the source and every compiled copy of it
        files.add(path)
        files.update(path.parent.glob(f"__pycache__/{path.stem}.*.pyc"))
    inodes = frozenset((s.st_dev, s.st_ino) for s in (p.stat() for p in files if p.exists()))
    refused = REFUSED
    watched = frozenset({REFERENCE_EVENT, "open", "object.__setattr__", *dict(REFUSED)})
    write, pack, stat, fd, kind, event_name = (
        os.write,
        struct.pack,
        os.stat,
        reply_fd,
        wire.EVENT,
        REFERENCE_EVENT,
    )
    pathlib_types = (PurePath, PurePosixPath, Path, type(Path()))

    def hook(event: str, args: tuple) -> None:
        if event not in watched:
            return
        what = None
        if event == event_name:
            payload = ("reference\x1f" + (args[0] if type(args[0]) is str else "?")).encode()
            try:
                write(fd, pack(">I", len(payload) + 1) + kind + payload)
            except OSError:
                pass
            return
        if event == "open":
            path = args[0]
            if type(path) is int:  # a descriptor opened earlier
                return
            if type(path) is bytes:
                path = path.decode("utf-8", "surrogateescape")
            elif type(path) in pathlib_types:
                path = path.__fspath__()  # pathlib's own method (its classes are guarded below)
            if type(path) is not str:
                what = f"opens a file through a {type(path).__name__} object"
            else:
                try:
                    st = stat(path)
                    same = (st.st_dev, st.st_ino) in inodes
                except (OSError, ValueError):
                    same = False
                parts = path.replace("\\", "/").split("/")
                copy = len(parts) >= 2 and parts[-2] == "vaelab" and parts[-1][:-3] in stems
                copy = copy and parts[-1].endswith(".py")
                compiled = len(parts) >= 3 and parts[-3] == "vaelab" and parts[-2] == "__pycache__"
                compiled = compiled and parts[-1].split(".")[0] in stems
                if same or copy or compiled:
                    what = f"reads vaelab's own source (vaelab/{parts[-1].split('.')[0]}.py)"
                elif "/.git/" in path or path.startswith(".git/"):
                    what = "reads a git repository"
                elif path.startswith("/proc/") and (path.endswith("/mem") or "/map_files/" in path):
                    what = "reads a process's memory"
        elif event == "object.__setattr__":
            if args[1] == "__code__":
                what = "replaces a function's code"
            elif type(args[0]) is type and args[0] in pathlib_types:
                what = "changes pathlib"
        else:
            what = next(words for name, words in refused if name == event)
        if what is not None:
            payload = ("refused\x1f" + what).encode("utf-8", "replace")
            try:
                write(fd, pack(">I", len(payload) + 1) + kind + payload)
            except OSError:
                pass
            raise PermissionError("grading does not allow this: your code " + what)

    linecache.clearcache()  # no copy of a vaelab source kept from before, and none to come:
    for path in sources:  # tracebacks and warnings through these files show no source line
        st = path.stat()
        linecache.cache[str(path)] = (st.st_size, st.st_mtime, [], str(path))
    sys.addaudithook(hook)


# ---------------------------------------------------------------- the learner's file


def import_learner(path: str | Path) -> types.ModuleType | dict:
    """The learner's file imported as a fresh module, or a dict saying why it failed."""
    path = Path(path)
    name = f"learner_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        return {"kind": "unreadable"}
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent))
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as e:
        return {"kind": "syntax", "line": e.lineno, "message": str(e.msg)}
    except SystemExit as e:
        return {"kind": "exit", "code": repr(e.code)[:100]}
    except BaseException as e:  # an import error, a NameError at top level, ...
        stack = traceback.StackSummary.extract(
            traceback.walk_tb(e.__traceback__), lookup_lines=False
        )
        frames = [f for f in stack if f.filename == str(path)]
        return {
            "kind": "error",
            "line": frames[-1].lineno if frames else None,
            **describe_exception(e),
        }
    return module


def names_of(module: types.ModuleType) -> dict[str, str | None]:
    """Each public name of the module: None for a callable, else what it is ("an int")."""
    names = {}
    for name, value in list(vars(module).items()):
        if name.startswith("__"):
            continue
        if callable(value):
            names[name] = None
        else:
            kind = type(value).__name__
            names[name] = f"{'an' if kind[:1] in 'aeiou' else 'a'} {kind}"
    return names


def describe_exception(e: BaseException) -> dict:
    """An exception as plain data: type, message, and what kind of trouble it is."""
    try:
        message = str(e)[:MESSAGE_CHARS]
    except BaseException:
        message = "(its message could not be read)"
    if isinstance(e, NotImplementedError):
        kind = "not_implemented"
    elif isinstance(e, SystemExit):
        kind = "exit"
    elif isinstance(e, RecursionError):
        kind = "recursion"
    elif isinstance(e, MemoryError):
        kind = "memory"
    else:
        kind = "other"
    code = repr(e.code)[:100] if isinstance(e, SystemExit) else None
    return {"type": type(e).__name__[:100], "message": message, "kind": kind, "code": code}


# ---------------------------------------------------------------- answering requests


def _build(value: Any, state: dict) -> Any:
    """A request's argument with its markers turned into models, generators, leaves."""
    if isinstance(value, dict):
        if wire.MODEL in value:  # one model per key: steps of a request share it
            key = value.get("key")
            if key not in state["by_key"]:
                model = models.build(value[wire.MODEL])
                if value.get("dtype") in ("float64", "float16", "bfloat16"):  # the grader's
                    model.to(getattr(torch, value["dtype"]))
                model.load_state_dict(value["state"])
                state["models"].append(model)
                state["by_key"][key] = model
            return state["by_key"][key]
        if wire.GENERATOR in value:
            generator = torch.Generator()
            generator.set_state(value[wire.GENERATOR])
            return generator
        if wire.LEAF in value:
            leaf = value[wire.LEAF].detach().clone().requires_grad_(True)
            state["leaves"][value["name"]] = leaf
            return leaf
        if wire.PREVIOUS in value:
            return state["previous"]
        if wire.ROWS in value:
            return value[wire.ROWS].expand(value["n"], *value[wire.ROWS].shape).clone()
        return {k: _build(v, state) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        items = [_build(v, state) for v in value]
        return items if isinstance(value, list) else tuple(items)
    return value


def _tensors(value: Any, depth: int = 0) -> list:
    """The tensors in ``value``, in the order ``wire.plain`` meets them."""
    if isinstance(value, torch.Tensor):
        return [value]
    if depth < wire.MAX_DEPTH and isinstance(value, (list, tuple)):
        return [t for v in list(value)[: wire.MAX_ITEMS] for t in _tensors(v, depth + 1)]
    if depth < wire.MAX_DEPTH and isinstance(value, dict):
        return [t for v in list(value.values())[: wire.MAX_ITEMS] for t in _tensors(v, depth + 1)]
    return []


def _backward(output: Any, weights: list, state: dict) -> dict:
    """Backpropagate sum((t * w).sum()) over the output's tensors; the inputs' gradients."""
    tensors = _tensors(output)
    if len(tensors) != len(weights):
        return {"backward_error": f"the output holds {len(tensors)} tensors, not {len(weights)}"}
    terms = []
    for t, w in zip(tensors, weights, strict=True):
        if w is None or not t.requires_grad:
            continue
        terms.append((t * (torch.ones_like(t) if isinstance(w, str) else w)).sum())
    if terms:
        sum(terms).backward()
    grads = {
        k: None if v.grad is None else wire.plain_tensor(v.grad) for k, v in state["leaves"].items()
    }
    params = {}
    if state["models"]:
        for name, p in state["models"][0].named_parameters():
            params[name] = None if p.grad is None else wire.plain_tensor(p.grad)
    return {"grads": grads, "params": params}


@contextlib.contextmanager
def stand_in(module: types.ModuleType, tables: dict):
    """For the length of one request, each learner function named in ``tables`` answers with
    the grader's values instead of running: ``tables[name]`` is a list of ``[inputs, value]``
    pairs (the tensors it may be called with, in order, and what to return), so that a
    function built on a failing one is graded on its own (``toolkit.LearnerFunction.many``'s
    ``stand_in``). Only values travel: no grader code enters this process."""
    saved = {name: module.__dict__.get(name) for name in tables}

    def answer(name: str, table: list):
        def function(*args, **kwargs):
            given = _tensors(list(args) + list(kwargs.values()))
            for inputs, value in table:
                if len(inputs) == len(given) and all(
                    a.shape == b.shape and torch.equal(a.detach().to(b.dtype), b)
                    for a, b in zip(given, inputs, strict=True)
                ):
                    return value.clone() if isinstance(value, torch.Tensor) else value
            raise RuntimeError(f"{name} was called with inputs the grader did not give it")

        function.__name__ = name
        return function

    for name, table in tables.items():
        module.__dict__[name] = answer(name, table)
    try:
        yield
    finally:
        for name, fn in saved.items():
            module.__dict__[name] = fn


def handle(module: types.ModuleType, request: dict) -> dict:
    """Run a request's steps (learner functions, each may take the previous one's output).

    A request {"batch": [request, ...]} runs each in turn, up to the first that fails.
    """
    if "batch" in request:
        replies = []
        for part in request["batch"]:
            replies.append(handle(module, part))
            if replies[-1].get("error"):
                break
        return {"batch": replies}
    if request.get("stand_in"):
        with stand_in(module, request["stand_in"]):
            return handle(module, {**request, "stand_in": None})
    state: dict = {"models": [], "by_key": {}, "leaves": {}, "previous": None}
    reply: dict = {"error": None, "error_step": None, "seconds": 0.0, "captured": None}
    captured: list[torch.Tensor] = []
    hooks = []
    try:
        for index, step in enumerate(request["steps"]):
            fn = getattr(module, step["function"], None)
            if not callable(fn):
                reply["error"] = {"type": "", "message": "", "kind": "missing", "code": None}
                reply["error_step"] = index
                return reply
            args = _build(step["args"], state)
            kwargs = _build(step["kwargs"], state)
            if request.get("capture") == "decoder" and not hooks:
                for model in state["models"]:
                    hooks.append(
                        model.decoder.register_forward_hook(
                            lambda m, inputs, out: captured.append(inputs[0].detach().clone())
                        )
                    )
            if request.get("seed") is not None:  # the CPU generator (torch.manual_seed is slow)
                torch.default_generator.manual_seed(request["seed"] + index)
            start = time.perf_counter()
            try:
                state["previous"] = fn(*args, **kwargs)
            except BaseException as e:  # the learner's bug, sent back in words
                reply["error"], reply["error_step"] = describe_exception(e), index
                return reply
            finally:
                reply["seconds"] += time.perf_counter() - start
        flags: list[bool] = []
        try:
            if request.get("value", True):
                reply["value"] = wire.plain(state["previous"], flags)
            else:  # the check needs only what came with it (the captured codes)
                reply["value"] = None
                flags = [bool(t.requires_grad) for t in _tensors(state["previous"])]
        except BaseException as e:
            reply["error"], reply["error_step"] = describe_exception(e), len(request["steps"]) - 1
            reply["error"]["kind"] = "unreadable"
            return reply
        reply["requires_grad"] = flags
        if request.get("after"):
            reply["after"] = {
                "args": [
                    wire.plain_tensor(a) if isinstance(a, torch.Tensor) else None for a in args
                ],
                "kwargs": {
                    k: wire.plain_tensor(v) if isinstance(v, torch.Tensor) else None
                    for k, v in kwargs.items()
                },
            }
        if request.get("backward") is not None:
            try:
                reply.update(_backward(state["previous"], request["backward"], state))
            except BaseException as e:
                info = describe_exception(e)
                reply["backward_error"] = f"{info['type']}: {info['message'][:300]}"
    finally:
        for hook in hooks:
            hook.remove()
        if captured:
            reply["captured"] = wire.plain_tensor(torch.cat(captured))
    return reply


def serve(module: types.ModuleType, request_fd: int, reply_fd: int) -> None:
    """Answer requests until the grading process closes its end."""
    while True:
        try:
            _, payload = wire.read_frame(request_fd)
        except (EOFError, OSError):
            return
        request = wire.unpack(payload)
        reply = handle(module, request)
        try:
            data = wire.dumps(reply)
        except BaseException as e:  # an output torch cannot save
            info = describe_exception(e)
            info["kind"] = "unreadable"
            data = wire.dumps({"error": info, "error_step": len(request.get("steps", [])) - 1})
        if len(data) > wire.MAX_FRAME:
            info = {"type": "too large", "message": f"{len(data) / 2**20:.0f} MiB"}
            info.update(kind="unreadable", code=None)
            data = wire.dumps({"error": info, "error_step": len(request.get("steps", [])) - 1})
        wire.write_all(reply_fd, wire.frame(wire.REPLY, data))


def main(
    path: str,
    protected: Sequence[str],
    request_conn,
    reply_conn,
    output_path: str,
    memory_gb: float | None = None,
    drop_to: tuple[int, int] | None = None,
) -> None:
    """Entry point of the learner's process forked from a grader worker or the forkserver
    (self-grading, and wherever the sandbox cannot be made). ``drop_to``: the (uid, gid)
    to become once the output file is open (untrusted code, a grader running as root)."""
    request_fd, reply_fd = request_conn.fileno(), reply_conn.fileno()
    writers = ()
    try:
        die_with_parent()
        if hasattr(os, "setpgrp"):
            os.setpgrp()  # so that a time-out also ends any process the learner started
        writers = capture_output(output_path)
    except BaseException:
        os._exit(0)
    _serve_file(path, protected, request_fd, reply_fd, memory_gb, writers, drop_to)


def serve_fds(
    path: str,
    protected: Sequence[str],
    request_fd: int,
    reply_fd: int,
    memory_gb: float | None = None,
) -> None:
    """Entry point of the learner's process in its sandbox
    (``vaelab.grading.runtime.isolation``), stdout and stderr already on the output file."""
    writers = (CappedWriter(1), CappedWriter(2))
    sys.stdout, sys.stderr = writers
    _serve_file(path, protected, request_fd, reply_fd, memory_gb, writers)


def drop_privileges(uid: int, gid: int) -> None:
    """Become ``uid``/``gid`` with no supplementary group (and so no capability)."""
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)


def _serve_file(path, protected, request_fd, reply_fd, memory_gb, writers, drop_to=None):
    try:
        close_other_descriptors(keep=(request_fd, reply_fd))
        limit_output_size()
        limit_memory(memory_gb)
        torch.set_num_threads(1)
        sources = switch_off(protected)
        install_guard(reply_fd, sources)
        if drop_to is not None:  # the grader's own files are read: the learner's code is next
            drop_privileges(*drop_to)
            die_with_parent()
        module = import_learner(path)
        if isinstance(module, dict):
            hello = {"import_error": module}
        else:
            hello = {"names": names_of(module)}
        wire.write_all(reply_fd, wire.frame(wire.HELLO, wire.dumps(hello)))
        if not isinstance(module, dict):
            serve(module, request_fd, reply_fd)
    except BaseException as e:  # the grader itself failed: say so rather than vanish
        try:
            info = describe_exception(e)
            text = f"{info['type']}: {info['message'][:300]}".encode("utf-8", "replace")
            wire.write_all(reply_fd, wire.frame(wire.FAILED, text))
        except BaseException:
            pass
    finally:
        try:
            for writer in writers:
                writer.close_note()
        finally:
            os._exit(0)  # skip atexit handlers and the learner's non-daemon threads
