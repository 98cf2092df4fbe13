"""The claim ledger's static check: every marked sentence asserted, every assertion marked.

Reads the lessons (``notebooks/NN_*.ipynb``) and the quiz bank without running anything:

- **Marks.** A sentence in a Markdown cell that reports what the run shows ends, on the same
  line, with ``<!-- claim: NN.name -->`` (``vaelab.claims.COMMENT``). NN is the lesson's
  number. The same id may mark more than one sentence (a takeaway that repeats a finding).
  A comment alone on its line would end the paragraph (CommonMark makes it an HTML block),
  so the mark must follow the sentence's text on its line.
- **Assertions.** A code cell asserts each id exactly once, by a call written
  ``claims.hold("NN.name", ...)``, ``claims.above(...)`` or ``claims.below(...)`` after
  ``from vaelab import claims``, with the id as a string literal (the check reads the code's
  syntax tree, so an id built at run time, an alias or a bare ``hold`` cannot be seen).
- **The report.** A lesson with claims ends its checks with ``claims.report(NN)`` as the last
  line of a cell (so that its table shows), after every assertion.
- **Quizzes.** A question lists the claims it rests on (``"claims": ["05.slerp_longer"]``);
  each must be asserted by a lesson. A question that states a measured fact must list one:
  see ``measured_phrases`` for the rule, and ``NOT_MEASURED`` for the reviewed exceptions.

A lesson with no claims at all is still allowed while the lessons are converted (issue 27):
``lessons_without_claims`` names them, and its quiz questions are not yet held to the rule.

Run ``python tests/claims_ledger.py`` for the problems and every lesson's claims.
"""

from __future__ import annotations

import ast
import json
import re
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from vaelab.claims import COMMENT, ID_PATTERN  # noqa: E402

ASSERTIONS = ("hold", "above", "below")
# Anything that looks like a claim comment, well formed or not ("<!-- claims: x -->").
LOOSE_COMMENT = re.compile(r"<!--\s*claims?\b.*?-->", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class Place:
    """Where something is in a notebook: cell index (0-based) and line in the cell (1-based)."""

    cell: int
    line: int

    def __str__(self) -> str:
        return f"cell {self.cell}, line {self.line}"


@dataclass(frozen=True)
class Assertion:
    claim_id: str
    function: str  # "hold", "above" or "below"
    place: Place
    full_only: bool | None  # None: not a literal True/False


@dataclass
class LessonLedger:
    """What one lesson's source marks and asserts, and the problems found reading it."""

    number: str  # "04"
    path: Path
    marks: dict[str, list[Place]] = field(default_factory=lambda: defaultdict(list))
    assertions: list[Assertion] = field(default_factory=list)
    reports: list[tuple[Place, str | None, bool]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def asserted(self) -> dict[str, list[Assertion]]:
        found: dict[str, list[Assertion]] = defaultdict(list)
        for a in self.assertions:
            found[a.claim_id].append(a)
        return found

    @property
    def ids(self) -> set[str]:
        return set(self.marks) | set(self.asserted)

    def problem(self, where: Place | None, message: str) -> None:
        self.problems.append(f"{self.name}{f' ({where})' if where else ''}: {message}")


# ----------------------------------------------------------------------------------------
# Reading a lesson


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _scan_markdown(ledger: LessonLedger, index: int, text: str) -> None:
    for match in LOOSE_COMMENT.finditer(text):
        line_no = text.count("\n", 0, match.start()) + 1
        where = Place(index, line_no)
        exact = COMMENT.fullmatch(match.group(0))
        claim_id = exact.group("id") if exact else None
        if claim_id is None or not ID_PATTERN.match(claim_id):
            ledger.problem(
                where,
                f"malformed claim comment {match.group(0)!r}: write <!-- claim: "
                f"{ledger.number}.name --> (one id, snake_case, after the lesson number)",
            )
            continue
        line_start = text.rfind("\n", 0, match.start()) + 1
        if not text[line_start : match.start()].strip():
            ledger.problem(
                where,
                f"the comment for {claim_id} stands at the start of a line: put it right after "
                "the sentence it marks, on the same line (alone on its line it ends the "
                "paragraph, and the book cannot attach the mark to the sentence)",
            )
        ledger.marks[claim_id].append(where)


def _ipython_to_python(code: str) -> str:
    """Cell source with IPython's magics and shell escapes turned into plain Python."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:  # no IPython: drop the lines Python cannot read
        return "\n".join("" if line.lstrip()[:1] in "%!" else line for line in code.split("\n"))
    return TransformerManager().transform_cell(code)


def _claims_attribute(func: ast.expr) -> str | None:
    """The function name in ``claims.hold(...)`` or ``vaelab.claims.hold(...)``, else None."""
    if not isinstance(func, ast.Attribute):
        return None
    owner = func.value
    if isinstance(owner, ast.Name) and owner.id == "claims":
        return func.attr
    if (
        isinstance(owner, ast.Attribute)
        and owner.attr == "claims"
        and isinstance(owner.value, ast.Name)
        and owner.value.id == "vaelab"
    ):
        return func.attr
    return None


def _literal_bool(node: ast.expr | None) -> bool | None:
    if node is None:
        return False
    if isinstance(node, ast.Constant) and isinstance(node.value, bool):
        return node.value
    return None


def _scan_code(ledger: LessonLedger, index: int, code: str) -> None:
    try:
        tree = ast.parse(_ipython_to_python(code))
    except SyntaxError as err:
        ledger.problem(Place(index, err.lineno or 1), f"the cell cannot be parsed: {err.msg}")
        return
    # A cell magic (%%time, %%capture) keeps its body as a string: read that too.
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "run_cell_magic"
            and len(node.args) == 3
            and isinstance(node.args[2], ast.Constant)
            and isinstance(node.args[2].value, str)
        ):
            _scan_code(ledger, index, node.args[2].value)

    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in ("vaelab", "vaelab.claims"):
            for alias in node.names:
                renamed = node.module == "vaelab" and alias.name == "claims" and alias.asname
                direct = node.module == "vaelab.claims"
                if renamed or direct:
                    ledger.problem(
                        Place(index, node.lineno),
                        "import the ledger as `from vaelab import claims` and call "
                        "claims.hold/above/below: the ledger check reads calls by that name",
                    )
        if not isinstance(node, ast.Call):
            continue
        function = _claims_attribute(node.func)
        where = Place(index, node.lineno)
        if function in ASSERTIONS:
            first = node.args[0] if node.args else None
            for kw in node.keywords:
                if kw.arg == "claim_id":
                    first = kw.value
            if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
                ledger.problem(
                    where,
                    f"claims.{function}(...) needs the claim id as a string literal, such as "
                    f'claims.{function}("{ledger.number}.name", ...): an id built at run time '
                    "cannot be matched with its sentence",
                )
                continue
            full_only = next((kw.value for kw in node.keywords if kw.arg == "full_only"), None)
            ledger.assertions.append(
                Assertion(first.value, function, where, _literal_bool(full_only))
            )
        elif function == "report":
            arg = node.args[0] if node.args else None
            number = None
            if isinstance(arg, ast.Constant) and isinstance(arg.value, (int, str)):
                number = f"{int(arg.value):02d}" if str(arg.value).isdigit() else None
            last = tree.body[-1] if tree.body else None
            is_last = isinstance(last, ast.Expr) and last.value is node
            ledger.reports.append((where, number, is_last))


def read_lesson(path: Path) -> LessonLedger:
    """The marks, assertions and report calls of one lesson notebook, and what is wrong."""
    number = path.name[:2]
    ledger = LessonLedger(number, path)
    nb = json.loads(path.read_text(encoding="utf-8"))
    for index, cell in enumerate(nb.get("cells", [])):
        text = _source(cell)
        if cell.get("cell_type") == "markdown":
            _scan_markdown(ledger, index, text)
        elif cell.get("cell_type") == "code":
            _scan_code(ledger, index, text)
    _check_lesson(ledger)
    return ledger


def _check_lesson(ledger: LessonLedger) -> None:
    n = ledger.number
    for claim_id, places in ledger.marks.items():
        if not claim_id.startswith(f"{n}."):
            ledger.problem(
                places[0],
                f"the sentence's claim {claim_id} belongs to lesson {claim_id[:2]}, but this is "
                f"lesson {n}: rename it {n}.{claim_id[3:]}",
            )
    asserted = ledger.asserted
    for claim_id, found in asserted.items():
        if not claim_id.startswith(f"{n}."):
            ledger.problem(
                found[0].place,
                f"claims.{found[0].function}({claim_id!r}, ...) names lesson {claim_id[:2]}, "
                f"but this is lesson {n}: rename it {n}.{claim_id[3:]}",
            )
        if not ID_PATTERN.match(claim_id):
            ledger.problem(found[0].place, f"{claim_id!r} is not a claim id such as '{n}.name'")
        if len(found) > 1:
            ledger.problem(
                found[1].place,
                f"claim {claim_id} is asserted {len(found)} times (at "
                f"{', '.join(str(a.place) for a in found)}): assert each claim once; for a "
                "claim that only the full run shows, pass full_only=True instead of branching",
            )
    for claim_id, places in ledger.marks.items():
        if claim_id not in asserted:
            ledger.problem(
                places[0],
                f"the sentence marked {claim_id} is asserted by no code cell: add "
                f'claims.hold("{claim_id}", condition, measured=...) (or claims.above/below) '
                "to the lesson's checks, or soften the sentence and drop its mark",
            )
    for claim_id, found in asserted.items():
        if claim_id not in ledger.marks:
            ledger.problem(
                found[0].place,
                f"claim {claim_id} is asserted but no sentence carries it: end the sentence "
                f"that states it with <!-- claim: {claim_id} -->",
            )
    if not ledger.assertions:
        return
    good = [r for r in ledger.reports if r[1] == n and r[2]]
    if not good:
        ledger.problem(
            None,
            f"the lesson has claims, so its checks must end with claims.report({int(n)}) as the "
            "last line of a cell (its table is what the book reads)"
            + (
                f"; found claims.report at {', '.join(str(r[0]) for r in ledger.reports)}, "
                f"with another lesson's number or not as its cell's last line"
                if ledger.reports
                else ""
            ),
        )
        return
    report_at = good[-1][0]
    after = (report_at.cell, report_at.line)
    for a in ledger.assertions:
        if (a.place.cell, a.place.line) <= after:
            continue
        ledger.problem(
            a.place,
            f"claim {a.claim_id} is asserted after claims.report({int(n)}) ({report_at}): "
            "the report must come after every assertion",
        )


def lessons(folder: Path = NOTEBOOKS) -> list[LessonLedger]:
    return [read_lesson(path) for path in sorted(folder.glob("[0-9][0-9]_*.ipynb"))]


def lessons_without_claims(found: list[LessonLedger]) -> list[str]:
    return [x.number for x in found if not x.ids]


# ----------------------------------------------------------------------------------------
# Quizzes: which questions state a measured fact

# A reference to a run: "this run", "the full run", "in short runs", "its run", ...
RUN = re.compile(
    r"\b(?:this|the|its|their|our|every|each|both|full|short|quick|fast|longer|same|"
    r"lesson(?:\s+\d\d)?'s)\s+(?:full\s+|short\s+|quick\s+|fast\s+)?runs?\b",
    re.IGNORECASE,
)
# What a lesson measured: "the lesson measures", "lesson 06 counts", "the lesson's KL panel
# shows", "its checks assert", "in the lesson", "in lesson 07's sweep".
LESSON = re.compile(
    r"\b(?:(?:the|this|that)\s+lesson|lesson\s+\d\d)(?:'s(?:\s+[\w-]+){1,3})?\s+"
    r"(?:measures|measured|shows|showed|counts|counted|finds|found|asserts|asserted|"
    r"reaches|reached|prints|printed)\b"
    r"|\bin\s+the\s+lesson\b"
    r"|\bin\s+lesson\s+\d\d's\b"
    r"|\b(?:the|its|their)\s+checks\s+assert\b",
    re.IGNORECASE,
)
# A number with the unit of a measurement: "22.6 nats", "0.3 dB", "21%", "7 active units".
NUMBER = re.compile(
    r"(?<![\w.])\d+(?:[.,]\d+)*\s*(?:%|percent\b|nats?\b|bits?\b|dB\b|(?:active\s+)?units\b)",
    re.IGNORECASE,
)

# Questions whose numbers are made-up examples, reviewed by hand: id -> why they are not
# measurements. Add one only when the numbers are neither measured nor the question's givens.
NOT_MEASURED: dict[str, str] = {
    "08.auroc_meaning": "50%, 10% and 90% describe an imagined detector and class balance",
}


def _normalise(number: str) -> str:
    return re.sub(r"\s+", " ", number.strip().lower())


def measured_phrases(question) -> list[str]:
    """The phrases by which ``question`` (a ``vaelab.quiz.Question``) states a measured fact.

    The rule, applied to everything the learner reads (text, options, explanations, the
    numeric explanation, hint and mistakes):

    1. a reference to a run: "this run", "the full run", "in short runs", "its run";
    2. a reference to what a lesson measured: "the lesson measures/shows/counts/finds",
       "lesson 06 counts", "the lesson's KL panel shows", "in the lesson", "in lesson 07's
       sweep", "the checks assert";
    3. a number with the unit of a measurement (nats, bits, dB, %, units, "active units"),
       unless the question's own text gives it (a given, not a finding). Numeric questions
       are exempt from this part: their numbers are worked out from the givens, and
       ``compute`` checks them.

    ``NOT_MEASURED`` exempts a question whose numbers are a made-up example.
    """
    if question.id in NOT_MEASURED:
        numbers_exempt = True
    else:
        numbers_exempt = question.numeric
    givens = {_normalise(m.group(0)) for m in NUMBER.finditer(question.text)}
    texts = [question.text, *question.options, *question.explanations]
    texts += [question.explanation, question.hint, *(m.explanation for m in question.mistakes)]
    found: list[str] = []
    for text in filter(None, texts):
        found += [m.group(0) for m in RUN.finditer(text)]
        found += [m.group(0) for m in LESSON.finditer(text)]
        if not numbers_exempt:
            found += [
                m.group(0)
                for m in NUMBER.finditer(text)
                if text is not question.text and _normalise(m.group(0)) not in givens
            ]
    return list(dict.fromkeys(found))


def check_quizzes(found: list[LessonLedger], questions=None) -> tuple[list[str], list[str]]:
    """(problems, pending): what is wrong with the quiz bank's claims, and what is not yet
    enforced because the question's lesson has no claims."""
    if questions is None:
        from vaelab import quiz

        questions = quiz.questions()
    asserted = {claim_id for x in found for claim_id in x.asserted}
    with_claims = {x.number for x in found if x.ids}
    problems, pending = [], []
    for q in questions:
        for claim_id in q.claims:
            if claim_id not in asserted:
                problems.append(
                    f"quiz {q.id}: rests on claim {claim_id!r}, which no lesson asserts: "
                    "use the id a lesson asserts with claims.hold/above/below"
                )
        phrases = measured_phrases(q)
        if phrases and not q.claims:
            message = (
                f"quiz {q.id}: states a measured fact ({'; '.join(repr(p) for p in phrases)}) "
                f'but lists no claim: add "claims": ["{q.lesson:02d}.name"] with the id of the '
                "lesson's claim it rests on, or reword it so that it reports no run (a number "
                "the question itself gives is not a finding; a made-up example goes into "
                "NOT_MEASURED in tests/claims_ledger.py, with the reason)"
            )
            (problems if f"{q.lesson:02d}" in with_claims else pending).append(message)
    return problems, pending


def main() -> int:
    found = lessons()
    quiz_problems, pending = check_quizzes(found)
    for lesson in found:
        ids = sorted(lesson.ids)
        print(f"lesson {lesson.number}: {len(ids)} claims" + (f": {', '.join(ids)}" if ids else ""))
    problems = [p for x in found for p in x.problems] + quiz_problems
    missing = lessons_without_claims(found)
    if missing:
        print(f"\nlessons with no claims yet: {', '.join(missing)}")
    if pending:
        print(f"\nquiz questions to give claims once their lesson has some ({len(pending)}):")
        print("\n".join(f"  {p}" for p in pending))
    if problems:
        print(f"\n{len(problems)} problems:")
        print("\n".join(f"  {p}" for p in problems))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
