"""Checks of exercise 10, decoders and priors: ``causal_mask`` and ``log_mixture_prior``.

Every value is compared with vaelab's reference (``models.causal_mask``,
``priors.log_mixture_density``); the variants beside each comparison are the known
mistakes, with the feedback that names them.
"""

from __future__ import annotations

import math

import torch

from vaelab import losses, models, priors
from vaelab.grading.checks.common import stretch_values
from vaelab.grading.checks.toolkit import (
    F32,
    F64,
    Checklist,
    Draw,
    Leaf,
    Learner,
    Mistake,
    as_tensor,
    close,
    dtype_name,
    expect_close,
    expect_gradients,
    expect_unchanged,
    learner_function,
    needs_working,
    raised_error,
    shape_words,
    weighted_grads,
)

# vaelab's own answers, switched off in the learner's process while this exercise is graded
# (a MaskedConv2d builds its mask with models.causal_mask, so it is switched off with it)
PROTECTED = (
    "models.causal_mask",
    "priors.log_mixture_density",
    "priors.MixtureOfGaussians.log_prob",
    "priors.VampPrior.log_prob",
    "losses.log_normal",
    "priors.mixture_responsibilities",
)

checks = Checklist("ex10")
check = checks.add


# ---------------------------------------------------------------- causal_mask


def _mask_mistakes(kernel_size: int, mask_type: str) -> list:
    """Known-wrong masks of this size and type, each with its feedback."""
    k, centre = kernel_size, kernel_size // 2
    right = models.causal_mask(k, mask_type)

    def grid(rows_above: bool, centre_row_left: bool, centre_row_right: bool, below: bool, mid):
        mask = torch.zeros(k, k)
        mask[:centre] = 1.0 if rows_above else 0.0
        mask[centre, :centre] = 1.0 if centre_row_left else 0.0
        mask[centre, centre + 1 :] = 1.0 if centre_row_right else 0.0
        mask[centre + 1 :] = 1.0 if below else 0.0
        mask[centre, centre] = 1.0 if mid else 0.0
        return mask

    keeps_centre = mask_type == "B"
    return [
        (
            "type A must exclude the centre: the first layer's output at a pixel would see that "
            "pixel itself and learn to copy it, which is no model of the image at all.",
            grid(True, True, False, False, True) if mask_type == "A" else None,
        ),
        (
            "type B must include the centre: a later layer's input at a pixel depends only on "
            "earlier pixels already, so it may look at its own position. (Did you swap A and "
            "B?)",
            grid(True, True, False, False, False) if mask_type == "B" else None,
        ),
        (
            "the rows below the centre are open: they come later in raster order and must be 0.",
            grid(True, True, False, True, keeps_centre),
        ),
        (
            "the rows below the centre are open: they come later in raster order and must be "
            "0, and so must the pixels right of the centre in its row.",
            grid(True, True, True, True, keeps_centre),
        ),
        (
            "the pixels right of the centre in its row are open: they come later in raster "
            "order (row by row, left to right) and must be 0.",
            grid(True, True, True, False, keeps_centre),
        ),
        (
            "the mask follows columns, not rows: raster order goes row by row, left to right "
            "within a row, so the 1s fill the rows above the centre and the left half of the "
            "centre row.",
            right.T.contiguous(),
        ),
        (
            "the mask is upside down: the pixels that come first in raster order are the rows "
            "at the top (row index 0), so the 1s are in the upper rows.",
            right.flip(0).flip(1),
        ),
        (
            "the rows above the centre are closed: every pixel of an earlier row comes before "
            "the centre in raster order and must be 1.",
            grid(False, True, False, False, keeps_centre),
        ),
        (
            "the pixels left of the centre in its row are closed: they come before the centre "
            "in raster order and must be 1.",
            grid(True, False, False, False, keeps_centre),
        ),
    ]


def _expect_mask(got, kernel_size: int, mask_type: str) -> None:
    case = f"for kernel_size={kernel_size}, mask_type={mask_type!r}"
    got = as_tensor(got, "causal_mask")
    if got.dtype == torch.bool or not got.is_floating_point():
        raise Mistake(
            f"the mask must be a float tensor of 0s and 1s (float32), but it is "
            f"{dtype_name(got.dtype)} {case}: a masked convolution multiplies its float "
            "weights by it, and the docstring promises floats. Build it with torch.zeros "
            "or torch.ones (float32 by default), or convert with .float()."
        )
    want = models.causal_mask(kernel_size, mask_type)
    variants = [
        (text, mask) for text, mask in _mask_mistakes(kernel_size, mask_type) if mask is not None
    ]
    expect_close(
        got,
        want,
        what="causal_mask",
        case=case,
        variants=variants,
        hint="Number the k x k positions in raster order: 1 for those before the centre.",
    )


@check(
    "causal_mask.type_b",
    "causal_mask: type B, 1 before the centre in raster order and at the centre",
    2,
    (
        "Lesson 10, section 1: a masked convolution may only look at pixels that come "
        "before the one it predicts, in raster order (row by row, left to right).",
        "Which kernel positions come before the centre? Every position in a row above it, "
        "and the positions left of it in its own row. Positions below, and right of it in "
        "its row, come later.",
        "Type B is for later layers: its centre is 1 as well.",
    ),
)
def _mask_b(learner: Learner, draw: Draw):
    causal_mask = learner_function(learner, "causal_mask")
    sizes = [3, 5, 2 * draw.integer(3, 5) + 1]
    outcomes = causal_mask.many([((k, "B"), {}) for k in sizes])
    for k, outcome in zip(sizes, outcomes, strict=True):
        _expect_mask(outcome.value, k, "B")


@check(
    "causal_mask.type_a",
    "causal_mask: type A excludes the centre",
    1.5,
    (
        "Type A is for the first layer, whose input is the image itself. What would the "
        "output at pixel i learn if the kernel could see pixel i?",
        "It would copy x_i: the likelihood would be perfect and the model useless for "
        "sampling. Type A is type B with the centre set to 0.",
    ),
)
def _mask_a(learner: Learner, draw: Draw):
    causal_mask = learner_function(learner, "causal_mask")
    sizes = [3, 7, 2 * draw.integer(2, 4) + 1]
    outcomes = causal_mask.many([((k, "A"), {}) for k in sizes])
    for k, outcome in zip(sizes, outcomes, strict=True):
        _expect_mask(outcome.value, k, "A")


@check(
    "causal_mask.kernel_one",
    "causal_mask: kernel_size 1 ([[0.]] for A, [[1.]] for B)",
    0.5,
    (
        "A 1 x 1 kernel has only its centre: no row above it, nothing left of it.",
        "So type A, which excludes the centre, is all zeros, and type B is all ones.",
    ),
)
def _mask_one(learner: Learner, draw: Draw):
    causal_mask = learner_function(learner, "causal_mask")
    needs_working(close(causal_mask(3, "B"), models.causal_mask(3, "B")), "causal_mask")
    for mask_type, outcome in zip(
        "AB", causal_mask.many([((1, t), {}) for t in "AB"]), strict=True
    ):
        _expect_mask(outcome.value, 1, mask_type)


def _expect_value_error(outcome, what: str, learner: Learner) -> None:
    error = raised_error(outcome, learner, "causal_mask")
    if error is None:
        raise Mistake(f"causal_mask returned a mask for {what}: raise a ValueError instead.")
    if error.get("type") != "ValueError":
        raise Mistake(
            f"for {what}, causal_mask raised {error.get('type')}; raise a ValueError that "
            "names the problem and what to pass instead."
        )


@check(
    "causal_mask.errors",
    "causal_mask: ValueError for an even or non-positive kernel_size, or an unknown type",
    1,
    (
        "Which pixel is the centre of a 4 x 4 kernel?",
        "An even kernel_size has no centre pixel, so there is no 'before the centre' to "
        "mask. Check the arguments first and raise a ValueError for an even or non-positive "
        "kernel_size, and for a mask_type other than 'A' or 'B'.",
    ),
)
def _mask_errors(learner: Learner, draw: Draw):
    causal_mask = learner_function(learner, "causal_mask")
    needs_working(close(causal_mask(3, "B"), models.causal_mask(3, "B")), "causal_mask")
    even = 2 * draw.integer(1, 3)
    cases = [
        ((even, "B"), f"kernel_size={even}"),
        ((0, "A"), "kernel_size=0"),
        ((-3, "B"), "kernel_size=-3"),
        ((3, "C"), "mask_type='C'"),
    ]
    for args, what in cases:  # one request each: a batch stops at its first exception
        outcome = causal_mask.many([(args, {})])[0]
        if args[0] == even and raised_error(outcome, learner, "causal_mask") is None:
            raise Mistake(
                f"causal_mask returned a mask for kernel_size={even}, but an even kernel_size has "
                "no centre pixel: raise a ValueError (with no centre, 'before the centre' means "
                "nothing)."
            )
        _expect_value_error(outcome, what, learner)


# ---------------------------------------------------------------- log_mixture_prior


def _mixture_case(draw: Draw, batch: int, dim: int, components: int, dtype=F32):
    z = draw.randn(batch, dim, scale=1.5, dtype=dtype)
    means = draw.randn(components, dim, scale=2.0, dtype=dtype)
    logvars = draw.randn(components, dim, scale=0.7, dtype=dtype)
    logits = draw.randn(components, dtype=dtype) + 3.0  # far from normalised
    return z, means, logvars, logits


def _log_normals(z, means, logvars) -> torch.Tensor:
    """log N(z_b; means_k, diag(exp(logvars_k))) per dimension, (B, K, D), written out."""
    return -0.5 * (math.log(2 * math.pi) + logvars + (z[:, None] - means) ** 2 / logvars.exp())


def _mixture_mistakes(z, means, logvars, logits) -> list:
    log_w = torch.log_softmax(logits, dim=0)
    per_dim = _log_normals(z, means, logvars)  # (B, K, D)
    log_n = per_dim.sum(-1)  # (B, K)
    d = z.shape[1]

    def std_as_exp() -> torch.Tensor:  # exp(logvars) taken for the standard deviation
        std = logvars.exp()
        per = -0.5 * math.log(2 * math.pi) - std.log() - 0.5 * ((z[:, None] - means) / std) ** 2
        return torch.logsumexp(log_w + per.sum(-1), dim=1)

    def logvar_as_variance() -> torch.Tensor:  # logvars taken as the variance itself
        per = -0.5 * (
            math.log(2 * math.pi) + logvars.abs().log() + (z[:, None] - means) ** 2 / logvars.abs()
        )
        return torch.logsumexp(log_w + per.sum(-1), dim=1)

    return [
        (
            "the mixture weights are not normalised: use log_softmax(logits), so that adding a "
            "constant to every logit leaves log p(z) unchanged (the logits are unnormalised "
            "log-weights).",
            torch.logsumexp(logits + log_n, dim=1),
        ),
        (
            "the logits are used as probabilities (log(logits) or logits * density): the "
            "mixture weights are softmax(logits), and their logs are log_softmax(logits).",
            lambda: torch.logsumexp(torch.log(logits) + log_n, dim=1),
        ),
        (
            "the mixture weights are left out (every component counts as much): add "
            "log_softmax(logits) to each component's log-density before combining them.",
            torch.logsumexp(log_n, dim=1),
        ),
        (
            "the mixture weights are treated as equal (1/K each): use softmax(logits).",
            torch.logsumexp(log_n, dim=1) - math.log(len(logits)),
        ),
        (
            "exp(logvars) is the variance, not the standard deviation: the standard deviation is "
            "exp(logvars / 2).",
            std_as_exp,
        ),
        (
            "logvars are log-variances, not variances: the variance is exp(logvars).",
            logvar_as_variance,
        ),
        (
            "the Gaussian's normalising constant is missing: each dimension adds -log(2 pi) / 2 "
            "to the log-density.",
            torch.logsumexp(log_w + log_n + 0.5 * d * math.log(2 * math.pi), dim=1),
        ),
        (
            "the log-variance term is missing from the Gaussian's log-density: each dimension "
            "adds -logvar / 2 (the log of 1 / sigma).",
            torch.logsumexp(log_w + log_n + 0.5 * logvars.sum(-1), dim=1),
        ),
        (
            "a mixture's density is the weighted sum of the components' densities, not a weighted "
            "average of their log-densities: take the log-sum-exp over the components of "
            "log pi_k + log N_k.",
            (log_w.exp() * log_n).sum(dim=1),
        ),
        (
            "this is the log-density of the most likely component only (a max over the "
            "components): a mixture sums all of them, with a log-sum-exp.",
            (log_w + log_n).amax(dim=1),
        ),
        (
            "returns shape (B, D), expected (B,): sum each Gaussian's log-density over the D "
            "dimensions before combining the components.",
            torch.logsumexp(log_w[:, None] + per_dim, dim=1),
        ),
        (
            "returns shape (B, K), expected (B,): combine the K components of each code with a "
            "log-sum-exp over the component dimension.",
            log_w + log_n,
        ),
    ]


def _reference(z, means, logvars, logits) -> torch.Tensor:
    return priors.log_mixture_density(z, means, logvars, logits)


@check(
    "log_mixture_prior.values",
    "log_mixture_prior: log sum_k pi_k N(z; means_k, exp(logvars_k)), one value per code",
    2,
    (
        "Lesson 11, section 2: the mixture prior's density is a weighted sum of K diagonal "
        "Gaussians, with weights softmax(logits).",
        "Work in logs: for every code and component, the Gaussian's log-density summed over "
        "the D dimensions, plus that component's log-weight. The result has shape (B, K).",
        "The log of a sum of exponentials over the K components is a log-sum-exp, and the "
        "log-weights are log_softmax of the logits.",
    ),
)
def _mixture_values(learner: Learner, draw: Draw):
    log_mixture_prior = learner_function(learner, "log_mixture_prior")
    cases = [
        _mixture_case(draw, 5, 2, 3),
        _mixture_case(draw, 1, 4, 2),
        _mixture_case(draw, 4, 3, 5, dtype=F64),
    ]
    for case, outcome in zip(cases, log_mixture_prior.many([(c, {}) for c in cases]), strict=True):
        z, means, logvars, logits = case
        expect_close(
            outcome.value,
            _reference(*case),
            what="log_mixture_prior",
            case=f"{shape_words(z=z, means=means)} ({dtype_name(z.dtype)})",
            variants=_mixture_mistakes(*case),
            hint="Compare your K components' log-densities with torch.distributions.Normal's "
            "log_prob summed over the dimensions.",
        )


@check(
    "log_mixture_prior.single",
    "log_mixture_prior: K = 1 is a single Gaussian, any logit",
    0.5,
    (
        "With one component, what is softmax of a single logit, whatever its value?",
        "It is 1: the mixture is just that Gaussian, and the logit must not shift the result.",
    ),
)
def _mixture_single(learner: Learner, draw: Draw):
    log_mixture_prior = learner_function(learner, "log_mixture_prior")
    z, means, logvars, _ = _mixture_case(draw, 6, 3, 1)
    logits = torch.tensor([draw.uniform(-5.0, 5.0)])
    want = torch.distributions.Normal(means[0], (0.5 * logvars[0]).exp()).log_prob(z).sum(-1)
    expect_close(
        log_mixture_prior(z, means, logvars, logits),
        want,
        what="log_mixture_prior",
        case=f"for one component (K = 1) with logit {float(logits):.3g}",
        variants=_mixture_mistakes(z, means, logvars, logits),
        hint="With K = 1 the result is that Gaussian's log-density, whatever the logit.",
    )


@check(
    "log_mixture_prior.far",
    "log_mixture_prior: codes far from every component stay finite",
    1.5,
    (
        "What is exp(-500000) in floating point?",
        "0: far from every component, each density underflows to 0 and the log of their sum "
        "is -inf, although each log-density is a perfectly finite number.",
        "Stay in logs: combine log pi_k + log N_k with torch's log-sum-exp, which subtracts "
        "the largest term before it exponentiates.",
    ),
)
def _mixture_far(learner: Learner, draw: Draw):
    log_mixture_prior = learner_function(learner, "log_mixture_prior")
    case = _mixture_case(draw, 5, 2, 3)
    needs_working(close(log_mixture_prior(*case), _reference(*case)), "log_mixture_prior")
    z, means, logvars, logits = _mixture_case(draw, 4, 2, 3)
    z = z + 1000.0
    want = _reference(z, means, logvars, logits)
    got = as_tensor(log_mixture_prior(z, means, logvars, logits), "log_mixture_prior")
    if got.shape == want.shape and not torch.isfinite(got).all():
        raise Mistake(
            "codes far from every component give -inf: the exponentials underflow to 0; "
            "combine the components with torch.logsumexp (log pi_k + log N_k), never "
            "log(sum(exp(...))) written out, and keep every density in log form."
        )
    expect_close(
        got,
        want,
        what="log_mixture_prior",
        case="for codes near z = 1000, far from every component",
        variants=_mixture_mistakes(z, means, logvars, logits),
        hint="Far from the components the answer is a large negative number, not -inf.",
    )


@check(
    "log_mixture_prior.gradients",
    "log_mixture_prior: inputs unchanged, gradients reach means, logvars and logits",
    1,
    (
        "A learned prior is trained with the VAE: its means, log-variances and logits get "
        "gradients through this function.",
        "Use torch operations on the inputs themselves (no .item(), numpy, or .detach()), "
        "and build new tensors rather than changing the inputs in place.",
    ),
)
def _mixture_grads(learner: Learner, draw: Draw):
    log_mixture_prior = learner_function(learner, "log_mixture_prior")
    z, means, logvars, logits = _mixture_case(draw, 5, 3, 4)
    result = log_mixture_prior.run(z, means, logvars, logits)
    expect_unchanged(result, ("z", "means", "logvars", "logits"), "log_mixture_prior")
    want = _reference(z, means, logvars, logits)
    needs_working(close(result.value, want), "log_mixture_prior")
    weights = draw.weights_like(want)
    want_grads = weighted_grads(
        lambda means, logvars, logits: _reference(z, means, logvars, logits),
        weights,
        means=means,
        logvars=logvars,
        logits=logits,
    )
    result = log_mixture_prior.run(
        z,
        Leaf(means, "means"),
        Leaf(logvars, "logvars"),
        Leaf(logits, "logits"),
        backward=[weights],
    )
    expect_gradients(result, want_grads, what="log_mixture_prior")


# ---------------------------------------------------------------- stretch (issue 22): beyond
# the lesson, graded like the rest, its points counted apart


def _resp_cases(draw):
    cases = []
    for b, k, d, dtype in ((6, 4, 3, F32), (1, 2, 1, F32), (5, 3, 2, F64)):
        args = (
            draw.randn(b, d, scale=2.0, dtype=dtype),
            draw.randn(k, d, scale=2.0, dtype=dtype),
            draw.randn(k, d, scale=0.5, dtype=dtype),
            draw.randn(k, dtype=dtype),
        )
        cases.append((args, {}))
    far = (
        torch.tensor([[40.0, -40.0]]),
        torch.tensor([[0.0, 0.0], [1.0, -1.0]]),
        torch.zeros(2, 2),
        torch.zeros(2),
    )
    cases.append((far, {}))  # far from both: 0 / 0 unless computed in log space
    return cases


def _resp_mistakes(z, means, logvars, logits):
    log_n = losses.log_normal(z.unsqueeze(-2), means, logvars)
    return [
        (
            "the mixing weights are ignored: each component's density is weighted by pi_k "
            "(the softmax of the logits) before normalising.",
            torch.softmax(log_n, dim=-1),
        ),
        (
            "the normalisation runs over the batch: p(k | z) sums to 1 over the K "
            "components of each code.",
            lambda: torch.softmax(torch.log_softmax(logits, 0) + log_n, dim=0),
        ),
        (
            "the densities are normalised outside log space: far from every component each "
            "density rounds to 0, and 0 / 0 is NaN. Add the log-weights to the log-densities "
            "and normalise those over the components (a softmax), never the densities "
            "themselves.",
            lambda: (lambda w: w / w.sum(dim=1, keepdim=True))(
                torch.softmax(logits, 0) * log_n.exp()
            ),
        ),
        (
            "the weighted densities are not normalised: divide by their sum over the "
            "components (that is p(z)).",
            lambda: torch.exp(torch.log_softmax(logits, 0) + log_n),
        ),
    ]


stretch_values(
    checks,
    "mixture_responsibilities",
    "mixture_responsibilities: p(k | z) under the mixture prior, each row sums to 1",
    (
        "Lesson 10's mixture prior is a sum over components. Which component does a code "
        "come from? Bayes' rule turns pi_k N(z; means_k, sigma_k^2) into p(k | z).",
        "Normalise the weighted component densities over the K components, for each code.",
        "Work with log-densities: a code far from every component has densities that "
        "round to 0, and 0 / 0 is NaN; a softmax over log-weights does not.",
    ),
    cases=_resp_cases,
    reference=priors.mixture_responsibilities,
    mistakes=_resp_mistakes,
    what="mixture_responsibilities",
    case_words=lambda z, means, *_: f"for {len(z)} codes and {len(means)} components",
)
