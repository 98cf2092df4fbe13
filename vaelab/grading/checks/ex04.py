"""Checks of exercise 04, the ELBO: ``kl_divergence`` and ``negative_elbo``.

Every value is compared with vaelab's reference functions; the variants beside each
comparison are the known mistakes, with the feedback that names them.
"""

from __future__ import annotations

import torch

from vaelab import losses
from vaelab.grading.checks.common import (
    UNSTABLE_BCE,
    batch_mistakes,
    bce_mistakes,
    extreme_logits,
    image_cases,
    stretch_values,
)
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
    grade_alone,
    learner_function,
    needs_working,
    shape_words,
    weighted_grads,
)

# vaelab's own answers, switched off in the learner's process while this exercise is graded
# (the functions that call them, losses.elbo and anomaly.anomaly_score, meet them switched off)
PROTECTED = (
    "losses.kl_divergence",
    "losses.kl_per_dim",
    "losses.bernoulli_nll",
    "losses.reconstruction_nll",
    "losses.elbo",
    "losses.kl_between_gaussians",
)

checks = Checklist("ex04")
check = checks.add


KL_SHAPES = [((5, 3), F32), ((1, 1), F32), ((64, 20), F64), ((1, 7), F64), ((3, 1), F32)]


def _kl_cases(draw: Draw) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(mu, logvar) of several batch shapes (B, D), a batch of one too, float32 and float64."""
    cases = []
    for shape, dtype in KL_SHAPES:
        mu = draw.randn(*shape, scale=1.2, dtype=dtype)
        logvar = draw.randn(*shape, scale=1.2, dtype=dtype)
        cases.append((mu, logvar))
    return cases


def _kl_mistakes(mu: torch.Tensor, logvar: torch.Tensor) -> list:
    """Known-wrong KL values, each (B,) unless the mistake changes the shape."""
    ref = losses.kl_divergence(mu, logvar, reduction="none")
    per_dim = losses.kl_per_dim(mu, logvar)
    dims = mu.shape[-1]
    return [
        (
            "the KL has the wrong sign: KL = -1/2 * sum(1 + logvar - mu^2 - exp(logvar)) is "
            "never negative - check the minus in front.",
            -ref,
        ),
        (
            "the 1/2 is missing: KL = -1/2 * sum(1 + logvar - mu^2 - exp(logvar)).",
            2 * ref,
        ),
        ("the KL has the wrong sign and the 1/2 is missing.", -2 * ref),
        (
            "the KL is averaged over the latent dimensions: sum over them (dim=1) instead.",
            per_dim.mean(dim=-1),
        ),
        (
            "the KL is given per latent dimension, (B, D): sum over the latent dimensions "
            "(dim=1) for one value per example.",
            per_dim,
        ),
        (
            "`logvar` is used as the standard deviation: it is the log of the variance, so "
            "sigma^2 = exp(logvar) and log(sigma^2) = logvar.",
            lambda: losses.kl_divergence(mu, torch.log(logvar.pow(2)), reduction="none"),
        ),
        (
            "`logvar` is used as the variance: it is the log of the variance, so "
            "sigma^2 = exp(logvar) and log(sigma^2) = logvar.",
            lambda: losses.kl_divergence(mu, torch.log(logvar), reduction="none"),
        ),
        (
            "exp(logvar) is squared: exp(logvar) is already the variance sigma^2.",
            lambda: ref + 0.5 * (torch.exp(2 * logvar) - torch.exp(logvar)).sum(dim=-1),
        ),
        ("the 1 in (1 + logvar - mu^2 - exp(logvar)) is missing.", ref + 0.5 * dims),
        ("mu is not squared: the term is mu^2.", ref - 0.5 * (mu.pow(2) - mu).sum(dim=-1)),
        *batch_mistakes(ref),
    ]


KL_HINT = (
    "Each latent dimension contributes -1/2 (1 + log sigma^2 - mu^2 - sigma^2); one value per "
    "example is their sum."
)

KL_HINTS = (
    "Lesson 04, section 2, gives the KL between the posterior N(mu, diag(sigma^2)) and the "
    "prior N(0, I) in closed form: a sum over the latent dimensions of one term per "
    "dimension, in mu and sigma^2 only.",
    "Each dimension contributes -1/2 (1 + log sigma^2 - mu^2 - sigma^2). `logvar` already "
    "is log sigma^2; only sigma^2 needs an exponential. Check the sign: the KL is never "
    "negative.",
    "Sum the per-dimension terms over the latent dimension only, the last one, so that "
    "(B, D) inputs give (B,) - a batch of one gives (1,), not a bare number. Everything "
    "stays a torch operation on mu and logvar, in their dtype.",
)


@check(
    "kl_divergence.values",
    "kl_divergence: closed form, one value per example, any (B, D) and dtype",
    2.5,
    KL_HINTS,
)
def _kl(learner: Learner, draw: Draw):
    kl_divergence = learner_function(learner, "kl_divergence")
    cases = _kl_cases(draw)
    outcomes = kl_divergence.many([((mu, logvar), {}) for mu, logvar in cases])
    for (mu, logvar), outcome in zip(cases, outcomes, strict=True):
        expect_close(
            outcome.value,
            losses.kl_divergence(mu, logvar, reduction="none"),
            what="the KL",
            case=shape_words(mu=mu, logvar=logvar),
            variants=_kl_mistakes(mu, logvar),
            hint=KL_HINT,
        )


@check(
    "kl_divergence.gradients",
    "kl_divergence: gradients reach mu and logvar",
    1,
    (
        "The KL must be a function of mu and logvar that autograd can follow.",
        "Stay in torch: no .item(), numpy, .detach() or torch.no_grad() on the way from "
        "mu and logvar to the result.",
    ),
)
def _kl_gradients(learner: Learner, draw: Draw):
    kl_divergence = learner_function(learner, "kl_divergence")
    mu, logvar = _kl_cases(draw)[0]
    want = losses.kl_divergence(mu, logvar, reduction="none")
    weights = draw.weights_like(want)
    want_grads = weighted_grads(
        lambda mu, logvar: losses.kl_divergence(mu, logvar, reduction="none"),
        weights,
        mu=mu,
        logvar=logvar,
    )
    result = kl_divergence.run(mu=Leaf(mu, "mu"), logvar=Leaf(logvar, "logvar"), backward=[weights])
    needs_working(close(result.value, want), "kl_divergence")
    expect_gradients(result, want_grads, what="the KL")


@check(
    "kl_divergence.extreme_unchanged",
    "kl_divergence: finite for extreme logvar; inputs unchanged",
    1.5,
    (
        "Lesson 04's exercise cell: where the formula has log sigma^2, what do you already have?",
        "log(exp(logvar)) is logvar on paper, but exp(-120) rounds to 0 in float32 and "
        "log(0) is -inf. Use logvar itself for log sigma^2.",
        "Build new tensors rather than changing mu or logvar in place (no +=, no "
        "functions ending in an underscore).",
    ),
)
def _kl_extreme(learner: Learner, draw: Draw):
    kl_divergence = learner_function(learner, "kl_divergence")
    mu, logvar = _kl_cases(draw)[0]
    result = kl_divergence.run(mu, logvar)
    expect_unchanged(result, ("mu", "logvar"), "kl_divergence")
    needs_working(
        close(result.value, losses.kl_divergence(mu, logvar, reduction="none")), "kl_divergence"
    )
    logvar = torch.tensor([[-120.0, -30.0, 0.0], [30.0, 80.0, -60.0]])
    mu = torch.tensor([[0.5, -1.0, 2.0], [0.0, 1.5, -0.5]])
    got = as_tensor(kl_divergence(mu, logvar), "the KL")
    if not close(got, losses.kl_divergence(mu, logvar, reduction="none")):
        raise Mistake(
            "the KL is inf or wrong for extreme logvar (like -120 or 80): log(sigma**2) or "
            "log(exp(logvar)) underflows to log(0); use logvar itself where the formula has "
            "log(sigma^2)."
        )


def _elbo_cases(draw: Draw):
    cases = []
    for i, (x_logits, x) in enumerate(image_cases(draw)):
        batch = x.shape[0]
        dims = (3, 1, 5)[i]
        mu = draw.randn(batch, dims, dtype=x.dtype)
        logvar = draw.randn(batch, dims, dtype=x.dtype)
        cases.append((x, x_logits, mu, logvar))
    return cases


def _elbo_reference(x, x_logits, mu, logvar, beta):
    recon = losses.bernoulli_nll(x_logits, x, reduction="none")
    return recon + beta * losses.kl_divergence(mu, logvar, reduction="none")


def _elbo_mistakes(x, x_logits, mu, logvar, beta) -> list:
    recon = losses.bernoulli_nll(x_logits, x, reduction="none")
    kl = losses.kl_divergence(mu, logvar, reduction="none")
    ref = recon + beta * kl
    kl_variants = [
        (
            f"the KL term is off - {message}",
            lambda v=value: recon + beta * (v() if callable(v) else v),
        )
        for message, value in _kl_mistakes(mu, logvar)
        if "batch" not in message
    ]
    return [
        *bce_mistakes(x_logits, x, extra=lambda r: r + beta * kl),
        (
            "the KL enters with the wrong sign: the loss to minimise is reconstruction + "
            "beta * KL.",
            recon - beta * kl,
        ),
        ("the KL term is missing: add beta * KL.", recon),
        ("the reconstruction term is missing: add the BCE summed over pixels.", beta * kl),
        (
            "the reconstruction is averaged over pixels and the KL over latent dimensions: "
            "sum both (pixels and latent dimensions), one value per image.",
            recon / x[0].numel() + beta * kl / mu.shape[-1],
        ),
        *batch_mistakes(ref),
        *kl_variants,
    ]


ELBO_HINT = (
    "negative ELBO = BCE from logits summed over each image's pixels + beta * KL, per example."
)

ELBO_HINTS = (
    "Lesson 04, section 1: the loss to minimise is the reconstruction term of lesson 01 "
    "plus beta times the KL of section 2, one value per image.",
    "Reconstruction: the binary cross-entropy computed from the logits (the decoder gives "
    "logits, not probabilities), with no reduction, then summed over every pixel of each "
    "image - all dimensions but the batch, whatever the image's size.",
    "KL: the closed form, summed over the latent dimensions. Add beta times it to the "
    "reconstruction term; do not average anything over the batch.",
)


def _kl_reference(mu, logvar) -> torch.Tensor:
    return losses.kl_divergence(mu, logvar, reduction="none")


def _graded_alone(learner: Learner, negative_elbo, cases, expect, betas=(1.0,)):
    """negative_elbo on ``cases`` (x, x_logits, mu, logvar) for each beta, graded on its own:
    when it builds on the learner's failing kl_divergence, vaelab's KL stands in for it
    (``toolkit.grade_alone``). Returns (note, stand_in) as grade_alone does."""
    calls = [(case, {"beta": beta}) for case in cases for beta in betas]
    return grade_alone(
        learner,
        negative_elbo,
        calls,
        lambda i, got: expect(calls[i][0], calls[i][1]["beta"], got),
        helper="kl_divergence",
        helper_calls=[((mu, logvar), _kl_reference(mu, logvar)) for _, _, mu, logvar in cases],
    )


def _elbo_working(learner: Learner, negative_elbo, cases):
    """A Mistake unless negative_elbo is right on ``cases`` (for the checks of a property),
    with vaelab's KL standing in for a failing kl_divergence it builds on; the stand-in (or
    None) for the property's own calls, and the note to pass with."""

    def expect(case, beta, got):
        needs_working(close(got, _elbo_reference(*case, beta)), "negative_elbo")

    return _graded_alone(learner, negative_elbo, cases, expect)


@check(
    "negative_elbo.values", "negative_elbo: BCE summed over pixels + KL, per example", 2, ELBO_HINTS
)
def _elbo(learner: Learner, draw: Draw):
    negative_elbo = learner_function(learner, "negative_elbo")

    def expect(case, beta, got):
        x, x_logits, mu, logvar = case
        expect_close(
            got,
            _elbo_reference(x, x_logits, mu, logvar, beta),
            what="negative_elbo",
            case=f"for images of shape {tuple(x.shape)} and mu of shape {tuple(mu.shape)}",
            variants=_elbo_mistakes(x, x_logits, mu, logvar, beta),
            hint=ELBO_HINT,
        )

    note, _ = _graded_alone(learner, negative_elbo, _elbo_cases(draw), expect)
    return note


@check(
    "negative_elbo.beta",
    "negative_elbo: beta weights the KL",
    1,
    (
        "beta weights one of the two terms only: which one does the beta-VAE make more or "
        "less expensive?",
        "loss = reconstruction + beta times the KL; beta = 0 leaves the reconstruction alone.",
    ),
)
def _beta(learner: Learner, draw: Draw):
    negative_elbo = learner_function(learner, "negative_elbo")
    x, x_logits, mu, logvar = case = _elbo_cases(draw)[0]
    recon = losses.bernoulli_nll(x_logits, x, reduction="none")
    kl = losses.kl_divergence(mu, logvar, reduction="none")
    _elbo_working(learner, negative_elbo, [case])

    def expect(case, beta, got):
        expect_close(
            got,
            _elbo_reference(x, x_logits, mu, logvar, beta),
            what="negative_elbo",
            case=f"for beta={beta}",
            variants=[
                ("beta is ignored: multiply the KL term by beta.", recon + kl),
                (
                    "beta multiplies the reconstruction term: it weights the KL, "
                    "recon + beta * KL.",
                    beta * recon + kl,
                ),
                ("beta multiplies both terms: only the KL is weighted.", beta * (recon + kl)),
                ("the KL is divided by beta: multiply it by beta.", recon + kl / max(beta, 1e-12)),
            ],
            hint="beta weights one of the two terms only.",
        )

    note, _ = _graded_alone(learner, negative_elbo, [case], expect, betas=(4.0, 0.0, 0.25))
    return note


@check(
    "negative_elbo.stable",
    "negative_elbo: stable for confident logits",
    1,
    (
        "Lesson 01, section 2: why does the decoder output logits, and how is the BCE "
        "computed from them?",
        "sigmoid(20) rounds to exactly 1 in float32, and log(1 - 1) is -inf. A BCE computed "
        "from the logits themselves (log sigma(l) = logsigmoid(l)) never forms sigma(l).",
    ),
)
def _elbo_stable(learner: Learner, draw: Draw):
    negative_elbo = learner_function(learner, "negative_elbo")
    # a batch of one as well as of four: a sum over the batch passes the first alone
    _elbo_working(learner, negative_elbo, _elbo_cases(draw)[:2])
    x_logits, x = extreme_logits()
    mu, logvar = draw.randn(2, 3), draw.randn(2, 3)

    def expect(case, beta, got):
        got = as_tensor(got, "negative_elbo")
        if not close(got, _elbo_reference(*case, beta)):
            raise Mistake(UNSTABLE_BCE)

    note, _ = _graded_alone(learner, negative_elbo, [(x, x_logits, mu, logvar)], expect)
    return note


@check(
    "negative_elbo.gradients",
    "negative_elbo: gradients reach x_logits, mu, logvar; inputs unchanged",
    1,
    (
        "Training back-propagates through this loss into the decoder (x_logits) and the "
        "encoder (mu, logvar).",
        "Stay in torch all the way (no .item(), numpy, .detach(), torch.no_grad()), and "
        "build new tensors instead of changing an input in place.",
    ),
)
def _elbo_gradients(learner: Learner, draw: Draw):
    negative_elbo = learner_function(learner, "negative_elbo")
    x, x_logits, mu, logvar = _elbo_cases(draw)[0]
    note, stand_in = _elbo_working(learner, negative_elbo, [(x, x_logits, mu, logvar)])
    result = negative_elbo.run(x, x_logits, mu, logvar, stand_in=stand_in)
    expect_unchanged(result, ("x", "x_logits", "mu", "logvar"), "negative_elbo")
    want = _elbo_reference(x, x_logits, mu, logvar, 1.0)
    weights = draw.weights_like(want)
    want_grads = weighted_grads(
        lambda x_logits, mu, logvar: _elbo_reference(x, x_logits, mu, logvar, 1.0),
        weights,
        x_logits=x_logits,
        mu=mu,
        logvar=logvar,
    )
    if stand_in:  # vaelab's KL stands in as values: gradients reach x_logits alone
        want_grads = {"x_logits": want_grads["x_logits"]}
    result = negative_elbo.run(
        x,
        x_logits=Leaf(x_logits, "x_logits"),
        mu=Leaf(mu, "mu"),
        logvar=Leaf(logvar, "logvar"),
        backward=[weights],
        stand_in=stand_in,
    )
    expect_gradients(result, want_grads, what="negative_elbo")
    return note


# ---------------------------------------------------------------- stretch (issue 22): beyond
# the lesson, graded like the rest, its points counted apart


def _kl2_cases(draw):
    cases = []
    for shape, dtype in [((5, 3), F32), ((1, 1), F32), ((4, 6), F64)]:
        args = tuple(draw.randn(*shape, scale=1.2, dtype=dtype) for _ in range(4))
        cases.append((args, {}))
    return cases


def _kl2_mistakes(mu_q, logvar_q, mu_p, logvar_p):
    ref = losses.kl_between_gaussians(mu_q, logvar_q, mu_p, logvar_p)
    return [
        (
            "this is KL(p || q), the other direction: the KL is not symmetric. The loss "
            "needs KL(q || p), the expectation under the posterior q.",
            lambda: losses.kl_between_gaussians(mu_p, logvar_p, mu_q, logvar_q),
        ),
        (
            "the squared distance of the means is not measured in the prior's variance: "
            "divide it by sigma_p^2 (with a standard-normal prior that was 1, so lesson 04's "
            "form leaves it out).",
            lambda: ref + 0.5 * ((mu_q - mu_p).pow(2) * (1 - torch.exp(-logvar_p))).sum(-1),
        ),
        (
            "the variance ratio is upside down: it is sigma_q^2 / sigma_p^2.",
            lambda: (
                ref
                + 0.5 * (torch.exp(logvar_p - logvar_q) - torch.exp(logvar_q - logvar_p)).sum(-1)
            ),
        ),
        ("the 1/2 is missing.", 2 * ref),
        ("the KL has the wrong sign: a KL is never negative.", -ref),
        (
            "this is lesson 04's KL from the standard normal: the prior's mean and "
            "log-variance are ignored.",
            lambda: losses.kl_divergence(mu_q, logvar_q, reduction="none"),
        ),
    ]


stretch_values(
    checks,
    "kl_between_gaussians",
    "kl_between_gaussians: KL(q || p) of two diagonal Gaussians, one value per example",
    (
        "Lesson 04's KL assumes the prior N(0, I). A learned prior (lesson 10) has its own "
        "mean and variance: derive KL(N(mu_q, sigma_q^2) || N(mu_p, sigma_p^2)) for one "
        "dimension.",
        "Per dimension it has a log of the variance ratio, the variance ratio itself, the "
        "squared distance of the means in units of the prior's variance, and a constant.",
        "Check your formula: with mu_p = 0 and logvar_p = 0 it must give lesson 04's KL, "
        "and with q = p it must give 0. Stay in log-variances.",
    ),
    cases=_kl2_cases,
    reference=losses.kl_between_gaussians,
    mistakes=_kl2_mistakes,
    what="kl_between_gaussians",
    case_words=lambda mu_q, *rest: (
        f"for inputs of shape {tuple(mu_q.shape)} ({dtype_name(mu_q.dtype)})"
    ),
)
