"""Checks of exercise 04, the ELBO: ``kl_divergence`` and ``negative_elbo``.

Every value is compared with vaelab's reference functions; the variants beside each
comparison are the known mistakes, with the feedback that names them.
"""

from __future__ import annotations

import torch

from vaelab import losses
from vaelab.grading.common import (
    F32,
    F64,
    UNSTABLE_BCE,
    batch_mistakes,
    bce_mistakes,
    extreme_logits,
    image_cases,
    needs_working,
    randn,
)
from vaelab.grading.toolkit import (
    Checklist,
    Mistake,
    as_tensor,
    close,
    expect_close,
    expect_gradients,
    expect_unchanged,
    learner_function,
    leaves,
    shape_words,
    snapshot,
    weighted_grads,
)

checks = Checklist("ex04")
check = checks.add


def _kl_cases() -> list[tuple[torch.Tensor, torch.Tensor]]:
    cases = []
    for seed, shape, dtype in [(30, (5, 3), F32), (31, (1, 1), F32), (32, (64, 20), F64)]:
        mu = randn(*shape, seed=seed, scale=1.2, dtype=dtype)
        logvar = randn(*shape, seed=seed + 1, scale=1.2, dtype=dtype)
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
def _ex04_kl(mod):
    kl_divergence = learner_function(mod, "kl_divergence")
    for mu, logvar in _kl_cases():
        expect_close(
            kl_divergence(mu.clone(), logvar.clone()),
            losses.kl_divergence(mu, logvar, reduction="none"),
            what="the KL",
            case=shape_words(mu=mu, logvar=logvar),
            variants=_kl_mistakes(mu, logvar),
            hint=KL_HINT,
        )


@check("kl_divergence: gradients reach mu and logvar", 1)
def _ex04_kl_gradients(mod):
    kl_divergence = learner_function(mod, "kl_divergence")
    mu, logvar = _kl_cases()[0]
    want_grads = weighted_grads(
        lambda mu, logvar: losses.kl_divergence(mu, logvar, reduction="none"), mu=mu, logvar=logvar
    )
    want = losses.kl_divergence(mu, logvar, reduction="none")
    needs_working(close(kl_divergence(mu.clone(), logvar.clone()), want), "kl_divergence")
    inputs = leaves(mu=mu, logvar=logvar)
    expect_gradients(kl_divergence(**inputs), inputs, want_grads, what="the KL")


@check("kl_divergence: finite for extreme logvar; inputs unchanged", 1.5)
def _ex04_kl_extreme(mod):
    kl_divergence = learner_function(mod, "kl_divergence")
    mu, logvar = _kl_cases()[0]
    copies = snapshot(mu=mu, logvar=logvar)
    got = kl_divergence(mu, logvar)
    expect_unchanged({"mu": mu, "logvar": logvar}, copies, "kl_divergence")
    needs_working(
        close(got, losses.kl_divergence(*copies.values(), reduction="none")), "kl_divergence"
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


def _elbo_cases():
    cases = []
    for i, (x_logits, x) in enumerate(image_cases()):
        batch = x.shape[0]
        dims = (3, 1, 5)[i]
        mu = randn(batch, dims, seed=40 + i, dtype=x.dtype)
        logvar = randn(batch, dims, seed=50 + i, dtype=x.dtype)
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
def _ex04_elbo(mod):
    negative_elbo = learner_function(mod, "negative_elbo")
    for x, x_logits, mu, logvar in _elbo_cases():
        got = negative_elbo(x.clone(), x_logits.clone(), mu.clone(), logvar.clone())
        expect_close(
            got,
            _elbo_reference(x, x_logits, mu, logvar, 1.0),
            what="negative_elbo",
            case=f"for images of shape {tuple(x.shape)} and mu of shape {tuple(mu.shape)}",
            variants=_elbo_mistakes(x, x_logits, mu, logvar, 1.0),
            hint=ELBO_HINT,
        )


@check("negative_elbo: beta weights the KL", 1)
def _ex04_beta(mod):
    negative_elbo = learner_function(mod, "negative_elbo")
    x, x_logits, mu, logvar = _elbo_cases()[0]
    recon = losses.bernoulli_nll(x_logits, x, reduction="none")
    kl = losses.kl_divergence(mu, logvar, reduction="none")
    needs_working(close(negative_elbo(x, x_logits, mu, logvar), recon + kl), "negative_elbo")
    for beta in (4.0, 0.0, 0.25):
        expect_close(
            negative_elbo(x, x_logits, mu, logvar, beta=beta),
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
def _ex04_elbo_stable(mod):
    negative_elbo = learner_function(mod, "negative_elbo")
    needs_working(
        all(  # a batch of one as well as of four: a sum over the batch passes the first alone
            close(
                negative_elbo(x, x_logits, mu, logvar),
                _elbo_reference(x, x_logits, mu, logvar, 1.0),
            )
            for x, x_logits, mu, logvar in _elbo_cases()[:2]
        ),
        "negative_elbo",
    )
    x_logits, x = extreme_logits()
    mu, logvar = randn(2, 3, seed=60), randn(2, 3, seed=61)
    got = as_tensor(negative_elbo(x, x_logits, mu, logvar), "negative_elbo")
    if not close(got, _elbo_reference(x, x_logits, mu, logvar, 1.0)):
        raise Mistake(UNSTABLE_BCE)


@check("negative_elbo: gradients reach x_logits, mu, logvar; inputs unchanged", 1)
def _ex04_elbo_gradients(mod):
    negative_elbo = learner_function(mod, "negative_elbo")
    x, x_logits, mu, logvar = _elbo_cases()[0]
    copies = snapshot(x=x, x_logits=x_logits, mu=mu, logvar=logvar)
    got = negative_elbo(x, x_logits, mu, logvar)
    expect_unchanged(
        {"x": x, "x_logits": x_logits, "mu": mu, "logvar": logvar}, copies, "negative_elbo"
    )
    needs_working(close(got, _elbo_reference(x, x_logits, mu, logvar, 1.0)), "negative_elbo")
    want_grads = weighted_grads(
        lambda x_logits, mu, logvar: _elbo_reference(x, x_logits, mu, logvar, 1.0),
        x_logits=x_logits,
        mu=mu,
        logvar=logvar,
    )
    inputs = leaves(x_logits=x_logits, mu=mu, logvar=logvar)
    expect_gradients(negative_elbo(x, **inputs), inputs, want_grads, what="negative_elbo")
