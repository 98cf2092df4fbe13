"""What a class got wrong: for each check, how many learners failed it and what they were told.

The input is a gradebook (``vaelab.grade.grade_class``) or a folder of Gradescope
results.json files; both become one row per learner and check ("outcomes"), and the
summary counts them. A check's state is its record's status (in results.json, the test's
``extra_data``), never a phrase searched for in the feedback. Feedback that differs only
in its numbers ("largest difference 1.14e+03" and "... 2.5") is grouped by a normalised
form with the numbers masked, and each group keeps one real text as its example. Failures
that only follow from an earlier check ("first make `kl_divergence` right ...",
"`negative_elbo` uses your `kl_divergence`, which fails its own check: fix that first") are
counted apart, so that each check's feedback is what learners got wrong in it.
"""

from __future__ import annotations

import csv
import json
import os
import re
import textwrap
from pathlib import Path

from vaelab.grading.records import Gradebook, Status

__all__ = [
    "format_summary",
    "normalise",
    "outcomes_from_gradebook",
    "outcomes_from_gradescope",
    "summarize",
    "write_summary",
]

NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?(?![\w.])")
EXAMPLE_CHARS = 110  # the example shown per check in the printed summary
SHOWN_GROUPS = 3  # kinds of feedback printed per check: the most common, and more if shared
FOLLOW_ON = "first make `"  # feedback of a check that needs an earlier one to pass first
CULPRIT = "which fails its own check: fix that first"  # a function built on a failing one


def normalise(feedback: str) -> str:
    """``feedback`` with every number masked as "#" and its spaces collapsed."""
    return NUMBER.sub("#", " ".join(feedback.split()))


def _state(status: Status) -> str:
    """ "passed", "not started" (no file, or the function is still a stub) or "failed" (a
    file that could not be graded fails its checks)."""
    return "failed" if status is Status.NOT_GRADED else status.value


def _number_order(number: str) -> tuple:
    return tuple(int(part) if part.isdigit() else 0 for part in number.split("."))


# ---------------------------------------------------------------- outcomes


def outcomes_from_gradebook(book: Gradebook) -> list[dict]:
    """One outcome per learner and check of a gradebook: learner, exercise ("ex04"),
    number ("4.2"), check, max_points, state, feedback."""
    outcomes = []
    for learner in book.learners:
        for entry in learner.exercises:
            key = entry.exercise[:4]
            for i, c in enumerate(entry.checks, 1):
                outcomes.append(
                    {
                        "learner": learner.learner,
                        "exercise": key,
                        "number": f"{int(key[2:])}.{i}" if key[2:].isdigit() else str(i),
                        "check": c.name,
                        "max_points": float(c.max_points),
                        "state": _state(c.status),
                        "feedback": c.feedback,
                    }
                )
    return outcomes


def _results_files(folder: Path) -> list[tuple[str, Path]]:
    """(learner, file): every results.json under ``folder`` (the learner is its folder's
    path) and every other ``*.json`` directly in it (the learner is the file's stem)."""
    found = []
    for path in sorted(folder.rglob("results.json")):
        name = path.parent.relative_to(folder).as_posix()
        found.append((name if name != "." else path.stem, path))
    for path in sorted(folder.glob("*.json")):
        if path.name != "results.json":
            found.append((path.stem, path))
    return found


def _yaml_loader():
    """PyYAML's safe loader that also reads the tags of Ruby objects (``!ruby/...``) as plain
    values, as Gradescope's exports may hold them."""
    try:
        import yaml
    except ImportError:
        raise RuntimeError(
            "reading Gradescope's submission_metadata.yml needs PyYAML: pip install pyyaml"
        ) from None

    class Loader(yaml.SafeLoader):
        pass

    def plain(loader, suffix, node):
        if isinstance(node, yaml.ScalarNode):
            return loader.construct_scalar(node)
        if isinstance(node, yaml.SequenceNode):
            return loader.construct_sequence(node, deep=True)
        return loader.construct_mapping(node, deep=True)

    Loader.add_multi_constructor("!", plain)
    return yaml, Loader


def _from_metadata(path: Path) -> list[tuple[str, object]]:
    """(learner, results) for every submission in Gradescope's ``submission_metadata.yml``
    (the export of an assignment's submissions): its ``:results:`` are the results.json
    its autograder wrote; the learner is named by its submitters, else by its folder."""
    yaml, loader = _yaml_loader()
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
    found = []
    for folder, submission in (data or {}).items():
        if not isinstance(submission, dict):
            continue
        submitters = submission.get(":submitters") or []
        names = [
            str(s.get(":name") or s.get(":sid") or s.get(":email") or "")
            for s in submitters
            if isinstance(s, dict)
        ]
        learner = ", ".join(n for n in names if n) or str(folder)
        found.append((learner, submission.get(":results")))
    return found


def _test_outcomes(learner: str, tests: list) -> list[dict]:
    outcomes = []
    for i, test in enumerate(t for t in tests if isinstance(t, dict)):
        name = str(test.get("name", f"test {i + 1}"))
        exercise, _, check = name.partition(" ")
        if not check:
            exercise, check = "", name
        score, max_score = test.get("score"), test.get("max_score")
        failed = test.get("status") == "failed" or (
            score is not None and max_score is not None and float(score) < float(max_score)
        )
        feedback = str(test.get("output", ""))
        extra = test.get("extra_data") if isinstance(test.get("extra_data"), dict) else {}
        try:  # written by vaelab's results_json; another grader's tests pass or fail
            status = Status(extra.get("status"))
        except ValueError:
            status = Status.FAILED if failed else Status.PASSED
        if extra.get("stretch"):  # a stretch test is worth 0 on Gradescope; its own points
            max_score, feedback = extra.get("max_points", max_score), extra.get("feedback", "")
        outcomes.append(
            {
                "learner": learner,
                "exercise": exercise,
                "number": str(test.get("number", i + 1)),
                "check": check,
                "max_points": float(max_score or 0.0),
                "state": _state(status),
                "feedback": feedback,
            }
        )
    return outcomes


def outcomes_from_gradescope(folder: str | os.PathLike) -> tuple[list[dict], list[str], list[str]]:
    """Outcomes from Gradescope's results in ``folder``: the ``submission_metadata.yml`` of
    its export of the submissions (the results of all of them), and results.json files
    (one per learner; see ``_results_files``).

    A test named like "ex04 kl_divergence: ..." is exercise ex04's check "kl_divergence:
    ..."; it failed if its status says so or it scored less than its max_score.

    Returns:
        (outcomes, learners, skipped): skipped names the files or submissions that hold
        no Gradescope results, and why.
    """
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"{folder}: no such folder")
    found: list[tuple[str, object]] = []
    skipped = []
    for path in sorted(root.rglob("submission_metadata.yml")):
        for learner, results in _from_metadata(path):
            if isinstance(results, dict):
                found.append((learner, results))
            else:
                skipped.append(f"{learner} in {path}: no autograder results")
    for learner, path in _results_files(root):
        try:
            results = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            skipped.append(f"{path}: not readable as JSON ({type(e).__name__})")
            continue
        if isinstance(results, dict) and isinstance(results.get("tests"), list):
            found.append((learner, results))
        elif path.name == "results.json":
            skipped.append(f"{path}: no list of tests in it")
    outcomes, learners = [], []
    for learner, results in found:
        tests = results.get("tests")
        if not isinstance(tests, list):
            skipped.append(f"{learner}: results without a list of tests")
            continue
        learners.append(learner)
        outcomes += _test_outcomes(learner, tests)
    return outcomes, learners, skipped


# ---------------------------------------------------------------- the summary


def summarize(outcomes: list[dict], learners: list[str]) -> dict:
    """Per check: how many learners passed, failed or had not started it, and the failed
    learners' feedback grouped by its normalised form, most common first.

    A failure whose feedback says "first make `f` right ..." is a follow-on: the check
    tests a property of a working function, and an earlier check found ``f`` wrong. So is
    one whose first sentence says the function uses another that "fails its own check". Those
    are counted (``follow_on``, part of ``failed``) but not grouped: the groups are what
    the learners got wrong in this check itself.

    Returns:
        ``{"learners": n, "checks": [{"exercise", "number", "check", "max_points",
        "passed", "failed", "follow_on", "not_started", "feedback": [{"count", "pattern",
        "example", "learners"}]}]}``, the checks sorted by their failures that are not
        follow-ons, then by all their failures.
    """
    checks: dict[tuple[str, str], dict] = {}
    for o in outcomes:
        row = checks.setdefault(
            (o["exercise"], o["check"]),
            {
                "exercise": o["exercise"],
                "number": o["number"],
                "check": o["check"],
                "max_points": o["max_points"],
                "passed": 0,
                "failed": 0,
                "follow_on": 0,
                "not_started": 0,
                "groups": {},
            },
        )
        row[o["state"].replace(" ", "_")] += 1
        if o["state"] != "failed":
            continue
        if o["feedback"].startswith(FOLLOW_ON) or CULPRIT in o["feedback"].split(". ")[0]:
            row["follow_on"] += 1
            continue
        pattern = normalise(o["feedback"])
        group = row["groups"].setdefault(
            pattern, {"pattern": pattern, "example": o["feedback"], "learners": []}
        )
        group["learners"].append(o["learner"])
    rows = []
    for row in checks.values():
        groups = row.pop("groups").values()
        groups = sorted(groups, key=lambda g: (-len(g["learners"]), g["pattern"]))
        row["feedback"] = [{"count": len(g["learners"]), **g} for g in groups]
        rows.append(row)
    rows.sort(
        key=lambda r: (
            -(r["failed"] - r["follow_on"]),
            -r["failed"],
            r["exercise"],
            _number_order(r["number"]),
        )
    )
    return {"learners": len(learners), "checks": rows}


def format_summary(summary: dict) -> str:
    """The summary as text: the checks some learners failed, each with its most common
    feedback (a real example, shortened) and how many were told so, the next ones too
    when several learners share them; then, in one line, the checks failed only as
    follow-ons of an earlier check."""
    own = [r for r in summary["checks"] if r["failed"] > r["follow_on"]]
    follow_only = [r for r in summary["checks"] if r["failed"] and r["failed"] == r["follow_on"]]
    lines = [f"What the class got wrong ({summary['learners']} learners), most failed first:"]
    if not own and not follow_only:
        lines.append("  no learner failed a check they attempted.")
    for r in own:
        attempted = r["passed"] + r["failed"]
        notes = []
        if r["follow_on"]:
            notes.append(f"{r['follow_on']} as a follow-on of an earlier check")
        if r["not_started"]:
            notes.append(f"{r['not_started']} not started")
        more = f" ({', '.join(notes)})" if notes else ""
        lines.append(
            f"  {r['exercise']} {r['check']}: failed by {r['failed']} of {attempted}{more}"
        )
        groups = r["feedback"]
        shown = groups[:1] + [g for g in groups[1:SHOWN_GROUPS] if g["count"] > 1]
        for group in shown:
            example = textwrap.shorten(group["example"], EXAMPLE_CHARS, placeholder="...")
            lines.append(f"    {group['count']} x {example}")
        others = groups[len(shown) :]
        if others:
            rest = sum(g["count"] for g in others)
            kinds = "another feedback" if len(others) == 1 else f"{len(others)} other feedbacks"
            lines.append(f"    {rest} x {kinds}")
    if follow_only:
        names = ", ".join(f"{r['exercise']} {r['number']} ({r['failed']})" for r in follow_only)
        lines.append(f"  failed only as follow-ons of an earlier check: {names}")
    clean = len(summary["checks"]) - len(own) - len(follow_only)
    if clean and (own or follow_only):
        lines.append(f"  the other {clean} checks: no learner who attempted them failed.")
    return "\n".join(lines)


CSV_FIELDS = [
    "exercise",
    "number",
    "check",
    "max_points",
    "passed",
    "failed",
    "follow_on",
    "not_started",
    "top_feedback_count",
    "top_feedback_example",
    "top_feedback_pattern",
    "other_feedback_count",
]


def write_summary(summary: dict, json_path: str | os.PathLike, csv_path: str | os.PathLike):
    """Write the summary as JSON (every feedback group) and CSV (one row per check)."""
    Path(json_path).write_text(json.dumps(summary, indent=2), encoding="utf-8")
    with open(csv_path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_FIELDS)
        writer.writeheader()
        for r in summary["checks"]:
            top = r["feedback"][0] if r["feedback"] else {}
            writer.writerow(
                {
                    **{key: r[key] for key in CSV_FIELDS[:8]},
                    "top_feedback_count": top.get("count", 0),
                    "top_feedback_example": top.get("example", ""),
                    "top_feedback_pattern": top.get("pattern", ""),
                    "other_feedback_count": sum(g["count"] for g in r["feedback"][1:]),
                }
            )
