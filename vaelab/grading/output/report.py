"""The grader's report as text, as HTML for notebooks, and a class's gradebook (CSV, JSON).

Everything here reads the typed records of ``vaelab.grading.records``; nothing here grades
anything. An untouched exercise (every check "not started") shows as one line, in the text
table and in the HTML table alike; the JSON report keeps every check.
"""

from __future__ import annotations

import csv
import html
import json
import re
import textwrap
from pathlib import Path

from vaelab.grading.records import ExerciseResult, Gradebook, Report, Status

__all__ = [
    "NOT_STARTED",
    "format_gradebook",
    "format_table",
    "html_table",
    "status_line",
    "write_gradebook",
]


def _num(value: float) -> str:
    return f"{value:g}"


FEEDBACK_WIDTH = 60


NOT_STARTED = "not started (functions still raise NotImplementedError)"
MISSING = "not submitted"  # how the checks of an exercise without a file start their feedback
MARKS = {  # a check's mark in the text table
    Status.PASSED: "ok",
    Status.FAILED: "x ",
    Status.NOT_STARTED: "- ",
    Status.NOT_GRADED: "x ",
}


def status_line(entry: ExerciseResult) -> str:
    """One exercise's state in a few words, for the summary."""
    if entry.error:
        return "not graded: " + textwrap.shorten(entry.error, 70, placeholder="...")
    if entry.untouched:
        return NOT_STARTED
    checks = entry.checks
    passed = sum(c.passed for c in checks)
    return "all checks pass" if passed == len(checks) else f"{passed} of {len(checks)} checks pass"


def _score(entry: ExerciseResult | Report) -> str:
    return f"{_num(entry.points)} / {_num(entry.max_points)}"


def _stretch(entry: ExerciseResult | Report) -> str:
    """ ", stretch 1.5 / 2" when the entry has stretch checks (their points are apart)."""
    if not entry.stretch_max_points:
        return ""
    return f", stretch {_num(entry.stretch_points)} / {_num(entry.stretch_max_points)}"


def _name(c) -> str:
    """A check's name in the tables; a stretch check says so."""
    return f"stretch - {c.name}" if c.stretch else c.name


def _exercise_table(ex: ExerciseResult, show_output: bool) -> list[str]:
    lines = [f"{ex.exercise}: {_score(ex)} points{_stretch(ex)}"]
    if ex.error:
        lines.append(f"  ! {ex.error}")
    if ex.checks:
        width = max(len(_name(c)) for c in ex.checks)
        lines.append(f"  {'check':<{width}}  {'points':>9}  feedback")
        for c in ex.checks:
            points = f"{_num(c.points)} / {_num(c.max_points)}"
            text = "" if c.passed and c.feedback == "ok" else c.feedback
            if ex.error and text in (f"not graded: {ex.error}", f"{MISSING}: {ex.error}"):
                text = f"{text.split(':')[0]} (see above)"
            feedback = textwrap.wrap(text, FEEDBACK_WIDTH) or [""]
            lines.append(f"  {_name(c):<{width}}  {points:>9}  {MARKS[c.status]} {feedback[0]}")
            lines += [f"  {'':<{width}}  {'':>9}     {more}" for more in feedback[1:]]
    lines += _printed(ex, show_output)
    lines.append("")
    return lines


def _printed(ex: ExerciseResult, show_output: bool) -> list[str]:
    output = ex.output
    if not (show_output and output.strip()):
        return []
    shown = output if len(output) <= 1200 else output[:600] + "\n[...]\n" + output[-600:]
    return ["  printed by your code:"] + ["    " + line for line in shown.rstrip().splitlines()]


def format_table(report: Report, *, show_output: bool = True) -> str:
    """The report as text: a table of check, points and feedback per attempted exercise.

    An untouched exercise (every check not started) gets one line, not a table (in a
    report of several, its line in the summary); a partly started one gets its table, the
    checks of its untouched functions marked "-" (not started), not "x" (failed). A report
    of several exercises ends with a one-line-per-exercise summary. The report itself
    keeps every check.
    """
    exercises = report.exercises
    lines = []
    for ex in exercises:
        if ex.untouched:
            printed = _printed(ex, show_output)
            if len(exercises) == 1 or printed:  # else: listed in the summary
                lines += [f"{ex.exercise}: {_score(ex)} points - {NOT_STARTED}", *printed, ""]
            continue
        lines += _exercise_table(ex, show_output)
    if len(exercises) > 1:
        width = max(len(ex.exercise) for ex in exercises)
        score_width = max(len(_score(ex)) for ex in exercises)
        lines.append("Summary:")
        lines += [
            f"  {ex.exercise:<{width}}  {_score(ex):>{score_width}}  {status_line(ex)}"
            + ("" if ex.untouched else _stretch(ex))
            for ex in exercises
        ]
        lines.append("")
    started = any(not ex.untouched for ex in exercises)  # untouched stubs: their one line
    lines.append(f"Total: {_score(report)} points{_stretch(report) if started else ''}")
    return "\n".join(lines)


CELL = "text-align:left;vertical-align:top;padding:0.25em 0.75em 0.25em 0;"
HTML_MARKS = {  # in colour and in words (a colour alone says nothing to some readers)
    Status.PASSED: '<span style="color:#1a7f37;font-weight:bold">&#10004; passed</span>',
    Status.FAILED: '<span style="color:#b3261e;font-weight:bold">&#10008; failed</span>',
    Status.NOT_STARTED: '<span style="color:#6e7781;font-weight:bold">&#8211; not started</span>',
    Status.NOT_GRADED: '<span style="color:#b3261e;font-weight:bold">&#10008; not graded</span>',
}
PASSED, FAILED = HTML_MARKS[Status.PASSED], HTML_MARKS[Status.FAILED]


def _html_text(text: str) -> str:
    """Escape ``text`` for HTML and show its `code` spans as <code>."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))


def _html_row(status: Status, name: str, points: str, feedback: str) -> str:
    return (
        f'<tr><td style="{CELL}white-space:nowrap">{HTML_MARKS[status]}</td>'
        f'<td style="{CELL}">{_html_text(name)}</td>'
        f'<td style="{CELL}white-space:nowrap">{points}</td>'
        f'<td style="{CELL}">{_html_text(feedback)}</td></tr>'
    )


def html_table(report: Report) -> str:
    """The report as HTML for notebooks: left-aligned, marks in colour and in words.

    An untouched exercise is one row, "not started"; a partly started one shows every
    check, the checks of its untouched functions marked "not started" (grey), not "failed".
    The styles are inline, so JupyterLab's table style (right-aligned cells, a centred
    table) does not override them; the ``display:inline-block`` box keeps the table at the
    left edge.
    """
    parts = []
    for ex in report.exercises:
        parts.append(
            f'<h4 style="text-align:left">{html.escape(ex.exercise)}: {_score(ex)} points'
            f"{'' if ex.untouched else _stretch(ex)}</h4>"
        )
        if ex.error:
            parts.append(f'<p style="text-align:left;color:#b3261e">{_html_text(ex.error)}</p>')
        if ex.untouched:
            rows = _html_row(
                Status.NOT_STARTED,
                f"all {len(ex.checks)} checks",
                _score(ex),
                "every function still raises NotImplementedError: write one, then grade again.",
            )
        else:
            rows = "".join(
                _html_row(
                    c.status, _name(c), f"{_num(c.points)} / {_num(c.max_points)}", c.feedback
                )
                for c in ex.checks
            )
        if rows:
            head = "".join(
                f'<th style="{CELL}">{name}</th>' for name in ("", "check", "points", "feedback")
            )
            parts.append(
                '<div style="display:inline-block;text-align:left">'
                f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div>"
            )
        if ex.output.strip():
            parts.append(
                '<details style="text-align:left"><summary>printed by your code</summary>'
                f"<pre>{html.escape(ex.output)}</pre></details>"
            )
    return "\n".join(parts)


CSV_FIELDS = [
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
]


def write_gradebook(book: Gradebook, json_path: Path, csv_path: Path) -> None:
    """Write the gradebook as JSON and as CSV (one row per learner, exercise and check)."""
    json_path.write_text(json.dumps(book.to_json(), indent=2), encoding="utf-8")
    with open(csv_path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_FIELDS)
        writer.writeheader()
        for learner in book.learners:
            for ex in learner.exercises:
                row = {"learner": learner.learner, "exercise": ex.exercise}
                if not ex.checks:  # a file that is no exercise: one row saying why
                    writer.writerow(
                        {
                            **row,
                            "check": "",
                            "check_id": "",
                            "status": ex.status.value,
                            "points": 0,
                            "max_points": 0,
                            "passed": False,
                            "stretch": False,
                            "feedback": ex.error or "",
                        }
                    )
                for c in ex.checks:
                    writer.writerow(
                        {
                            **row,
                            "check": c.name,
                            "check_id": c.id,
                            "status": c.status.value,
                            "points": c.points,
                            "max_points": c.max_points,
                            "passed": c.passed,
                            "stretch": c.stretch,
                            "feedback": c.feedback,
                        }
                    )


def format_gradebook(book: Gradebook) -> str:
    """A learner x exercise table of points, with totals."""
    short = [name[:4] for name in book.exercises]
    width = max([len("learner"), *(len(lr.learner or "") for lr in book.learners)])
    header = f"{'learner':<{width}}  " + "  ".join(f"{s:>5}" for s in short) + "      total"
    lines = [header + "  stretch"]
    for learner in book.learners:
        cells = "  ".join(f"{_num(e.points):>5}" for e in learner.exercises)
        stretch = f"{_num(learner.stretch_points)} / {_num(learner.stretch_max_points)}"
        lines.append(f"{learner.learner:<{width}}  {cells}  {_score(learner):>9}  {stretch:>7}")
    return "\n".join(lines)
