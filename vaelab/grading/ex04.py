"""Checks of exercise 04, the ELBO: ``kl_divergence`` and ``negative_elbo``.

Every value is compared with vaelab's reference functions; the variants beside each
comparison are the known mistakes, with the feedback that names them.
"""

from __future__ import annotations

import torch

from vaelab import losses
from vaelab.grading.common import (
    UNSTABLE_BCE,
    batch_mistakes,
    bce_mistakes,
    extreme_logits,
    image_cases,
)
from vaelab.grading.toolkit import (
    F32,
    F64,
    Checklist,
    Draw,
    Leaf,
    Learner,
    Mistake,
    as_tensor,
    close,
    expect_close,
    expect_gradients,
    expect_unchanged,
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
)

checks = Checklist("ex04")
check = checks.add


def _kl_cases(draw: Draw) -> list[tuple[torch.Tensor, torch.Tensor]]:
    cases = []
    for shape, dtype in [((5, 3), F32), ((1, 1), F32), ((64, 20), F64)]:
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


KL_HINT = "KL = -0.5 * (1 + logvar - mu**2 - logvar.exp()).sum(dim=1)."


@check("kl_divergence: closed form, one value per example", 2.5)
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


@check("kl_divergence: gradients reach mu and logvar", 1)
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


@check("kl_divergence: finite for extreme logvar; inputs unchanged", 1.5)
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


@check("negative_elbo: BCE summed over pixels + KL, per example", 2)
def _elbo(learner: Learner, draw: Draw):
    negative_elbo = learner_function(learner, "negative_elbo")
    cases = _elbo_cases(draw)
    outcomes = negative_elbo.many([(case, {}) for case in cases])
    for (x, x_logits, mu, logvar), outcome in zip(cases, outcomes, strict=True):
        got = outcome.value
        expect_close(
            got,
            _elbo_reference(x, x_logits, mu, logvar, 1.0),
            what="negative_elbo",
            case=f"for images of shape {tuple(x.shape)} and mu of shape {tuple(mu.shape)}",
            variants=_elbo_mistakes(x, x_logits, mu, logvar, 1.0),
            hint=ELBO_HINT,
        )


@check("negative_elbo: beta weights the KL", 1)
def _beta(learner: Learner, draw: Draw):
    negative_elbo = learner_function(learner, "negative_elbo")
    x, x_logits, mu, logvar = _elbo_cases(draw)[0]
    recon = losses.bernoulli_nll(x_logits, x, reduction="none")
    kl = losses.kl_divergence(mu, logvar, reduction="none")
    needs_working(close(negative_elbo(x, x_logits, mu, logvar), recon + kl), "negative_elbo")
    betas = (4.0, 0.0, 0.25)
    outcomes = negative_elbo.many([((x, x_logits, mu, logvar), {"beta": b}) for b in betas])
    for beta, outcome in zip(betas, outcomes, strict=True):
        expect_close(
            outcome.value,
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
            hint="loss = recon + beta * KL.",
        )


@check("negative_elbo: stable for confident logits", 1)
def _elbo_stable(learner: Learner, draw: Draw):
    negative_elbo = learner_function(learner, "negative_elbo")
    needs_working(
        all(  # a batch of one as well as of four: a sum over the batch passes the first alone
            close(
                negative_elbo(x, x_logits, mu, logvar),
                _elbo_reference(x, x_logits, mu, logvar, 1.0),
            )
            for x, x_logits, mu, logvar in _elbo_cases(draw)[:2]
        ),
        "negative_elbo",
    )
    x_logits, x = extreme_logits()
    mu, logvar = draw.randn(2, 3), draw.randn(2, 3)
    got = as_tensor(negative_elbo(x, x_logits, mu, logvar), "negative_elbo")
    if not close(got, _elbo_reference(x, x_logits, mu, logvar, 1.0)):
        raise Mistake(UNSTABLE_BCE)


@check("negative_elbo: gradients reach x_logits, mu, logvar; inputs unchanged", 1)
def _elbo_gradients(learner: Learner, draw: Draw):
    negative_elbo = learner_function(learner, "negative_elbo")
    x, x_logits, mu, logvar = _elbo_cases(draw)[0]
    result = negative_elbo.run(x, x_logits, mu, logvar)
    expect_unchanged(result, ("x", "x_logits", "mu", "logvar"), "negative_elbo")
    want = _elbo_reference(x, x_logits, mu, logvar, 1.0)
    needs_working(close(result.value, want), "negative_elbo")
    weights = draw.weights_like(want)
    want_grads = weighted_grads(
        lambda x_logits, mu, logvar: _elbo_reference(x, x_logits, mu, logvar, 1.0),
        weights,
        x_logits=x_logits,
        mu=mu,
        logvar=logvar,
    )
    result = negative_elbo.run(
        x,
        x_logits=Leaf(x_logits, "x_logits"),
        mu=Leaf(mu, "mu"),
        logvar=Leaf(logvar, "logvar"),
        backward=[weights],
    )
    expect_gradients(result, want_grads, what="negative_elbo")
