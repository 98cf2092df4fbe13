"""Checks of exercise 01, the autoencoder: ``encode``, ``decode``, ``reconstruction_loss``.

Every value is compared with vaelab's reference functions; the variants beside each
comparison are the known mistakes, with the feedback that names them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from vaelab import losses, models
from vaelab.grading.common import (
    UNSTABLE_BCE,
    batch_mistakes,
    bce_mistakes,
    extreme_logits,
    image_cases,
    needs_working,
    rand,
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

checks = Checklist("ex01")
check = checks.add


def _ae_models() -> list[models.MLPAutoencoder]:
    torch.manual_seed(1)
    return [
        models.MLPAutoencoder(image_shape=(1, 28, 28), hidden_dim=32, latent_dim=4),
        models.MLPAutoencoder(image_shape=(1, 8, 8), hidden_dim=16, latent_dim=2),
    ]


@check("encode: codes from the encoder and to_z", 2)
def _ex01_encode(mod):
    encode = learner_function(mod, "encode")
    for model in _ae_models():
        x = rand(3, *model.config.image_shape, seed=5)
        with torch.no_grad():
            want = model.encode(x)
            features = model.encoder(x)
        expect_close(
            encode(model, x),
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
            hint="z = model.to_z(model.encoder(x)).",
        )


@check("decode: logits of the image's shape", 2)
def _ex01_decode(mod):
    decode = learner_function(mod, "decode")
    for model in _ae_models():
        z = randn(3, model.latent_dim, seed=6)
        with torch.no_grad():
            want = model.decode(z)
        expect_close(
            decode(model, z),
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
            hint="x_logits = model.decoder(z).",
        )


@check("gradients reach the encoder and decoder weights", 1)
def _ex01_gradients(mod):
    encode, decode = learner_function(mod, "encode"), learner_function(mod, "decode")
    model = _ae_models()[1]
    x = rand(3, *model.config.image_shape, seed=7)
    x_logits = as_tensor(decode(model, as_tensor(encode(model, x), "encode's z")), "x_logits")
    if not x_logits.requires_grad:
        raise Mistake(
            "no gradient flows through encode and decode: drop torch.no_grad() and .detach() "
            "there - training needs the gradient."
        )
    x_logits.sum().backward()
    for part in ("encoder", "to_z", "decoder"):
        if all(p.grad is None for p in getattr(model, part).parameters()):
            raise Mistake(f"no gradient reaches model.{part}: use it in encode/decode, undetached.")


@check("reconstruction_loss: BCE from logits, summed over pixels, per image", 3)
def _ex01_loss(mod):
    loss = learner_function(mod, "reconstruction_loss")
    for x_logits, x in image_cases():
        want = losses.bernoulli_nll(x_logits, x, reduction="none")
        per_pixel = F.binary_cross_entropy_with_logits(x_logits, x, reduction="none")
        expect_close(
            loss(x_logits.clone(), x.clone()),
            want,
            what="reconstruction_loss",
            case=shape_words(x_logits=x_logits, x=x),
            variants=[
                *bce_mistakes(x_logits, x),
                *batch_mistakes(want, "image"),
                (
                    "reconstruction_loss returns one value per pixel: sum them over each "
                    "image's pixels, e.g. .flatten(1).sum(1).",
                    per_pixel,
                ),
            ],
            hint="Use F.binary_cross_entropy_with_logits(x_logits, x, reduction='none') and "
            "sum over all but the batch dimension.",
        )


@check("reconstruction_loss is stable for confident logits", 1)
def _ex01_loss_stable(mod):
    loss = learner_function(mod, "reconstruction_loss")
    x_logits, x = image_cases()[1]
    needs_working(
        close(loss(x_logits, x), losses.bernoulli_nll(x_logits, x, reduction="none")),
        "reconstruction_loss",
    )
    x_logits, x = extreme_logits()
    got = as_tensor(loss(x_logits, x), "reconstruction_loss")
    if not close(got, losses.bernoulli_nll(x_logits, x, reduction="none")):
        raise Mistake(UNSTABLE_BCE)


@check("reconstruction_loss: gradient reaches x_logits, inputs unchanged", 1)
def _ex01_loss_grad(mod):
    loss = learner_function(mod, "reconstruction_loss")
    x_logits, x = image_cases()[0]
    copies = snapshot(x_logits=x_logits, x=x)
    want = losses.bernoulli_nll(x_logits, x, reduction="none")
    needs_working(close(loss(x_logits, x), want), "reconstruction_loss")
    expect_unchanged({"x_logits": x_logits, "x": x}, copies, "reconstruction_loss")
    inputs = leaves(x_logits=x_logits)
    want_grads = weighted_grads(
        lambda x_logits: losses.bernoulli_nll(x_logits, x, reduction="none"), x_logits=x_logits
    )
    expect_gradients(loss(inputs["x_logits"], x), inputs, want_grads, what="the loss")
