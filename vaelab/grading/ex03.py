"""Checks of exercise 03, the reparameterization trick: ``reparameterize``.

Every value is compared with vaelab's reference functions; the variants beside each
comparison are the known mistakes, with the feedback that names them.
"""

from __future__ import annotations

import torch

from vaelab import losses
from vaelab.grading.common import (
    F32,
    F64,
    needs_working,
    randn,
    reference_std,
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

checks = Checklist("ex03")
check = checks.add


def _reparam_cases() -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    cases = []
    for seed, shape, dtype in [(20, (64, 20), F32), (21, (1, 1), F32), (22, (3, 2), F64)]:
        mu = randn(*shape, seed=seed, scale=1.5, dtype=dtype)
        logvar = randn(*shape, seed=seed + 1, scale=1.5, dtype=dtype)
        eps = randn(*shape, seed=seed + 2, dtype=dtype)
        cases.append((mu, logvar, eps))
    return cases


def _reparam_mistakes(mu, logvar, eps) -> list:
    std = reference_std(logvar)
    return [
        (
            "`logvar` is used as the standard deviation: sigma = exp(logvar / 2), so "
            "z = mu + exp(0.5 * logvar) * eps.",
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


REPARAM_HINT = "z = mu + exp(logvar / 2) * eps."


@check("returns a tensor of mu's shape and dtype", 1)
def _ex03_shape(mod):
    reparameterize = learner_function(mod, "reparameterize")
    for mu, logvar, eps in _reparam_cases():
        z = as_tensor(reparameterize(mu, logvar, eps=eps), "z")
        if z.shape != mu.shape:
            raise Mistake(f"z has shape {tuple(z.shape)}; expected mu's shape {tuple(mu.shape)}.")
        if z.dtype != mu.dtype:
            raise Mistake(f"z is {z.dtype} for {mu.dtype} inputs; keep mu's dtype.")


@check("values with a given eps: z = mu + sigma * eps", 2)
def _ex03_values(mod):
    reparameterize = learner_function(mod, "reparameterize")
    for mu, logvar, eps in _reparam_cases():
        got = as_tensor(reparameterize(mu.clone(), logvar.clone(), eps=eps.clone()), "z")
        again = as_tensor(reparameterize(mu.clone(), logvar.clone(), eps=eps.clone()), "z")
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


@check("gradients reach mu and logvar (given eps)", 1)
def _ex03_gradients(mod):
    reparameterize = learner_function(mod, "reparameterize")
    mu, logvar, eps = _reparam_cases()[0]
    want_grads = weighted_grads(
        lambda mu, logvar: losses.reparameterize(mu, logvar, eps=eps), mu=mu, logvar=logvar
    )
    want = losses.reparameterize(mu, logvar, eps=eps)
    needs_working(
        close(reparameterize(mu.clone(), logvar.clone(), eps=eps), want), "reparameterize"
    )
    inputs = leaves(mu=mu, logvar=logvar)
    z = reparameterize(inputs["mu"], inputs["logvar"], eps=eps)
    expect_gradients(z, inputs, want_grads, what="z")


def _sampling_inputs(n: int = 20000):
    mu = torch.tensor([1.5, -2.0, 0.3, 0.0]).expand(n, 4).clone()
    logvar = torch.tensor([-1.0, 0.5, 2.0, -2.5]).expand(n, 4).clone()
    return mu, logvar


def _sampling_problem(reparameterize) -> str | None:
    """Feedback on the samples drawn without eps (None when they look like N(mu, exp(logvar)))."""
    mu, logvar = _sampling_inputs()
    n = mu.shape[0]
    z1 = as_tensor(reparameterize(mu.clone(), logvar.clone()), "z (called without eps)")
    z2 = as_tensor(reparameterize(mu.clone(), logvar.clone(), eps=None), "z (eps=None)")
    if z1.shape != mu.shape:
        return f"without eps, z has shape {tuple(z1.shape)}; expected {tuple(mu.shape)}."
    if torch.equal(z1, z2):
        return (
            "two calls without eps gave the same z: draw new noise on every call, e.g. "
            "eps = torch.randn_like(mu)."
        )
    z1 = z1.detach()
    std = reference_std(logvar[0])  # (4,)
    implied = (z1 - mu) / std  # the noise the learner used, if z = mu + sigma * eps
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


@check("eps=None: fresh N(0, I) noise gives z ~ N(mu, exp(logvar))", 2)
def _ex03_sampling(mod):
    problem = _sampling_problem(learner_function(mod, "reparameterize"))
    if problem:
        raise Mistake(problem)


NO_SAMPLING_GRADIENT = (
    "without eps, no gradient reaches {names}: torch.normal(mu, std) and "
    "Distribution.sample() give z without a usable gradient (torch.normal's is exactly 0), "
    "and .detach() or torch.no_grad() cut it. Draw eps = torch.randn_like(mu) and return "
    "mu + std * eps (or use Normal(mu, std).rsample())."
)


@check("eps=None: gradients still reach mu and logvar", 3)
def _ex03_sampling_gradients(mod):
    reparameterize = learner_function(mod, "reparameterize")
    mu, logvar, eps = _reparam_cases()[0]
    right = close(
        reparameterize(mu.clone(), logvar.clone(), eps=eps),
        losses.reparameterize(mu, logvar, eps=eps),
    )
    if not right or _sampling_problem(reparameterize):
        raise Mistake(
            "first make `reparameterize` right, with a given eps and without one (see the "
            "values check and the eps=None samples check); this check tests the gradients of "
            "a working function."
        )
    inputs = leaves(mu=torch.tensor([[0.5, -1.0, 2.0]]), logvar=torch.tensor([[0.3, -0.7, 1.1]]))
    z = as_tensor(reparameterize(inputs["mu"], inputs["logvar"]), "z (eps=None)")
    if not z.requires_grad:
        raise Mistake(NO_SAMPLING_GRADIENT.format(names="`mu` and `logvar`"))
    z.sum().backward()
    blocked = [
        f"`{key}`"
        for key, leaf in inputs.items()
        if leaf.grad is None or not torch.isfinite(leaf.grad).all() or leaf.grad.abs().sum() == 0
    ]
    if blocked:
        raise Mistake(NO_SAMPLING_GRADIENT.format(names=" and ".join(blocked)))
    # z = mu + exp(logvar / 2) * eps: dz/dmu = 1 and dz/dlogvar = (z - mu) / 2.
    want = {
        "mu": torch.ones_like(inputs["mu"]),
        "logvar": 0.5 * (z.detach() - inputs["mu"].detach()),
    }
    for key, leaf in inputs.items():
        if not close(leaf.grad, want[key]):
            raise Mistake(
                f"without eps, the gradient of z with respect to `{key}` is not right: z should "
                "be mu + exp(logvar / 2) * eps, with eps drawn independently of mu and logvar."
            )


@check("inputs unchanged; finite for extreme logvar", 1)
def _ex03_inplace_extreme(mod):
    reparameterize = learner_function(mod, "reparameterize")
    mu, logvar, eps = _reparam_cases()[1]
    copies = snapshot(mu=mu, logvar=logvar, eps=eps)
    got = reparameterize(mu, logvar, eps=eps)
    expect_unchanged({"mu": mu, "logvar": logvar, "eps": eps}, copies, "reparameterize")
    want = losses.reparameterize(copies["mu"], copies["logvar"], eps=copies["eps"])
    needs_working(close(got, want), "reparameterize")
    logvar = torch.tensor([[-100.0, -30.0, 0.0, 30.0, 100.0]])
    mu, eps = torch.full_like(logvar, 0.5), torch.full_like(logvar, -0.7)
    got = as_tensor(reparameterize(mu, logvar, eps=eps), "z")
    if not close(got, losses.reparameterize(mu, logvar, eps=eps)):
        raise Mistake(
            "z is inf or wrong for large logvar (like 100): exp(logvar) overflows float32 "
            "before a square root; compute sigma = exp(0.5 * logvar) directly."
        )
