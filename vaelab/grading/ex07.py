"""Checks of exercise 07, evaluation: ``psnr`` and ``log_mean_exp``.

Every value is compared with vaelab's reference functions; the variants beside each
comparison are the known mistakes, with the feedback that names them.
"""

from __future__ import annotations

import math

import torch

from vaelab import losses, metrics
from vaelab.grading.common import batch_mistakes
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
PROTECTED = ("metrics.psnr", "losses.log_mean_exp", "losses.iwae_bound")

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


def _psnr_mistakes(x, x_hat, max_val) -> list:
    ref = metrics.psnr(x, x_hat, max_val=max_val, reduction="none")
    peak = 10 * math.log10(max_val**2)
    pixels = x[0].numel()
    return [
        *batch_mistakes(ref, "image"),
        (
            "the MSE is taken over the whole batch: compute one MSE per image, "
            "(x - x_hat).pow(2).flatten(1).mean(1), then one PSNR per image.",
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


@check("psnr: 10 log10(max_val^2 / MSE), one value per image", 3)
def _psnr(learner: Learner, draw: Draw):
    psnr = learner_function(learner, "psnr")
    cases = _psnr_cases(draw)
    for (x, x_hat), outcome in zip(cases, psnr.many([(c, {}) for c in cases]), strict=True):
        expect_close(
            outcome.value,
            metrics.psnr(x, x_hat, reduction="none"),
            what="psnr",
            case=f"for images of shape {tuple(x.shape)}",
            variants=_psnr_mistakes(x, x_hat, 1.0),
            hint="mse = (x - x_hat).pow(2).flatten(1).mean(1); 10 * torch.log10(max_val**2 / mse).",
        )


@check("psnr: max_val for 0..255 images", 1.5)
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
            ("max_val is not squared: 10 * log10(max_val**2 / MSE).", ref - 10 * math.log10(255)),
            ("max_val is ignored: use it in max_val**2 / MSE.", ref - 10 * math.log10(255**2)),
            *_psnr_mistakes(x, x_hat, 255.0),
        ],
        hint="10 * log10(max_val**2 / MSE).",
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
            "the 1/K is missing: after logsumexp, subtract log(K), K = log_w.shape[dim].",
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


@check("log_mean_exp: log(mean(exp(log_w))) along dim", 2)
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
            hint="torch.logsumexp(log_w, dim) - math.log(log_w.shape[dim]).",
        )


@check("log_mean_exp: works along any dim", 1)
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


@check("log_mean_exp: no overflow for large log-weights", 1.5)
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
        raise Mistake(
            "log_mean_exp overflows for large log-weights (like 1000): exp(1000) is inf. "
            "Subtract the maximum before exp and add it back after the log (the log-sum-exp "
            "trick), or use torch.logsumexp."
        )


@check("log_mean_exp: no underflow for very negative log-weights", 0.5)
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
        raise Mistake(
            "log_mean_exp gives -inf for very negative log-weights (like -1000): exp(-1000) "
            "rounds to 0. Subtract the maximum before exp (the log-sum-exp trick), or use "
            "torch.logsumexp."
        )


@check("log_mean_exp: input unchanged, gradient flows", 0.5)
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
