"""What the class got wrong: per check, how many failed and their most common feedback, from
a gradebook (`vaelab grade --class`) and from a folder of Gradescope results.json files
(`vaelab grade --summarize`), which must agree."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
from grading.mutants import MUTANTS
from grading.solutions import NAMES, source

from vaelab import grade
from vaelab.grading.output import gradescope, summary
from vaelab.grading.records import Report

REPO = Path(__file__).resolve().parent.parent
VALUES = "values with a given eps: z = mu + sigma * eps"
BCE = "negative_elbo: BCE summed over pixels + KL, per example"


def test_normalise_masks_the_numbers_and_nothing_else():
    a = "z is not right for mu of shape (4, 3) (largest difference 1.14e+03). Use 0.5 * logvar."
    b = "z is not right for mu of shape (4, 3) (largest difference 2.5). Use 0.5 * logvar."
    assert summary.normalise(a) == summary.normalise(b)
    assert summary.normalise(a) == (
        "z is not right for mu of shape (#, #) (largest difference #). Use # * logvar."
    )
    kept = "ex04_elbo.py has a syntax error; use logvar2, x[0] and -1/2 * sum(...)"
    assert summary.normalise(kept) == (
        "ex04_elbo.py has a syntax error; use logvar2, x[#] and #/# * sum(...)"
    )
    assert summary.normalise("a  b\n c -3e-5") == "a b c #"


def _outcome(learner, check, state, feedback="", exercise="ex03", number="3.2"):
    return {
        "learner": learner,
        "exercise": exercise,
        "number": number,
        "check": check,
        "max_points": 2.0,
        "state": state,
        "feedback": feedback,
    }


def test_summarize_counts_groups_by_pattern_and_sorts_by_failures():
    outcomes = [
        _outcome("a", "values", "failed", "off (largest difference 1.5)"),
        _outcome("b", "values", "failed", "off (largest difference 3e+02)"),
        _outcome("c", "values", "failed", "`logvar` is used as the variance"),
        _outcome("d", "values", "not started", "`reparameterize` is not implemented yet"),
        _outcome("e", "values", "passed", "ok"),
        _outcome("a", "shape", "failed", "wrong shape", number="3.1"),
        _outcome("b", "shape", "passed", "ok", number="3.1"),
        _outcome("a", "kl", "passed", "ok", exercise="ex04", number="4.1"),
        _outcome("a", "grads", "failed", "first make `reparameterize` right ...", number="3.3"),
        _outcome("c", "grads", "failed", "first make `reparameterize` right ...", number="3.3"),
        _outcome("e", "grads", "failed", "no gradient reaches `mu`", number="3.3"),
        _outcome("b", "eps", "failed", "first make `reparameterize` right ...", number="3.5"),
    ]
    result = summary.summarize(outcomes, ["a", "b", "c", "d", "e"])
    assert result["learners"] == 5
    assert [(r["check"], r["failed"], r["follow_on"]) for r in result["checks"]] == [
        ("values", 3, 0),
        ("grads", 3, 2),  # one failure of its own, sorted by those
        ("shape", 1, 0),
        ("eps", 1, 1),
        ("kl", 0, 0),
    ]
    grads = result["checks"][1]
    assert [(g["count"], g["learners"]) for g in grads["feedback"]] == [(1, ["e"])]
    values = result["checks"][0]
    assert (values["passed"], values["not_started"]) == (1, 1)
    top, other = values["feedback"]
    assert top == {
        "count": 2,
        "pattern": "off (largest difference #)",
        "example": "off (largest difference 1.5)",  # a real text, the first learner's
        "learners": ["a", "b"],
    }
    assert (other["count"], other["learners"]) == (1, ["c"])
    text = summary.format_summary(result)
    assert "ex03 values: failed by 3 of 4 (1 not started)" in text
    assert "2 x off (largest difference 1.5)" in text
    assert "1 x another feedback" in text  # told to one learner only: not printed
    assert "ex03 grads: failed by 3 of 3 (2 as a follow-on of an earlier check)" in text
    assert "failed only as follow-ons of an earlier check: ex03 3.5 (1)" in text
    assert "the other 1 checks: no learner who attempted them failed" in text
    assert text.index("ex03 values") < text.index("ex03 grads") < text.index("ex03 shape")


def test_follow_on_feedback_starts_as_the_summary_expects():
    from vaelab.grading.checks.toolkit import Mistake, needs_working

    with pytest.raises(Mistake) as raised:
        needs_working(False, "kl_divergence")
    assert str(raised.value).startswith(summary.FOLLOW_ON)


def _mutant(name: str) -> tuple[str, str]:
    exercise, text = next((e, s) for e, n, s, _ in MUTANTS if n == name)
    return exercise, source(exercise) + "\n\n" + text


SCALED = (  # a mistake the grader has no name for: its feedback carries a number
    "def reparameterize(mu, logvar, eps=None):\n"
    "    eps = torch.randn_like(mu) if eps is None else eps\n"
    "    return mu + {k} * torch.exp(0.5 * logvar) * eps\n"
)


def _class(folder: Path) -> dict[str, dict[str, str]]:
    """Seven learners: two right, three with the same named mistake, two with an unnamed one
    whose feedback differs only in a number, one who submitted ex04 untouched and no ex03."""
    std = _mutant("logvar-as-std")[1]
    klass = {
        "ana": {"ex03": source("ex03"), "ex04": source("ex04")},
        "ben": {"ex03": std, "ex04": source("ex04")},
        "cleo": {"ex03": std, "ex04": _mutant("elbo-bce-default-mean")[1]},
        "gil": {"ex03": std, "ex04": source("ex04")},
        "dan": {"ex03": source("ex03") + SCALED.format(k=2), "ex04": source("ex04")},
        "eve": {"ex03": source("ex03") + SCALED.format(k=3), "ex04": source("ex04")},
        "fay": {"ex04": (REPO / "exercises" / f"{NAMES['ex04']}.py").read_text()},
    }
    for learner, files in klass.items():
        (folder / learner).mkdir(parents=True)
        for exercise, text in files.items():
            (folder / learner / f"{NAMES[exercise]}.py").write_text(text)
    return klass


def _comparable(result: dict) -> list[tuple]:
    return [
        (
            r["exercise"],
            r["number"],
            r["check"],
            r["max_points"],
            r["passed"],
            r["failed"],
            r["not_started"],
            r["follow_on"],
            [(g["count"], g["pattern"], g["learners"]) for g in r["feedback"]],
        )
        for r in result["checks"]
    ]


@pytest.mark.slow
def test_class_summary_from_the_gradebook_and_from_gradescope_results(tmp_path, capsys):
    _class(tmp_path / "class")
    out = tmp_path / "grades" / "book.json"
    assert grade.main(["--class", str(tmp_path / "class"), "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.index("learner") < printed.index("What the class got wrong (7 learners)")
    assert "summary written to" in printed

    result = json.loads((tmp_path / "grades" / "summary.json").read_text())
    assert result["learners"] == 7
    failed = [r["failed"] for r in result["checks"]]
    values = next(r for r in result["checks"] if r["check"] == VALUES)
    own = [r["failed"] - r["follow_on"] for r in result["checks"]]
    assert own == sorted(own, reverse=True)
    assert result["checks"][0]["check"] == VALUES and values["failed"] == max(failed)
    assert (values["exercise"], values["number"]) == ("ex03", "3.2")
    assert (values["passed"], values["failed"], values["not_started"]) == (1, 5, 1)
    top, scaled = values["feedback"][:2]
    assert top["count"] == 3 and top["learners"] == ["ben", "cleo", "gil"]
    assert top["example"].startswith("`logvar` is used as the standard deviation")
    assert scaled["count"] == 2 and scaled["learners"] == ["dan", "eve"]
    assert "largest difference #" in scaled["pattern"]
    assert re.search(r"largest difference \d", scaled["example"])  # one real text
    bce = next(r for r in result["checks"] if r["check"] == BCE)
    assert (bce["failed"], bce["not_started"]) == (1, 1)  # cleo; fay's stub is not a failure
    assert "averaged over all pixels and the whole batch" in bce["feedback"][0]["example"]
    text = printed[printed.index("What the class got wrong") :]
    assert f"ex03 {VALUES}: failed by 5 of 6 (1 not started)" in text
    assert "3 x `logvar` is used as the standard deviation" in text
    assert re.search(r"\n    2 x z is not right .*largest difference \d", text)  # shared: shown

    rows = list(csv.DictReader((tmp_path / "grades" / "summary.csv").open()))
    assert len(rows) == 6 + 7 + 2  # every check of ex03 and ex04, and their stretch
    assert rows[0]["check"] == VALUES and rows[0]["top_feedback_count"] == "3"
    assert rows[0]["other_feedback_count"] == "2"

    # the same class graded on Gradescope: one results.json per learner, in any layout
    book = json.loads(out.read_text())
    downloads = tmp_path / "gradescope"
    for learner in book["learners"]:
        report = Report.from_json({"exercises": learner["exercises"]})
        results = gradescope.results_json(report, visibility="after_due_date")
        gradescope.write_results(
            results, downloads / f"submission_{learner['learner']}" / "results.json"
        )
    (downloads / "notes.json").write_text('{"not": "results"}')  # ignored
    (downloads / "broken").mkdir()
    (downloads / "broken" / "results.json").write_text("{")  # skipped, with a note
    target = tmp_path / "from_gradescope" / "summary.json"
    assert grade.main(["--summarize", str(downloads), "--json", str(target)]) == 0
    captured = capsys.readouterr()
    assert "skipped" in captured.err and "broken" in captured.err
    assert "What the class got wrong (7 learners)" in captured.out
    from_gradescope = json.loads(target.read_text())
    assert _comparable(from_gradescope) == [
        tuple(row[:8]) + ([(c, p, [f"submission_{n}" for n in who]) for c, p, who in row[8]],)
        for row in _comparable(result)
    ]
    assert target.with_suffix(".csv").is_file()

    # Gradescope's export of the submissions: every submission's results in one YAML file
    export = tmp_path / "assignment_export"
    export.mkdir()
    (export / "submission_metadata.yml").write_text(_metadata(book))
    assert grade.main(["--summarize", str(export), "--json", str(tmp_path / "s2.json")]) == 0
    assert "skipped fay in" not in capsys.readouterr().err
    from_export = json.loads((tmp_path / "s2.json").read_text())
    assert _comparable(from_export) == _comparable(result)


def _metadata(book: dict) -> str:
    """The gradebook as Gradescope's submission_metadata.yml: Ruby-style keys (:name:), a
    Ruby BigDecimal score, the autograder's results.json under :results:."""
    import yaml

    export = {}
    for i, learner in enumerate(book["learners"]):
        results = gradescope.results_json(Report.from_json({"exercises": learner["exercises"]}))
        export[f"submission_{1000 + i}"] = {
            ":submitters": [{":name": learner["learner"], ":sid": str(1000 + i)}],
            ":created_at": "2026-11-30 10:00:00.000000000 -08:00",
            ":score": "SCORE",
            ":results": results,
        }
    text = yaml.safe_dump(export, sort_keys=False)
    text = re.sub(r"'(:\w+)':", r"\1:", text)  # ':name': -> :name:, as Ruby writes it
    assert ":submitters:" in text and "':" not in text.split(":results:")[0]
    return text.replace("SCORE", "!ruby/object:BigDecimal 18:0.2e2")


def test_summarize_needs_results(tmp_path, capsys):
    assert grade.main(["--summarize", str(tmp_path)]) == 2
    assert "no Gradescope results in" in capsys.readouterr().err
    assert grade.main(["--summarize", str(tmp_path / "nowhere")]) == 2


def test_gradebook_may_not_take_the_summary_name(tmp_path, capsys):
    (tmp_path / "class").mkdir()
    code = grade.main(
        ["--class", str(tmp_path / "class"), "--json", str(tmp_path / "summary.json")]
    )
    assert code == 2
    assert "is where the class summary goes" in capsys.readouterr().err
