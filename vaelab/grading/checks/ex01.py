"""Checks of exercise 01, the autoencoder: ``encode``, ``decode``, ``reconstruction_loss``.

Every value is compared with vaelab's reference functions; the variants beside each
comparison are the known mistakes, with the feedback that names them.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from vaelab import losses, models
from vaelab.grading.checks.common import (
    UNSTABLE_BCE,
    batch_mistakes,
    bce_mistakes,
    extreme_logits,
    image_cases,
    stretch_values,
)
from vaelab.grading.checks.common import batch_mistakes as _batch
from vaelab.grading.checks.toolkit import (
    F32,
    F64,
    PREVIOUS_OUTPUT,
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
    reached,
    shape_words,
    weighted_grads,
)

# vaelab's own answers, switched off in the learner's process while this exercise is graded
PROTECTED = (
    "models._Autoencoder.encode",
    "models._Base.decode",
    "losses.bernoulli_nll",
    "losses.reconstruction_nll",
    "losses.gaussian_nll",
)

checks = Checklist("ex01")
check = checks.add


def _ae_models(draw: Draw) -> list[models.MLPAutoencoder]:
    return [
        draw.model(models.MLPAutoencoder, image_shape=(1, 28, 28), hidden_dim=32, latent_dim=4),
        draw.model(models.MLPAutoencoder, image_shape=(1, 8, 8), hidden_dim=16, latent_dim=2),
    ]


@check(
    "encode.codes",
    "encode: codes from the encoder and to_z",
    2,
    (
        "Lesson 01, section 1: the code is what comes out of the encoder's half of the "
        "network. Which of the model's parts make up that half?",
        "The encoder gives hidden features; one more layer, to_z, turns them into the code. "
        "Nothing else is applied to the code: no activation.",
    ),
)
def _encode(learner: Learner, draw: Draw):
    encode = learner_function(learner, "encode")
    cases = [(model, draw.rand(3, *model.config.image_shape)) for model in _ae_models(draw)]
    outcomes = encode.many([((model, x), {}) for model, x in cases])
    for (model, x), outcome in zip(cases, outcomes, strict=True):
        with torch.no_grad():
            want = model.encode(x)
            features = model.encoder(x)
        expect_close(
            outcome.value,
            want,
            what="encode's z",
            case=f"for images of shape {tuple(x.shape)}",
            variants=[
                (
                    "z goes through a sigmoid: the code is the to_z layer's output as it is.",
                    torch.sigmoid(want),
                ),
                (
                    "z goes through a ReLU: the code is the to_z layer's output as it is.",
                    want.relu(),
                ),
                (
                    "encode returns the encoder's hidden features: apply model.to_z to them.",
                    features,
                ),
            ],
            hint="the code is the encoder's features passed through the head that makes z.",
        )


@check(
    "decode.logits",
    "decode: logits of the image's shape",
    2,
    (
        "Lesson 01, section 1: the decoder maps a code back to the image's shape.",
        "Return the decoder's output as it is: logits. The sigmoid belongs to whoever needs "
        "probabilities (the loss computes from logits, stably).",
    ),
)
def _decode(learner: Learner, draw: Draw):
    decode = learner_function(learner, "decode")
    cases = [(model, draw.randn(3, model.latent_dim)) for model in _ae_models(draw)]
    outcomes = decode.many([((model, z), {}) for model, z in cases])
    for (model, z), outcome in zip(cases, outcomes, strict=True):
        with torch.no_grad():
            want = model.decode(z)
        expect_close(
            outcome.value,
            want,
            what="decode's x_logits",
            case=f"for z of shape {tuple(z.shape)}",
            variants=[
                (
                    "decode returns probabilities (a sigmoid is applied): return the logits; "
                    "the loss applies the sigmoid, stably.",
                    torch.sigmoid(want),
                ),
                (
                    f"x_logits are flat: keep the image shape (B, "
                    f"{', '.join(map(str, model.config.image_shape))}); model.decoder already "
                    "does.",
                    want.flatten(1),
                ),
            ],
            hint="the decoder maps a code straight to logits: nothing before or after it.",
        )


@check(
    "gradients",
    "gradients reach the encoder and decoder weights",
    1,
    (
        "Training needs the gradient of the loss with respect to every weight.",
        "No torch.no_grad() and no .detach() inside encode and decode.",
    ),
    grades=("encode", "decode"),
)
def _gradients(learner: Learner, draw: Draw):
    for name in ("encode", "decode"):
        learner_function(learner, name)
    model = _ae_models(draw)[1]
    x = draw.rand(3, *model.config.image_shape)
    z = learner_function(learner, "encode")(model, x)
    as_tensor(z, "encode's z")
    result = learner.call(  # decode(model, encode(model, x)), then x_logits.sum().backward()
        [("encode", (model, x), {}), ("decode", (model, PREVIOUS_OUTPUT), {})],
        backward=["ones"],
    )
    as_tensor(result.value, "x_logits")
    if not any(result.requires_grad):
        raise Mistake(
            "no gradient flows through encode and decode: drop torch.no_grad() and .detach() "
            "there - training needs the gradient."
        )
    for part in ("encoder", "to_z", "decoder"):
        if not reached(result, part):
            raise Mistake(f"no gradient reaches model.{part}: use it in encode/decode, undetached.")


LOSS_HINTS = (
    "Lesson 01, section 2: the Bernoulli reconstruction loss is the binary cross-entropy "
    "between the image and the decoder's prediction, in nats.",
    "The decoder gives logits: use the form of the BCE that takes logits (torch.nn."
    "functional has one), with no reduction, so that you get one value per pixel.",
    "Then sum over the pixels of each image - every dimension but the batch - for one "
    "value per image. Not a mean, and nothing summed over the batch.",
)


def _loss_variants(x_logits, x) -> list:
    want = losses.bernoulli_nll(x_logits, x, reduction="none")
    per_pixel = F.binary_cross_entropy_with_logits(x_logits, x, reduction="none")
    return [
        *bce_mistakes(x_logits, x),
        *batch_mistakes(want, "image"),
        (
            "reconstruction_loss returns one value per pixel: sum them over each "
            "image's pixels, every dimension but the first (the batch).",
            per_pixel,
        ),
        (
            "reconstruction_loss is summed over height and width but not over the channels: "
            "one value per image means a sum over every dimension but the batch.",
            lambda: per_pixel.sum(dim=(-2, -1)),
        ),
        (
            "reconstruction_loss averages over the channels: sum over every dimension but the "
            "batch, channels included.",
            lambda: per_pixel.sum(dim=(-2, -1)).mean(dim=1),
        ),
    ]


@check(
    "reconstruction_loss.values",
    "reconstruction_loss: BCE from logits, summed over pixels, per image",
    2,
    LOSS_HINTS,
)
def _loss(learner: Learner, draw: Draw):
    loss = learner_function(learner, "reconstruction_loss")
    cases = image_cases(draw)[:1] + [(draw.randn(2, 1, 28, 28, scale=3.0), draw.rand(2, 1, 28, 28))]
    outcomes = loss.many([((x_logits, x), {}) for x_logits, x in cases])
    for (x_logits, x), outcome in zip(cases, outcomes, strict=True):
        expect_close(
            outcome.value,
            losses.bernoulli_nll(x_logits, x, reduction="none"),
            what="reconstruction_loss",
            case=shape_words(x_logits=x_logits, x=x),
            variants=_loss_variants(x_logits, x),
            hint="The Bernoulli loss is the BCE computed from the logits, pixel by pixel (no "
            "reduction), then summed over all but the batch dimension.",
        )


def _shape_cases(draw: Draw) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(x_logits, x) of other image shapes: one small image, colour images, float64."""
    cases = image_cases(draw)[1:]  # (1, 1, 8, 8) float32, (3, 3, 5, 7) float64
    x_logits = draw.randn(2, 2, 6, 4, scale=3.0)
    cases.append((x_logits, draw.rand(2, 2, 6, 4)))
    return cases


@check(
    "reconstruction_loss.shapes",
    "reconstruction_loss: one value per image for any image shape (B, C, H, W) and dtype",
    1,
    (
        "Lesson 01 works with (B, 1, 28, 28) digits, but a loss per image should not care "
        "how big the images are or how many channels they have.",
        "Sum over every dimension but the first, rather than over a number of pixels you "
        "typed in or over height and width only; a batch of one image still gives (1,).",
    ),
)
def _loss_shapes(learner: Learner, draw: Draw):
    loss = learner_function(learner, "reconstruction_loss")
    cases = _shape_cases(draw)
    outcomes = loss.many([((x_logits, x), {}) for x_logits, x in cases])
    for (x_logits, x), outcome in zip(cases, outcomes, strict=True):
        try:
            got = outcome.value
        except Mistake as e:
            raise Mistake(
                f"reconstruction_loss fails for images of shape {tuple(x.shape)}: {e}"
            ) from None
        expect_close(
            got,
            losses.bernoulli_nll(x_logits, x, reduction="none"),
            what="reconstruction_loss",
            case=shape_words(x_logits=x_logits, x=x),
            variants=_loss_variants(x_logits, x),
            hint="Sum over all but the batch dimension, whatever the image's shape.",
        )


@check(
    "reconstruction_loss.stable",
    "reconstruction_loss is stable for confident logits",
    1,
    (
        "Lesson 01, section 2: why is the BCE computed from logits rather than from "
        "sigmoid(logits)?",
        "sigmoid(20) rounds to exactly 1 in float32, and log(1 - 1) is -inf. The BCE from "
        "logits never forms the sigmoid: use it.",
    ),
)
def _loss_stable(learner: Learner, draw: Draw):
    loss = learner_function(learner, "reconstruction_loss")
    x_logits, x = image_cases(draw)[0]
    needs_working(
        close(loss(x_logits, x), losses.bernoulli_nll(x_logits, x, reduction="none")),
        "reconstruction_loss",
    )
    x_logits, x = extreme_logits()
    got = as_tensor(loss(x_logits, x), "reconstruction_loss")
    if not close(got, losses.bernoulli_nll(x_logits, x, reduction="none")):
        raise Mistake(UNSTABLE_BCE)


@check(
    "reconstruction_loss.gradients",
    "reconstruction_loss: gradient reaches x_logits, inputs unchanged",
    1,
    ("Stay in torch, and build new tensors rather than changing x_logits or x in place.",),
)
def _loss_grad(learner: Learner, draw: Draw):
    loss = learner_function(learner, "reconstruction_loss")
    x_logits, x = image_cases(draw)[0]
    want = losses.bernoulli_nll(x_logits, x, reduction="none")
    result = loss.run(x_logits, x)
    needs_working(close(result.value, want), "reconstruction_loss")
    expect_unchanged(result, ("x_logits", "x"), "reconstruction_loss")
    weights = draw.weights_like(want)
    want_grads = weighted_grads(
        lambda x_logits: losses.bernoulli_nll(x_logits, x, reduction="none"),
        weights,
        x_logits=x_logits,
    )
    result = loss.run(Leaf(x_logits, "x_logits"), x, backward=[weights])
    expect_gradients(result, want_grads, what="the loss")


# ---------------------------------------------------------------- stretch (issue 22): beyond
# the lesson, graded like the rest, its points counted apart


def _gauss_cases(draw):
    cases = []
    for shape, dtype in [((4, 1, 6, 6), F32), ((1, 1, 3, 3), F32), ((2, 3, 4, 5), F64)]:
        x_mean = draw.rand(*shape, dtype=dtype)
        x_logvar = draw.randn(*shape, scale=1.5, dtype=dtype) - 2
        x = draw.rand(*shape, dtype=dtype)
        cases.append(((x_mean, x_logvar, x), {}))
    return cases


def _gauss_mistakes(x_mean, x_logvar, x):
    ref = losses.gaussian_nll(x_mean, x, logvar=x_logvar, reduction="none")
    pixels = x[0].numel()
    log_2pi = math.log(2 * math.pi)
    return [
        (
            "the constant of the Gaussian density is missing: every pixel adds 1/2 log(2 pi). "
            "It does not change the gradient, but without it the loss is no negative "
            "log-likelihood, and losses of different models no longer compare.",
            ref - 0.5 * log_2pi * pixels,
        ),
        (
            "the log-variance term is missing: without it a larger variance only ever lowers "
            "the loss, so a learned variance would grow without end. Each pixel pays 1/2 "
            "log sigma^2 for its uncertainty.",
            lambda: ref - 0.5 * x_logvar.flatten(1).sum(1),
        ),
        (
            "the squared error is divided by the standard deviation: the Gaussian density "
            "divides it by the variance, sigma^2 = exp(logvar).",
            lambda: (
                ref
                + 0.5
                * ((x - x_mean).pow(2) * (torch.exp(-0.5 * x_logvar) - torch.exp(-x_logvar)))
                .flatten(1)
                .sum(1)
            ),
        ),
        ("the 1/2 in front is missing: the loss is twice as large.", 2 * ref),
        ("the loss is averaged over pixels: sum over each image's pixels.", ref / pixels),
        *_batch(ref, "image"),
    ]


stretch_values(
    checks,
    "gaussian_reconstruction_loss",
    "gaussian_reconstruction_loss: -log N(x; x_mean, exp(x_logvar)), one value per image",
    (
        "Lesson 01 scores pixels with a Bernoulli; here each pixel is a Gaussian whose "
        "variance the decoder predicts too. Write down -log N(x; m, sigma^2) for one number.",
        "It has three parts per pixel: a constant, a term in log sigma^2, and the squared "
        "error scaled by the variance, all times 1/2.",
        "Keep everything in logvar (no sigma^2 that can overflow), then sum the pixels of "
        "each image, every dimension but the batch.",
    ),
    cases=_gauss_cases,
    reference=lambda m, lv, x: losses.gaussian_nll(m, x, logvar=lv, reduction="none"),
    mistakes=_gauss_mistakes,
    what="gaussian_reconstruction_loss",
    case_words=lambda m, lv, x: f"for images of shape {tuple(x.shape)} ({dtype_name(x.dtype)})",
)
