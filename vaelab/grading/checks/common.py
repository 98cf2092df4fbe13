"""Inputs and known mistakes that several exercises' checks share.

The known-mistake lists pair a feedback text with the wrong result that mistake gives,
computed from vaelab's reference functions. Inputs come from a check's ``Draw``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from vaelab import losses
from vaelab.grading.checks.toolkit import F32, F64, Draw


def reference_std(logvar: torch.Tensor) -> torch.Tensor:
    """sigma = exp(logvar / 2), taken from the reference: z = 0 + sigma * 1."""
    zeros, ones = torch.zeros_like(logvar), torch.ones_like(logvar)
    return losses.reparameterize(zeros, logvar, eps=ones)


def bce_mistakes(x_logits: torch.Tensor, x: torch.Tensor, *, extra=None) -> list:
    """Known-wrong reconstruction terms, each with its feedback; ``extra(recon)`` adds a term."""
    add = extra or (lambda recon: recon)
    recon = losses.bernoulli_nll(x_logits, x, reduction="none")  # (B,)
    pixels = x[0].numel()

    def probs_as_logits() -> torch.Tensor:  # BCE formula fed with logits as if probabilities
        p = x_logits
        return add(-(x * torch.log(p) + (1 - x) * torch.log(1 - p)).flatten(1).sum(1))

    def squared_error() -> torch.Tensor:
        return add((torch.sigmoid(x_logits) - x).pow(2).flatten(1).sum(1))

    return [
        (
            "the reconstruction term is one number averaged over all pixels and the whole "
            "batch: F.binary_cross_entropy_with_logits(x_logits, x) takes the mean over every "
            "element by default (reduction='mean'). Use reduction='none' and sum over each "
            "image's own pixels (every dimension but the batch), for one value per image.",
            lambda: add(F.binary_cross_entropy_with_logits(x_logits, x)),
        ),
        (
            "the reconstruction term is one number summed over all pixels and the whole batch "
            "(reduction='sum'): use reduction='none' and sum over each image's pixels only "
            "(every dimension but the batch), for one value per image.",
            lambda: add(F.binary_cross_entropy_with_logits(x_logits, x, reduction="sum")),
        ),
        (
            "the reconstruction term is averaged over pixels: sum it over the pixels of each "
            "image instead (it is the log-likelihood of the whole image): no reduction in the "
            "BCE, then a sum over every dimension but the batch.",
            add(recon / pixels),
        ),
        (
            "the sigmoid is applied twice: x_logits are logits, and "
            "F.binary_cross_entropy_with_logits applies the sigmoid itself - pass x_logits "
            "directly, without torch.sigmoid.",
            add(losses.bernoulli_nll(torch.sigmoid(x_logits), x, reduction="none")),
        ),
        (
            "the BCE is computed on logits as if they were probabilities: x_logits can be any "
            "real number; use F.binary_cross_entropy_with_logits(x_logits, x).",
            probs_as_logits,
        ),
        (
            "x and x_logits are swapped in the BCE: the logits are the input (first argument) "
            "and the images are the target.",
            lambda: add(losses.bernoulli_nll(x, x_logits, reduction="none")),
        ),
        (
            "the reconstruction term has the wrong sign: BCE is the negative log-likelihood, "
            "a positive number to minimise.",
            add(-recon),
        ),
        (
            "this is a squared error: the exercise asks for the Bernoulli likelihood, the "
            "binary cross-entropy from logits.",
            squared_error,
        ),
    ]


def batch_mistakes(ref: torch.Tensor, unit: str = "example") -> list:
    return [
        (
            f"your function returns one number for the whole batch (a sum over the batch): "
            f"return one value per {unit}, shape (B,), and leave the reduction to the training "
            "loop.",
            ref.sum(),
        ),
        (
            f"your function returns one number for the whole batch (a mean over the batch): "
            f"return one value per {unit}, shape (B,).",
            ref.mean(),
        ),
    ]


def image_cases(draw: Draw) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(x_logits, x) pairs: MNIST-sized, a single small image, several channels in float64."""
    cases = []
    for shape, dtype in [((4, 1, 28, 28), F32), ((1, 1, 8, 8), F32), ((3, 3, 5, 7), F64)]:
        x_logits = draw.randn(*shape, scale=3.0, dtype=dtype)
        x = draw.rand(*shape, dtype=dtype)
        x[0] = (x[0] > 0.5).to(dtype)  # binary pixels too
        cases.append((x_logits, x))
    return cases


def extreme_logits() -> tuple[torch.Tensor, torch.Tensor]:
    """Confident decoder outputs (logits of +-20 and +-120) against binary images."""
    x_logits = torch.tensor([20.0, -20.0, 120.0, -120.0, 3.0, -3.0, 20.0, -120.0]).view(2, 1, 2, 2)
    x = torch.tensor([0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0]).view(2, 1, 2, 2)
    return x_logits, x


UNSTABLE_BCE = (
    "the reconstruction loss is wrong for confident logits (like 20 or -120): sigmoid "
    "rounds to exactly 0 or 1 there, and log(0) gives inf (F.binary_cross_entropy clamps it "
    "at 100). Compute the BCE from the logits with F.binary_cross_entropy_with_logits, which "
    "is stable."
)


# ---------------------------------------------------------------- stretch functions


def stretch_values(
    checks,
    function: str,
    name: str,
    hints,
    *,
    cases,
    reference,
    mistakes,
    what: str,
    case_words,
    hint: str = "",
    points: float = 2.0,
):
    """Register the values check of an exercise's stretch function (``stretch=True``): the
    learner's ``function`` on each of ``cases(draw)`` ((args, kwargs) pairs) against
    ``reference(*args, **kwargs)``, naming ``mistakes(*args, **kwargs)`` ((feedback, wrong
    result) pairs, as ``expect_close``'s variants) and otherwise saying where the result
    differs. A reference that returns a plain number is compared as a float64 number."""
    from vaelab.grading.checks.toolkit import as_number, expect_close, learner_function

    def as_tensor_or_number(value):
        if isinstance(value, torch.Tensor):
            return value
        return torch.tensor(float(value), dtype=F64)

    @checks.add(f"{function}.values", name, points, hints, stretch=True)
    def _values(learner, draw: Draw):
        fn = learner_function(learner, function)
        calls = cases(draw)
        outcomes = fn.many(calls)
        for (args, kwargs), outcome in zip(calls, outcomes, strict=True):
            want = reference(*args, **kwargs)
            got = outcome.value
            if not isinstance(want, torch.Tensor):
                want = torch.tensor(float(want), dtype=F64)
                got = torch.tensor(as_number(got, what), dtype=F64)
            variants = [
                (message, (lambda v=v: as_tensor_or_number(v() if callable(v) else v)))
                for message, v in mistakes(*args, **kwargs)
            ]
            expect_close(
                got,
                want,
                what=what,
                case=case_words(*args, **kwargs),
                variants=variants,
                hint=hint,
            )

    return _values
