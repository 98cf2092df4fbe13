"""Checks of exercise 03, the reparameterization trick: ``reparameterize``.

Every value is compared with vaelab's reference functions; the variants beside each
comparison are the known mistakes, with the feedback that names them.
"""

from __future__ import annotations

import math

import torch

from vaelab import losses
from vaelab.grading.checks.common import reference_std, stretch_values
from vaelab.grading.checks.toolkit import (
    F32,
    F64,
    Checklist,
    Draw,
    Leaf,
    Learner,
    LearnerFunction,
    Mistake,
    as_tensor,
    close,
    dtype_name,
    expect_close,
    expect_gradients,
    expect_unchanged,
    learner_function,
    needs_working,
    rows,
    shape_words,
    weighted_grads,
)

# vaelab's own answer, switched off in the learner's process while this exercise is graded
# (vaelab's models call it too, so model(x) is no way round it either)
PROTECTED = (
    "losses.reparameterize",
    "losses.log_normal",
)

checks = Checklist("ex03")
check = checks.add


def _reparam_cases(draw: Draw) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    cases = []
    for shape, dtype in [((64, 20), F32), ((1, 1), F32), ((3, 2), F64)]:
        mu = draw.randn(*shape, scale=1.5, dtype=dtype)
        logvar = draw.randn(*shape, scale=1.5, dtype=dtype)
        eps = draw.randn(*shape, dtype=dtype)
        cases.append((mu, logvar, eps))
    return cases


def _reparam_mistakes(mu, logvar, eps) -> list:
    std = reference_std(logvar)
    return [
        (
            "`logvar` is used as the standard deviation: it is the log of the variance, and "
            "the noise is scaled by sigma = exp(logvar / 2).",
            mu + logvar * eps,
        ),
        (
            "`logvar` is used as the variance (sqrt(logvar)): it is the log of the variance, "
            "so sigma = exp(logvar / 2).",
            lambda: mu + logvar.sqrt() * eps,
        ),
        (
            "the 1/2 is missing: exp(logvar) is the variance, but the noise must be scaled by "
            "the standard deviation exp(logvar / 2).",
            mu + std.pow(2) * eps,
        ),
        ("the noise is scaled by exp(2 * logvar); sigma = exp(logvar / 2).", mu + std.pow(4) * eps),
        (
            "mu and sigma are swapped: z = mu + sigma * eps, the mean plus the scaled noise.",
            std + mu * eps,
        ),
        (
            "eps enters with the wrong sign: with a given eps, z must be exactly mu + sigma * eps.",
            mu - std * eps,
        ),
        ("the noise is missing: z = mu + sigma * eps, not mu + sigma.", mu + std),
        ("mu is missing: z = mu + sigma * eps.", std * eps),
        ("z is just mu: add the scaled noise, z = mu + sigma * eps.", mu),
        ("the noise is not scaled: z = mu + sigma * eps, with sigma = exp(logvar / 2).", mu + eps),
    ]


REPARAM_HINT = (
    "z is the mean plus the noise scaled by the standard deviation, the exponential of half "
    "the log-variance."
)

VALUES_HINTS = (
    "Lesson 03, section 2: the reparameterization trick writes a draw from N(mu, sigma^2) "
    "as a fixed function of mu, sigma and standard-normal noise.",
    "z is the mean plus the noise scaled by the standard deviation. Which of log sigma^2, "
    "sigma^2 and sigma scales the noise, and how do you get it from logvar (lesson 02)?",
    "sigma is the exponential of half the log-variance. When eps is given, use exactly that "
    "eps: the check compares z for a known eps.",
)


SHAPE_HINTS = (
    "z is one code per example: the same shape and dtype as mu, whatever (B, D) is.",
    "When you draw the noise yourself, draw it with mu's shape, dtype and device (the "
    "'_like' functions of torch do that), not with numbers you typed in.",
)


@check(
    "reparameterize.shapes",
    "any batch shape (B, D) and dtype, with eps given and without",
    1,
    SHAPE_HINTS,
)
def _shape(learner: Learner, draw: Draw):
    reparameterize = learner_function(learner, "reparameterize")
    cases = _reparam_cases(draw)
    mu, logvar, eps = cases[0]
    cases.append((mu + 1, logvar, eps))  # the first case moved: z should move with it
    calls = [((mu, logvar), {"eps": eps}) for mu, logvar, eps in cases]
    calls += [((mu, logvar), {}) for mu, logvar, _ in cases[:3]]  # eps=None, each shape
    outcomes = reparameterize.many(calls)
    for i, ((mu, _), kwargs) in enumerate(calls):
        without = "" if "eps" in kwargs else " without eps"
        z = as_tensor(outcomes[i].value, f"z{without}")
        if z.shape != mu.shape:
            raise Mistake(
                f"z has shape {tuple(z.shape)}{without} for mu of shape {tuple(mu.shape)}; "
                "expected mu's shape: "
                + (
                    "draw the noise with mu's own shape, not a shape you typed in."
                    if without
                    else "z = mu + sigma * eps has the shape of its inputs."
                )
            )
        if z.dtype != mu.dtype:
            raise Mistake(
                f"z is {dtype_name(z.dtype)}{without} for {dtype_name(mu.dtype)} inputs; keep "
                "mu's dtype" + (" (draw the noise in mu's dtype)." if without else ".")
            )
    if torch.equal(outcomes[0].value, outcomes[len(cases) - 1].value):
        raise Mistake(
            "z is the same when mu changes: it should be built from mu, z = mu + sigma * eps."
        )
    _expect_noise_in_mu_dtype(reparameterize)


def _expect_noise_in_mu_dtype(reparameterize: LearnerFunction) -> None:
    """Noise drawn in float32 for float64 inputs: z still comes back float64 (the sum is
    promoted), but every number of it is a float32 one. With mu = 0 and logvar = 0, z is the
    noise itself, so its precision shows which dtype the noise was drawn in."""
    mu = torch.zeros(64, 20, dtype=F64)
    z = as_tensor(reparameterize(mu, torch.zeros_like(mu)), "z without eps")
    if z.shape != mu.shape or z.dtype != F64 or not torch.isfinite(z).all():
        return  # the checks of shape and values say what is wrong
    if bool(torch.equal(z.float().double(), z)) and bool(z.abs().sum() > 0):
        raise Mistake(
            "without eps, the noise is drawn in float32 for float64 mu: z comes back float64 "
            "(adding it to mu promotes it), but every noise value has float32's precision, "
            "and on a GPU, noise made on the CPU would not even meet mu. Draw the noise in "
            "mu's dtype and on mu's device (torch's '_like' functions follow their argument)."
        )


@check("reparameterize.values", "values with a given eps: z = mu + sigma * eps", 2, VALUES_HINTS)
def _values(learner: Learner, draw: Draw):
    reparameterize = learner_function(learner, "reparameterize")
    cases = _reparam_cases(draw)
    calls = [((mu, logvar), {"eps": eps}) for mu, logvar, eps in cases for _ in range(2)]
    outcomes = reparameterize.many(calls)  # each case twice
    for i, (mu, logvar, eps) in enumerate(cases):
        got = as_tensor(outcomes[2 * i].value, "z")
        again = as_tensor(outcomes[2 * i + 1].value, "z")
        if got.shape == again.shape and not close(got, again):
            raise Mistake(
                "two calls with the same eps gave different z: when eps is given, use it "
                "instead of drawing new noise (draw only `if eps is None`)."
            )
        expect_close(
            got,
            losses.reparameterize(mu, logvar, eps=eps),
            what="z",
            case=shape_words(mu=mu, logvar=logvar),
            variants=_reparam_mistakes(mu, logvar, eps),
            hint=REPARAM_HINT,
        )


@check(
    "reparameterize.gradients",
    "gradients reach mu and logvar (given eps)",
    1,
    (
        "The point of the trick is that z is a differentiable function of mu and logvar.",
        "Build z from mu and logvar with torch operations only; nothing detached, no "
        "torch.no_grad(), no .item().",
    ),
)
def _gradients(learner: Learner, draw: Draw):
    reparameterize = learner_function(learner, "reparameterize")
    mu, logvar, eps = _reparam_cases(draw)[0]
    want = losses.reparameterize(mu, logvar, eps=eps)
    weights = draw.weights_like(want)
    want_grads = weighted_grads(
        lambda mu, logvar: losses.reparameterize(mu, logvar, eps=eps), weights, mu=mu, logvar=logvar
    )
    result = reparameterize.run(Leaf(mu, "mu"), Leaf(logvar, "logvar"), eps=eps, backward=[weights])
    needs_working(close(result.value, want), "reparameterize")
    expect_gradients(result, want_grads, what="z")


def _sampling_inputs(draw: Draw, n: int = 20000):
    """n copies of one row of mu and of logvar; |logvar| from 0.5 to 2.5, so that sigma,
    the variance and the wrong spreads differ clearly in every dimension."""
    mu = draw.randn(4, scale=1.5)
    logvar = (0.5 + 2 * draw.rand(4)) * torch.where(draw.rand(4) < 0.5, -1.0, 1.0)
    return rows(mu, n), rows(logvar, n)


def _sampling_problem(reparameterize: LearnerFunction, draw: Draw) -> str | None:
    """Feedback on the samples drawn without eps (None when they look like N(mu, exp(logvar)))."""
    mu, logvar = _sampling_inputs(draw)
    n = mu.shape[0]
    z1 = as_tensor(reparameterize(mu, logvar), "z (called without eps)")
    z2 = as_tensor(reparameterize(mu, logvar, eps=None), "z (eps=None)")
    if z1.shape != mu.shape:
        return f"without eps, z has shape {tuple(z1.shape)}; expected {tuple(mu.shape)}."
    if z2.shape == z1.shape and torch.equal(z1, z2):
        return (
            "two calls without eps gave the same z: draw new standard-normal noise on every "
            "call (no fixed seed, no noise made once and kept)."
        )
    std = reference_std(logvar[0])  # (4,)
    implied = (z1 - mu) / std  # the noise the learner used, if z = mu + sigma * eps
    if torch.allclose(implied[:, 0], implied[:, 1], atol=1e-4):
        return (
            "without eps, every latent dimension gets the same noise: draw one independent "
            "number for every entry of mu, noise of mu's full shape (B, D)."
        )
    if torch.allclose(implied[0], implied[1], atol=1e-4):
        return (
            "without eps, every example gets the same noise: draw one independent number for "
            "every entry of mu, noise of mu's full shape (B, D)."
        )
    if implied.min() >= -1e-6 and implied.max() <= 1 + 1e-6:
        return (
            "the noise looks uniform on [0, 1) (torch.rand): use standard-normal noise, "
            "torch.randn_like(mu)."
        )
    mean, spread = z1.mean(dim=0), z1.std(dim=0)
    if ((mean - mu[0]).abs() > 5 * spread / n**0.5 + 1e-3).any():
        return "without eps, the samples' mean is not mu: z = mu + sigma * eps with eps of mean 0."
    ratio = spread / std
    if ((ratio - 1).abs() < 0.05).all():
        return None
    for message, value in (
        ("the 1/2 is missing: the samples' spread is exp(logvar), the variance.", logvar[0].exp()),
        ("`logvar` is used as the standard deviation.", logvar[0].abs()),
        ("`logvar` is used as the variance (sqrt(logvar)).", logvar[0].abs().sqrt()),
    ):
        if ((spread / value - 1).abs() < 0.05).all():
            return f"without eps, {message} sigma = exp(logvar / 2)."
    return (
        "without eps, the samples' standard deviation is not exp(logvar / 2): is eps standard "
        "normal (torch.randn_like(mu)) and scaled by sigma = exp(logvar / 2)?"
    )


@check(
    "reparameterize.sampling",
    "eps=None: fresh N(0, I) noise gives z ~ N(mu, exp(logvar))",
    2,
    (
        "Without eps, draw it yourself: new noise on every call.",
        "The noise is standard normal (mean 0, variance 1), not uniform, one independent "
        "number per entry of mu.",
    ),
)
def _sampling(learner: Learner, draw: Draw):
    problem = _sampling_problem(learner_function(learner, "reparameterize"), draw)
    learner.memo["ex03 sampling problem"] = problem  # the next check needs to know it
    if problem:
        raise Mistake(problem)


NO_SAMPLING_GRADIENT = (
    "without eps, no gradient reaches {names}: torch.normal(mu, std) and "
    "Distribution.sample() give z without a usable gradient (torch.normal's is exactly 0), "
    "and .detach() or torch.no_grad() cut it. Draw standard-normal noise yourself and build "
    "z from mu, sigma and that noise with torch operations (or use Normal(...).rsample())."
)


@check(
    "reparameterize.sampling_gradients",
    "eps=None: gradients still reach mu and logvar",
    3,
    (
        "Lesson 03, section 1: which ways of sampling let a gradient through, and which do not?",
        "torch.normal(mu, std) and a distribution's .sample() give numbers that autograd "
        "treats as constants. Draw the noise alone and combine it with mu and sigma yourself.",
    ),
)
def _sampling_gradients(learner: Learner, draw: Draw):
    reparameterize = learner_function(learner, "reparameterize")
    mu, logvar, eps = _reparam_cases(draw)[0]
    right = close(reparameterize(mu, logvar, eps=eps), losses.reparameterize(mu, logvar, eps=eps))
    if "ex03 sampling problem" in learner.memo:
        problem = learner.memo["ex03 sampling problem"]
    else:
        problem = _sampling_problem(reparameterize, draw)
    if not right or problem:
        raise Mistake(
            "first make `reparameterize` right, with a given eps and without one (see the "
            "values check and the eps=None samples check); this check tests the gradients of "
            "a working function."
        )
    mu, logvar = draw.randn(1, 3), draw.randn(1, 3)
    # z.sum().backward() in the learner's process, eps drawn there
    result = reparameterize.run(Leaf(mu, "mu"), Leaf(logvar, "logvar"), backward=["ones"])
    z = as_tensor(result.value, "z (eps=None)")
    if not any(result.requires_grad):
        raise Mistake(NO_SAMPLING_GRADIENT.format(names="`mu` and `logvar`"))
    if result.backward_error:
        raise Mistake(f"the gradient of z could not be computed ({result.backward_error}).")
    grads = {key: result.grads.get(key) for key in ("mu", "logvar")}
    blocked = [
        f"`{key}`"
        for key, grad in grads.items()
        if grad is None or not torch.isfinite(grad).all() or grad.abs().sum() == 0
    ]
    if blocked:
        raise Mistake(NO_SAMPLING_GRADIENT.format(names=" and ".join(blocked)))
    # z = mu + exp(logvar / 2) * eps: dz/dmu = 1 and dz/dlogvar = (z - mu) / 2.
    want = {"mu": torch.ones_like(mu), "logvar": 0.5 * (z - mu)}
    for key, grad in grads.items():
        if not close(grad, want[key]):
            raise Mistake(
                f"without eps, the gradient of z with respect to `{key}` is not right: z should "
                "be mu + exp(logvar / 2) * eps, with eps drawn independently of mu and logvar."
            )


@check(
    "reparameterize.unchanged_extreme",
    "inputs unchanged; finite for extreme logvar",
    1,
    (
        "Lesson 02: mind large log-variances. exp(100) is inf in float32.",
        "Taking the square root of exp(logvar) is too late: the exponential already "
        "overflowed. Compute sigma as the exponential of half of logvar in one step, and do "
        "not change mu or logvar in place.",
    ),
)
def _inplace_extreme(learner: Learner, draw: Draw):
    reparameterize = learner_function(learner, "reparameterize")
    mu, logvar, eps = _reparam_cases(draw)[1]
    result = reparameterize.run(mu, logvar, eps=eps)
    expect_unchanged(result, ("mu", "logvar"), "reparameterize")
    needs_working(close(result.value, losses.reparameterize(mu, logvar, eps=eps)), "reparameterize")
    logvar = torch.tensor([[-100.0, -30.0, 0.0, 30.0, 100.0]])
    mu, eps = torch.full_like(logvar, 0.5), torch.full_like(logvar, -0.7)
    got = as_tensor(reparameterize(mu, logvar, eps=eps), "z")
    if not close(got, losses.reparameterize(mu, logvar, eps=eps)):
        raise Mistake(
            "z is inf or wrong for large logvar (like 100): exp(logvar) overflows float32 "
            "before a square root; halve the log-variance first and take one exponential."
        )


# ---------------------------------------------------------------- stretch (issue 22): beyond
# the lesson, graded like the rest, its points counted apart


def _density_cases(draw):
    cases = []
    for shape, dtype in [((6, 4), F32), ((1, 1), F32), ((3, 5), F64)]:
        mu = draw.randn(*shape, dtype=dtype)
        logvar = draw.randn(*shape, dtype=dtype)
        z = mu + reference_std(logvar) * draw.randn(*shape, dtype=dtype)
        cases.append(((z, mu, logvar), {}))
    return cases


def _density_mistakes(z, mu, logvar):
    ref = losses.log_normal(z, mu, logvar)
    d = mu.shape[-1]
    return [
        (
            "the sign is flipped: this is the negative log-density. log q(z | x) is large "
            "where z is likely.",
            -ref,
        ),
        (
            "the -1/2 log(2 pi) of each dimension is missing: without it this is no "
            "log-density (it would not integrate to 1).",
            ref + 0.5 * math.log(2 * math.pi) * d,
        ),
        (
            "the -1/2 log sigma^2 of each dimension is missing: a wider Gaussian spreads its "
            "density thinner.",
            lambda: ref + 0.5 * logvar.sum(-1),
        ),
        (
            "the squared distance is divided by the standard deviation: divide by the "
            "variance, exp(logvar).",
            lambda: (
                ref
                - 0.5 * ((z - mu).pow(2) * (torch.exp(-0.5 * logvar) - torch.exp(-logvar))).sum(-1)
            ),
        ),
        (
            "the log-density is given per dimension, (B, D): add the dimensions up (the "
            "density of independent dimensions is a product).",
            lambda: -0.5 * (math.log(2 * math.pi) + logvar + (z - mu).pow(2) / logvar.exp()),
        ),
    ]


stretch_values(
    checks,
    "log_posterior_density",
    "log_posterior_density: log q(z | x) of a drawn code, one value per example",
    (
        "Lesson 03 draws z from q(z | x) = N(mu, sigma^2); how likely is the z you drew under "
        "it? Importance weights (lesson 07) need exactly this number.",
        "Write the log of the one-dimensional normal density, then add up the independent "
        "dimensions.",
        "Keep it in logvar: the squared distance times exp(-logvar), never a division by "
        "a variance that can underflow.",
    ),
    cases=_density_cases,
    reference=losses.log_normal,
    mistakes=_density_mistakes,
    what="log_posterior_density",
    case_words=lambda z, mu, logvar: (
        shape_words(z=z, mu=mu, logvar=logvar) + f" ({dtype_name(z.dtype)})"
    ),
)
