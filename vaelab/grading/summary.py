"""What a class got wrong: for each check, how many learners failed it and what they were told.

The input is a gradebook (``vaelab.grade.grade_class``) or a folder of Gradescope
results.json files; both become one row per learner and check ("outcomes"), and the
summary counts them. Feedback that differs only in its numbers ("largest difference
1.14e+03" and "... 2.5") is grouped by a normalised form with the numbers masked, and
each group keeps one real text as its example.
"""

from __future__ import annotations

import csv
import json
import os
import re
import textwrap
from pathlib import Path

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


def normalise(feedback: str) -> str:
    """``feedback`` with every number masked as "#" and its spaces collapsed."""
    return NUMBER.sub("#", " ".join(feedback.split()))


def _state(passed: bool, feedback: str) -> str:
    """ "passed", "not started" (no file, or the function is still a stub) or "failed"."""
    if passed:
        return "passed"
    if feedback.startswith("not submitted") or "not implemented yet" in feedback:
        return "not started"
    return "failed"


def _number_order(number: str) -> tuple:
    return tuple(int(part) if part.isdigit() else 0 for part in number.split("."))


# ---------------------------------------------------------------- outcomes


def outcomes_from_gradebook(book: dict) -> list[dict]:
    """One outcome per learner and check of a gradebook: learner, exercise ("ex04"),
    number ("4.2"), check, max_points, state, feedback."""
    outcomes = []
    for learner in book["learners"]:
        for entry in learner["exercises"]:
            key = entry["exercise"][:4]
            for i, c in enumerate(entry["checks"], 1):
                outcomes.append(
                    {
                        "learner": learner["learner"],
                        "exercise": key,
                        "number": f"{int(key[2:])}.{i}" if key[2:].isdigit() else str(i),
                        "check": c["name"],
                        "max_points": float(c["max_points"]),
                        "state": _state(c["passed"], c["feedback"]),
                        "feedback": c["feedback"],
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


def outcomes_from_gradescope(folder: str | os.PathLike) -> tuple[list[dict], list[str], list[str]]:
    """Outcomes from the Gradescope results.json files in ``folder`` (see ``_results_files``).

    A test named like "ex04 kl_divergence: ..." is exercise ex04's check "kl_divergence:
    ..."; it failed if its status says so or it scored less than its max_score.

    Returns:
        (outcomes, learners, skipped): skipped names the JSON files that are not
        Gradescope results, and why.
    """
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"{folder}: no such folder")
    outcomes, learners, skipped = [], [], []
    for learner, path in _results_files(root):
        try:
            results = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            skipped.append(f"{path}: not readable as JSON ({type(e).__name__})")
            continue
        tests = results.get("tests") if isinstance(results, dict) else None
        if not isinstance(tests, list):
            if path.name == "results.json":
                skipped.append(f"{path}: no list of tests in it")
            continue
        learners.append(learner)
        for i, test in enumerate(tests, 1):
            name = str(test.get("name", f"test {i}"))
            exercise, _, check = name.partition(" ")
            if not check:
                exercise, check = "", name
            score, max_score = test.get("score"), test.get("max_score")
            failed = test.get("status") == "failed" or (
                score is not None and max_score is not None and score < max_score
            )
            feedback = str(test.get("output", ""))
            outcomes.append(
                {
                    "learner": learner,
                    "exercise": exercise,
                    "number": str(test.get("number", i)),
                    "check": check,
                    "max_points": float(max_score or 0.0),
                    "state": _state(not failed, feedback),
                    "feedback": feedback,
                }
            )
    return outcomes, learners, skipped


# ---------------------------------------------------------------- the summary


def summarize(outcomes: list[dict], learners: list[str]) -> dict:
    """Per check: how many learners passed, failed or had not started it, and the failed
    learners' feedback grouped by its normalised form, most common first.

    Returns:
        ``{"learners": n, "checks": [{"exercise", "number", "check", "max_points",
        "passed", "failed", "not_started", "feedback": [{"count", "pattern", "example",
        "learners"}]}]}``, the checks sorted by how many failed them.
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
                "not_started": 0,
                "groups": {},
            },
        )
        row[o["state"].replace(" ", "_")] += 1
        if o["state"] == "failed":
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
    rows.sort(key=lambda r: (-r["failed"], r["exercise"], _number_order(r["number"])))
    return {"learners": len(learners), "checks": rows}


def format_summary(summary: dict) -> str:
    """The summary as text: the checks some learners failed, each with its most common
    feedback (a real example, shortened) and how many were told so."""
    failed = [r for r in summary["checks"] if r["failed"]]
    lines = [f"What the class got wrong ({summary['learners']} learners), most failed first:"]
    if not failed:
        lines.append("  no learner failed a check they attempted.")
    for r in failed:
        attempted = r["passed"] + r["failed"]
        started = f", {r['not_started']} not started" if r["not_started"] else ""
        lines.append(
            f"  {r['exercise']} {r['check']}: failed by {r['failed']} of {attempted}{started}"
        )
        top = r["feedback"][0]
        example = textwrap.shorten(top["example"], EXAMPLE_CHARS, placeholder="...")
        lines.append(f"    {top['count']} x {example}")
        others = r["feedback"][1:]
        if others:
            rest = sum(g["count"] for g in others)
            kinds = "another feedback" if len(others) == 1 else f"{len(others)} other feedbacks"
            lines.append(f"    {rest} x {kinds}")
    passed = len(summary["checks"]) - len(failed)
    if failed and passed:
        lines.append(f"  the other {passed} checks: no learner who attempted them failed.")
    return "\n".join(lines)


CSV_FIELDS = [
    "exercise",
    "number",
    "check",
    "max_points",
    "passed",
    "failed",
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
                    **{key: r[key] for key in CSV_FIELDS[:7]},
                    "top_feedback_count": top.get("count", 0),
                    "top_feedback_example": top.get("example", ""),
                    "top_feedback_pattern": top.get("pattern", ""),
                    "other_feedback_count": sum(g["count"] for g in r["feedback"][1:]),
                }
            )
