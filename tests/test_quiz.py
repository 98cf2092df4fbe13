"""The question bank is well formed, answers are graded right, and notebooks cite real ids."""

from __future__ import annotations

import html
import json
import math
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from vaelab import quiz

ROOT = Path(__file__).resolve().parents[1]
ALL = quiz.questions()
CHOICE = [q for q in ALL if not q.numeric]
NUMERIC = [q for q in ALL if q.numeric]
QUIZ_CALL = re.compile(r"""quiz\s*\.\s*(?:ask|answer|check|get)\s*\(\s*(['"])([^'"]+)\1""")


def ids(questions):
    return [q.id for q in questions]


def test_bank_covers_the_lessons():
    per_lesson = {lesson: len(quiz.questions(lesson)) for lesson in range(9)}
    assert 1 <= per_lesson[0] <= 2
    assert all(2 <= per_lesson[lesson] <= 4 for lesson in range(1, 9)), per_lesson
    assert len(NUMERIC) >= 3
    assert len(set(ids(ALL))) == len(ALL)
    assert quiz.questions("04") == quiz.questions(4)


@pytest.mark.parametrize("q", CHOICE, ids=ids(CHOICE))
def test_choice_question_has_one_correct_option_and_an_explanation_for_each(q):
    assert re.fullmatch(rf"{q.lesson:02d}\.[a-z0-9_]+", q.id)
    assert len(q.options) >= 2 and len(set(q.options)) == len(q.options)
    assert len(q.explanations) == len(q.options)
    assert isinstance(q.correct, int) and 0 <= q.correct < len(q.options)
    assert all(len(e) > 20 for e in q.explanations)
    # The explanation of the right option, and only that one, says so.
    assert [e.startswith("Right") for e in q.explanations] == [
        i == q.correct for i in range(len(q.options))
    ]


def test_right_answers_are_not_always_in_the_same_place():
    assert len({q.correct for q in CHOICE}) >= 3


@pytest.mark.parametrize("q", NUMERIC, ids=ids(NUMERIC))
def test_numeric_question_is_computed_and_graded_with_tolerance(q):
    assert not q.options and q.tolerance > 0 and q.explanation and q.hint
    expected = q.expected()
    assert math.isfinite(expected)
    assert quiz.answer(q.id, expected, quiet=True).correct
    assert quiz.answer(q.id, expected + 0.9 * q.tolerance, quiet=True).correct
    assert quiz.answer(q.id, str(expected), quiet=True).correct
    assert not quiz.answer(q.id, expected + 3 * q.tolerance, quiet=True).correct
    assert not quiz.answer(q.id, expected * 10 + 100, quiet=True).correct
    for mistake in q.mistakes:  # each recognised mistake is wrong and gets its own explanation
        wrong = float(mistake.compute())
        assert abs(wrong - expected) > 2 * q.tolerance
        result = quiz.answer(q.id, wrong, quiet=True)
        assert not result.correct and mistake.explanation in result.explanation


def test_numeric_values_come_from_the_library():
    from vaelab import losses, metrics, schedules

    assert quiz.get("06.warmup_weight").expected() == schedules.linear_kl_weight(300, 1000)
    assert quiz.get("04.kl_value").expected() == pytest.approx(
        0.5 * (1 + 0.25 - 1 - math.log(0.25)), abs=1e-6
    )
    assert quiz.get("07.psnr_value").expected() == pytest.approx(20.0, abs=1e-4)
    assert losses.kl_divergence and metrics.psnr  # the modules the bank calls


def test_answer_by_index_text_and_digit_string(capsys):
    q = quiz.get("04.kl_sign")
    right = quiz.answer(q.id, q.correct)
    assert right and right.correct and right.explanation == q.explanations[q.correct]
    printed = capsys.readouterr().out
    assert "Correct." in printed and "04.kl_sign" in printed
    by_text = quiz.answer(q.id, "  " + q.options[q.correct].upper() + " ", quiet=True)
    assert by_text.correct and by_text.choice == q.correct
    assert quiz.answer(q.id, str(q.correct), quiet=True).correct
    wrong = (q.correct + 1) % len(q.options)
    result = quiz.answer(q.id, wrong)
    assert not result and result.explanation == q.explanations[wrong]
    assert "Not quite." in capsys.readouterr().out


def test_numeric_answer_accepts_a_tensor():
    import torch

    q = quiz.get("02.logvar_to_std")
    assert quiz.answer(q.id, torch.tensor(q.expected()), quiet=True).correct


@pytest.mark.parametrize("bad", [7, -1, True, "the blue one", 0.5, None])
def test_bad_choices_list_the_valid_ones(bad):
    q = quiz.get("04.kl_sign")
    with pytest.raises(ValueError, match=r"0\.\.3") as info:
        quiz.answer(q.id, bad)
    assert q.options[0] in str(info.value)


@pytest.mark.parametrize("bad", ["lots", float("nan"), None, [1.0], True])
def test_bad_numbers_are_refused(bad):
    with pytest.raises(ValueError, match="finite number"):
        quiz.answer("04.kl_value", bad)


def test_unknown_id_suggests_and_lists_valid_ids():
    with pytest.raises(ValueError, match=r"unknown question id '04\.kl_sing'.*'04\.kl_sign'"):
        quiz.answer("04.kl_sing", 0)
    with pytest.raises(ValueError, match="99.nothing"):
        quiz.ask("99.nothing")
    with pytest.raises(ValueError, match="lessons with questions"):
        quiz.ask_lesson(42)


def test_ask_prints_plain_text_outside_jupyter(capsys):
    q = quiz.get("03.sample_vs_rsample")
    assert quiz.ask(q.id) is None
    out = capsys.readouterr().out
    assert " ".join(q.text.split()) in " ".join(out.split())
    for i, option in enumerate(q.options):
        assert f"{i}) {option}" in out
    assert quiz.ask("04.kl_value") is None
    assert "a number, in nats" in capsys.readouterr().out
    assert quiz.ask_lesson(4, widget=False) is None
    out = capsys.readouterr().out
    assert all(q.id in out for q in quiz.questions(4))


def feedback(box) -> str:
    outputs = box.children[-1].outputs
    return outputs[0]["data"]["text/plain"] if outputs else ""


def test_widget_checks_the_chosen_option():
    pytest.importorskip("ipywidgets")
    q = quiz.get("05.slerp_vs_lerp")  # long options: listed in the header, chosen by number
    box = quiz.ask(q.id, widget=True)
    header, radio, button, _ = box.children
    assert [label for label, _ in radio.options] == [str(i) for i in range(len(q.options))]
    assert all(html.escape(option) in header.value for option in q.options)
    short = quiz.ask("00.batch_shape", widget=True).children[1]  # short options: their own labels
    assert [label for label, _ in short.options] == list(quiz.get("00.batch_shape").options)
    button.click()
    assert "Choose an option" in feedback(box)
    radio.value = (q.correct + 1) % len(q.options)
    button.click()
    assert "Not quite." in feedback(box)
    radio.value = q.correct
    button.click()
    right = q.explanations[q.correct].removeprefix("Right:").strip()
    assert "Correct." in feedback(box) and right[1:] in feedback(box)  # [1:]: now capitalised
    assert "Right:" not in feedback(box)  # not "Correct. Right: ..."


def test_widget_for_a_numeric_question_and_for_a_lesson():
    pytest.importorskip("ipywidgets")
    q = quiz.get("06.warmup_weight")
    box = quiz.ask(q.id, widget=True)
    _, entry, button, _ = box.children
    assert entry.value == ""  # starts empty: no 0 that reads as an answer
    button.click()  # Check on the untouched box asks for a number, not about a mistake
    assert "Type a number" in feedback(box) and q.hint not in feedback(box)
    entry.value = "  "
    button.click()
    assert "Type a number" in feedback(box)
    entry.value = "lots"
    button.click()
    assert "'lots' is not a number" in feedback(box)
    entry.value = str(q.expected() + 10 * q.tolerance)
    button.click()
    assert "Not quite." in feedback(box) and q.hint in feedback(box)
    entry.value = f" {q.expected()} "
    button.click()
    assert "Correct." in feedback(box)
    assert len(quiz.ask_lesson(6, widget=True).children) == len(quiz.questions(6))


def test_feedback_html_has_ordinary_line_spacing():
    # ipywidgets' HTML widget sets line-height to its 28 px row height; the quiz overrides it.
    pytest.importorskip("ipywidgets")
    header = quiz.ask("05.slerp_vs_lerp", widget=True).children[0]
    assert header.value.count("line-height:1.45") == 2  # the question and its option list


def test_correct_feedback_does_not_repeat_the_verdict():
    q = quiz.get("00.batch_shape")
    assert q.explanations[q.correct].startswith("Right:")
    text = str(quiz.answer(q.id, q.correct, quiet=True))
    assert text.startswith("[00.batch_shape] Correct. PyTorch's (B, C, H, W) layout")
    assert "Right" not in text
    wrong = str(quiz.answer(q.id, 0, quiet=True))
    assert wrong == f"[00.batch_shape] Not quite. {q.explanations[0]}"


class _Parser(HTMLParser):
    """The text of each <summary> and of each <details> body, in order."""

    def __init__(self):
        super().__init__()
        self.summaries, self.bodies, self.stack = [], [], []

    def handle_starttag(self, tag, attrs):
        self.stack.append(tag)
        if tag == "summary":
            self.summaries.append("")
        elif tag == "details":
            self.bodies.append("")

    def handle_endtag(self, tag):
        self.stack.pop()

    def handle_data(self, data):
        if "summary" in self.stack:
            self.summaries[-1] += data
        elif "details" in self.stack:
            self.bodies[-1] += data


@pytest.mark.parametrize("q", CHOICE, ids=ids(CHOICE))
def test_static_html_folds_each_options_explanation(q):
    parser = _Parser()
    parser.feed(quiz.static_html(q.id))
    assert parser.summaries == list(q.options)  # each option is the visible part of a fold
    for i, body in enumerate(parser.bodies):  # and its verdict and explanation are folded away
        verdict = "Right." if i == q.correct else "Not quite."
        assert body.startswith(verdict), body
        why = " ".join(q.explanations[i].removeprefix("Right:").split())
        assert why[1:] in " ".join(html.unescape(body).split())  # [1:]: capitalised after Right.


@pytest.mark.parametrize("q", NUMERIC, ids=ids(NUMERIC))
def test_static_html_of_a_numeric_question_folds_hint_and_computed_answer(q):
    parser = _Parser()
    parser.feed(quiz.static_html(q.id))
    assert parser.summaries == ["Hint", "Answer"]
    assert html.unescape(parser.bodies[0]).strip() == q.hint
    shown = f"{q.expected():.{max(0, math.ceil(-math.log10(q.tolerance)) + 1)}f}"
    assert parser.bodies[1].startswith(shown)


def test_widgets_carry_the_static_html_for_pages_without_a_kernel():
    pytest.importorskip("ipywidgets")
    bundle = quiz.ask("04.kl_sign", widget=True)._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle  # Jupyter shows the widgets
    assert bundle["text/html"] == quiz.static_html("04.kl_sign")  # a static page, the HTML
    lesson = quiz.ask_lesson(4, widget=True)._repr_mimebundle_()["text/html"]
    assert lesson == "\n".join(quiz.static_html(q.id) for q in quiz.questions(4))


def test_importing_quiz_does_not_import_ipywidgets():
    code = "import sys, vaelab.quiz; sys.exit('ipywidgets' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0


def quiz_ids_in_notebooks(folder: Path) -> set[tuple[str, str]]:
    """(notebook name, id) for every quiz call with a literal id in a code cell."""
    found = set()
    for path in sorted(folder.glob("*.ipynb")):
        notebook = json.loads(path.read_text(encoding="utf-8"))
        for cell in notebook.get("cells", []):
            if cell.get("cell_type") == "code":
                source = "".join(cell.get("source", []))
                found |= {(path.name, m.group(2)) for m in QUIZ_CALL.finditer(source)}
    return found


def test_notebook_scanner_finds_quiz_calls(tmp_path):
    cells = [
        {"cell_type": "code", "source": ['quiz.ask("04.kl_sign")\n', "quiz.answer('01.x', 2)"]},
        {"cell_type": "markdown", "source": ['quiz.ask("99.in_prose")']},
    ]
    (tmp_path / "04_elbo.ipynb").write_text(json.dumps({"cells": cells}))
    assert quiz_ids_in_notebooks(tmp_path) == {
        ("04_elbo.ipynb", "04.kl_sign"),
        ("04_elbo.ipynb", "01.x"),
    }


def test_every_quiz_id_in_the_notebooks_exists():
    known = set(ids(ALL))
    missing = sorted(
        (name, qid) for name, qid in quiz_ids_in_notebooks(ROOT / "notebooks") if qid not in known
    )
    assert not missing, f"notebooks cite unknown quiz ids: {missing}"


def test_result_repr_is_short_and_str_explains():
    result = quiz.answer("06.warmup_weight", 0.3, quiet=True)
    assert repr(result) == "Result(question_id='06.warmup_weight', correct=True)"
    assert str(result).startswith("[06.warmup_weight] Correct. The answer is 0.300")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"id": "05.wrong_lesson"}, "lesson number"),
        ({"correct": 4}, "correct must be"),
        ({"explanations": ["only one"]}, "one explanation per option"),
        ({"compute": lambda: 1.0}, "numeric question needs"),
    ],
)
def test_malformed_questions_are_refused(change, message):
    raw = {
        "id": "04.example",
        "text": "Which?",
        "options": ["a", "b"],
        "correct": 0,
        "explanations": ["Right: a.", "Not b."],
    }
    with pytest.raises(ValueError, match=message):
        quiz._parse({**raw, **change}, 4, "lesson04")
