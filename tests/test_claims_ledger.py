"""The claim ledger of the lessons and quizzes (issue 27), checked without running anything.

The first tests check the course itself; the rest show, on small made-up notebooks and
questions, that each rule of ``claims_ledger`` fires on what it should and only on that.
"""

from __future__ import annotations

import json

import pytest
from claims_ledger import (
    NOT_MEASURED,
    check_quizzes,
    lessons,
    lessons_without_claims,
    measured_phrases,
    read_lesson,
)

from vaelab import quiz
from vaelab.quiz import Question

# Once every lesson carries its claims, set this to True: a lesson without any then fails.
EVERY_LESSON_HAS_CLAIMS = True

COURSE = lessons()


@pytest.mark.parametrize("lesson", COURSE, ids=[x.name for x in COURSE])
def test_every_marked_sentence_is_asserted_and_every_assertion_marked(lesson):
    assert not lesson.problems, "\n".join(lesson.problems)


def test_every_quiz_question_that_reports_a_run_names_its_claims():
    problems, _pending = check_quizzes(COURSE)
    assert not problems, "\n".join(problems)


def test_lessons_without_claims_are_listed():
    missing = lessons_without_claims(COURSE)
    if missing and EVERY_LESSON_HAS_CLAIMS:
        pytest.fail(f"lessons with no claims: {', '.join(missing)}")
    if missing:
        _, pending = check_quizzes(COURSE)
        pytest.skip(
            f"not yet converted to the claim ledger (allowed for now): lessons "
            f"{', '.join(missing)}; {len(pending)} quiz questions wait for their lesson's claims "
            "(python tests/claims_ledger.py lists them)"
        )


def test_the_not_measured_exceptions_are_real_questions():
    ids = {q.id for q in quiz.questions()}
    assert set(NOT_MEASURED) <= ids, set(NOT_MEASURED) - ids


# ----------------------------------------------------------------------------------------
# The rules, on made-up lessons


def markdown(text: str) -> dict:
    return {"cell_type": "markdown", "id": "m", "metadata": {}, "source": text}


def code(text: str) -> dict:
    return {
        "cell_type": "code",
        "id": "c",
        "metadata": {},
        "source": text,
        "outputs": [],
        "execution_count": None,
    }


SETUP = code("from vaelab import claims\nkl = [7.3, 22.6]")
PROSE = markdown(
    "# 04 · A lesson\n\nWhile the VAE trains, the KL rises.<!-- claim: 04.kl_rises -->"
)
CHECK = code(
    'claims.hold("04.kl_rises", kl[-1] > kl[0], measured=f"KL {kl[0]} -> {kl[-1]} nats")\n'
    "claims.report(4)"
)


def lesson(tmp_path, *cells, name="04_elbo.ipynb"):
    path = tmp_path / name
    nb = {"cells": list(cells), "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(nb), encoding="utf-8")
    return read_lesson(path)


def problems(ledger) -> str:
    return "\n".join(ledger.problems)


def test_a_consistent_lesson_passes(tmp_path):
    ledger = lesson(
        tmp_path,
        SETUP,
        PROSE,
        markdown("- The KL rises over the epochs. <!--claim:04.kl_rises-->\n- other"),
        code("%matplotlib inline\n!echo hi\nx = 1"),  # magics do not break the parser
        CHECK,
    )
    assert ledger.problems == []
    assert set(ledger.marks) == {"04.kl_rises"} and len(ledger.marks["04.kl_rises"]) == 2
    assert [a.claim_id for a in ledger.assertions] == ["04.kl_rises"]


def test_a_lesson_without_claims_passes_and_is_listed(tmp_path):
    ledger = lesson(tmp_path, markdown("# 04 · no claims"), code("x = 1"))
    assert ledger.problems == []
    assert lessons_without_claims([ledger]) == ["04"]


def test_a_marked_sentence_without_an_assertion_fails(tmp_path):
    ledger = lesson(tmp_path, SETUP, PROSE, code("claims.report(4)"))
    assert "04.kl_rises is asserted by no code cell" in problems(ledger)


def test_an_assertion_without_a_marked_sentence_fails(tmp_path):
    ledger = lesson(tmp_path, SETUP, markdown("The KL rises."), CHECK)
    assert "claim 04.kl_rises is asserted but no sentence carries it" in problems(ledger)
    assert "<!-- claim: 04.kl_rises -->" in problems(ledger)


def test_a_claim_of_another_lesson_fails(tmp_path):
    ledger = lesson(
        tmp_path,
        SETUP,
        markdown("The KL rises.<!-- claim: 05.kl_rises -->"),
        code('claims.above("05.kl_rises", 2.0, 1.0)\nclaims.report(4)'),
    )
    text = problems(ledger)
    assert "belongs to lesson 05, but this is lesson 04: rename it 04.kl_rises" in text
    assert "claims.above('05.kl_rises', ...) names lesson 05" in text


def test_a_claim_asserted_twice_fails(tmp_path):
    twice = code(
        'if FAST:\n    claims.hold("04.kl_rises", True, measured="a")\n'
        'else:\n    claims.hold("04.kl_rises", True, measured="b")\nclaims.report(4)'
    )
    ledger = lesson(tmp_path, SETUP, PROSE, twice)
    assert "claim 04.kl_rises is asserted 2 times" in problems(ledger)
    assert "full_only=True" in problems(ledger)


def test_an_id_built_at_run_time_fails(tmp_path):
    dynamic = code(
        'for name in ["kl_rises"]:\n    claims.hold(f"04.{name}", True, measured="")\n'
        "claims.report(4)"
    )
    ledger = lesson(tmp_path, SETUP, PROSE, dynamic)
    assert "needs the claim id as a string literal" in problems(ledger)


@pytest.mark.parametrize(
    "statement",
    ["from vaelab.claims import hold", "from vaelab import claims as c"],
)
def test_an_alias_the_check_cannot_follow_fails(tmp_path, statement):
    ledger = lesson(tmp_path, code(statement), PROSE, CHECK)
    assert "import the ledger as `from vaelab import claims`" in problems(ledger)


def test_vaelab_dot_claims_is_read_too(tmp_path):
    ledger = lesson(
        tmp_path,
        code("import vaelab"),
        PROSE,
        code(
            'vaelab.claims.hold("04.kl_rises", True, measured="x", full_only=True)\n'
            "vaelab.claims.report(4)"
        ),
    )
    assert ledger.problems == []
    assert ledger.assertions[0].full_only is True


def test_an_assertion_inside_a_cell_magic_is_read(tmp_path):
    magic = code('%%capture out\nclaims.hold("04.kl_rises", True, measured="x")')
    ledger = lesson(tmp_path, SETUP, PROSE, magic, code("claims.report(4)"))
    assert ledger.problems == []


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("While it trains, the KL rises.\n<!-- claim: 04.kl_rises -->", "start of a line"),
        ("The KL rises.<!-- claims: 04.kl_rises -->", "malformed claim comment"),
        ("The KL rises.<!-- claim: 04.KL rises -->", "malformed claim comment"),
        ("The KL rises.<!-- claim: kl_rises -->", "malformed claim comment"),
    ],
)
def test_a_comment_the_book_cannot_attach_fails(tmp_path, source, message):
    ledger = lesson(tmp_path, SETUP, markdown(source), CHECK)
    assert message in problems(ledger)


@pytest.mark.parametrize(
    ("report", "message"),
    [
        ("x = 1", "must end with claims.report(4)"),
        ("claims.report(5)", "with another lesson's number"),
        ("claims.report(4)\nprint('done')", "not as its cell's last line"),
        ("r = claims.report(4)", "not as its cell's last line"),
    ],
)
def test_a_lesson_with_claims_ends_its_checks_with_its_report(tmp_path, report, message):
    assertion = code('claims.hold("04.kl_rises", True, measured="x")')
    ledger = lesson(tmp_path, SETUP, PROSE, assertion, code(report))
    assert message in problems(ledger)


def test_an_assertion_after_the_report_fails(tmp_path):
    late = code('claims.hold("04.kl_rises", True, measured="x")')
    ledger = lesson(tmp_path, SETUP, PROSE, code("claims.report(4)"), late)
    assert "asserted after claims.report(4)" in problems(ledger)


def test_a_report_as_a_string_number_counts(tmp_path):
    ledger = lesson(
        tmp_path,
        SETUP,
        PROSE,
        code('claims.hold("04.kl_rises", True, measured="x")\nclaims.report("04")'),
    )
    assert ledger.problems == []


# ----------------------------------------------------------------------------------------
# The rules, on made-up quiz questions


def choice(qid="04.q", text="Which?", explanations=("Right: it is.", "No."), claims=()):
    return Question(
        id=qid,
        lesson=int(qid[:2]),
        text=text,
        options=("a", "b"),
        correct=0,
        explanations=tuple(explanations),
        claims=tuple(claims),
    )


def numeric(qid="04.n", text="How many nats?", explanation="It is 2.08 nats."):
    return Question(
        id=qid,
        lesson=int(qid[:2]),
        text=text,
        compute=lambda: 2.08,
        tolerance=0.01,
        unit="nats",
        explanation=explanation,
        hint="Use the closed form.",
    )


@pytest.mark.parametrize(
    "explanation",
    [
        "In this run the KL rises.",
        "The full run shows more active units.",
        "In short runs it can even rank backwards.",
        "The lesson measures the opposite.",
        "The lesson measured it.",
        "Lesson 06 counts all 20 as active.",
        "The lesson's KL panel shows a plateau.",
        "In the lesson, scoring against N(0, I) reported a worse value.",
        "In lesson 07's sweep the PSNR rises.",
        "Its checks assert more than 0.6.",
        "The KL levels off at 24.5 nats.",
        "PSNR rises by 1.2 dB.",
        "21% of the draws land in holes.",
        "It keeps 7 active units.",
        "It stores 3 bits.",
    ],
)
def test_a_measured_fact_is_recognised(explanation):
    assert measured_phrases(choice(explanations=(explanation, "No.")))


@pytest.mark.parametrize(
    "explanation",
    [
        "Training runs smoothly, and nothing diverges.",  # "runs", the verb
        "The KL can be computed in closed form, as in lesson 04.",
        "That is the VAE's encoder (lesson 02).",
        "Lesson 07 comes back to it.",
        "The lesson uses a 7 x 7 layer.",
        "exp(-2), about 0.135, is the variance.",
        "Averaging over 784 pixels divides the term by 784.",
    ],
)
def test_an_unmeasured_sentence_is_not_flagged(explanation):
    assert measured_phrases(choice(explanations=(explanation, "No."))) == []


def test_a_number_the_question_gives_is_not_a_finding():
    q = choice(
        text="With free bits of 0.5 nats per dimension, what happens at 0.2 nats?",
        explanations=("Right: the loss counts 0.5 nats.", "No: 0.2 nats is below."),
    )
    assert measured_phrases(q) == []
    q = choice(text="Free bits of 0.5 nats.", explanations=("Right: it stores 3.1 nats.", "No."))
    assert measured_phrases(q) == ["3.1 nats"]


def test_numeric_questions_may_state_their_worked_numbers_but_not_a_run():
    assert measured_phrases(numeric()) == []
    assert measured_phrases(numeric(explanation="It is 2.08 nats; the lesson measures 2.1.")) == [
        "the lesson measures"
    ]


def test_a_made_up_example_can_be_exempted_by_name():
    qid = next(iter(NOT_MEASURED))
    q = choice(qid=qid, explanations=("Right: with 10% anomalies it is 90% accurate.", "No."))
    assert measured_phrases(q) == []
    assert measured_phrases(choice(explanations=q.explanations)) == ["10%", "90%"]


def test_the_quiz_rules_on_a_made_up_bank(tmp_path):
    course = [lesson(tmp_path, SETUP, PROSE, CHECK)]  # lesson 04 has claims
    bank = [
        choice("04.ok", explanations=("Right: this run shows it.", "No."), claims=["04.kl_rises"]),
        choice("04.unmarked", explanations=("Right: the lesson measures it.", "No.")),
        choice("04.unknown", claims=["04.kl_falls"]),
        choice("05.later", explanations=("Right: in this run.", "No.")),  # lesson 05: no claims
    ]
    problems, pending = check_quizzes(course, bank)
    assert len(problems) == 2
    unmarked, unknown = problems
    assert unmarked.startswith("quiz 04.unmarked: states a measured fact ('the lesson measures')")
    assert '"claims": ["04.name"]' in unmarked
    assert unknown.startswith("quiz 04.unknown: rests on claim '04.kl_falls', which no lesson")
    assert len(pending) == 1 and pending[0].startswith("quiz 05.later")
