"""Checks of exercise 02, the Gaussian encoder: ``encode``, ``std_from_logvar`` and
``logvar_from_std``.

Every value is compared with vaelab's reference functions; the variants beside each
comparison are the known mistakes, with the feedback that names them.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from vaelab import losses, models
from vaelab.grading.checks.common import reference_std, stretch_values
from vaelab.grading.checks.toolkit import (
    F32,
    F64,
    Checklist,
    Draw,
    Learner,
    Mistake,
    as_tensor,
    close,
    describe,
    dtype_name,
    expect_close,
    learner_function,
    matching_variant,
    needs_working,
    reached,
    shape_words,
)

# vaelab's own answers, switched off in the learner's process while this exercise is graded
PROTECTED = (
    "models._VAE.encode",
    "losses.reparameterize",
    "losses.gaussian_entropy",
)

checks = Checklist("ex02")
check = checks.add


def _vae_model(draw: Draw) -> models.MLPVAE:
    return draw.model(models.MLPVAE, image_shape=(1, 8, 8), hidden_dim=16, latent_dim=3)


def _pair(out) -> tuple[torch.Tensor, torch.Tensor]:
    if isinstance(out, torch.Tensor) or not isinstance(out, (tuple, list)) or len(out) != 2:
        got = "one tensor" if isinstance(out, torch.Tensor) else describe(out)
        raise Mistake(f"encode should return two tensors, (mu, logvar); it returned {got}.")
    mu = as_tensor(out[0], "encode's mu")
    logvar = as_tensor(out[1], "encode's logvar")
    return mu, logvar


def _encode_pair(learner: Learner, model, x) -> tuple[torch.Tensor, torch.Tensor]:
    return _pair(learner_function(learner, "encode")(model, x))


@check(
    "encode.pair",
    "encode returns (mu, logvar), each (B, D)",
    1,
    (
        "Lesson 02, section 1: the Gaussian encoder gives two tensors per batch, not one.",
        "Return them as a pair, mean first; each has one row per image and latent_dim columns.",
    ),
)
def _returns_pair(learner: Learner, draw: Draw):
    model = _vae_model(draw)
    x = draw.rand(5, 1, 8, 8)
    mu, logvar = _encode_pair(learner, model, x)
    for name, t in (("mu", mu), ("logvar", logvar)):
        if tuple(t.shape) != (5, model.latent_dim):
            raise Mistake(f"{name} has shape {tuple(t.shape)}; expected (B, D) = (5, 3).")


@check(
    "encode.mu",
    "encode: mu from the to_mu head",
    2,
    (
        "Lesson 02, section 1: two heads share the encoder's features.",
        "Run the encoder once, then give its features to the head for the mean.",
    ),
)
def _mu(learner: Learner, draw: Draw):
    model = _vae_model(draw)
    x = draw.rand(5, 1, 8, 8)
    with torch.no_grad():
        want_mu, want_logvar = model.encode(x)
    mu, _ = _encode_pair(learner, model, x)
    expect_close(
        mu,
        want_mu,
        what="mu",
        variants=[
            ("mu and logvar are swapped: mu comes from model.to_mu.", want_logvar),
            ("mu is the hidden features; apply model.to_mu to them.", model.encoder(x).detach()),
        ],
        hint="mu is the mean head applied to the encoder's features.",
    )


@check(
    "encode.logvar",
    "encode: logvar from the to_logvar head, unconstrained",
    2,
    (
        "Lesson 02, section 3: why does the head predict the log of the variance?",
        "Any real number is a valid log-variance: return the second head's output as it "
        "is, with no exp, ReLU or softplus on it.",
    ),
)
def _logvar(learner: Learner, draw: Draw):
    model = _vae_model(draw)
    x = draw.rand(5, 1, 8, 8)
    with torch.no_grad():
        want_mu, want = model.encode(x)
    _, logvar = _encode_pair(learner, model, x)
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
        hint="logvar is the log-variance head applied to the encoder's features, as it is.",
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


_STD_SHAPES = [((6, 4), F32), ((1, 1), F32), ((3, 2), F64)]


@check(
    "std_from_logvar.values",
    "std_from_logvar: sigma = exp(logvar / 2)",
    2,
    (
        "Lesson 02, section 2: log-variance, variance and standard deviation are three "
        "different numbers; keep them apart.",
        "The variance is the exponential of the log-variance, and the standard deviation is "
        "the square root of the variance. Combine the two into one exponential.",
    ),
)
def _std(learner: Learner, draw: Draw):
    std_from_logvar = learner_function(learner, "std_from_logvar")
    cases = [draw.randn(*shape, scale=2.0, dtype=dtype) for shape, dtype in _STD_SHAPES]
    outcomes = std_from_logvar.many([((logvar,), {}) for logvar in cases])
    for logvar, outcome in zip(cases, outcomes, strict=True):
        expect_close(
            outcome.value,
            reference_std(logvar),
            what="std_from_logvar",
            case=shape_words(logvar=logvar),
            variants=_std_mistakes(logvar),
            hint="sigma = exp(logvar / 2).",
        )


@check(
    "std_from_logvar.extreme",
    "std_from_logvar is finite for extreme logvar",
    1,
    (
        "Lesson 02: mind large log-variances. What is exp(100) in float32?",
        "The exponential overflows to inf before a square root can bring it back: take the "
        "exponential of half the log-variance in one step.",
    ),
)
def _std_extreme(learner: Learner, draw: Draw):
    std_from_logvar = learner_function(learner, "std_from_logvar")
    logvar = draw.randn(3, 2)
    needs_working(close(std_from_logvar(logvar), reference_std(logvar)), "std_from_logvar")
    logvar = torch.tensor([[-100.0, -30.0, 0.0], [30.0, 100.0, 150.0]])
    got = as_tensor(std_from_logvar(logvar), "std_from_logvar")
    if not close(got, reference_std(logvar)):
        raise Mistake(
            "std_from_logvar is inf or wrong for large logvar (like 100): exp(logvar) overflows "
            "float32 before a square root can bring it back; halve the log-variance first and "
            "take one exponential."
        )


@check(
    "logvar_from_std.inverse",
    "logvar_from_std inverts std_from_logvar",
    0.5,
    (
        "Undo the steps of std_from_logvar in reverse order.",
        "The log-variance is the log of sigma squared.",
    ),
)
def _logvar_from_std(learner: Learner, draw: Draw):
    logvar_from_std = learner_function(learner, "logvar_from_std")
    std = draw.rand(4, 3) * 3 + 0.05
    got = as_tensor(logvar_from_std(std), "logvar_from_std")
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


@check(
    "logvar_from_std.extreme",
    "logvar_from_std: finite for a tiny or a huge sigma",
    0.5,
    (
        "Lesson 02: mind the extremes in the other direction too. What is (1e-30)^2 in float32?",
        "sigma squared underflows to 0 (or overflows to inf) before the log sees it. The log "
        "of a square is twice the log: take the log of sigma first.",
    ),
)
def _logvar_from_std_extreme(learner: Learner, draw: Draw):
    logvar_from_std = learner_function(learner, "logvar_from_std")
    std = draw.rand(4, 3) * 3 + 0.05
    needs_working(close(reference_std(logvar_from_std(std)), std), "logvar_from_std")
    std = torch.tensor([[1e-30, 1e-25, 1e-20], [1e20, 1e25, 1e30]])
    std = std * (1 + 0.5 * draw.rand(2, 3))
    got = as_tensor(logvar_from_std(std), "logvar_from_std")
    want = 2 * torch.log(std.double())
    if got.shape == std.shape and close(got.double(), want, dtype=F32):
        return
    if got.shape == std.shape and not torch.isfinite(got).all():
        raise Mistake(
            "logvar_from_std is -inf or inf for a tiny or a huge sigma (like 1e-30 or 1e30): "
            "sigma**2 underflows to 0 or overflows to inf in float32 before the log. Take the "
            "log first: log(sigma^2) = 2 * log(sigma)."
        )
    raise Mistake("logvar_from_std is not right for a tiny or a huge sigma: 2 * log(sigma).")


@check(
    "encode.gradients",
    "gradients reach both heads and the encoder",
    1,
    (
        "Training back-propagates through mu and logvar into both heads and the encoder.",
        "No torch.no_grad() and no .detach() in encode.",
    ),
)
def _gradients(learner: Learner, draw: Draw):
    model = _vae_model(draw)
    x = draw.rand(4, 1, 8, 8)
    _pair(learner_function(learner, "encode")(model, x))
    # (mu.sum() + logvar.sum()).backward() in the learner's process
    result = learner_function(learner, "encode").run(model, x, backward=["ones", "ones"])
    if not all(result.requires_grad[:2]):
        raise Mistake(
            "mu or logvar carries no gradient: drop torch.no_grad() and .detach() in encode."
        )
    for part in ("encoder", "to_mu", "to_logvar"):
        if not reached(result, part):
            raise Mistake(
                f"no gradient reaches model.{part}: mu and logvar must both come from it."
            )
    # each head on its own: the encoder's body must learn from the log-variance too, not
    # only from mu (features detached on their way into one head pass the check above)
    for head, weights in (("logvar", [None, "ones"]), ("mu", ["ones", None])):
        alone = learner_function(learner, "encode").run(model, x, backward=weights)
        if not reached(alone, "encoder"):
            raise Mistake(
                f"no gradient reaches model.encoder through {head}: the features that go into "
                f"the {head} head are cut off from the graph (a .detach() or torch.no_grad() "
                "on them), so training would never teach the encoder what its "
                f"{'log-variance' if head == 'logvar' else 'mean'} needs. Give both heads the "
                "encoder's features as they are."
            )


# ---------------------------------------------------------------- stretch (issue 22): beyond
# the lesson, graded like the rest, its points counted apart


def _entropy_mistakes(logvar):
    ref = losses.gaussian_entropy(logvar)
    d = logvar.shape[-1]
    return [
        (
            "the log(2 pi) of each dimension is missing: the entropy of N(mu, sigma^2) is "
            "1/2 log(2 pi e sigma^2).",
            ref - 0.5 * math.log(2 * math.pi) * d,
        ),
        (
            "the 1 (the e inside the log) is missing: each dimension adds 1/2 (1 + log 2 pi + "
            "log sigma^2).",
            ref - 0.5 * d,
        ),
        ("the 1/2 is missing: the entropy is twice as large.", 2 * ref),
        (
            "log sigma is used where the entropy has log sigma^2 (half of logvar).",
            lambda: ref - 0.25 * logvar.sum(-1),
        ),
        (
            "the entropy is given per latent dimension, (B, D): add up the dimensions, one "
            "value per example (the dimensions are independent).",
            lambda: 0.5 * (1 + math.log(2 * math.pi) + logvar),
        ),
    ]


stretch_values(
    checks,
    "gaussian_entropy",
    "gaussian_entropy: the posterior's entropy in nats, one value per example",
    (
        "Lesson 02's encoder gives a Gaussian per image; how uncertain is it, in nats? The "
        "entropy of a Gaussian depends on its variance only.",
        "For one dimension, H = 1/2 log(2 pi e sigma^2); independent dimensions add up.",
        "Write it in logvar directly: no exponential is needed at all.",
    ),
    cases=lambda draw: [
        ((draw.randn(*shape, scale=2.0, dtype=dtype),), {})
        for shape, dtype in [((5, 3), F32), ((1, 1), F32), ((4, 7), F64)]
    ],
    reference=losses.gaussian_entropy,
    mistakes=_entropy_mistakes,
    what="gaussian_entropy",
    case_words=lambda logvar: shape_words(logvar=logvar) + f" ({dtype_name(logvar.dtype)})",
)
