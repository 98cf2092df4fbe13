"""Checks of exercise 05, sampling and latent space: ``interpolate`` and ``sample``.

Every value is compared with vaelab's reference functions; the variants beside each
comparison are the known mistakes, with the feedback that names them.
"""

from __future__ import annotations

import math

import torch

from vaelab import latent, losses, models
from vaelab.grading.checks.common import stretch_values
from vaelab.grading.checks.toolkit import (
    F32,
    F64,
    Checklist,
    Draw,
    Learner,
    Mistake,
    as_tensor,
    close,
    dtype_name,
    expect_close,
    learner_function,
    needs_working,
    shape_words,
)

# vaelab's own answers, switched off in the learner's process while this exercise is graded
# (model.decode stays: the exercise asks for it)
PROTECTED = (
    "latent.interpolate",
    "latent.slerp",
    "models._VAE.sample",
    "losses.rate_in_bits",
    "losses.kl_divergence",
    "losses.kl_per_dim",
)

checks = Checklist("ex05")
check = checks.add


def _path_cases(draw: Draw):
    return [
        (draw.randn(2, scale=1.5), draw.randn(2, scale=1.5), 10),
        (draw.randn(16), draw.randn(16) * 2, 2),
        (draw.randn(5, dtype=F64), draw.randn(5, dtype=F64), 7),
    ]


def _classic_slerp(z0, z1, num_steps):
    """The textbook slerp applied to z0 and z1 themselves (no separate norm)."""
    t = torch.linspace(0, 1, num_steps, dtype=z0.dtype)[:, None]
    omega = torch.arccos(((z0 / z0.norm()) * (z1 / z1.norm())).sum().clamp(-1, 1))
    return (torch.sin((1 - t) * omega) * z0 + torch.sin(t * omega) * z1) / torch.sin(omega)


def _path_mistakes(z0, z1, n, method) -> list:
    path = lambda a, b, k: latent.interpolate(a, b, num_steps=k, method=method)  # noqa: E731
    want = path(z0, z1, n)
    return [
        (
            "the path stops short of z1 (t = arange(n) / n): t must run from 0 to 1 in "
            "num_steps evenly spaced values with both ends included.",
            lambda: path(z0, z1, n + 1)[:-1],
        ),
        (
            "the path starts after z0 (t = arange(1, n + 1) / n): t must run from 0 to 1 in "
            "num_steps evenly spaced values with both ends included.",
            lambda: path(z0, z1, n + 1)[1:],
        ),
        (
            "both ends are missing: t must start at exactly 0 and end at exactly 1, so that "
            "the first code is z0 and the last is z1.",
            lambda: path(z0, z1, n + 2)[1:-1],
        ),
        ("the path runs from z1 to z0: t = 0 should give z0.", lambda: path(z1, z0, n)),
        (
            "the result is (D, num_steps): put the steps first, shape (num_steps, D).",
            lambda: want.T,
        ),
    ]


def _precision(z0: torch.Tensor) -> str:
    """The feedback for a path right only to float32 precision, for float64 codes."""
    return (
        "your path is right to float32 precision, but the codes are "
        f"{dtype_name(z0.dtype)}: build t with dtype=z0.dtype (torch.linspace makes float32 "
        "unless told otherwise). Any other tensor you make, or a small constant added to "
        "avoid a division by 0, has to keep the codes' precision too."
    )


LINEAR_HINTS = (
    "Lesson 05, section 4: a path of codes at evenly spaced positions t from 0 (z0) to 1 "
    "(z1), both ends included.",
    "For each t the code is the weighted average of z0 and z1 with weights 1 - t and t. "
    "How many positions, and does the last one reach exactly 1?",
    "Make the positions a column, shape (num_steps, 1), so that it broadcasts against the "
    "(D,) codes into (num_steps, D); make it in the codes' dtype.",
)


@check(
    "interpolate.linear",
    "interpolate, linear: evenly spaced, both ends included",
    1.5,
    LINEAR_HINTS,
)
def _linear(learner: Learner, draw: Draw):
    interpolate = learner_function(learner, "interpolate")
    cases = _path_cases(draw)
    calls = [((z0, z1), {"num_steps": n, "method": "linear"}) for z0, z1, n in cases]
    for (z0, z1, n), outcome in zip(cases, interpolate.many(calls), strict=True):
        expect_close(
            outcome.value,
            latent.interpolate(z0, z1, num_steps=n, method="linear"),
            what="the linear path",
            case=f"for codes of shape {tuple(z0.shape)} and num_steps={n}",
            variants=[
                *_path_mistakes(z0, z1, n, "linear"),
                (
                    "method='linear' should give the straight line from z0 to z1; this is the "
                    "spherical path.",
                    lambda a=z0, b=z1, k=n: latent.interpolate(a, b, num_steps=k, method="slerp"),
                ),
            ],
            hint="Each code is a weighted average of z0 and z1, the weight of z1 growing evenly "
            "from 0 to 1 down the rows.",
            precision=_precision(z0),
        )


SLERP_HINTS = (
    "Lesson 05, section 4: slerp moves the direction of the code along the great circle "
    "and the length of the code along a straight line.",
    "Split each code into its length |z| and its unit direction u = z / |z|. The angle w "
    "between the two directions comes from their dot product (clamped into [-1, 1]).",
    "Direction at t: sin((1 - t) w) / sin(w) times u0 plus sin(t w) / sin(w) times u1; "
    "length at t: the straight line from |z0| to |z1|; the code is their product.",
)


@check(
    "interpolate.slerp",
    "interpolate, slerp: great circle, norm interpolated linearly",
    1.5,
    SLERP_HINTS,
)
def _slerp(learner: Learner, draw: Draw):
    interpolate = learner_function(learner, "interpolate")
    cases = _path_cases(draw)
    calls = [((z0, z1), {"num_steps": n, "method": "slerp"}) for z0, z1, n in cases]
    for (z0, z1, n), outcome in zip(cases, interpolate.many(calls), strict=True):
        want = latent.interpolate(z0, z1, num_steps=n, method="slerp")
        t = torch.linspace(0, 1, n, dtype=z0.dtype)[:, None]
        norms = (1 - t) * z0.norm() + t * z1.norm()  # (n, 1)
        expect_close(
            outcome.value,
            want,
            what="the slerp path",
            case=f"for codes of shape {tuple(z0.shape)} and num_steps={n}",
            variants=[
                *_path_mistakes(z0, z1, n, "slerp"),
                (
                    "method='slerp' gives the straight line: move along the great circle "
                    "instead (see the formula in the docstring).",
                    lambda a=z0, b=z1, k=n: latent.interpolate(a, b, num_steps=k),
                ),
                (
                    "the path has unit length everywhere: multiply the direction by the norm, "
                    "interpolated linearly from |z0| to |z1|.",
                    want / norms,
                ),
                (
                    "this is the textbook slerp applied to z0 and z1 themselves; the lesson's "
                    "slerp moves the unit directions z / |z| along the great circle and "
                    "interpolates the norm linearly from |z0| to |z1|.",
                    lambda a=z0, b=z1, k=n: _classic_slerp(a, b, k),
                ),
            ],
            hint="The direction turns along the great circle between the two unit vectors "
            "(lesson 05's slerp weights), and the length goes in a straight line from |z0| to "
            "|z1|.",
            precision=_precision(z0),
        )


def _textbook_slerp(z0, z1, num_steps):
    """The exercise's slerp with no special case: 0 / 0 where the angle is 0."""
    t = torch.linspace(0, 1, num_steps, dtype=z0.dtype)[:, None]
    u0, u1 = z0 / z0.norm(), z1 / z1.norm()
    omega = torch.arccos((u0 * u1).sum().clamp(-1, 1))
    direction = (torch.sin((1 - t) * omega) * u0 + torch.sin(t * omega) * u1) / torch.sin(omega)
    return direction * ((1 - t) * z0.norm() + t * z1.norm())


def _same_way_cases(draw: Draw) -> list[tuple[torch.Tensor, torch.Tensor, int]]:
    """Pairs of codes pointing the same way (z1 a positive multiple of z0, or z0 itself),
    float32 and float64, chosen so that the slerp formula without a special case gives NaN."""
    cases = []
    for dtype, dims, same in ((F32, 6, False), (F64, 4, False), (F32, 3, True)):
        for _ in range(200):
            z0 = draw.randn(dims, scale=1.5, dtype=dtype)
            z1 = z0.clone() if same else z0 * draw.uniform(0.3, 3.0)
            if torch.isnan(_textbook_slerp(z0, z1, 5)).any():
                break
        cases.append((z0, z1, (4, 6, 7, 10)[draw.integer(0, 3)]))  # t not exact in float32
    return cases


@check(
    "interpolate.slerp_same_way",
    "interpolate, slerp: codes pointing the same way give the straight line, finite",
    1,
    (
        "What is the angle w between two codes that point the same way, and what is sin(w)?",
        "w is 0 there, and the formula divides 0 by 0: NaN. But with no angle to turn "
        "through, the direction stays put: the great circle degenerates into the straight "
        "line.",
        "When w is (nearly) 0, say below 1e-6, keep u0 as the direction (or return the "
        "linear path) instead of dividing by sin(w).",
    ),
)
def _slerp_same_way(learner: Learner, draw: Draw):
    interpolate = learner_function(learner, "interpolate")
    z0, z1, n = _path_cases(draw)[0]
    needs_working(
        close(
            interpolate(z0, z1, num_steps=n, method="slerp"),
            latent.interpolate(z0, z1, num_steps=n, method="slerp"),
        ),
        "interpolate",
    )
    cases = _same_way_cases(draw)
    calls = [((z0, z1), {"num_steps": n, "method": "slerp"}) for z0, z1, n in cases]
    for (z0, z1, n), outcome in zip(cases, interpolate.many(calls), strict=True):
        got = as_tensor(outcome.value, "the slerp path")
        same = "z1 = z0" if torch.equal(z0, z1) else "z1 a positive multiple of z0"
        if got.shape == (n, z0.shape[0]) and not torch.isfinite(got).all():
            raise Mistake(
                f"the slerp path is NaN when z0 and z1 point the same way ({same}, "
                f"{dtype_name(z0.dtype)}): the angle w between them is 0, and sin(w) = 0 "
                "divides 0 by 0. With no angle to turn through the direction stays u0, and "
                "the path is the straight line: special-case a (nearly) zero angle."
            )
        want = latent.interpolate(z0, z1, num_steps=n, method="slerp")
        expect_close(
            got,
            want,
            what="the slerp path",
            case=f"when z0 and z1 point the same way ({same}, {dtype_name(z0.dtype)})",
            variants=[
                (
                    "when z0 and z1 point the same way your path stays at z0: the direction "
                    "stays u0, but the length still goes from |z0| to |z1|, so the path is "
                    "the straight line from z0 to z1.",
                    z0.expand(n, -1),
                ),
                (
                    "when z0 and z1 point the same way your path is 0 (a small number added "
                    "to sin(w) divides 0 by it): with no angle to turn through the direction "
                    "stays u0 and the path is the straight line from z0 to z1.",
                    torch.zeros_like(want),
                ),
            ],
            hint="With no angle between them the path is the straight line from z0 to z1.",
            precision=_precision(z0),
        )


def _sampling_model(draw: Draw) -> models.MLPVAE:
    return draw.model(models.MLPVAE, image_shape=(1, 8, 8), hidden_dim=16, latent_dim=3)


def _sample_with_codes(learner: Learner, model, num_samples, generator=None):
    """The learner's images and every z their decoder saw (captured with a forward hook on
    the decoder, in the learner's process)."""
    sample = learner_function(learner, "sample")
    result = sample.run(model, num_samples, generator=generator, capture="decoder")
    return as_tensor(result.value, "sample's images"), result.captured


@check(
    "sample.shape",
    "sample: (num_samples, C, H, W) images in [0, 1]",
    1,
    (
        "The decoder gives one logit per pixel; what turns a logit into an intensity?",
        "Apply the sigmoid to the decoded logits; keep the decoder's image shape.",
    ),
)
def _sample_shape(learner: Learner, draw: Draw):
    model = _sampling_model(draw)
    images, _ = _sample_with_codes(learner, model, 6, draw.torch_generator())
    if tuple(images.shape) != (6, 1, 8, 8):
        raise Mistake(f"sample's images have shape {tuple(images.shape)}; expected (6, 1, 8, 8).")
    if images.min() < 0 or images.max() > 1:
        raise Mistake(
            "sample's images have values outside [0, 1]: the decoder gives logits; apply "
            "torch.sigmoid to get pixel intensities."
        )


@check(
    "sample.prior",
    "sample: decodes z drawn from the prior N(0, I)",
    1.5,
    (
        "Lesson 05, section 1: generating means decoding codes drawn from the prior.",
        "The prior is the standard normal N(0, I): one row of latent_dim standard-normal "
        "numbers per image, drawn with the generator you are given.",
    ),
)
def _sample_prior(learner: Learner, draw: Draw):
    model = _sampling_model(draw)
    n = 4000
    sample = learner_function(learner, "sample")  # only the codes the decoder saw come back
    z = sample.run(model, n, generator=draw.torch_generator(), capture="decoder", value=False)
    z = z.captured
    if z is None:
        raise Mistake("sample never runs the decoder: decode z with model.decode(z).")
    if tuple(z.shape) != (n, model.latent_dim):
        raise Mistake(
            f"the decoder saw z of shape {tuple(z.shape)}; expected (num_samples, latent_dim) = "
            f"({n}, {model.latent_dim})."
        )
    if z.min() >= 0 and z.max() <= 1:
        raise Mistake("z looks uniform on [0, 1) (torch.rand): the prior is N(0, I), torch.randn.")
    mean, std = z.mean(dim=0), z.std(dim=0)
    if (mean.abs() > 0.1).any() or ((std - 1).abs() > 0.08).any():
        raise Mistake(
            "z does not look like N(0, I) (mean 0, standard deviation 1 in every dimension): "
            "draw num_samples codes of the model's latent size from the standard normal, with "
            "the generator you are given."
        )


@check(
    "sample.sigmoid",
    "sample: images are sigmoid(decoder(z))",
    1.5,
    (
        "Each image is the decoding of one code: decode with the model's decode, once.",
        "The decoder's output are logits; one sigmoid makes them pixel intensities "
        "(the Bernoulli means).",
    ),
)
def _sample_sigmoid(learner: Learner, draw: Draw):
    model = _sampling_model(draw)
    images, z = _sample_with_codes(learner, model, 8, draw.torch_generator())
    if z is None or z.shape[0] != images.shape[0]:
        raise Mistake("each image should be the decoding of one z: decode z with model.decode.")
    with torch.no_grad():
        x_logits = model.decode(z)
    if images.shape == x_logits.shape and ((images == 0) | (images == 1)).all():
        raise Mistake(
            "sample returns 0/1 pixels: return the Bernoulli means sigmoid(x_logits), the "
            "usual way to show a VAE's samples."
        )
    expect_close(
        images,
        torch.sigmoid(x_logits),
        what="sample's images",
        variants=[
            ("sample returns logits: apply torch.sigmoid to the decoder's output.", x_logits),
            (
                "the sigmoid is applied twice: model.decode gives logits; one sigmoid turns "
                "them into pixel intensities.",
                torch.sigmoid(torch.sigmoid(x_logits)),
            ),
        ],
        hint="the decoder gives logits: turn them into pixel probabilities.",
    )


@check(
    "sample.generator",
    "sample: the same generator gives the same images",
    1,
    (
        "Randomness you are given should be used: where does the generator go?",
        "Pass the generator to the function that draws z; draw nothing else at random.",
    ),
)
def _sample_generator(learner: Learner, draw: Draw):
    model = _sampling_model(draw)
    seed, other = draw.seed(), draw.seed()
    a, _ = _sample_with_codes(learner, model, 5, torch.Generator().manual_seed(seed))
    b, _ = _sample_with_codes(learner, model, 5, torch.Generator().manual_seed(seed))
    c, _ = _sample_with_codes(learner, model, 5, torch.Generator().manual_seed(other))
    if not torch.equal(a, b):
        raise Mistake(
            "two calls with equally seeded generators gave different images: pass the "
            "generator on, torch.randn(..., generator=generator)."
        )
    if torch.equal(a, c):
        raise Mistake("different seeds gave the same images: draw z at random on every call.")


@check(
    "sample.dtype",
    "sample: follows the model's dtype (a float64 model gives float64 images)",
    1,
    (
        "Where do the codes you draw live, and in which dtype? The model's weights decide "
        "what its decoder accepts.",
        "A float64 model needs float64 codes (and a model on the GPU needs codes on the "
        "GPU): read the dtype and device from one of the model's parameters and draw z with "
        "them.",
    ),
)
def _sample_dtype(learner: Learner, draw: Draw):
    model = _sampling_model(draw).double()
    sample = learner_function(learner, "sample")
    try:
        result = sample.run(model, 6, generator=draw.torch_generator(), capture="decoder")
    except Mistake as e:
        raise Mistake(
            "`sample` fails for a float64 model: draw z in the model's dtype (and on its "
            "device), which you can read from any of its parameters. "
            f"({e})"
        ) from None
    images = as_tensor(result.value, "sample's images")
    if images.dtype != F64:
        raise Mistake(
            f"sample's images are {dtype_name(images.dtype)} for a float64 model: draw z in "
            "the model's dtype and keep it; the images should be float64."
        )
    z = result.captured
    if z is None or z.dtype != F64 or z.shape[0] != images.shape[0]:
        raise Mistake("each image should be the decoding of one z: decode z with model.decode.")
    with torch.no_grad():
        x_logits = model.decode(z)
    expect_close(images, torch.sigmoid(x_logits), what="sample's images (float64 model)")


# ---------------------------------------------------------------- stretch (issue 22): beyond
# the lesson, graded like the rest, its points counted apart


def _rate_mistakes(mu, logvar):
    kl = losses.kl_divergence(mu, logvar, reduction="none")
    return [
        (
            "this is the rate in nats (the KL itself): a bit is ln 2 nats, so divide by ln 2.",
            kl,
        ),
        (
            "the KL is multiplied by ln 2: there are fewer bits than nats? Divide instead.",
            kl * math.log(2),
        ),
        ("this uses log base 10 (digits, not bits): divide by ln 2.", kl / math.log(10)),
        (
            "the rate is averaged over the latent dimensions: it is the total over them, "
            "what the whole code carries.",
            lambda: kl / mu.shape[-1] / math.log(2),
        ),
        (
            "this is the rate of the whole batch: one value per image.",
            lambda: (kl / math.log(2)).sum(),
        ),
    ]


stretch_values(
    checks,
    "rate_in_bits",
    "rate_in_bits: the KL of each image in bits",
    (
        "Lesson 05 samples codes from the prior; how much does an image's code say beyond "
        "the prior? That is the rate, the KL, and in bits it reads as a message length.",
        "Compute the closed-form KL of lesson 04 per image, summed over the latent "
        "dimensions, then change its unit.",
        "One nat is 1 / ln 2 bits.",
    ),
    cases=lambda draw: [
        ((draw.randn(*s, dtype=d), draw.randn(*s, dtype=d)), {})
        for s, d in [((6, 4), F32), ((1, 2), F32), ((3, 8), F64)]
    ],
    reference=losses.rate_in_bits,
    mistakes=_rate_mistakes,
    what="rate_in_bits",
    case_words=lambda mu, logvar: shape_words(mu=mu, logvar=logvar) + f" ({dtype_name(mu.dtype)})",
)
