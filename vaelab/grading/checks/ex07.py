"""Checks of exercise 07, evaluation: ``psnr`` and ``log_mean_exp``.

Every value is compared with vaelab's reference functions; the variants beside each
comparison are the known mistakes, with the feedback that names them.
"""

from __future__ import annotations

import math

import torch

from vaelab import losses, metrics
from vaelab.grading.checks.common import batch_mistakes, stretch_values
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
    shape_words,
    weighted_grads,
)

# vaelab's own answers, switched off in the learner's process while this exercise is graded
PROTECTED = (
    "metrics.psnr",
    "losses.log_mean_exp",
    "losses.iwae_bound",
    "metrics.bits_per_dim",
)

checks = Checklist("ex07")
check = checks.add


def _psnr_cases(draw: Draw):
    cases = []
    for shape, dtype in [((4, 1, 28, 28), F32), ((1, 1, 8, 8), F32), ((3, 3, 5, 7), F64)]:
        x = draw.rand(*shape, dtype=dtype)
        noise = draw.randn(*shape, dtype=dtype) * torch.linspace(
            0.02, 0.3, shape[0], dtype=dtype
        ).view(-1, 1, 1, 1)
        cases.append((x, (x + noise).clamp(0, 1)))
    return cases


def _added_epsilon(got, x, x_hat, max_val) -> Mistake | None:
    """The feedback for a PSNR computed with a small constant added to the MSE (found from
    the MSE that each of the learner's values implies); None when that is not what happened."""
    if not isinstance(got, torch.Tensor) or got.shape != x.shape[:1] or got.dtype.is_complex:
        return None
    mse = (x - x_hat).double().pow(2).flatten(1).mean(1)
    implied = max_val**2 / torch.pow(10.0, got.detach().double() / 10)
    eps = implied - mse
    if not torch.isfinite(eps).all() or eps.min() <= 0 or eps.max() > 1e-2 * mse.max():
        return None
    if eps.max() - eps.min() > 1e-2 * eps.mean():
        return None
    return Mistake(
        f"psnr adds a small number (about {float(eps.mean()):.0g}) to the MSE: that shifts "
        "every PSNR a little and turns a perfect copy (MSE 0, PSNR +inf) into a made-up finite "
        "number of decibels. Leave the epsilon out."
    )


def _psnr_mistakes(x, x_hat, max_val) -> list:
    ref = metrics.psnr(x, x_hat, max_val=max_val, reduction="none")
    peak = 10 * math.log10(max_val**2)
    pixels = x[0].numel()
    return [
        *batch_mistakes(ref, "image"),
        (
            "the MSE is taken over the whole batch: compute one MSE per image (the mean over "
            "every dimension but the batch), then one PSNR per image.",
            lambda: metrics.psnr(
                x.flatten()[None], x_hat.flatten()[None], max_val=max_val, reduction="none"
            )[0],
        ),
        (
            "20 * log10 is used with the MSE: PSNR = 10 * log10(max_val^2 / MSE) "
            "(or 20 * log10(max_val / RMSE)).",
            2 * ref,
        ),
        ("the natural log is used: PSNR uses log10 (torch.log10).", ref * math.log(10)),
        ("the ratio is upside down: PSNR = 10 * log10(max_val^2 / MSE).", -ref),
        (
            "the squared errors are summed over the pixels: PSNR uses their mean (MSE) per image.",
            ref - 10 * math.log10(pixels),
        ),
        (
            "the RMSE is used inside 10 * log10: use the MSE (or 20 * log10(max_val / RMSE)).",
            peak / 2 + ref / 2,
        ),
        (
            "the PSNR is per channel: take the MSE over channels and pixels, one value per image.",
            lambda: 10 * torch.log10(max_val**2 / (x - x_hat).pow(2).flatten(2).mean(2)),
        ),
    ]


@check(
    "psnr.values",
    "psnr: 10 log10(max_val^2 / MSE), one value per image",
    2.5,
    (
        "Lesson 07, section 2: PSNR compares the largest possible signal power with the "
        "error power, in decibels.",
        "The error power is the mean squared error of one image, over all its channels and "
        "pixels (every dimension but the batch): one MSE per image.",
        "Decibels are ten times the base-10 logarithm of the ratio max_val squared over that MSE.",
    ),
)
def _psnr(learner: Learner, draw: Draw):
    psnr = learner_function(learner, "psnr")
    cases = _psnr_cases(draw)
    for (x, x_hat), outcome in zip(cases, psnr.many([(c, {}) for c in cases]), strict=True):
        want = metrics.psnr(x, x_hat, reduction="none")
        if not close(outcome.value, want) and _added_epsilon(outcome.value, x, x_hat, 1.0):
            raise _added_epsilon(outcome.value, x, x_hat, 1.0)
        expect_close(
            outcome.value,
            metrics.psnr(x, x_hat, reduction="none"),
            what="psnr",
            case=f"for images of shape {tuple(x.shape)}",
            variants=_psnr_mistakes(x, x_hat, 1.0),
            hint="PSNR is ten times the base-10 log of the peak power over each image's own MSE.",
        )


@check(
    "psnr.max_val",
    "psnr: max_val for 0..255 images",
    1.5,
    (
        "max_val is the peak of the pixel range: 1 for images in [0, 1], 255 for bytes.",
        "The signal power is the peak squared.",
    ),
)
def _psnr_max(learner: Learner, draw: Draw):
    psnr = learner_function(learner, "psnr")
    x, x_hat = _psnr_cases(draw)[0]
    x, x_hat = x * 255, x_hat * 255
    ref = metrics.psnr(x, x_hat, max_val=255.0, reduction="none")
    expect_close(
        psnr(x, x_hat, max_val=255.0),
        ref,
        what="psnr",
        case="for images in [0, 255] with max_val=255",
        variants=[
            (
                "max_val is not squared: the peak signal power is the square of the peak.",
                ref - 10 * math.log10(255),
            ),
            ("max_val is ignored: use it in max_val**2 / MSE.", ref - 10 * math.log10(255**2)),
            *_psnr_mistakes(x, x_hat, 255.0),
        ],
        hint="the peak power is max_val squared, over the MSE, in decibels.",
    )


@check(
    "psnr.identical",
    "psnr: identical images give inf (a perfect copy), never NaN or an error",
    0.5,
    (
        "What is the MSE of an image compared with itself, and what is max_val^2 divided by it?",
        "A perfect copy has MSE 0 and PSNR +inf: no noise at all. Keep the division in torch "
        "(a tensor divided by 0 is inf) and add no epsilon, which would report a made-up "
        "finite number of decibels.",
    ),
)
def _psnr_identical(learner: Learner, draw: Draw):
    psnr = learner_function(learner, "psnr")
    x, x_hat = _psnr_cases(draw)[0]
    needs_working(close(psnr(x, x_hat), metrics.psnr(x, x_hat, reduction="none")), "psnr")
    x_hat = x_hat.clone()
    x_hat[1] = x[1]  # a perfect copy among noisy ones
    try:
        got = as_tensor(psnr(x, x_hat), "psnr")
    except Mistake as e:
        raise Mistake(
            "psnr fails when an image equals its reconstruction: the MSE is 0 there, and the "
            f"PSNR of a perfect copy is +inf. ({e})"
        ) from None
    want = metrics.psnr(x, x_hat, reduction="none")  # inf for image 1
    if got.shape == want.shape:
        value = float(got[1])
        if math.isnan(value):
            raise Mistake(
                "psnr of identical images is NaN: a perfect copy has MSE 0 and PSNR +inf "
                "(max_val^2 / 0 is inf in torch, and log10(inf) is inf). Something turns the "
                "0 or the inf into a NaN (0 / 0, inf - inf, 0 * inf): compute "
                "10 * log10(max_val^2 / mse) as it is."
            )
        if math.isfinite(value):
            raise Mistake(
                f"psnr of identical images is {value:.4g} dB; a perfect copy has MSE 0 and "
                "PSNR +inf (documented in the docstring). An epsilon added to the MSE (or a "
                "clamp) turns 'no error at all' into a made-up finite number: leave it out."
            )
        if value < 0:
            raise Mistake("psnr of identical images is -inf; a perfect copy has PSNR +inf.")
    expect_close(
        got,
        want,
        what="psnr",
        case="for a batch in which one image equals its reconstruction",
        hint="The other images keep their own, finite PSNR.",
    )


def _lme_mistakes(log_w: torch.Tensor, dim: int) -> list:
    ref = losses.log_mean_exp(log_w, dim=dim)
    k = log_w.shape[dim]
    return [
        (
            "this is the mean of the log-weights (Jensen's lower bound, the ELBO), not the log "
            "of the mean of the weights: log(mean(exp(log_w))).",
            log_w.mean(dim=dim),
        ),
        (
            "the 1/K is missing: this is the log of the sum of the K weights, not of their mean "
            "(in log space, dividing by K is a step of its own).",
            ref + math.log(k),
        ),
        (
            "this divides by the number of all elements: K is the size of the averaged "
            "dimension, log_w.shape[dim].",
            ref + math.log(k) - math.log(log_w.numel()),
        ),
        (
            "this is the maximum of the log-weights: use all of them, with logsumexp.",
            log_w.amax(dim=dim),
        ),
        (
            "the averaged dimension is kept (size 1): drop it (no keepdim), so a (K, B) input "
            "gives (B,).",
            ref.unsqueeze(dim),
        ),
    ]


def _lme_cases(draw: Draw):
    return [
        (draw.randn(5, 4, scale=3.0), 0),
        (draw.randn(1, 3, scale=3.0), 0),
        (draw.randn(7, scale=3.0, dtype=F64), 0),
    ]


@check(
    "log_mean_exp.values",
    "log_mean_exp: log(mean(exp(log_w))) along dim",
    2,
    (
        "Lesson 07, section 6, the importance-weighted bound: the log of the average of the "
        "weights, not the average of their logs.",
        "The log of a mean is the log of a sum minus the log of the count K, the size of "
        "the averaged dimension.",
        "torch has a stable log of a sum of exponentials along a dimension; subtract log K.",
    ),
)
def _lme(learner: Learner, draw: Draw):
    log_mean_exp = learner_function(learner, "log_mean_exp")
    cases = _lme_cases(draw)
    outcomes = log_mean_exp.many([((log_w,), {"dim": dim}) for log_w, dim in cases])
    for (log_w, dim), outcome in zip(cases, outcomes, strict=True):
        expect_close(
            outcome.value,
            losses.log_mean_exp(log_w, dim=dim),
            what="log_mean_exp",
            case=f"{shape_words(log_w=log_w)} and dim={dim}",
            variants=_lme_mistakes(log_w, dim),
            hint="the log of a mean is the log of the sum minus the log of the count.",
        )


@check(
    "log_mean_exp.dims",
    "log_mean_exp: works along any dim",
    1,
    ("Average over the `dim` you are given (negative ones too), and count K along it.",),
)
def _lme_dims(learner: Learner, draw: Draw):
    log_mean_exp = learner_function(learner, "log_mean_exp")
    log_w = draw.randn(3, 6, 2, scale=2.0)
    dims = (1, -1, 0)
    outcomes = log_mean_exp.many([((log_w,), {"dim": dim}) for dim in dims])
    for dim, outcome in zip(dims, outcomes, strict=True):
        expect_close(
            outcome.value,
            losses.log_mean_exp(log_w, dim=dim),
            what="log_mean_exp",
            case=f"{shape_words(log_w=log_w)} and dim={dim}",
            variants=_lme_mistakes(log_w, dim),
            hint="average over the `dim` you are given, and log(K) with K = log_w.shape[dim].",
        )


GLOBAL_MAX = (
    "log_mean_exp subtracts one maximum, taken over the whole tensor, from every column: a "
    "column whose log-weights all lie hundreds below that overall maximum "
    "underflows to exp(...) = 0 and gives -inf. Each average along `dim` needs the maximum "
    "of its own log-weights: take the maximum along `dim`, keeping that dimension so that it "
    "lines up with log_w, and add the same per-column maximum back after the log."
)


def _global_max_shift(log_w: torch.Tensor, dim: int) -> torch.Tensor:
    """The log-sum-exp trick with the maximum of all of log_w instead of one per column."""
    top = log_w.max()
    k = log_w.shape[dim]
    return top + torch.log(torch.exp(log_w - top).sum(dim=dim)) - math.log(k)


@check(
    "log_mean_exp.large",
    "log_mean_exp: no overflow for large log-weights",
    1.5,
    (
        "exp(1000) is inf. How can you take the exponential of numbers that large?",
        "Subtract the largest log-weight before the exponential and add it back after the "
        "log (the log-sum-exp trick), or use torch's own log-sum-exp.",
    ),
)
def _lme_large(learner: Learner, draw: Draw):
    log_mean_exp = learner_function(learner, "log_mean_exp")
    log_w, dim = _lme_cases(draw)[0]
    needs_working(
        close(log_mean_exp(log_w, dim=dim), losses.log_mean_exp(log_w, dim=dim)),
        "log_mean_exp",
    )
    log_w = draw.randn(6, 3, scale=2.0) + torch.tensor([1000.0, 90.0, 500.0])
    got = as_tensor(log_mean_exp(log_w, dim=0), "log_mean_exp")
    if not close(got, losses.log_mean_exp(log_w, dim=0)):
        if close(got, _global_max_shift(log_w, 0)):
            raise Mistake(GLOBAL_MAX)
        raise Mistake(
            "log_mean_exp overflows for large log-weights (like 1000): exp(1000) is inf. "
            "Subtract the maximum before exp and add it back after the log (the log-sum-exp "
            "trick), or use torch.logsumexp."
        )


@check(
    "log_mean_exp.small",
    "log_mean_exp: no underflow for very negative log-weights",
    0.5,
    ("exp(-1000) rounds to 0, and log(0) is -inf: the same trick helps at both ends.",),
)
def _lme_small(learner: Learner, draw: Draw):
    log_mean_exp = learner_function(learner, "log_mean_exp")
    log_w, dim = _lme_cases(draw)[0]
    needs_working(
        close(log_mean_exp(log_w, dim=dim), losses.log_mean_exp(log_w, dim=dim)),
        "log_mean_exp",
    )
    log_w = draw.randn(6, 3, scale=2.0) - torch.tensor([1000.0, 120.0, 800.0])
    got = as_tensor(log_mean_exp(log_w, dim=0), "log_mean_exp")
    if not close(got, losses.log_mean_exp(log_w, dim=0)):
        if close(got, _global_max_shift(log_w, 0)):
            raise Mistake(GLOBAL_MAX)
        raise Mistake(
            "log_mean_exp gives -inf for very negative log-weights (like -1000): exp(-1000) "
            "rounds to 0. Subtract the maximum before exp (the log-sum-exp trick), or use "
            "torch.logsumexp."
        )


@check(
    "log_mean_exp.properties",
    "log_mean_exp: input unchanged, gradient flows",
    0.5,
    ("Subtract the maximum into a new tensor, not into log_w itself (no -=).",),
)
def _lme_props(learner: Learner, draw: Draw):
    log_mean_exp = learner_function(learner, "log_mean_exp")
    log_w, dim = _lme_cases(draw)[0]
    result = log_mean_exp.run(log_w, dim=dim)
    expect_unchanged(result, ("log_w",), "log_mean_exp")
    want = losses.log_mean_exp(log_w, dim=dim)
    needs_working(close(result.value, want), "log_mean_exp")
    weights = draw.weights_like(want)
    want_grads = weighted_grads(
        lambda log_w: losses.log_mean_exp(log_w, dim=dim), weights, log_w=log_w
    )
    result = log_mean_exp.run(Leaf(log_w, "log_w"), dim=dim, backward=[weights])
    expect_gradients(result, want_grads, what="log_mean_exp")


# ---------------------------------------------------------------- stretch (issue 22): beyond
# the lesson, graded like the rest, its points counted apart


def _bpd_cases(draw):
    cases = []
    for shape, dtype in [((4, 1, 28, 28), F32), ((1, 1, 5, 5), F32), ((3, 3, 4, 6), F64)]:
        nll = draw.rand(shape[0], dtype=dtype) * 500 + 20
        cases.append(((nll, draw.rand(*shape, dtype=dtype)), {}))
    return cases


def _bpd_mistakes(nll, x):
    dims = x[0].numel()
    return [
        ("this is nats per dimension: a bit is ln 2 nats, so divide by ln 2 too.", nll / dims),
        (
            "this is bits per image: divide by the number of values in one image, C * H * W.",
            nll / math.log(2),
        ),
        (
            "the channels are left out of the count: one image holds C * H * W values.",
            lambda: nll / (x.shape[-1] * x.shape[-2] * math.log(2)),
        ),
        (
            "this divides by every value of the batch: count the values of one image.",
            lambda: nll / (x.numel() * math.log(2)),
        ),
        ("this multiplies by ln 2: divide by it.", lambda: nll * math.log(2) / dims),
    ]


stretch_values(
    checks,
    "bits_per_dim",
    "bits_per_dim: negative log-likelihood as bits per pixel value",
    (
        "Lesson 07 bounds the log-likelihood in nats per image; papers report bits per "
        "dimension, so that images of any size compare.",
        "Two changes of unit: nats to bits, and per image to per value of the image.",
        "An image of shape (C, H, W) holds C * H * W values; one nat is 1 / ln 2 bits.",
    ),
    cases=_bpd_cases,
    reference=metrics.bits_per_dim,
    mistakes=_bpd_mistakes,
    what="bits_per_dim",
    case_words=lambda nll, x: f"for images of shape {tuple(x.shape)} ({dtype_name(x.dtype)})",
)
