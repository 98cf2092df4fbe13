"""The grader's report as text, as HTML for notebooks, and a class's gradebook (CSV, JSON).

The report is a plain dict (see ``vaelab.grade``); nothing here grades anything.
"""

from __future__ import annotations

import csv
import html
import json
import re
import textwrap
from pathlib import Path

__all__ = [
    "NOT_STARTED",
    "GradeReport",
    "format_gradebook",
    "format_table",
    "html_table",
    "untouched",
    "write_gradebook",
]


class GradeReport(dict):
    """The report dict; prints as a table, and shows a one-line summary as its repr."""

    def __str__(self) -> str:
        return format_table(self)

    def __repr__(self) -> str:
        names = ", ".join(e["exercise"] for e in self.get("exercises", []))
        return f"<grade report {names}: {_num(self['points'])} / {_num(self['max_points'])} points>"

    def _repr_pretty_(self, printer, cycle) -> None:
        printer.text(repr(self))


def _num(value: float) -> str:
    return f"{value:g}"


FEEDBACK_WIDTH = 60


NOT_STARTED = "not started (functions still raise NotImplementedError)"
MISSING = "not submitted"  # how the checks of an exercise without a file start their feedback


def untouched(entry: dict) -> bool:
    """True for an exercise whose every check failed because its functions are still stubs."""
    checks = entry.get("checks") or []
    return (
        not entry.get("error")
        and bool(checks)
        and all(not c["passed"] and "not implemented yet" in c["feedback"] for c in checks)
    )


def _status(entry: dict) -> str:
    """One exercise's state in a few words, for the summary."""
    if entry.get("error"):
        return "not graded: " + textwrap.shorten(entry["error"], 70, placeholder="...")
    if untouched(entry):
        return NOT_STARTED
    checks = entry["checks"]
    passed = sum(c["passed"] for c in checks)
    return "all checks pass" if passed == len(checks) else f"{passed} of {len(checks)} checks pass"


def _score(entry: dict) -> str:
    return f"{_num(entry['points'])} / {_num(entry['max_points'])}"


def _exercise_table(ex: dict, show_output: bool) -> list[str]:
    lines = [f"{ex['exercise']}: {_score(ex)} points"]
    if ex.get("error"):
        lines.append(f"  ! {ex['error']}")
    if ex["checks"]:
        width = max(len(c["name"]) for c in ex["checks"])
        lines.append(f"  {'check':<{width}}  {'points':>9}  feedback")
        for c in ex["checks"]:
            points = f"{_num(c['points'])} / {_num(c['max_points'])}"
            mark = "ok" if c["passed"] else "x "
            text = "" if c["passed"] and c["feedback"] == "ok" else c["feedback"]
            if ex.get("error") and text in (
                f"not graded: {ex['error']}",
                f"{MISSING}: {ex['error']}",
            ):
                text = f"{text.split(':')[0]} (see above)"
            feedback = textwrap.wrap(text, FEEDBACK_WIDTH) or [""]
            lines.append(f"  {c['name']:<{width}}  {points:>9}  {mark} {feedback[0]}")
            lines += [f"  {'':<{width}}  {'':>9}     {more}" for more in feedback[1:]]
    output = ex.get("output", "")
    if show_output and output.strip():
        shown = output if len(output) <= 1200 else output[:600] + "\n[...]\n" + output[-600:]
        lines.append("  printed by your code:")
        lines += ["    " + line for line in shown.rstrip().splitlines()]
    lines.append("")
    return lines


def format_table(report: dict, *, show_output: bool = True) -> str:
    """The report as text: a table of check, points and feedback per attempted exercise.

    An untouched exercise (every check fails with NotImplementedError) gets one line, not
    a table; a report of several exercises ends with a one-line-per-exercise summary.
    The report itself keeps every check.
    """
    exercises = report["exercises"]
    lines = []
    for ex in exercises:
        if untouched(ex) and not (show_output and ex.get("output", "").strip()):
            if len(exercises) == 1:
                lines += [f"{ex['exercise']}: {_score(ex)} points - {NOT_STARTED}", ""]
            continue  # listed in the summary
        lines += _exercise_table(ex, show_output)
    if len(exercises) > 1:
        width = max(len(ex["exercise"]) for ex in exercises)
        score_width = max(len(_score(ex)) for ex in exercises)
        lines.append("Summary:")
        lines += [
            f"  {ex['exercise']:<{width}}  {_score(ex):>{score_width}}  {_status(ex)}"
            for ex in exercises
        ]
        lines.append("")
    lines.append(f"Total: {_num(report['points'])} / {_num(report['max_points'])} points")
    return "\n".join(lines)


CELL = "text-align:left;vertical-align:top;padding:0.25em 0.75em 0.25em 0;"
PASSED = '<span style="color:#1a7f37;font-weight:bold">&#10004; passed</span>'
FAILED = '<span style="color:#b3261e;font-weight:bold">&#10008; failed</span>'


def _html_text(text: str) -> str:
    """Escape ``text`` for HTML and show its `code` spans as <code>."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))


def html_table(report: dict) -> str:
    """The report as HTML for notebooks: left-aligned, marks in colour and in words.

    The styles are inline, so JupyterLab's table style (right-aligned cells, a centred
    table) does not override them; the ``display:inline-block`` box keeps the table at the
    left edge.
    """
    parts = []
    for ex in report["exercises"]:
        parts.append(
            f'<h4 style="text-align:left">{html.escape(ex["exercise"])}: {_score(ex)} points</h4>'
        )
        if ex.get("error"):
            parts.append(f'<p style="text-align:left;color:#b3261e">{_html_text(ex["error"])}</p>')
        if ex["checks"]:
            head = "".join(
                f'<th style="{CELL}">{name}</th>' for name in ("", "check", "points", "feedback")
            )
            rows = "".join(
                f'<tr><td style="{CELL}white-space:nowrap">{PASSED if c["passed"] else FAILED}</td>'
                f'<td style="{CELL}">{_html_text(c["name"])}</td>'
                f'<td style="{CELL}white-space:nowrap">{_num(c["points"])} / '
                f"{_num(c['max_points'])}</td>"
                f'<td style="{CELL}">{_html_text(c["feedback"])}</td></tr>'
                for c in ex["checks"]
            )
            parts.append(
                '<div style="display:inline-block;text-align:left">'
                f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div>"
            )
        if ex.get("output", "").strip():
            parts.append(
                '<details style="text-align:left"><summary>printed by your code</summary>'
                f"<pre>{html.escape(ex['output'])}</pre></details>"
            )
    return "\n".join(parts)


CSV_FIELDS = ["learner", "exercise", "check", "points", "max_points", "passed", "feedback"]


def write_gradebook(book: dict, json_path: Path, csv_path: Path) -> None:
    """Write the gradebook as JSON and as CSV (one row per learner, exercise and check)."""
    json_path.write_text(json.dumps(book, indent=2), encoding="utf-8")
    with open(csv_path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_FIELDS)
        writer.writeheader()
        for learner in book["learners"]:
            for ex in learner["exercises"]:
                rows = ex["checks"] or [
                    {
                        "name": "",
                        "points": 0,
                        "max_points": 0,
                        "passed": False,
                        "feedback": ex["error"] or "",
                    }
                ]
                for c in rows:
                    writer.writerow(
                        {
                            "learner": learner["learner"],
                            "exercise": ex["exercise"],
                            "check": c["name"],
                            "points": c["points"],
                            "max_points": c["max_points"],
                            "passed": c["passed"],
                            "feedback": c["feedback"],
                        }
                    )


def format_gradebook(book: dict) -> str:
    """A learner x exercise table of points, with totals."""
    short = [name[:4] for name in book["exercises"]]
    width = max([len("learner"), *(len(lr["learner"]) for lr in book["learners"])])
    lines = [f"{'learner':<{width}}  " + "  ".join(f"{s:>5}" for s in short) + "      total"]
    for learner in book["learners"]:
        cells = "  ".join(f"{_num(e['points']):>5}" for e in learner["exercises"])
        total = f"{_num(learner['points'])} / {_num(learner['max_points'])}"
        lines.append(f"{learner['learner']:<{width}}  {cells}  {total:>9}")
    return "\n".join(lines)
