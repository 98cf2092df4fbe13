"""The grader against hostile learners (issue 23): every route of tests/grading/attacks.py
gets 0 in a class run, through Gradescope's run_autograder and as a single file graded as
untrusted, while honest classmates keep their marks and files, the gradebook and
results.json stay as the grader wrote them, and no process or file is left behind.

These need the operating system's sandbox (bubblewrap and user namespaces, Linux); where the
machine offers none they skip, saying why, and one test checks the line the grader prints
then.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import shutil
import sys
import time
import zipfile
from pathlib import Path

import pytest
from grading.attacks import ATTACKS, GRADESCOPE
from grading.solutions import HEADER, SOLUTIONS

from vaelab import grade
from vaelab.grading import EXERCISES
from vaelab.grading.checks import protected_for
from vaelab.grading.output import gradescope
from vaelab.grading.runtime import isolation

REPO = Path(__file__).resolve().parent.parent
VAELAB = REPO / "vaelab"
NO_SANDBOX = isolation.unavailable()
needs_sandbox = pytest.mark.skipif(
    NO_SANDBOX is not None, reason=f"no sandbox on this machine: {NO_SANDBOX}"
)
HONEST = HEADER + SOLUTIONS["ex03"]
STUB = (REPO / "exercises" / "ex03_reparameterize.py").read_text()


def _fill(source: str, **places: Path | str) -> str:
    for name, value in places.items():
        source = source.replace(f"@{name.upper()}@", str(value))
    return source


def _daemons() -> list[int]:
    """Processes the attacks' daemons named themselves as (PR_SET_NAME)."""
    found = []
    for pid in (p for p in os.listdir("/proc") if p.isdigit()):
        try:
            if Path(f"/proc/{pid}/comm").read_text().strip() == "vaelabdaemon":
                found.append(int(pid))
        except OSError:
            pass
    return found


def _descendants() -> list[str]:
    """Processes descending from this one but multiprocessing's own forkserver and resource
    tracker (the workers, zygotes and sandboxes must be gone): their command lines."""
    parents, commands = {}, {}
    for pid in (p for p in os.listdir("/proc") if p.isdigit()):
        try:
            stat = Path(f"/proc/{pid}/stat").read_bytes().rpartition(b")")[2].split()
            parents[int(pid)] = int(stat[1])
            commands[int(pid)] = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        except (OSError, IndexError, ValueError):
            pass
    mine, frontier = set(), {os.getpid()}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - mine
        mine |= frontier
    kept = (b"multiprocessing.forkserver", b"multiprocessing.resource_tracker")
    return [
        commands[pid].decode("utf-8", "replace")
        for pid in sorted(mine)
        if not any(k in commands[pid] for k in kept)
    ]


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


# ---------------------------------------------------------------- the filtered vaelab


@pytest.mark.parametrize("exercise", sorted(EXERCISES))
def test_the_sandboxed_vaelab_has_no_source_of_the_protected_functions(tmp_path, exercise):
    tree = isolation.build_tree(protected_for(exercise), tmp_path / "vaelab")
    files = {p.relative_to(tree).as_posix() for p in tree.rglob("*") if p.is_file()}
    assert not [f for f in files if f.startswith("grading/checks/")]
    assert all(f.endswith((".py", ".pyc")) for f in files)
    for label in protected_for(exercise):
        module, _, name = label.partition(".")
        source = (tree / f"{module}.py").read_text()
        node = ast.parse(source)
        for part in name.split("."):
            node = next(
                n
                for n in ast.walk(node)
                if isinstance(n, (ast.ClassDef, ast.FunctionDef)) and n.name == part
            )
        assert len(node.body) == 1 and isinstance(node.body[0], ast.Raise), label
        original = ast.parse((VAELAB / f"{module}.py").read_text())
        body = next(
            n
            for n in ast.walk(original)
            if isinstance(n, ast.FunctionDef) and n.name == name.split(".")[-1]
        ).body
        assert len(body) > 1 or not isinstance(body[0], ast.Raise)  # the original is real


def test_stripping_names_a_protected_function_that_is_not_there():
    with pytest.raises(LookupError, match="losses.no_such_function"):
        isolation.stripped_source("def f():\n    return 1\n", "losses", {"no_such_function"})


def test_where_there_is_no_sandbox_one_line_says_isolation_is_weaker(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("VAELAB_NO_SANDBOX", "1")
    isolation.unavailable.cache_clear()
    try:
        line = grade.isolation_note()
        assert line.startswith("vaelab grade: isolation is weaker on this machine")
        assert "VAELAB_NO_SANDBOX" in line and "\n" not in line
        assert grade.isolation_note(False) is None  # self-grading: nothing to say
        (tmp_path / "class" / "alice").mkdir(parents=True)
        (tmp_path / "class" / "alice" / "ex03_reparameterize.py").write_text(STUB)
        monkeypatch.chdir(tmp_path)
        assert grade.main(["--class", "class", "--timeout", "30"]) == 0
        assert line in capsys.readouterr().err.splitlines()
    finally:
        isolation.unavailable.cache_clear()


def test_private_copies_refuse_links_and_other_files(tmp_path):
    from vaelab.grading.runtime.jobs import private_copy

    (tmp_path / "real.py").write_text("x = 1\n")
    (tmp_path / "link.py").symlink_to(tmp_path / "real.py")
    os.mkfifo(tmp_path / "fifo.py")
    copy = private_copy(tmp_path / "real.py", tmp_path / "copies" / "a")
    assert copy.read_text() == "x = 1\n" and copy.stat().st_mode & 0o777 == 0o444
    with pytest.raises(OSError, match="link.py is a symbolic link"):
        private_copy(tmp_path / "link.py", tmp_path / "copies" / "b")
    with pytest.raises(OSError, match="fifo.py is not a regular file"):
        private_copy(tmp_path / "fifo.py", tmp_path / "copies" / "c")


# ---------------------------------------------------------------- a hostile class


@needs_sandbox
@pytest.mark.slow
def test_a_hostile_class_gets_nothing_and_harms_no_one(tmp_path):
    course = tmp_path / "course"
    klass = course / "class"
    book = course / "gradebook.json"
    zip_path = gradescope.build_autograder(course / "autograder.zip", exercises="ex03")
    honest = {"alice": HONEST, "carol": HONEST, "dave": HONEST, "erin": STUB}
    for learner, text in honest.items():
        (klass / learner).mkdir(parents=True)
        (klass / learner / "ex03_reparameterize.py").write_text(text)
    places = dict(vaelab=VAELAB, repo=REPO, klass=klass, book=book, zip=zip_path, py=sys.executable)
    for name, source in ATTACKS.items():
        (klass / name).mkdir()
        text = _fill(source, **{k if k != "klass" else "class": v for k, v in places.items()})
        (klass / name / "ex03_reparameterize.py").write_text(text)
    (klass / "link_file").mkdir()  # a classmate's file, linked
    (klass / "link_file" / "ex03_reparameterize.py").symlink_to(
        klass / "dave" / "ex03_reparameterize.py"
    )
    (klass / "link_folder").symlink_to(klass / "dave")  # a classmate's folder, linked
    before = _digest(klass)

    start = time.monotonic()
    result = grade.main(
        ["--class", str(klass), "--json", str(book), "--timeout", "20", "--memory", "1"]
    )
    seconds = time.monotonic() - start
    assert result == 0
    written = book.read_bytes()
    time.sleep(1.5)  # a daemon would have rewritten it by now

    assert book.read_bytes() == written
    assert not (klass / "daemon-was-here").exists()
    assert _digest(klass) == before  # no file changed, none deleted, none added
    assert _daemons() == [] and _descendants() == []
    table = json.loads(written)
    points = {
        learner["learner"]: sum(e["points"] for e in learner["exercises"])
        for learner in table["learners"]
    }
    assert points["alice"] == points["carol"] == points["dave"] == 10, points
    assert points["erin"] == 0
    cheated = {name: points[name] for name in ATTACKS if points[name] != 0}
    assert cheated == {}, cheated
    links = {
        learner["learner"]: learner["exercises"][0]["error"]
        for learner in table["learners"]
        if learner["learner"].startswith("link_")
    }
    assert links["link_file"] == (
        "refused: ex03_reparameterize.py is a symbolic link: submit the file itself"
    )
    assert links["link_folder"] == "refused: the learner folder link_folder is a symbolic link"
    assert table["exercises"] == ["ex03_reparameterize"]  # no column for a refused file
    maxima = {learner["learner"]: learner["max_points"] for learner in table["learners"]}
    assert set(maxima.values()) == {10}, maxima
    assert seconds < 240


@needs_sandbox
@pytest.mark.slow
def test_a_hostile_single_file_graded_as_untrusted_gets_nothing(tmp_path):
    names = ("dirfd_source", "ctypes_open", "second_python", "solutions")
    places = dict(vaelab=VAELAB, repo=REPO, py=sys.executable)
    paths = []
    for name in names:
        (tmp_path / name).mkdir()
        path = tmp_path / name / "ex03_reparameterize.py"
        path.write_text(_fill(ATTACKS[name], **places))
        paths.append(path)
    report = grade.grade_paths(paths, timeout=30, isolate=True)
    assert [e.points for e in report.exercises] == [0] * len(names)
    assert [e.error for e in report.exercises] == [None] * len(names)  # graded, all failed
    assert _daemons() == [] and _descendants() == []


# ---------------------------------------------------------------- Gradescope


@needs_sandbox
@pytest.mark.slow
def test_run_autograder_keeps_its_results_and_sources_from_a_hostile_submission(tmp_path):
    import subprocess

    zip_path = gradescope.build_autograder(tmp_path / "autograder.zip", exercises="ex03,ex04")
    root = tmp_path / "autograder"
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(root / "source")
    shutil.copy(root / "source" / "run_autograder", root / "run_autograder")
    (root / "submission").mkdir()
    (root / "submission" / "ex03_reparameterize.py").write_text(_fill(GRADESCOPE, root=root))
    (root / "submission" / "ex04_elbo.py").write_text(HEADER + SOLUTIONS["ex04"])
    sources = _digest(root / "source")
    env = {
        **os.environ,
        gradescope.AUTOGRADER_ROOT_VARIABLE: str(root),
        "PYTHONPATH": str(REPO),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    done = subprocess.run(
        ["bash", str(root / "run_autograder")],
        env=env,
        cwd=root,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    results_path = root / "results" / "results.json"
    written = results_path.read_bytes()
    time.sleep(1.5)
    assert results_path.read_bytes() == written
    results = json.loads(written)
    assert results["score"] == 10.0  # ex04's honest 10, ex03's stub nothing
    assert "forged" not in results["output"]
    assert _digest(root / "source") == sources
    assert _daemons() == [] and _descendants() == []


@pytest.mark.skipif(
    not hasattr(os, "getuid") or os.getuid() != 0, reason="the grader is not root here"
)
def test_without_a_sandbox_a_root_grader_runs_learner_code_as_an_unprivileged_user(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("VAELAB_NO_SANDBOX", "1")
    isolation.unavailable.cache_clear()
    try:
        target = tmp_path / "grader-file.txt"
        target.write_text("the grader's\n")
        (tmp_path / "mallory").mkdir()
        (tmp_path / "mallory" / "ex03_reparameterize.py").write_text(
            "import os\n\n"
            "print('uid', os.getuid(), os.geteuid(), os.getgroups())\n"
            "try:\n"
            f"    open({str(target)!r}, 'w').write('changed')\n"
            "except OSError as e:\n"
            "    print('refused', type(e).__name__)\n\n\n"
            "def reparameterize(mu, logvar, eps=None):\n"
            "    raise NotImplementedError\n"
        )
        report = grade.grade_paths([tmp_path / "mallory"], timeout=30, isolate=True)
        user = isolation.fallback_user()
        printed = report.exercises[0].output
        assert f"uid {user[0]} {user[0]} []" in printed and "refused PermissionError" in printed
        assert target.read_text() == "the grader's\n"
    finally:
        isolation.unavailable.cache_clear()


def test_a_run_ends_at_its_deadline_whatever_its_files_do(tmp_path):
    from vaelab.grading.runtime.jobs import Job, run_jobs

    loop = (
        "import os\n\n"
        "with open(__file__ + '.pid', 'w') as f:\n"
        "    f.write(str(os.getpid()))\n\n\n"
        "def reparameterize(mu, logvar, eps=None):\n    while True:\n        pass\n"
    )
    jobs = []
    for name in ("first", "second"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "ex03_reparameterize.py").write_text(loop)
        jobs.append(Job(tmp_path / name / "ex03_reparameterize.py", "ex03"))
    start = time.monotonic()
    entries = run_jobs(jobs, timeout=120, parallel=1, deadline=8.0)
    assert time.monotonic() - start < 60  # not 2 x 120 s
    assert [e.error for e in entries] == ["the run's deadline passed"] * 2
    time.sleep(1.0)
    pid = int((tmp_path / "first" / "ex03_reparameterize.py.pid").read_text())
    try:  # the first loop's process ended with its worker, killed at the deadline
        state = Path(f"/proc/{pid}/stat").read_bytes().rpartition(b")")[2].split()[0]
    except OSError:
        state = b"gone"
    assert state in (b"gone", b"Z"), state
    assert not (tmp_path / "second" / "ex03_reparameterize.py.pid").exists()  # never started
