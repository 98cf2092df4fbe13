"""Checks of exercise 02, the Gaussian encoder: ``encode``, ``std_from_logvar`` and
``logvar_from_std``.

Every value is compared with vaelab's reference functions; the variants beside each
comparison are the known mistakes, with the feedback that names them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from vaelab import models
from vaelab.grading.common import (
    F32,
    F64,
    needs_working,
    rand,
    randn,
    reference_std,
)
from vaelab.grading.toolkit import (
    Checklist,
    Mistake,
    as_tensor,
    close,
    expect_close,
    learner_function,
    matching_variant,
    shape_words,
)

checks = Checklist("ex02")
check = checks.add


def _vae_model() -> models.MLPVAE:
    torch.manual_seed(2)
    return models.MLPVAE(image_shape=(1, 8, 8), hidden_dim=16, latent_dim=3)


def _encode_pair(mod, model, x) -> tuple[torch.Tensor, torch.Tensor]:
    out = learner_function(mod, "encode")(model, x)
    if isinstance(out, torch.Tensor) or not isinstance(out, (tuple, list)) or len(out) != 2:
        got = "one tensor" if isinstance(out, torch.Tensor) else f"a {type(out).__name__}"
        raise Mistake(f"encode should return two tensors, (mu, logvar); it returned {got}.")
    mu = as_tensor(out[0], "encode's mu")
    logvar = as_tensor(out[1], "encode's logvar")
    return mu, logvar


@check("encode returns (mu, logvar), each (B, D)", 1)
def _ex02_pair(mod):
    model = _vae_model()
    x = rand(5, 1, 8, 8, seed=8)
    mu, logvar = _encode_pair(mod, model, x)
    for name, t in (("mu", mu), ("logvar", logvar)):
        if tuple(t.shape) != (5, model.latent_dim):
            raise Mistake(f"{name} has shape {tuple(t.shape)}; expected (B, D) = (5, 3).")


@check("encode: mu from the to_mu head", 2)
def _ex02_mu(mod):
    model = _vae_model()
    x = rand(5, 1, 8, 8, seed=9)
    with torch.no_grad():
        want_mu, want_logvar = model.encode(x)
    mu, _ = _encode_pair(mod, model, x)
    expect_close(
        mu,
        want_mu,
        what="mu",
        variants=[
            ("mu and logvar are swapped: mu comes from model.to_mu.", want_logvar),
            ("mu is the hidden features; apply model.to_mu to them.", model.encoder(x).detach()),
        ],
        hint="mu = model.to_mu(model.encoder(x)).",
    )


@check("encode: logvar from the to_logvar head, unconstrained", 2)
def _ex02_logvar(mod):
    model = _vae_model()
    x = rand(5, 1, 8, 8, seed=10)
    with torch.no_grad():
        want_mu, want = model.encode(x)
    _, logvar = _encode_pair(mod, model, x)
    expect_close(
        logvar,
        want,
        what="logvar",
        variants=[
            (
                "logvar has mu's values: use the second head, model.to_logvar, for logvar "
                "(and model.to_mu for mu).",
                want_mu,
            ),
            (
                "encode returns the variance exp(logvar): return the to_logvar head's output "
                "as it is. Predicting the log keeps the network's output unconstrained.",
                want.exp(),
            ),
            (
                "encode returns the standard deviation exp(logvar / 2): return the to_logvar "
                "head's output itself, the log-variance.",
                want.mul(0.5).exp(),
            ),
            (
                "logvar goes through a ReLU: a log-variance may be negative (a variance below "
                "1), so use the head's output as it is.",
                want.relu(),
            ),
            (
                "logvar goes through a softplus: a log-variance may be negative, so use the "
                "head's output as it is.",
                F.softplus(want),
            ),
        ],
        hint="logvar = model.to_logvar(model.encoder(x)).",
    )


def _std_mistakes(logvar: torch.Tensor) -> list:
    return [
        (
            "the 1/2 is missing: exp(logvar) is the variance; the standard deviation is "
            "exp(logvar / 2).",
            lambda: logvar.exp(),
        ),
        (
            "`logvar` is used as the standard deviation: it is the log of the variance, so "
            "sigma = exp(logvar / 2).",
            logvar,
        ),
        (
            "`logvar` is used as the variance (sqrt(logvar)): it is the log of the variance, "
            "so sigma = exp(logvar / 2).",
            lambda: logvar.sqrt(),
        ),
        ("this is exp(2 * logvar); sigma = exp(logvar / 2).", lambda: (2 * logvar).exp()),
        ("this is log(logvar); sigma = exp(logvar / 2).", lambda: logvar.log()),
    ]


@check("std_from_logvar: sigma = exp(logvar / 2)", 2)
def _ex02_std(mod):
    std_from_logvar = learner_function(mod, "std_from_logvar")
    for seed, shape, dtype in [(11, (6, 4), F32), (12, (1, 1), F32), (13, (3, 2), F64)]:
        logvar = randn(*shape, seed=seed, scale=2.0, dtype=dtype)
        expect_close(
            std_from_logvar(logvar.clone()),
            reference_std(logvar),
            what="std_from_logvar",
            case=shape_words(logvar=logvar),
            variants=_std_mistakes(logvar),
            hint="sigma = exp(logvar / 2).",
        )


@check("std_from_logvar is finite for extreme logvar", 1)
def _ex02_std_extreme(mod):
    std_from_logvar = learner_function(mod, "std_from_logvar")
    logvar = randn(3, 2, seed=14)
    needs_working(close(std_from_logvar(logvar), reference_std(logvar)), "std_from_logvar")
    logvar = torch.tensor([[-100.0, -30.0, 0.0], [30.0, 100.0, 150.0]])
    got = as_tensor(std_from_logvar(logvar), "std_from_logvar")
    if not close(got, reference_std(logvar)):
        raise Mistake(
            "std_from_logvar is inf or wrong for large logvar (like 100): exp(logvar) overflows "
            "float32 before a square root can bring it back; compute exp(0.5 * logvar) directly."
        )


@check("logvar_from_std inverts std_from_logvar", 1)
def _ex02_logvar_from_std(mod):
    logvar_from_std = learner_function(mod, "logvar_from_std")
    std = rand(4, 3, seed=15) * 3 + 0.05
    got = as_tensor(logvar_from_std(std.clone()), "logvar_from_std")
    if got.shape != std.shape:
        raise Mistake(f"logvar_from_std has shape {tuple(got.shape)}; expected {tuple(std.shape)}.")
    if close(reference_std(got), std):  # exp(got / 2) gives sigma back
        return
    message = matching_variant(
        got,
        [
            ("the factor 2 is missing: logvar = log(sigma^2) = 2 * log(sigma).", std.log()),
            ("this is the variance sigma^2; logvar is its log: 2 * log(sigma).", std.pow(2)),
            ("this is log(sigma) / 2; logvar = 2 * log(sigma).", std.log() / 2),
            ("this is sigma itself; logvar = 2 * log(sigma).", std),
        ],
    )
    raise Mistake(message or "logvar_from_std is not right: logvar = 2 * log(sigma).")


@check("gradients reach both heads and the encoder", 1)
def _ex02_gradients(mod):
    model = _vae_model()
    mu, logvar = _encode_pair(mod, model, rand(4, 1, 8, 8, seed=16))
    if not (mu.requires_grad and logvar.requires_grad):
        raise Mistake(
            "mu or logvar carries no gradient: drop torch.no_grad() and .detach() in encode."
        )
    (mu.sum() + logvar.sum()).backward()
    for part in ("encoder", "to_mu", "to_logvar"):
        if all(p.grad is None for p in getattr(model, part).parameters()):
            raise Mistake(
                f"no gradient reaches model.{part}: mu and logvar must both come from it."
            )
