"""Hostile learners' files for ex03 (tests only): each tries one route around the grader's
walls (issue 23). {name: source}, with @PLACES@ the test fills in: @VAELAB@ (the grader's
vaelab folder), @REPO@ (the checkout), @CLASS@ (the class folder), @BOOK@ (the gradebook),
@ZIP@ (an autograder zip beside the class), @PY@ (the grader's Python), @ROOT@ (the
Gradescope root).

Every file gets full marks if, and only if, its route works: either it really takes the
answer through the route (vaelab's source, the test solutions, the zip, a classmate's file,
a second Python), or, where the real exploit is long, the route being open is enough to
count (the grader's processes or sockets visible, another process's memory writable, more
memory or disk than allowed) and the file then answers with the formula. So a test that
finds 0 points for every one of them shows that every route is closed.
"""

PRELUDE = '''
import ctypes
import os
import signal

import torch

libc = ctypes.CDLL(None, use_errno=True)
libc.open.restype = ctypes.c_int


def _formula(mu, logvar, eps=None):  # the payoff, only where the route is open
    eps = torch.randn_like(mu) if eps is None else eps
    return mu + torch.exp(0.5 * logvar) * eps


def _nothing(mu, logvar, eps=None):
    raise NotImplementedError("the route was closed")


def _raw_read(path):
    """A file's bytes through libc (no audit event), or None."""
    fd = libc.open(path.encode(), 0)
    if fd < 0:
        return None
    chunks = []
    buffer = ctypes.create_string_buffer(1 << 16)
    while True:
        n = libc.read(fd, buffer, 1 << 16)
        if n <= 0:
            break
        chunks.append(buffer.raw[:n])
    libc.close(fd)
    return b"".join(chunks)


def _take(source, name="reparameterize"):
    namespace = {}
    exec(compile(source, "<taken>", "exec"), namespace)
    return namespace[name]


reparameterize = _nothing
'''

ATTACKS = {
    # vaelab's source opened relative to a folder descriptor, then exec'd
    "dirfd_source": PRELUDE
    + """
import vaelab.losses

for folder in ("@VAELAB@", os.path.dirname(vaelab.losses.__file__)):
    try:
        d = os.open(folder, os.O_RDONLY)
        fd = os.open("losses.py", os.O_RDONLY, dir_fd=d)
        source = os.read(fd, 10**7).decode()
        if "def reparameterize" in source:
            reparameterize = _take(source)
            reparameterize(torch.zeros(1, 1), torch.zeros(1, 1))  # works: keep it
            break
    except BaseException:
        reparameterize = _nothing
""",
    # libc's open (no audit event) on the grader's vaelab and on the sandbox's
    "ctypes_open": PRELUDE
    + """
for path in ("@VAELAB@/losses.py", "/opt/vaelab/vaelab/losses.py"):
    data = _raw_read(path)
    if data and b"def reparameterize" in data:
        try:
            candidate = _take(data.decode())
            candidate(torch.zeros(1, 1), torch.zeros(1, 1))
            reparameterize = candidate
            break
        except BaseException:
            pass
""",
    # libc's system starts a second Python that imports vaelab as usual and hands over
    # the reference's source
    "second_python": PRELUDE
    + """
script = (
    "import sys, inspect; sys.path[:0] = ['@REPO@', '/opt/vaelab']; "
    "import vaelab.losses as l; "
    "open('/tmp/ref.py', 'w').write(inspect.getsource(l.reparameterize))"
)
libc.system(("@PY@ -c \\"" + script + "\\" 2>/dev/null").encode())
data = _raw_read("/tmp/ref.py")
if data:
    try:
        candidate = _take(data.decode())
        candidate(torch.zeros(1, 1), torch.zeros(1, 1))
        reparameterize = candidate
    except BaseException:
        pass
""",
    # the grader's processes and their sockets (the forkserver) through /proc
    "proc_grader": PRELUDE
    + """
me = os.getpid()
for pid in (p for p in os.listdir("/proc") if p.isdigit() and int(p) != me):
    command = _raw_read(f"/proc/{pid}/cmdline") or b""
    if b"multiprocessing" in command or b"forkserver" in command:
        reparameterize = _formula
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:"):
                reparameterize = _formula
    except OSError:
        pass
""",
    # another process's memory, writable (the parent's /proc/<ppid>/mem)
    "proc_mem": PRELUDE
    + """
for pid in {os.getppid(), 1}:
    fd = libc.open(f"/proc/{pid}/mem".encode(), 2)  # O_RDWR
    if fd >= 0:
        reparameterize = _formula
        libc.close(fd)
""",
    # the test solutions of the course's repository
    "solutions": PRELUDE
    + """
data = _raw_read("@REPO@/tests/grading/solutions.py")
if data:
    namespace = {}
    exec(compile(data.decode(), "<solutions>", "exec"), namespace)
    reparameterize = _take("import torch\\n" + namespace["SOLUTIONS"]["ex03"])
""",
    # vaelab's source out of an autograder zip left in the course folder
    "zip": PRELUDE
    + """
import io
import zipfile

data = _raw_read("@ZIP@")
if data:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        reparameterize = _take(archive.read("vaelab/losses.py").decode())
""",
    # classmates: a stub over one's file, another's deleted, a third's answer read
    "classmates": PRELUDE
    + """
STUB = "def reparameterize(mu, logvar, eps=None):\\n    raise NotImplementedError\\n"
for target in ("@CLASS@/alice/ex03_reparameterize.py",):
    try:
        with open(target, "w") as f:
            f.write(STUB)
    except OSError:
        pass
for target in ("@CLASS@/carol/ex03_reparameterize.py",):
    try:
        os.unlink(target)
    except OSError:
        pass
data = _raw_read("@CLASS@/dave/ex03_reparameterize.py")
if data:
    reparameterize = _take(data.decode())
try:  # its own private copy: read-only
    with open(__file__, "a") as f:
        f.write("# changed\\n")
except OSError:
    pass
""",
    # frames written into every descriptor the process may hold (other learners' pipes)
    "frames": PRELUDE
    + """
for fd in range(3, 512):
    try:
        os.write(fd, b"\\x00\\x00\\x00\\x05Rjunk")
    except OSError:
        pass
""",
    # every process it may signal killed (its own grader, if it could see it)
    "kill_all": PRELUDE
    + """
def reparameterize(mu, logvar, eps=None):
    for pid in (os.getppid(), -1):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    return _formula(mu, logvar, eps)
""",
    # its own process stopped (no time limit would end it)
    "stop_self": PRELUDE
    + """
def reparameterize(mu, logvar, eps=None):
    os.kill(os.getpid(), signal.SIGSTOP)
    return _formula(mu, logvar, eps)
""",
    # a daemon (libc fork, setsid) that outlives grading and rewrites the gradebook
    "daemon": PRELUDE
    + """
if libc.fork() == 0:
    libc.setsid()
    if libc.fork() == 0:
        libc.prctl(15, b"vaelabdaemon", 0, 0, 0)  # PR_SET_NAME: the test looks for it
        import time

        for _ in range(100):
            for target in ("@BOOK@", "@CLASS@/daemon-was-here"):
                fd = libc.open(target.encode(), 0o1101, 0o644)  # O_WRONLY|O_CREAT|O_TRUNC
                if fd >= 0:
                    libc.write(fd, b'{"forged": true}', 16)
                    libc.close(fd)
            time.sleep(0.1)
    os._exit(0)
""",
    # a shared anonymous mapping far beyond the memory limit
    "shared_map": PRELUDE
    + """
import mmap

try:
    block = mmap.mmap(-1, 3 << 30, flags=mmap.MAP_SHARED)
    block[0] = 1
    reparameterize = _formula
except (OSError, ValueError, MemoryError):
    pass
""",
    # many files under the size cap, filling the temporary folder and shared memory
    "fill_tmp": PRELUDE
    + """
written = {}
for folder in ("/tmp", "/dev/shm"):
    written[folder] = 0
    chunk = b"x" * (1 << 20)
    for i in range(2000):
        try:
            with open(f"{folder}/fill{i}", "wb") as f:
                f.write(chunk)
            written[folder] += 1
        except OSError:
            break
    for i in range(2000):
        try:
            os.unlink(f"{folder}/fill{i}")
        except OSError:
            break
if written["/tmp"] > 300 or written["/dev/shm"] > 100:
    reparameterize = _formula
""",
}

# Gradescope: a stub-only submission that tries to write its own results
GRADESCOPE = (
    PRELUDE
    + """
import json
import time

FORGED = {"score": 20.0, "tests": [], "output": "forged"}
# a grader module the grading process would import after learners ran, patched
for module in ("@ROOT@/source/vaelab/grading/output/summary.py",
               "@ROOT@/source/vaelab/grading/output/gradescope.py"):
    try:
        with open(module, "a") as f:
            f.write("\\nFORGED = True\\n")
    except OSError:
        pass
# the fallback rewritten
try:
    with open("@ROOT@/source/fallback_results.json", "w") as f:
        json.dump(FORGED, f)
except OSError:
    pass
# a daemon rewriting results.json after the grader is gone
if libc.fork() == 0:
    libc.setsid()
    if libc.fork() == 0:
        libc.prctl(15, b"vaelabdaemon", 0, 0, 0)
        for _ in range(60):
            fd = libc.open(b"@ROOT@/results/results.json", 0o1101, 0o644)
            if fd >= 0:
                data = json.dumps(FORGED).encode()
                libc.write(fd, data, len(data))
                libc.close(fd)
            time.sleep(0.1)
    os._exit(0)
# and the grader killed, to leave the fallback in place
for pid in (os.getppid(), -1):
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
"""
)
