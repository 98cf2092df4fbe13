"""The grader: stubs score 0, reference solutions score full marks, known mistakes lose points
with the matching feedback, hostile submissions cannot crash or hang it, and the CLI's
report and gradebook have the promised shape.

Mutants run in this process (fast); everything else goes through the real sandbox, whose
forkserver is started once for the whole test session.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import subprocess
import sys
import time
import types
from pathlib import Path

import pytest
from grading.hostile import HOSTILE
from grading.leaks import leaked, solution_lines
from grading.mutants import MISLEADING, MUTANTS, NEW_CHECKS
from grading.solutions import NAMES, SOLUTIONS, source

from vaelab import grade
from vaelab.grading.checks import checks_for, hints_for, protected_for
from vaelab.grading.runtime import runner as core

REPO = Path(__file__).resolve().parent.parent
EXERCISES = REPO / "exercises"
TIMEOUT = 5.0
SOLUTION_LINES = solution_lines(SOLUTIONS)


def _module(text: str) -> types.ModuleType:
    module = types.ModuleType("submission")
    exec(compile(text, "<submission>", "exec"), module.__dict__)
    return module


def _grade_in_process(exercise: str, text: str) -> list:
    module = _module(text)
    return [core.run_check(item, module) for item in checks_for(exercise)]


def _write_solutions(folder: Path, exercises=tuple(NAMES)) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for exercise in exercises:
        (folder / f"{NAMES[exercise]}.py").write_text(source(exercise))
    return folder


# ---------------------------------------------------------------- the exercises themselves


def test_every_exercise_has_a_stub_and_ten_points():
    assert set(grade.EXERCISES) == set(NAMES)
    for exercise, name in grade.EXERCISES.items():
        assert (EXERCISES / f"{name}.py").is_file()
        core = [c for c in checks_for(exercise) if not c.stretch]
        assert sum(c.points for c in core) == pytest.approx(10)
        assert [c for c in checks_for(exercise) if c.stretch], exercise  # issue 22
    assert sorted(p.stem for p in EXERCISES.glob("ex*.py")) == sorted(NAMES.values())


@pytest.mark.parametrize("exercise", sorted(NAMES))
def test_stub_scores_zero_and_reference_scores_full_in_process(exercise):
    stub = (EXERCISES / f"{NAMES[exercise]}.py").read_text()
    assert "NotImplementedError" in stub
    results = _grade_in_process(exercise, stub)
    assert all(not r.passed and r.points == 0 for r in results)
    assert all("not implemented yet" in r.feedback for r in results)
    assert {r.status for r in results} == {grade.Status.NOT_STARTED}
    results = _grade_in_process(exercise, source(exercise))
    assert [r for r in results if not r.passed] == []


def test_grade_commands_work_without_an_activated_venv():
    for name in NAMES.values():
        doc = (EXERCISES / f"{name}.py").read_text().split('"""')[1]
        assert f"``.venv/bin/vaelab grade exercises/{name}.py``" in " ".join(doc.split())
    readme = (EXERCISES / "README.md").read_text()
    commands = [line for line in readme.splitlines() if "vaelab grade" in line]
    assert commands and "source .venv/bin/activate" in readme
    assert all(
        ".venv/bin/vaelab grade" in line or "plain `vaelab grade" in line for line in commands
    ), commands


# ---------------------------------------------------------------- known mistakes


@pytest.mark.parametrize(
    "exercise, mutant, feedback",
    [(e, s, f) for e, _, s, f in MUTANTS],
    ids=[m[1] for m in MUTANTS],
)
def test_known_mistake_loses_points_with_matching_feedback(exercise, mutant, feedback):
    results = _grade_in_process(exercise, source(exercise) + "\n\n" + mutant)
    failed = [r for r in results if not r.passed]
    assert failed, "the mutant passed every check"
    assert sum(r.points for r in results) < sum(r.max_points for r in results)
    # a check passed with vaelab's function standing in for a failing one names it too
    texts = [r.feedback for r in failed] + [r.feedback for r in results if r.stand_in]
    assert any(feedback in t for t in texts), texts
    for text in texts:  # issue 22: feedback teaches without handing over a solution line
        assert leaked(text, SOLUTION_LINES) is None, text


def test_at_least_three_mutants_per_fixed_name_function():
    fixed = {
        "ex03": ["reparameterize"],
        "ex04": ["kl_divergence", "negative_elbo"],
        "ex06": ["active_units", "free_bits_kl", "linear_kl_weight", "cyclical_kl_weight"],
        "ex07": ["psnr", "log_mean_exp"],
        "ex09": ["mutual_information", "mutual_information_gap"],
    }
    for exercise, names in fixed.items():
        for name in names:
            count = sum(1 for e, _, s, _ in MUTANTS if e == exercise and f"def {name}(" in s)
            assert count >= 3, (exercise, name, count)


@pytest.mark.parametrize(
    "exercise, check", sorted(NEW_CHECKS), ids=[f"{e} {c}" for e, c in sorted(NEW_CHECKS)]
)
def test_each_new_check_catches_its_known_mistakes_with_their_own_feedback(exercise, check):
    """Issue 18's checks: each known mistake fails the check itself (not as a follow-on of
    another check), with the feedback recorded for it; most have three or more."""
    names = NEW_CHECKS[(exercise, check)]
    assert len(names) >= 3 or check.startswith("anomaly_score"), names
    assert check in {c.name for c in checks_for(exercise)}, check
    for name in names:
        mutant_exercise, text = _mutant(name)
        assert mutant_exercise == exercise, name
        feedback = next(f for _, n, _, f in MUTANTS if n == name)
        result = _by_name(_grade_in_process(exercise, text))[check]
        assert not result.passed, (name, check)
        assert not result.feedback.startswith("first make"), (name, result.feedback)
        if name not in ("sample-uniform", "mi-zero-log-zero"):  # recorded for another check
            assert feedback in result.feedback, (name, result.feedback)


@pytest.mark.parametrize("name", sorted(MISLEADING))
def test_misleading_feedback_of_issue_22_is_gone(name):
    """Each of issue 22's mistakes loses points with its own feedback, and no failing check
    says the misleading text it got before (a failing property check says "first make ...
    right" instead of naming another mistake)."""
    results = _grade_in_process(*_mutant(name))
    feedback = next(f for _, n, _, f in MUTANTS if n == name)
    failed = [r for r in results if not r.passed]
    assert failed and any(
        feedback in r.feedback for r in failed + [r for r in results if r.stand_in]
    )
    for r in failed:
        assert MISLEADING[name] not in r.feedback, (name, r.name, r.feedback)


def test_every_exercise_has_hints_for_every_check():
    for exercise in grade.EXERCISES:
        for item in checks_for(exercise):
            assert item.hints, (exercise, item.name)
            assert all(len(h.split()) >= 6 for h in item.hints), (exercise, item.name)


def test_a_dependent_check_names_the_failing_function_first():
    """Issue 22: negative_elbo built on a failing kl_divergence is graded with vaelab's KL in
    its place; right then, it keeps its points, and its feedback names the KL first."""
    results = _by_name(_grade_in_process(*_mutant("elbo-uses-wrong-kl")))
    kl = results["kl_divergence: closed form, one value per example, any (B, D) and dtype"]
    assert "averaged over the latent dimensions" in kl.feedback  # its own mistake
    culprit = (
        "`negative_elbo` uses your `kl_divergence`, which fails its own check: fix that first."
    )
    elbo = [r for name, r in results.items() if name.startswith("negative_elbo")]
    assert len(elbo) == 4
    for result in elbo:
        assert result.passed and result.points == result.max_points, result
        assert result.feedback.startswith(culprit), result.feedback
        assert "your `negative_elbo` is right" in result.feedback
        assert result.stand_in == ("kl_divergence",)
    assert sum(r.points for r in results.values() if not r.stretch) == 5  # the KL's 5 only
    # the same negative_elbo with a right kl_divergence passes: the culprit was the KL alone
    fixed = _mutant("elbo-uses-wrong-kl")[1].replace(".mean(dim=1)\n", ".sum(dim=1)\n")
    assert all(r.passed and not r.stand_in for r in _grade_in_process("ex04", fixed))


@pytest.mark.parametrize(
    "kl",
    [
        "-(-0.5 * (1 + logvar - mu**2 - logvar.exp()).sum(dim=1))",  # the sign
        "-0.5 * (1 + logvar - mu**2 - logvar.exp())",  # (B, D): negative_elbo cannot add it
        "-0.5 * (1 + logvar - mu**2 - logvar.exp()).sum()",  # one number for the batch
    ],
    ids=["sign", "per-dimension", "summed-over-batch"],
)
def test_one_kl_slip_costs_only_the_kl_points(kl):
    """A single slip in kl_divergence costs its own 5 points; the negative_elbo built on it
    keeps its 5 (it scored 0 before issue 22, and a KL of the wrong shape was blamed on "a
    size typed in")."""
    text = source("ex04") + (
        f"\n\ndef kl_divergence(mu, logvar):\n    return {kl}\n\n\n"
        "def negative_elbo(x, x_logits, mu, logvar, beta=1.0):\n"
        "    bce = F.binary_cross_entropy_with_logits(x_logits, x, reduction='none')\n"
        "    return bce.flatten(1).sum(1) + beta * kl_divergence(mu, logvar)\n"
    )
    results = _grade_in_process("ex04", text)
    core = [r for r in results if not r.stretch]
    assert sum(r.points for r in core) == 5
    for r in core:
        if "negative_elbo" in r.functions:
            assert r.passed and r.feedback.startswith("`negative_elbo` uses your `kl_divergence`")
            assert "size typed in" not in r.feedback
    # the lesson goes on with vaelab's negative_elbo: the learner's calls the wrong KL
    from vaelab import exercises
    from vaelab.grading.records import ExerciseResult, Report

    report = Report(exercises=[ExerciseResult("ex04_elbo", path="x.py", checks=results)])
    assert exercises._passes(report, "negative_elbo") is False


def test_a_dependent_function_wrong_besides_its_helper_names_both():
    results = _grade_in_process(*_mutant("elbo-uses-wrong-kl-and-means-pixels"))
    values = _by_name(results)["negative_elbo: BCE summed over pixels + KL, per example"]
    assert not values.passed
    assert values.feedback.startswith(
        "`negative_elbo` uses your `kl_divergence`, which fails its own check: fix that first. "
        "Besides, the reconstruction term is averaged over pixels"
    ), values.feedback


def test_float64_results_are_compared_at_float64_precision():
    """A float64 result right to float32 precision only fails, and says so; float32 results
    keep float32's tolerance."""
    results = _by_name(_grade_in_process(*_mutant("interpolate-float32-t")))
    linear = results["interpolate, linear: evenly spaced, both ends included"]
    assert linear.feedback.startswith(
        "your path is right to float32 precision, but the codes are float64: build t with "
        "dtype=z0.dtype"
    )
    sigma = _by_name(_grade_in_process(*_mutant("sigma-in-float32")))
    values = sigma["values with a given eps: z = mu + sigma * eps"]
    assert "right only to float32 precision" in values.feedback
    assert "(3, 2)" in values.feedback  # the float64 case; the float32 ones passed


def _mutant(name: str) -> tuple[str, str]:
    exercise, source_text = next((e, s) for e, n, s, _ in MUTANTS if n == name)
    return exercise, source(exercise) + "\n\n" + source_text


def _by_name(results: list[dict]) -> dict[str, dict]:
    return {r.name: r for r in results}


EPS_NONE_GRADIENTS = "eps=None: gradients still reach mu and logvar"


def test_ex03_points_per_check():
    points = {c.name: c.points for c in checks_for("ex03") if not c.stretch}
    assert points == {
        "any batch shape (B, D) and dtype, with eps given and without": 1,
        "values with a given eps: z = mu + sigma * eps": 2,
        "gradients reach mu and logvar (given eps)": 1,
        "eps=None: fresh N(0, I) noise gives z ~ N(mu, exp(logvar))": 2,
        EPS_NONE_GRADIENTS: 3,
        "inputs unchanged; finite for extreme logvar": 1,
    }


@pytest.mark.parametrize("name", ["torch-normal", "distribution-sample"])
def test_ex03_sampling_without_gradient_loses_three_points(name):
    results = _grade_in_process(*_mutant(name))
    failed = [r for r in results if not r.passed]
    assert [r.name for r in failed if not r.stretch] == [EPS_NONE_GRADIENTS]
    assert sum(r.points for r in results if not r.stretch) == 7
    assert "no gradient reaches `mu` and `logvar`" in failed[0].feedback


def test_ex03_eps_none_gradients_gated_like_given_eps_gradients():
    results = _by_name(_grade_in_process(*_mutant("missing-half")))
    assert not results["values with a given eps: z = mu + sigma * eps"].passed
    for name in ("gradients reach mu and logvar (given eps)", EPS_NONE_GRADIENTS):
        assert not results[name].passed and results[name].points == 0
        assert "first make `reparameterize` right" in results[name].feedback
    assert sum(r.points for r in results.values() if not r.stretch) == 1  # the shape check


def test_ex04_default_mean_bce_is_named():
    results = _by_name(_grade_in_process(*_mutant("elbo-bce-default-mean")))
    check = results["negative_elbo: BCE summed over pixels + KL, per example"]
    assert not check.passed and check.points == 0
    assert "averaged over all pixels and the whole batch" in check.feedback
    assert "reduction='none'" in check.feedback
    assert "sum over each image's own pixels" in check.feedback
    assert sum(r.points for r in results.values() if not r.stretch) == 5  # the KL checks


def test_feedback_never_shows_expected_arrays():
    results = _grade_in_process("ex03", source("ex03") + MUTANTS[0][2])
    for r in results:
        assert "tensor(" not in r.feedback


# ---------------------------------------------------------------- end to end, in the sandbox


def test_stubs_score_zero_and_references_full_end_to_end(tmp_path):
    start = time.monotonic()
    stubs = grade.grade_paths([EXERCISES], timeout=30)
    assert [e.exercise for e in stubs.exercises] == sorted(NAMES.values())
    total = 10 * len(NAMES)
    assert stubs.points == 0 and stubs.max_points == total
    assert all(e.error is None for e in stubs.exercises)

    refs = grade.grade_paths([_write_solutions(tmp_path / "refs")], timeout=30)
    assert refs.points == refs.max_points == total, grade.format_table(refs)
    assert f"Total: {total} / {total} points" in grade.format_table(refs)

    # untouched stubs: one summary line each in the table, every check in the report
    text = grade.format_table(stubs)
    assert len(text.splitlines()) == 1 + len(NAMES) + 1 + 1, text  # "Summary:", one per file
    assert "not implemented yet" not in text and "check" not in text
    for entry in stubs.exercises:
        assert f"{entry.exercise}  " in text
        assert len(entry.checks) == len(checks_for(entry.exercise[:4]))
        assert all("not implemented yet" in c.feedback for c in entry.checks)
        assert entry.untouched and entry.status is grade.Status.NOT_STARTED
        assert {c.status for c in entry.checks} == {grade.Status.NOT_STARTED}
    assert text.count(grade.NOT_STARTED) == len(NAMES)
    one = grade.Report(exercises=stubs.exercises[2:3])
    assert grade.format_table(one).splitlines() == [
        f"ex03_reparameterize: 0 / 10 points - {grade.NOT_STARTED}",
        "",
        "Total: 0 / 10 points",
    ]
    assert time.monotonic() - start < 45


def test_hostile_submissions_are_reported_and_grading_completes(tmp_path):
    paths = []
    for folder, (name, text) in HOSTILE.items():
        (tmp_path / folder).mkdir()
        (tmp_path / folder / name).write_text(text)
        paths.append(tmp_path / folder / name)
    start = time.monotonic()
    report = grade.grade_paths(paths, timeout=TIMEOUT)
    elapsed = time.monotonic() - start
    assert elapsed < 2 * TIMEOUT + 10  # the endless loop is stopped at the limit
    by_folder = {Path(e.path).parent.name: e for e in report.exercises}
    assert set(by_folder) == set(HOSTILE)

    loop = by_folder["loop"]
    assert loop.points == 0 and "time limit of 5 s" in loop.error
    assert loop.seconds < TIMEOUT + 3
    assert "sys.exit(0)" in by_folder["exit0"].error
    os_exit = by_folder["os_exit"]
    assert "exit code 3" in os_exit.error
    assert 0 < os_exit.points < os_exit.max_points  # checks before the exit keep points
    assert "syntax error on line 1" in by_folder["syntax"].error
    assert "returned a list" in by_folder["returns_list"].checks[0].feedback
    assert "No module named 'does_not_exist'" in by_folder["import_error"].error
    assert "SIGSEGV" in by_folder["segfault"].error
    raises = by_folder["raises"].checks
    assert "raised ValueError: boom" in raises[0].feedback
    assert any("KeyboardInterrupt" in c.feedback for c in raises)
    assert any("should be a function, but it is an int" in c.feedback for c in raises)

    printer = by_folder["prints_10mb"]
    assert printer.points == printer.max_points  # a huge print costs nothing...
    assert len(printer.output) < 10_000  # ...and does not bloat the report
    assert "not kept" in printer.output or "left out" in printer.output
    assert json.dumps(report.to_json())  # still plain JSON

    warned = by_folder["warnings"]
    assert warned.points == warned.max_points  # warnings never cost points
    assert "noise on stderr" in warned.output


# ---------------------------------------------------------------- the command line


def test_cli_json_report_has_the_issue_shape(tmp_path, capsys):
    refs = _write_solutions(tmp_path / "refs", ["ex04"])
    out = tmp_path / "reports" / "report.json"  # a folder that does not exist yet
    code = grade.main([str(EXERCISES / "ex03_reparameterize.py"), str(refs), "--json", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "ex04_elbo: 10 / 10 points" in printed  # attempted: its table
    assert "negative_elbo: beta weights the KL" in printed
    assert "ex03_reparameterize: 0 / 10" not in printed  # untouched: no table...
    assert "values with a given eps" not in printed
    summary = printed[printed.index("Summary:") :].splitlines()
    assert summary[1].split() == ["ex03_reparameterize", "0", "/", "10", *grade.NOT_STARTED.split()]
    assert summary[2].split() == [
        *["ex04_elbo", "10", "/", "10", "all", "checks", "pass,"],
        *["stretch", "2", "/", "2"],  # issue 22: the stretch, counted apart
    ]
    report = json.loads(out.read_text())
    assert {"points", "max_points", "exercises", "seed", "timeout"} <= set(report)
    assert (report["points"], report["max_points"]) == (10, 20)
    for entry in report["exercises"]:
        assert {"exercise", "points", "max_points", "status", "error", "checks"} <= set(entry)
        assert entry["error"] is None
        for c in entry["checks"]:
            assert set(c) == {
                "id",
                "name",
                "status",
                "points",
                "max_points",
                "passed",
                "feedback",
                "functions",
                "stretch",
                "stand_in",
            }
            assert isinstance(c["passed"], bool) and isinstance(c["feedback"], str)
    assert [e["exercise"] for e in report["exercises"]] == ["ex03_reparameterize", "ex04_elbo"]
    stub, done = report["exercises"]  # ...but every check in the JSON report
    assert len(stub["checks"]) == len(checks_for("ex03"))
    assert all("not implemented yet" in c["feedback"] for c in stub["checks"])
    assert stub["status"] == "not started" and done["status"] == "passed"
    assert {c["status"] for c in stub["checks"]} == {"not started"}
    assert stub["checks"][1]["id"] == "ex03.reparameterize.values"
    assert grade.Report.from_json(report).to_json() == report  # read back as records


def test_partly_done_exercise_gets_its_table(tmp_path):
    partial = source("ex04").split("def negative_elbo")[0]  # kl_divergence done
    stub = (EXERCISES / "ex04_elbo.py").read_text()
    text = partial + "\n\n" + "def negative_elbo" + stub.split("def negative_elbo")[1]
    (tmp_path / "ex04_elbo.py").write_text(text)
    report = grade.grade_paths([tmp_path], timeout=30)
    entry = report.exercises[0]
    assert not entry.untouched and entry.status is grade.Status.FAILED
    table = grade.format_table(report)
    assert "ex04_elbo: 5 / 10 points" in table
    assert "not implemented yet" in table  # the stubbed function's checks, in the table
    assert grade.NOT_STARTED not in table
    statuses = {c.id: c.status for c in entry.checks}
    kl = [s for key, s in statuses.items() if key.startswith("ex04.kl_divergence.")]
    elbo = [s for key, s in statuses.items() if key.startswith("ex04.negative_elbo.")]
    assert kl and set(kl) == {grade.Status.PASSED}
    assert elbo and set(elbo) == {grade.Status.NOT_STARTED}  # not started, not failed
    rows = [line for line in table.splitlines() if "negative_elbo" in line and "/" in line]
    assert len(rows) == len(elbo) and all(" - " in row and " x " not in row for row in rows)
    page = grade.html_table(report)
    stretch = [c for c in entry.checks if c.stretch]  # issue 22: not started either
    assert page.count("not started</span>") == len(elbo) + len(stretch)
    assert "failed</span>" not in page


def test_cli_grades_the_current_folder_when_it_holds_exercises(tmp_path, monkeypatch, capsys):
    _write_solutions(tmp_path / "exercises", ["ex07"])
    monkeypatch.chdir(tmp_path / "exercises")  # a learner who cd'ed into exercises/
    assert grade.main(["--timeout", "30"]) == 0
    assert "ex07_evaluation: 10 / 10 points" in capsys.readouterr().out
    monkeypatch.chdir(tmp_path)  # the course's folder: exercises/ as before
    assert grade.main(["--timeout", "30"]) == 0
    assert "ex07_evaluation: 10 / 10 points" in capsys.readouterr().out


def test_cli_usage_errors_return_2(tmp_path, monkeypatch, capsys):
    assert grade.main([str(tmp_path / "missing.py")]) == 2
    assert grade.main(["a.py", "--class", str(tmp_path)]) == 2
    assert grade.main(["--timeout", "0"]) == 2
    monkeypatch.chdir(tmp_path)
    assert grade.main([]) == 2  # no exercises/ folder here
    assert "no exercises/ folder" in capsys.readouterr().err
    assert grade.main(["--help"]) == 0


def test_class_gradebook_csv_and_json(tmp_path, monkeypatch, capsys):
    klass = tmp_path / "class"
    _write_solutions(klass / "alice", ["ex03", "ex04"])
    bob = klass / "bob" / "exercises"  # an exercises/ folder inside the learner's folder
    bob.mkdir(parents=True)
    (bob / "ex03_reparameterize.py").write_text((EXERCISES / "ex03_reparameterize.py").read_text())
    monkeypatch.chdir(tmp_path)
    assert grade.main(["--class", str(klass), "--timeout", "30"]) == 0
    printed = capsys.readouterr().out
    assert "gradebook.json" in printed and "gradebook.csv" in printed
    assert "alice" in printed and "20 / 20" in printed and "0 / 20" in printed

    book = json.loads((tmp_path / "gradebook.json").read_text())
    assert book["exercises"] == ["ex03_reparameterize", "ex04_elbo"]
    learners = {lr["learner"]: lr for lr in book["learners"]}
    assert learners["alice"]["points"] == 20 and learners["bob"]["points"] == 0
    bob_ex04 = learners["bob"]["exercises"][1]
    assert "no file" in bob_ex04["error"] and bob_ex04["max_points"] == 10
    assert bob_ex04["status"] == "not started"
    assert grade.Gradebook.from_json(book).to_json() == book  # read back as records

    rows = list(csv.DictReader((tmp_path / "gradebook.csv").open()))
    assert set(rows[0]) == {
        "learner",
        "exercise",
        "check",
        "check_id",
        "status",
        "points",
        "max_points",
        "passed",
        "stretch",
        "feedback",
    }
    checks = len(checks_for("ex03")) + len(checks_for("ex04"))
    assert len(rows) == 2 * checks
    assert {
        (r["feedback"], r["status"])
        for r in rows
        if r["learner"] == "bob" and r["exercise"] == "ex04_elbo"
    } == {("not submitted", "not started")}


def test_check_finds_the_exercise_from_a_notebook_folder(tmp_path, monkeypatch, capsys):
    (tmp_path / "notebooks").mkdir()
    _write_solutions(tmp_path / "exercises", ["ex07"])
    monkeypatch.chdir(tmp_path / "notebooks")
    report = grade.check("ex07")
    assert report.points == report.max_points == 10
    assert "ex07_evaluation: 10 / 10 points" in capsys.readouterr().out
    assert repr(report) == "<grade report ex07_evaluation: 10 / 10 points>"
    assert "<table>" in grade.html_table(report)
    with pytest.raises(FileNotFoundError, match="ex42"):
        grade.find_exercise("ex42", tmp_path / "notebooks")


GREEDY = (
    "import torch\n\n\n"
    "def reparameterize(mu, logvar, eps=None):\n"
    "    waste = torch.ones(2**28)  # 1 GiB, written\n"
    "    eps = torch.randn_like(mu) if eps is None else eps\n"
    "    return mu + torch.exp(0.5 * logvar) * eps + 0 * waste[0]\n"
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_DATA: Linux only")
def test_memory_limit_fails_the_greedy_checks_with_feedback(tmp_path):
    (tmp_path / "ex03_reparameterize.py").write_text(GREEDY)
    (tmp_path / "top").mkdir()
    (tmp_path / "top" / "ex03_reparameterize.py").write_text(
        "import torch\n\nTABLE = torch.ones(2**28)\n"
    )
    limited = grade.grade_paths(
        [tmp_path / "ex03_reparameterize.py", tmp_path / "top"], timeout=120, memory_gb=0.25
    )
    greedy, top = limited.exercises
    assert greedy.error is None and greedy.points == 0  # graded, not killed
    memory_feedback = [c.feedback for c in greedy.checks if "0.25 GiB" in c.feedback]
    assert len(memory_feedback) == len([c for c in greedy.checks if not c.stretch])
    assert memory_feedback[0].startswith(
        "`reparameterize` ran out of memory (one tensor of 1 GiB): more than grading allows"
    )
    assert top.error.startswith("importing ex03_reparameterize.py (line 3) ran out of memory")
    assert "more than grading allows (0.25 GiB)" in top.error

    unlimited = grade.grade_paths([tmp_path / "ex03_reparameterize.py"], timeout=120, memory_gb=0)
    assert unlimited.points == unlimited.max_points  # the limit was the only problem


def test_cli_refuses_a_negative_memory_limit(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert grade.main(["--memory", "-1"]) == 2
    assert "--memory must be 0 (no limit) or a number of GiB" in capsys.readouterr().err


def test_html_table_is_left_aligned_with_code_spans_and_coloured_marks():
    from html.parser import HTMLParser

    passed, failed = grade.Status.PASSED, grade.Status.FAILED
    report = grade.Report(
        exercises=[
            grade.ExerciseResult(
                exercise="ex04_elbo",
                output="hello <world>",
                checks=[
                    grade.CheckResult("ex04.kl", "kl", passed, 2, 2, "ok"),
                    grade.CheckResult(
                        "ex04.elbo",
                        "elbo",
                        failed,
                        0,
                        1,
                        "`logvar` is used as the standard deviation: 1 < 2",
                    ),
                ],
            )
        ],
    )

    class Cells(HTMLParser):
        def __init__(self):
            super().__init__()
            self.cells, self.spans, self.code = [], [], []
            self.tags = []

        def handle_starttag(self, tag, attrs):
            self.tags.append(tag)
            style = dict(attrs).get("style") or ""
            if tag in ("td", "th"):
                self.cells.append(style)
            if tag == "span":
                self.spans.append([style, ""])

        def handle_endtag(self, tag):
            self.tags.pop()

        def handle_data(self, data):
            if self.tags and self.tags[-1] == "span":
                self.spans[-1][1] += data
            if self.tags and self.tags[-1] == "code":
                self.code.append(data)

    page = grade.html_table(report)
    parser = Cells()
    parser.feed(page)
    assert len(parser.cells) == 4 + 2 * 4  # header and two rows of four cells
    assert all("text-align:left" in style for style in parser.cells)  # JupyterLab right-aligns
    assert 'style="display:inline-block' in page  # keeps the table at the left edge
    assert parser.code == ["logvar"] and "`" not in page  # Markdown code spans as <code>
    marks = {text.split()[-1]: style for style, text in parser.spans}
    assert set(marks) == {"passed", "failed"}  # in words, not colour alone...
    assert "color:#1a7f37" in marks["passed"]  # ...and in colour
    assert "color:#b3261e" in marks["failed"]
    assert "1 &lt; 2" in page and "hello &lt;world&gt;" in page  # escaped


# ---------------------------------------------------------------- no points without the work


def _checks_of(entry, function: str | None) -> list:
    """The checks of one learner function (check names start with it), or all of them."""
    if function is None:  # a trick's file has no stretch function: those checks say so
        return [c for c in entry.checks if not c.stretch]
    return [c for c in entry.checks if c.name.startswith(function)]


def _grade_tricks(tmp_path, tricks: dict) -> dict:
    paths = []
    for name, trick in tricks.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / trick.file).write_text(trick.source)
        paths.append(tmp_path / name / trick.file)
    report = grade.grade_paths(paths, timeout=30)
    return {Path(e.path).parent.name: e for e in report.exercises}


def test_tricks_get_no_points_for_what_they_fake(tmp_path):
    from grading.tricks import TRICKS

    graded = _grade_tricks(tmp_path, TRICKS)
    for name, trick in TRICKS.items():
        entry = graded[name]
        table = grade.format_table(grade.Report(exercises=[entry]))
        assert entry.points == trick.points, (name, table)
        for function in trick.fakes if trick.fakes is not None else [None]:
            checks = _checks_of(entry, function)
            assert checks, (name, function)
            for c in checks:
                assert not c.passed and c.points == 0, (name, table)
                if trick.feedback:
                    assert trick.feedback in c.feedback, (name, c.feedback)
    # the grading process was never touched: its torch is torch, and real work still counts
    import torch

    assert torch.allclose(torch.zeros(2), torch.ones(2)) is False
    assert not torch.equal(torch.zeros(2), torch.ones(2))
    honest = grade.grade_paths([_write_solutions(tmp_path / "honest", ["ex04"])], timeout=30)
    assert honest.points == honest.max_points == 10


def test_reference_solutions_calling_vaelab_score_nothing(tmp_path):
    from grading.tricks import REFERENCE_HEADER, REFERENCE_SOLUTIONS

    for exercise, body in REFERENCE_SOLUTIONS.items():
        (tmp_path / f"{NAMES[exercise]}.py").write_text(REFERENCE_HEADER + body)
    report = grade.grade_paths([tmp_path], timeout=30)
    for entry in report.exercises:
        passed = [c.name for c in entry.checks if c.passed]
        if entry.exercise == "ex02_gaussian_encoder":  # its own 2 * torch.log(std)
            assert passed == [
                "logvar_from_std inverts std_from_logvar",
                "logvar_from_std: finite for a tiny or a huge sigma",
            ], passed
        else:
            assert passed == [], (entry.exercise, passed)
        for c in entry.checks:
            if c.stretch:  # these files leave the stretch out
                assert "is missing from your file" in c.feedback
                continue
            assert c.passed or "calls vaelab's own `" in c.feedback, c
    by_name = {e.exercise: e for e in report.exercises}
    assert by_name["ex02_gaussian_encoder"].checks[1].feedback == (
        "`encode` calls vaelab's own `model.encode`: build it from the model's layers "
        "yourself, as the exercise asks."
    )
    kl = by_name["ex04_elbo"].checks[0].feedback
    assert (
        kl
        == "`kl_divergence` calls vaelab's own `losses.kl_divergence`: write the formula yourself."
    )


# ---------------------------------------------------------------- inputs drawn from a seed

OFF_BY_A_LITTLE = (  # wrong in no known way: the feedback quotes the largest difference
    "import torch\n\n\n"
    "def psnr(x, x_hat, max_val=1.0):\n"
    "    mse = (x - x_hat).pow(2).flatten(1).mean(1)\n"
    "    return 10 * torch.log10(max_val**2 / mse) + 0.01 * x.flatten(1).sum(1)\n\n\n"
    "def log_mean_exp(log_w, dim=0):\n"
    "    k = torch.tensor(float(log_w.shape[dim]))\n"
    "    return torch.logsumexp(log_w, dim=dim) - 1.01 * torch.log(k)\n"
)


def test_seed_is_recorded_and_repeats_the_inputs(tmp_path, capsys):
    path = tmp_path / "ex07_evaluation.py"
    path.write_text(OFF_BY_A_LITTLE)
    first = grade.grade_paths([path], timeout=30, seed=123)
    again = grade.grade_paths([path], timeout=30, seed=123)
    other = grade.grade_paths([path], timeout=30, seed=124)
    assert first.seed == again.seed == first.exercises[0].seed == 123
    feedback = [[c.feedback for c in r.exercises[0].checks] for r in (first, again, other)]
    assert "largest difference" in feedback[0][0]
    assert feedback[0] == feedback[1]  # the same inputs
    assert feedback[0][0] != feedback[2][0]  # other inputs: another largest difference
    fresh = grade.grade_paths([path], timeout=30)
    assert isinstance(fresh.seed, int) and fresh.seed >= 0

    out = tmp_path / "report.json"
    assert grade.main([str(path), "--seed", "123", "--json", str(out), "--timeout", "30"]) == 0
    assert "(inputs drawn from seed 123; --seed 123 repeats them)" in capsys.readouterr().out
    report = json.loads(out.read_text())
    assert report["seed"] == 123
    assert [c["feedback"] for c in report["exercises"][0]["checks"]] == feedback[0]


def test_class_and_notebook_runs_take_a_seed(tmp_path, monkeypatch, capsys):
    _write_solutions(tmp_path / "class" / "ada", ["ex07"])
    book = grade.grade_class(tmp_path / "class", timeout=30, seed=5)
    assert book.seed == 5 and book.learners[0].exercises[0].seed == 5
    _write_solutions(tmp_path / "exercises", ["ex07"])
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "notebooks")
    assert grade.check("ex07", seed=6).seed == 6


def _table_source(table: dict) -> str:
    """An ex04 file that answers from a table of (inputs -> output) and 0 otherwise."""
    return (
        "import hashlib\n\nimport torch\n\n"
        f"TABLE = {table!r}\n\n\n"
        "def _key(*args):\n"
        "    h = hashlib.sha256()\n"
        "    for a in args:\n"
        "        is_tensor = isinstance(a, torch.Tensor)\n"
        "        h.update(a.detach().numpy().tobytes() if is_tensor else repr(a).encode())\n"
        "    return h.hexdigest()\n\n\n"
        "def _answer(key, batch, dtype):\n"
        "    if key in TABLE:\n"
        "        return torch.tensor(TABLE[key], dtype=dtype)\n"
        "    return torch.zeros(batch, dtype=dtype)\n\n\n"
        "def kl_divergence(mu, logvar):\n"
        "    return _answer(_key(mu, logvar), mu.shape[0], mu.dtype)\n\n\n"
        "def negative_elbo(x, x_logits, mu, logvar, beta=1.0):\n"
        "    return _answer(_key(x, x_logits, mu, logvar, float(beta)), x.shape[0], x.dtype)\n"
    )


def test_answers_learned_from_one_run_are_worth_nothing_in_the_next(tmp_path):
    """A learner who saved the grader's inputs and vaelab's answers in one run (seed 1)
    gets those values checks with seed 1, and nothing with a fresh seed."""
    import hashlib

    import torch

    from vaelab import losses

    table = {}

    def key(*args):
        h = hashlib.sha256()
        for a in args:
            h.update(
                a.detach().numpy().tobytes() if isinstance(a, torch.Tensor) else repr(a).encode()
            )
        return h.hexdigest()

    def kl_divergence(mu, logvar):
        out = losses.kl_divergence(mu, logvar, reduction="none")
        table[key(mu, logvar)] = out.tolist()
        return out

    def negative_elbo(x, x_logits, mu, logvar, beta=1.0):
        out = losses.bernoulli_nll(x_logits, x, reduction="none") + beta * losses.kl_divergence(
            mu, logvar, reduction="none"
        )
        table[key(x, x_logits, mu, logvar, float(beta))] = out.tolist()
        return out

    recorder = types.ModuleType("recorder")
    recorder.kl_divergence, recorder.negative_elbo = kl_divergence, negative_elbo
    for item in checks_for("ex04"):
        if not item.stretch:  # the recorder leaves the stretch out
            assert core.run_check(item, recorder, seed=1).passed
    path = tmp_path / "ex04_elbo.py"
    path.write_text(_table_source(table))
    same = grade.grade_paths([path], timeout=30, seed=1).exercises[0]
    failed = [c.name for c in same.checks if not c.passed and not c.stretch]
    assert all("gradients" in name for name in failed), failed  # a table has no gradient
    assert same.points == 8
    fresh = grade.grade_paths([path], timeout=30, seed=2).exercises[0]
    assert fresh.points == 0


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_known_mistake_keeps_its_points_under_any_seed(seed):
    from grading.mutants import SCORES, STRETCH_SCORES

    assert set(SCORES) == {name for _, name, _, _ in MUTANTS}
    for exercise, name, text, feedback in MUTANTS:
        module = _module(source(exercise) + "\n\n" + text)
        results = [core.run_check(item, module, seed=seed) for item in checks_for(exercise)]
        own = sum(r.points for r in results if not r.stretch)
        assert own == pytest.approx(SCORES[name]), name
        stretch = [r for r in results if r.stretch]  # issue 22: counted apart
        full = sum(r.max_points for r in stretch)
        assert sum(r.points for r in stretch) == pytest.approx(STRETCH_SCORES.get(name, full))
        named = [r for r in results if not r.passed or r.stand_in]
        assert any(feedback in r.feedback for r in named), name
    for exercise in NAMES:
        module = _module(source(exercise))
        results = [core.run_check(item, module, seed=seed) for item in checks_for(exercise)]
        assert all(r.passed for r in results), (exercise, results)


SWITCH_OFF = """
import sys
from vaelab.grading import EXERCISES
from vaelab.grading.checks import protected_for
from vaelab.grading.runtime import child
counts = []
for exercise in EXERCISES:
    labels = protected_for(exercise)
    files = child.switch_off(labels)  # for good: this process serves no other purpose
    assert files and all(f.suffix == ".py" for f in files)
    for label in labels:
        module, *path = label.split(".")
        target = sys.modules["vaelab." + module]
        for name in path:
            target = getattr(target, name)
        try:
            target(None)
        except child.ReferenceSwitchedOff as e:
            assert label in str(e)
        else:
            raise AssertionError(label + " still works")
    counts.append(len(labels))
from vaelab import models
models.build(models.MLPVAE(image_shape=(1, 8, 8), hidden_dim=4, latent_dim=2).spec())
print(*counts)
"""


def test_every_protected_reference_exists_and_is_switched_off():
    out = subprocess.run([sys.executable, "-c", SWITCH_OFF], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    counts = [int(n) for n in out.stdout.split()]
    assert counts == [len(protected_for(e)) for e in sorted(NAMES)]
    assert min(counts) >= 1


def test_answers_are_plain_data_or_refused():
    import io
    import pickle

    import torch

    from vaelab.grading.runtime import wire

    value = {"z": torch.arange(6.0).view(2, 3), "n": (1, 2.5, None, "a"), 3: [True, 1j]}
    back = wire.loads(wire.dumps(value))
    assert torch.equal(back["z"], value["z"]) and back["n"] == (1, 2.5, None, "a")
    assert back[3] == [True, 1j] and type(back["z"]) is torch.Tensor

    class Sub(torch.Tensor):
        pass

    back = wire.loads(wire.dumps([torch.ones(2).as_subclass(Sub)]))
    assert type(back[0]) is torch.Tensor  # a subclass arrives as a plain tensor

    def saved(obj) -> bytes:
        buffer = io.BytesIO()
        torch.save(obj, buffer)
        return buffer.getvalue()

    bad = [
        saved(types.SimpleNamespace(a=1)),  # not plain data: weights_only refuses it
        pickle.dumps({"json": "{}", "blob": None}),  # not torch.save bytes
        saved(
            {
                "json": '{"tree": {"$t": 0}, "tensors": []}',
                "blob": torch.zeros(4, dtype=torch.uint8),
            }
        ),
        saved(
            {
                "json": '{"tree": 1, "tensors": [["float32", [4], 0, 16]]}',
                "blob": torch.zeros(8, dtype=torch.uint8),
            }
        ),
        saved(
            {
                "json": '{"tree": 1, "tensors": [["object", [1], 0, 1]]}',
                "blob": torch.zeros(8, dtype=torch.uint8),
            }
        ),
        saved(
            {
                "json": '{"tree": {"$code": 1}, "tensors": []}',
                "blob": torch.zeros(0, dtype=torch.uint8),
            }
        ),
        saved({"json": "[" * 5000, "blob": torch.zeros(0, dtype=torch.uint8)}),
    ]
    for data in bad:
        with pytest.raises(wire.WireError):
            wire.loads(data)


SPY = """import sys

import torch

seen, frames = [], 0
frame = sys._getframe()
while frame is not None:
    frames += 1
    for value in list(frame.f_locals.values()) + list(frame.f_globals.values()):
        seen.append(repr(value))
    frame = frame.f_back
seen = " ".join(seen)
print("SPY", frames, "frames;", "own path:", "spy/ex07" in seen, "secret:", "SECRET OF ADA" in seen,
      "seed:", "987654321" in seen)


def psnr(x, x_hat, max_val=1.0):
    return torch.zeros(x.shape[0])


def log_mean_exp(log_w, dim=0):
    return torch.zeros(1)
"""


def test_a_learner_sees_neither_the_seed_nor_another_learners_results(tmp_path):
    (tmp_path / "ada").mkdir()
    (tmp_path / "ada" / "ex07_evaluation.py").write_text(
        "print('SECRET OF ADA')\n\n" + source("ex07")
    )
    (tmp_path / "spy").mkdir()
    (tmp_path / "spy" / "ex07_evaluation.py").write_text(SPY)
    report = grade.grade_paths(
        [tmp_path / "ada", tmp_path / "spy"], timeout=30, parallel=1, seed=987654321
    )
    ada, spy = report.exercises
    assert ada.points == 10 and "SECRET OF ADA" in ada.output
    # it looked through every frame it could reach (and found its own path in the worker's);
    # ada's entry (which holds what she printed) and the seed are not there
    assert "own path: True secret: False seed: False" in spy.output


# ---------------------------------------------------------------- hints on demand


def test_hint_steps_through_a_checks_hints_and_starts_over(tmp_path, monkeypatch):
    from vaelab.grading.output import hints

    monkeypatch.setenv("VAELAB_CACHE", str(tmp_path / "cache"))
    check = "negative_elbo: BCE summed over pixels + KL, per example"
    check_id = "ex04.negative_elbo.values"
    steps = hints_for("ex04")[check_id]
    passed, failed = grade.Status.PASSED, grade.Status.FAILED
    missing = "the KL term is missing: add beta * KL."
    entry = grade.ExerciseResult(
        exercise="ex04_elbo",
        path=str(tmp_path / "ex04_elbo.py"),
        checks=[
            grade.CheckResult(
                "ex04.kl_divergence.values", "kl_divergence: ...", passed, 5, 5, "ok"
            ),
            grade.CheckResult(check_id, check, failed, 0, 5, missing),
        ],
    )
    texts = [
        hints.hint_text(entry, "ex04", hints_for, again="again()", start_over="reset()")
        for _ in range(len(steps) + 1)
    ]
    for i, text in enumerate(texts):
        shown = min(i, len(steps) - 1)
        assert f"Hint {shown + 1} of {len(steps)}:" in text
        assert " ".join(steps[shown].split()[:5]) in " ".join(text.split())
        assert "the KL term is missing" in text and check in text
    assert "Ask again (again())" in texts[0] and "last hint" in texts[-1]
    assert "reset() starts over" in texts[0] and str(hints.state_path()) in texts[0]
    state = json.loads(hints.state_path().read_text())
    assert state[str(Path(entry.path).resolve())] == {check_id: len(steps)}  # by id
    assert hints.reset(entry.path) and not hints.reset(entry.path)
    again = hints.hint_text(entry, "ex04", hints_for, again="a()", start_over="r()")
    assert f"Hint 1 of {len(steps)}:" in again
    # a function not started yet gets the first hint, and uses none up
    not_started = dataclasses.replace(entry.checks[1], status=grade.Status.NOT_STARTED)
    stub = dataclasses.replace(entry, checks=[not_started])
    hints.reset(entry.path)
    for _ in range(2):
        text = hints.hint_text(stub, "ex04", hints_for, again="a()", start_over="r()")
        assert f"Hint 1 of {len(steps)}:" in text and "Not counted" in text
    assert f"Hint 1 of {len(steps)}:" in hints.hint_text(
        entry, "ex04", hints_for, again="a()", start_over="r()"
    )
    passing = dataclasses.replace(entry, checks=entry.checks[:1])
    assert "no hint needed" in hints.hint_text(passing, "ex04", hints_for, again="", start_over="")


def test_hint_and_cli_hint_grade_the_file_and_give_the_next_hint(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("VAELAB_CACHE", str(tmp_path / "cache"))
    (tmp_path / "notebooks").mkdir()
    folder = tmp_path / "exercises"
    folder.mkdir()
    (folder / "ex04_elbo.py").write_text(_mutant("elbo-mean-over-pixels")[1])
    (folder / "ex03_reparameterize.py").write_text(
        (EXERCISES / "ex03_reparameterize.py").read_text()
    )
    monkeypatch.chdir(tmp_path / "notebooks")
    hint = grade.hint("ex04")
    first = str(hint)
    assert first in capsys.readouterr().out  # printed once...
    assert first not in repr(hint) and len(repr(hint).splitlines()) == 1  # ...not again
    assert hint._ipython_display_() is None  # Jupyter shows nothing for the cell's value
    assert "The first check that fails:" in first and "averaged over pixels" in first
    assert "Hint 1 of 3:" in first and 'vaelab.grade.hint("ex04", reset=True)' in first
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    assert grade.main(["--hint"]) == 0  # the first exercise started (ex03 is untouched)
    second = capsys.readouterr().out
    assert "ex04_elbo: 5 / 10 points" in second and "Hint 2 of 3:" in second
    assert "vaelab grade --hint exercises/ex04_elbo.py --reset-hints starts over" in second
    assert grade.main(["--hint", "exercises/ex04_elbo.py", "--reset-hints"]) == 0
    assert grade.main(["--hint", "ex04"]) == 0
    assert "Hint 1 of 3:" in capsys.readouterr().out
    assert grade.main(["--reset-hints"]) == 2  # only with --hint


# ---------------------------------------------------------------- ex09 against scikit-learn


def test_ex09_references_agree_with_scikit_learn_and_mig():
    import torch
    from sklearn.metrics import mutual_info_score

    from vaelab import disentangle
    from vaelab.grading.checks import ex09

    module = _module(source("ex09"))
    generator = torch.Generator().manual_seed(0)
    for n, low, high in ((50, 0, 3), (400, -5, 5), (1000, 90, 97)):
        a = torch.randint(low, high, (n,), generator=generator)
        b = torch.where(torch.rand(n, generator=generator) < 0.5, a * 3, a // 2)
        want = mutual_info_score(a.numpy(), b.numpy())  # nats
        assert float(ex09.reference_mi(a, b)) == pytest.approx(want, rel=1e-12, abs=1e-12)
        assert float(module.mutual_information(a, b)) == pytest.approx(want, rel=1e-12, abs=1e-12)
    codes = torch.randn(500, 4, dtype=torch.float64, generator=generator)
    factors = torch.randint(0, 5, (500, 3), generator=generator)
    factors[:, 0] = (codes[:, 1] > 0).long() * 2 + (codes[:, 2] > 0).long()  # in two dims
    result = disentangle.mig(codes, factors)
    gap = disentangle.mutual_information_gap(result.mi, result.entropy)
    assert float(gap) == pytest.approx(result.score, abs=1e-12)
    assert float(module.mutual_information_gap(result.mi, result.entropy)) == pytest.approx(
        result.score, abs=1e-12
    )


def test_class_summary_counts_a_named_culprit_as_a_follow_on():
    from vaelab.grading.output import summary

    def outcome(learner, feedback):
        return {
            "learner": learner,
            "exercise": "ex04",
            "number": "4.4",
            "check": "negative_elbo: values",
            "max_points": 2.0,
            "state": "failed",
            "feedback": feedback,
        }

    culprit = (
        "`negative_elbo` uses your `kl_divergence`, which fails its own check: fix that first."
    )
    result = summary.summarize(
        [
            outcome("a", culprit),
            outcome("b", culprit + " Besides, the reconstruction term is averaged over pixels"),
            outcome("c", "the KL term is missing: add beta * KL."),
        ],
        ["a", "b", "c"],
    )
    row = result["checks"][0]
    assert (row["failed"], row["follow_on"]) == (3, 2)
    assert [g["example"] for g in row["feedback"]] == ["the KL term is missing: add beta * KL."]
