"""Issue 22, item 4: feedback teaches without code.

No text the grader can show (a check's feedback, a hint, an exception's advice) holds a line
of a reference solution (``tests/grading/solutions.py``), token for token; when no known
mistake matches, the feedback says where the result differs instead of printing the formula.
The known mistakes' actual feedback is scanned in test_grade.py, where each is graded.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from grading.leaks import grader_texts, leaked, solution_lines
from grading.solutions import SOLUTIONS

from vaelab.grading.checks import checks_for
from vaelab.grading.checks.toolkit import Mistake, describe_difference, expect_close

REPO = Path(__file__).resolve().parent.parent
LINES = solution_lines(SOLUTIONS)
GRADER = sorted((REPO / "vaelab" / "grading" / "checks").glob("*.py")) + [
    REPO / "vaelab" / "grading" / "output" / "hints.py"
]


def test_the_detector_catches_code_and_lets_words_and_maths_pass():
    # what the grader printed before issue 22
    for text in (
        "KL = -0.5 * (1 + logvar - mu**2 - logvar.exp()).sum(dim=1).",
        "e.g. F.binary_cross_entropy_with_logits(x_logits, x, reduction='none').flatten(1).sum(1).",
        "torch.logsumexp(log_w, dim) - math.log(log_w.shape[dim]).",
        "compute exp(0.5 * logvar) directly.",
        "z = model.to_z(model.encoder(x)).",
        "draw eps = torch.randn_like(mu) first",
    ):
        assert leaked(text, LINES), text
    for text in (
        "Each latent dimension contributes -1/2 (1 + log sigma^2 - mu^2 - sigma^2).",
        "the BCE computed from the logits, pixel by pixel, summed over all but the batch",
        "sigma = exp(logvar / 2)",
        "use reduction='none'",
    ):
        assert leaked(text, LINES) is None, text


def test_no_grader_text_holds_a_solution_line():
    found = grader_texts(GRADER)
    assert len(found) > 300  # every module's strings were read
    leaks = [(where, text, leaked(text, LINES)) for where, text in found]
    assert [item for item in leaks if item[2]] == []


def test_no_hint_holds_a_solution_line():
    from vaelab.grading import EXERCISES

    for exercise in EXERCISES:
        for item in checks_for(exercise):
            for hint in item.hints:
                assert leaked(hint, LINES) is None, (item.id, hint)


@pytest.mark.parametrize(
    "got, words",
    [
        (lambda w: -w, "the wrong sign"),
        (lambda w: 2 * w, "2 times the expected value"),
        (lambda w: w * 0.37, "0.37 times the expected value"),
        (lambda w: w + 0.25, "off by the same amount, +0.25"),
        (lambda w: w + torch.arange(5.0)[:, None], "each row is off by a constant of its own"),
        (lambda w: w.T, "transposed"),
        (lambda w: torch.roll(w, 1, 0), "each entry holds the value expected one position earlier"),
        (
            lambda w: w.index_put((torch.tensor([3]), torch.tensor([1])), torch.tensor(9.0)),
            "in 1 of 25 entries; the first, at index [3, 1], is 9 where",
        ),
    ],
)
def test_the_difference_is_described_in_words(got, words):
    want = torch.randn(5, 5, generator=torch.Generator().manual_seed(3)) + 3
    text = describe_difference(got(want), want)
    assert words in text, text
    assert "tensor(" not in text


def test_expect_close_without_a_known_mistake_describes_the_difference():
    want = torch.linspace(1, 2, 6).view(2, 3)
    with pytest.raises(Mistake) as caught:
        expect_close(
            want * 3,
            want,
            what="the KL",
            case="for mu of shape (2, 3)",
            hint="Each dimension adds one term.",
        )
    text = str(caught.value)
    assert text.startswith("the KL is not right for mu of shape (2, 3): largest difference 4,")
    assert "in all 6 entries" in text
    assert "the first, at index [0, 0], is 3 where 1 is expected" in text
    assert "3 times the expected value" in text and text.endswith("Each dimension adds one term.")
