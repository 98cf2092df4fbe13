"""Quizzes for the lessons: multiple-choice and numeric questions, each answer explained.

In a notebook::

    from vaelab import quiz
    quiz.ask("04.kl_sign")             # radio buttons and a Check button in Jupyter
    quiz.answer("04.kl_sign", 0)       # or answer in code: prints and returns a Result

Where no kernel runs (the course's book, a notebook viewer) the widgets' output carries a
static copy, ``quiz.static_html(id)``: the options, each explanation folded in ``<details>``.

The questions live in ``vaelab/quizzes/lessonNN.py``, one plain list of dicts per lesson.
Numeric questions carry a ``compute`` function that calls vaelab itself, so the expected
value is never typed in by hand.
"""

from __future__ import annotations

import difflib
import html
import importlib
import importlib.util
import math
import numbers
import pkgutil
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

__all__ = [
    "Mistake",
    "Question",
    "Result",
    "answer",
    "ask",
    "ask_lesson",
    "check",
    "get",
    "questions",
    "static_html",
]


@dataclass(frozen=True)
class Mistake:
    """A common wrong numeric answer, computed, with what probably led to it."""

    compute: Callable[[], float]
    explanation: str


@dataclass(frozen=True)
class Question:
    """One quiz question: multiple choice (``options``) or numeric (``compute``)."""

    id: str  # "LL.name", LL the lesson number
    lesson: int
    text: str
    options: tuple[str, ...] = ()  # multiple choice: the options, in display order
    correct: int | None = None  # multiple choice: index of the right option
    explanations: tuple[str, ...] = ()  # multiple choice: why each option is right or wrong
    compute: Callable[[], float] | None = None  # numeric: returns the expected value
    tolerance: float = 0.0  # numeric: accepted absolute error
    unit: str = ""  # numeric: e.g. "nats", "dB"
    explanation: str = ""  # numeric: how the answer is found (shown when right)
    hint: str = ""  # numeric: a nudge (shown when wrong)
    mistakes: tuple[Mistake, ...] = ()  # numeric: recognised wrong answers
    claims: tuple[str, ...] = ()  # ids of the lesson's claims (vaelab.claims) it rests on

    @property
    def numeric(self) -> bool:
        return self.compute is not None

    def expected(self) -> float:
        """The right numeric answer, computed by vaelab (cached after the first call)."""
        if self.compute is None:
            raise ValueError(f"question {self.id!r} is multiple choice, not numeric")
        return _expected(self.id)


@dataclass(frozen=True)
class Result:
    """Outcome of ``answer``: truthy when correct, printable as feedback."""

    question_id: str
    correct: bool
    explanation: str
    choice: int | float  # the option index chosen, or the number given

    def __bool__(self) -> bool:
        return self.correct

    def __repr__(self) -> str:  # short: ``answer`` has already printed the explanation
        return f"Result(question_id={self.question_id!r}, correct={self.correct})"

    def __str__(self) -> str:
        verdict = "Correct." if self.correct else "Not quite."
        return f"[{self.question_id}] {verdict} {_after_verdict(self.explanation)}"


def _after_verdict(explanation: str) -> str:
    """The explanation without its leading "Right:", which a "Correct." verdict already says."""
    for prefix in ("Right:", "Right.", "Right,"):
        if explanation.startswith(prefix):
            rest = explanation[len(prefix) :].lstrip()
            return rest[:1].upper() + rest[1:]
    return explanation


# ----------------------------------------------------------------------------------------
# The bank


def _parse(raw: dict, lesson: int, module: str) -> Question:
    where = f"{module}: question {raw.get('id', '?')!r}"
    qid = raw.get("id")
    if not isinstance(qid, str) or not qid.startswith(f"{lesson:02d}."):
        raise ValueError(f"{where}: the id must start with the lesson number '{lesson:02d}.'")
    fields = dict(raw)
    fields["lesson"] = lesson
    fields["options"] = tuple(raw.get("options", ()))
    fields["explanations"] = tuple(raw.get("explanations", ()))
    fields["claims"] = tuple(raw.get("claims", ()))
    fields["mistakes"] = tuple(
        m if isinstance(m, Mistake) else Mistake(**m) for m in raw.get("mistakes", ())
    )
    try:
        q = Question(**fields)
    except TypeError as err:
        raise ValueError(f"{where}: {err}") from None
    if not q.text:
        raise ValueError(f"{where}: no text")
    if q.numeric:
        if q.options or q.tolerance <= 0 or not q.explanation or not q.hint:
            raise ValueError(f"{where}: a numeric question needs tolerance > 0, explanation, hint")
    else:
        n = len(q.options)
        if n < 2 or len(q.explanations) != n or not all(q.explanations):
            raise ValueError(f"{where}: needs >= 2 options and one explanation per option")
        if not isinstance(q.correct, int) or not 0 <= q.correct < n:
            raise ValueError(f"{where}: correct must be an option index in 0..{n - 1}")
    return q


@cache
def _bank() -> dict[str, Question]:
    """All questions by id, from every ``vaelab.quizzes.lessonNN`` module."""
    from vaelab import quizzes

    bank: dict[str, Question] = {}
    for info in sorted(pkgutil.iter_modules(quizzes.__path__), key=lambda i: i.name):
        name = info.name
        if not (name.startswith("lesson") and name[6:].isdigit()):
            continue
        module = importlib.import_module(f"vaelab.quizzes.{name}")
        for raw in module.QUESTIONS:
            q = _parse(raw, int(name[6:]), name)
            if q.id in bank:
                raise ValueError(f"{name}: duplicate question id {q.id!r}")
            bank[q.id] = q
    return bank


@cache
def _expected(question_id: str) -> float:
    value = float(_bank()[question_id].compute())
    if not math.isfinite(value):
        raise ValueError(f"question {question_id!r}: compute() gave {value}, not a finite number")
    return value


def questions(lesson: int | str | None = None) -> list[Question]:
    """All questions, or those of one lesson, ordered by id.

    Args:
        lesson: a lesson number such as 4 or "04"; None for all lessons.
    """
    found = sorted(_bank().values(), key=lambda q: q.id)
    if lesson is None:
        return found
    return [q for q in found if q.lesson == int(lesson)]


def get(question_id: str) -> Question:
    """The question with this id; an unknown id raises an error that lists the valid ones."""
    bank = _bank()
    if question_id in bank:
        return bank[question_id]
    if not isinstance(question_id, str):
        raise TypeError(f"question_id must be a str such as '04.kl_sign', got {question_id!r}")
    prefix = question_id.split(".")[0]
    same_lesson = [q for q in bank if q.split(".")[0] == prefix]
    close = difflib.get_close_matches(question_id, list(bank), n=3)
    hint = f" Did you mean {' or '.join(map(repr, close))}?" if close else ""
    valid = same_lesson or list(bank)
    raise ValueError(f"unknown question id {question_id!r}.{hint} Valid ids: {', '.join(valid)}")


# ----------------------------------------------------------------------------------------
# Answering


def _format(value: float, tolerance: float) -> str:
    digits = max(0, math.ceil(-math.log10(tolerance)) + 1) if tolerance > 0 else 3
    return f"{value:.{digits}f}"


def _option_list(q: Question) -> str:
    return "\n".join(f"  {i}) {text}" for i, text in enumerate(q.options))


def _choice_index(q: Question, choice) -> int:
    n = len(q.options)
    if isinstance(choice, numbers.Integral) and not isinstance(choice, bool):
        if 0 <= int(choice) < n:
            return int(choice)
    elif isinstance(choice, str):
        text = " ".join(choice.split()).lower()
        if text.isdigit() and int(text) < n:
            return int(text)
        for i, option in enumerate(q.options):
            if " ".join(option.split()).lower() == text:
                return i
    raise ValueError(
        f"{choice!r} is not an option of {q.id!r}: answer with an index 0..{n - 1} or the "
        f"option's text:\n{_option_list(q)}"
    )


def _number(q: Question, choice) -> float:
    value = None
    if isinstance(choice, numbers.Real) and not isinstance(choice, bool):
        value = float(choice)
    elif isinstance(choice, str):
        try:
            value = float(choice.strip())
        except ValueError:
            value = None
    elif hasattr(choice, "item") and getattr(choice, "ndim", 1) == 0:  # 0-d tensor or array
        value = float(choice.item())
    if value is None or not math.isfinite(value):
        raise ValueError(
            f"question {q.id!r} expects a finite number"
            f"{' in ' + q.unit if q.unit else ''}, got {choice!r}"
        )
    return value


def check(question_id: str, choice) -> Result:
    """Grade an answer without printing; ``answer`` prints the same result."""
    q = get(question_id)
    if not q.numeric:
        index = _choice_index(q, choice)
        return Result(q.id, index == q.correct, q.explanations[index], index)
    value = _number(q, choice)
    expected = q.expected()
    unit = f" {q.unit}" if q.unit else ""
    if abs(value - expected) <= q.tolerance:
        shown = _format(expected, q.tolerance)
        return Result(q.id, True, f"The answer is {shown}{unit}. {q.explanation}", value)
    for mistake in q.mistakes:
        if abs(value - float(mistake.compute())) <= q.tolerance:
            return Result(q.id, False, f"{mistake.explanation} Hint: {q.hint}", value)
    return Result(q.id, False, f"{q.hint} (Accepted within +/-{q.tolerance:g}{unit}.)", value)


def answer(question_id: str, choice, *, quiet: bool = False) -> Result:
    """Grade an answer, print the verdict with its explanation, and return it.

    Args:
        question_id: e.g. "04.kl_sign"; ``questions()`` lists them.
        choice: an option index (0-based) or the option's text; for numeric questions a
            number, accepted within the question's tolerance.
        quiet: return the Result without printing it.

    Returns:
        ``Result(question_id, correct, explanation, choice)``, truthy when correct.
    """
    result = check(question_id, choice)
    if not quiet:
        print(textwrap.fill(str(result), width=88))
    return result


# ----------------------------------------------------------------------------------------
# Asking


def _in_jupyter() -> bool:
    """True inside an IPython kernel (Jupyter) with ipywidgets installed."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    shell = ipython.get_ipython()
    in_kernel = shell is not None and getattr(shell, "kernel", None) is not None
    return in_kernel and importlib.util.find_spec("ipywidgets") is not None


def _text(q: Question) -> str:
    lines = [f"Question {q.id} (lesson {q.lesson:02d})", textwrap.fill(q.text, width=88)]
    if q.numeric:
        unit = f", in {q.unit}" if q.unit else ""
        lines.append(
            f'Answer with quiz.answer("{q.id}", <a number{unit}>), '
            f"accepted within +/-{q.tolerance:g}."
        )
    else:
        lines.append(_option_list(q))
        lines.append(
            f'Answer with quiz.answer("{q.id}", <0..{len(q.options) - 1}>) or the option\'s text.'
        )
    return "\n".join(lines)


def _feedback(result: Result) -> dict:
    colour, verdict = (
        ("#1a7f37", "&#10003; Correct.") if result.correct else ("#b3261e", "&#10007; Not quite.")
    )
    explanation = html.escape(_after_verdict(result.explanation))
    body = f'<p style="{_LINE}"><b style="color:{colour}">{verdict}</b> {explanation}</p>'
    return _display(body, str(result))


def _display(html_text: str, plain: str) -> dict:
    """An Output widget's display_data message with an HTML and a plain-text version."""
    return {
        "output_type": "display_data",
        "data": {"text/html": html_text, "text/plain": plain},
        "metadata": {},
    }


# An ipywidgets HTML widget sets line-height to the widgets' row height (28 px), so wrapped
# question text would be double spaced: every block of quiz text sets ordinary spacing.
_LINE = "line-height:1.45"


RADIO_LABEL_CHARS = 80  # longer options would overflow a radio button's one-line label


def _widget(q: Question):
    """QuizBox(question, entry, Check button, Output) for one question."""
    import ipywidgets as widgets  # slow import, and only needed in Jupyter

    question = f'<p style="{_LINE}"><b>{html.escape(q.id)}</b> &nbsp;{html.escape(q.text)}</p>'
    long_options = max((len(text) for text in q.options), default=0) > RADIO_LABEL_CHARS
    if long_options:  # radio labels do not wrap: list the options as text, pick by number
        items = "".join(f"<li>{html.escape(text)}</li>" for text in q.options)
        question += f'<ol start="0" style="margin-top:0;{_LINE}">{items}</ol>'
    header = widgets.HTML(question, layout=widgets.Layout(width="auto"))
    if q.numeric:  # starts empty: a 0 already in the box would read as an answer
        entry = widgets.Text(
            value="",
            placeholder="a number",
            description=q.unit or "answer",
            layout=widgets.Layout(width="16em"),
        )
    elif long_options:
        entry = widgets.RadioButtons(
            options=[(str(i), i) for i in range(len(q.options))],
            value=None,
            description="answer",
            orientation="horizontal",
            layout=widgets.Layout(width="auto"),
        )
    else:
        entry = widgets.RadioButtons(
            options=[(text, i) for i, text in enumerate(q.options)],
            value=None,
            layout=widgets.Layout(width="auto"),
        )
    button = widgets.Button(description="Check", button_style="primary")
    output = widgets.Output()

    def on_check(_button) -> None:
        output.outputs = (_on_check_message(q, entry.value),)

    button.on_click(on_check)
    return _quiz_box([header, entry, button, output], [q])


def _on_check_message(q: Question, value) -> dict:
    """What the Check button shows for the entry's current value."""
    if q.numeric and not str(value).strip():
        return _display(f"<p>{_ENTER_NUMBER}</p>", _ENTER_NUMBER)
    if value is None:
        return _display("<p>Choose an option first.</p>", "Choose an option first.")
    try:
        return _feedback(check(q.id, value))
    except ValueError:  # numeric: not a number (the multiple-choice radio gives valid indices)
        text = f"{str(value).strip()!r} is not a number. {_ENTER_NUMBER}"
        return _display(f"<p>{html.escape(text)}</p>", text)


_ENTER_NUMBER = "Type a number in the box, for example 0.25, then press Check."


@cache
def _quiz_box_class():
    """ipywidgets.VBox that also carries a static HTML copy of its questions.

    Jupyter shows the widgets; a page rendered without a kernel (the course's book, nbconvert,
    a notebook viewer) shows the static copy: the options, each explanation folded away.
    """
    import ipywidgets as widgets

    class QuizBox(widgets.VBox):
        static_html = ""

        def _repr_mimebundle_(self, **kwargs):
            bundle = super()._repr_mimebundle_(**kwargs)
            if bundle is not None and self.static_html:
                bundle["text/html"] = self.static_html
            return bundle

    return QuizBox


def _quiz_box(children: list, found: list[Question]):
    box = _quiz_box_class()(children)
    box.static_html = "\n".join(static_html(q.id) for q in found)
    return box


def static_html(question_id: str) -> str:
    """A question as static HTML: each option's verdict and explanation folded in ``<details>``.

    Numeric questions fold the hint and the answer (computed by vaelab). The book and any
    viewer without a running kernel show this in place of the widgets.

    Args:
        question_id: e.g. "04.kl_sign".
    """
    q = get(question_id)
    esc = html.escape
    parts = [
        f'<div class="vaelab-quiz" id="quiz-{esc(q.id.replace(".", "-"))}">',
        f'<p class="vaelab-quiz-question"><b>{esc(q.id)}</b> {esc(q.text)}</p>',
    ]
    if q.numeric:
        unit = f" {q.unit}" if q.unit else ""
        shown = _format(q.expected(), q.tolerance)
        parts += [
            f"<p>Answer with a number{esc(' in ' + q.unit if q.unit else '')}, accepted "
            f"within &plusmn;{q.tolerance:g}.</p>",
            f"<details><summary>Hint</summary><p>{esc(q.hint)}</p></details>",
            f"<details><summary>Answer</summary><p><b>{esc(shown + unit)}</b>. "
            f"{esc(q.explanation)}</p></details>",
        ]
    else:
        items = []
        for i, (option, why) in enumerate(zip(q.options, q.explanations, strict=True)):
            verdict = "Right." if i == q.correct else "Not quite."
            css = "right" if i == q.correct else "wrong"
            items.append(
                f"<li><details><summary>{esc(option)}</summary>"
                f'<p class="vaelab-quiz-{css}"><b>{verdict}</b> {esc(_after_verdict(why))}</p>'
                "</details></li>"
            )
        parts.append(f'<ol class="vaelab-quiz-options" start="0">{"".join(items)}</ol>')
    parts.append("</div>")
    return "\n".join(parts)


def ask(question_id: str, *, widget: bool | None = None):
    """Pose a question: widgets in Jupyter, plain text elsewhere.

    In Jupyter the widget shows when it is the cell's last expression (or pass it to
    ``display``); use ``ask_lesson`` for several questions in one cell.

    Args:
        question_id: e.g. "03.sample_vs_rsample".
        widget: force widgets (True) or plain text (False); None uses widgets in a Jupyter
            kernel where ipywidgets is installed.

    Returns:
        The ipywidgets VBox, or None after printing the question as text.
    """
    q = get(question_id)
    if widget is None:
        widget = _in_jupyter()
    if widget:
        return _widget(q)
    print(_text(q))
    return None


def ask_lesson(lesson: int | str, *, widget: bool | None = None):
    """Pose every question of a lesson: one VBox of widgets in Jupyter, else plain text.

    Args:
        lesson: e.g. 4 or "04".
        widget: as for ``ask``.
    """
    found = questions(lesson)
    if not found:
        lessons = sorted({q.lesson for q in questions()})
        raise ValueError(f"no questions for lesson {lesson!r}; lessons with questions: {lessons}")
    if widget is None:
        widget = _in_jupyter()
    if widget:
        return _quiz_box([_widget(q) for q in found], found)
    print("\n\n".join(_text(q) for q in found))
    return None
