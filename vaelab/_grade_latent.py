"""Checks for exercises 05 - 08: sampling, posterior collapse, evaluation, anomaly scores.

As in ``vaelab._grade_vae``: values come from vaelab's reference functions, and the
variants beside each comparison are known mistakes with the feedback that names them.
"""

from __future__ import annotations

import math

import torch

from vaelab import anomaly, latent, losses, metrics, models, schedules
from vaelab._grade_core import (
    Mistake,
    as_number,
    as_tensor,
    check,
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
from vaelab._grade_vae import F32, F64, _batch_mistakes, _needs_working, _rand, _randn

# ================================================================ ex05: sampling, interpolation


def _path_cases():
    return [
        (_randn(2, seed=70, scale=1.5), _randn(2, seed=71, scale=1.5), 10),
        (_randn(16, seed=72), _randn(16, seed=73) * 2, 2),
        (_randn(5, seed=74, dtype=F64), _randn(5, seed=75, dtype=F64), 7),
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
            "the path stops short of z1 (t = arange(n) / n): use t = torch.linspace(0, 1, "
            "num_steps), which includes both ends.",
            lambda: path(z0, z1, n + 1)[:-1],
        ),
        (
            "the path starts after z0 (t = arange(1, n + 1) / n): use t = torch.linspace(0, 1, "
            "num_steps), which includes both ends.",
            lambda: path(z0, z1, n + 1)[1:],
        ),
        (
            "both ends are missing: use t = torch.linspace(0, 1, num_steps), so the first code "
            "is z0 and the last is z1.",
            lambda: path(z0, z1, n + 2)[1:-1],
        ),
        ("the path runs from z1 to z0: t = 0 should give z0.", lambda: path(z1, z0, n)),
        (
            "the result is (D, num_steps): put the steps first, shape (num_steps, D).",
            lambda: want.T,
        ),
    ]


@check("ex05", "interpolate, linear: evenly spaced, both ends included", 2)
def _ex05_linear(mod):
    interpolate = learner_function(mod, "interpolate")
    for z0, z1, n in _path_cases():
        expect_close(
            interpolate(z0.clone(), z1.clone(), num_steps=n, method="linear"),
            latent.interpolate(z0, z1, num_steps=n, method="linear"),
            what="the linear path",
            case=f"for codes of shape {tuple(z0.shape)} and num_steps={n}",
            variants=[
                *_path_mistakes(z0, z1, n, "linear"),
                (
                    "method='linear' should give the straight line (1 - t) * z0 + t * z1; this "
                    "is the spherical path.",
                    lambda a=z0, b=z1, k=n: latent.interpolate(a, b, num_steps=k, method="slerp"),
                ),
            ],
            hint="With t = torch.linspace(0, 1, num_steps)[:, None]: (1 - t) * z0 + t * z1.",
        )


@check("ex05", "interpolate, slerp: great circle, norm interpolated linearly", 2)
def _ex05_slerp(mod):
    interpolate = learner_function(mod, "interpolate")
    for z0, z1, n in _path_cases():
        want = latent.interpolate(z0, z1, num_steps=n, method="slerp")
        t = torch.linspace(0, 1, n, dtype=z0.dtype)[:, None]
        norms = (1 - t) * z0.norm() + t * z1.norm()  # (n, 1)
        expect_close(
            interpolate(z0.clone(), z1.clone(), num_steps=n, method="slerp"),
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
            hint="Direction: (sin((1 - t) w) u0 + sin(t w) u1) / sin(w) with u = z / |z|; "
            "norm: (1 - t) |z0| + t |z1|.",
        )


def _sampling_model() -> models.MLPVAE:
    torch.manual_seed(5)
    return models.MLPVAE(image_shape=(1, 8, 8), hidden_dim=16, latent_dim=3)


def _sample_with_codes(mod, model, num_samples, generator=None):
    """The learner's images and every z their decoder saw (captured with a forward hook)."""
    sample = learner_function(mod, "sample")
    seen: list[torch.Tensor] = []
    hook = model.decoder.register_forward_hook(lambda m, args, out: seen.append(args[0].detach()))
    try:
        images = as_tensor(sample(model, num_samples, generator=generator), "sample's images")
    finally:
        hook.remove()
    return images, (torch.cat(seen) if seen else None)


@check("ex05", "sample: (num_samples, C, H, W) images in [0, 1]", 1)
def _ex05_sample_shape(mod):
    model = _sampling_model()
    images, _ = _sample_with_codes(mod, model, 6, torch.Generator().manual_seed(0))
    if tuple(images.shape) != (6, 1, 8, 8):
        raise Mistake(f"sample's images have shape {tuple(images.shape)}; expected (6, 1, 8, 8).")
    if images.min() < 0 or images.max() > 1:
        raise Mistake(
            "sample's images have values outside [0, 1]: the decoder gives logits; apply "
            "torch.sigmoid to get pixel intensities."
        )


@check("ex05", "sample: decodes z drawn from the prior N(0, I)", 2)
def _ex05_sample_prior(mod):
    model = _sampling_model()
    n = 4000
    _, z = _sample_with_codes(mod, model, n, torch.Generator().manual_seed(1))
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
            "draw it with torch.randn(num_samples, model.latent_dim, generator=generator)."
        )


@check("ex05", "sample: images are sigmoid(decoder(z))", 2)
def _ex05_sample_sigmoid(mod):
    model = _sampling_model()
    images, z = _sample_with_codes(mod, model, 8, torch.Generator().manual_seed(2))
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
        hint="images = torch.sigmoid(model.decode(z)).",
    )


@check("ex05", "sample: the same generator gives the same images", 1)
def _ex05_sample_generator(mod):
    model = _sampling_model()
    a, _ = _sample_with_codes(mod, model, 5, torch.Generator().manual_seed(3))
    b, _ = _sample_with_codes(mod, model, 5, torch.Generator().manual_seed(3))
    c, _ = _sample_with_codes(mod, model, 5, torch.Generator().manual_seed(4))
    if not torch.equal(a, b):
        raise Mistake(
            "two calls with equally seeded generators gave different images: pass the "
            "generator on, torch.randn(..., generator=generator)."
        )
    if torch.equal(a, c):
        raise Mistake("different seeds gave the same images: draw z at random on every call.")


# ================================================================ ex06: posterior collapse


def _exact_mu() -> torch.Tensor:
    """(5, 6) float64 means whose column variances are 0.25 (twice), 0.1, 0.3, 4 and 0."""
    pattern = torch.tensor([-1.0, -1.0, 1.0, 1.0, 0.0], dtype=F64)  # unbiased variance 1
    scales = torch.tensor([0.5, 0.5, math.sqrt(0.1), math.sqrt(0.3), 2.0, 0.0], dtype=F64)
    return pattern[:, None] * scales + torch.tensor([1.5, -2.0, 0.25, 0.0, 3.0, 7.0], dtype=F64)


def _au_mistakes(mu: torch.Tensor, threshold: float) -> list:
    n, d = mu.shape
    ref = lambda m, t: metrics.active_units(m, threshold=t)  # noqa: E731
    mu64 = mu.double()
    return [
        (
            ">= instead of >: a unit whose variance equals the threshold is not active; count "
            "the variances strictly greater than it.",
            lambda: ref(mu64, math.nextafter(threshold, -math.inf)),
        ),
        (
            "this compares the standard deviation with the threshold: compare the variance, "
            "mu.var(dim=0).",
            lambda: ref(mu, threshold**2),
        ),
        (
            "this uses the biased variance (dividing by N): use mu.var(dim=0), which divides "
            "by N - 1.",
            lambda: ref(mu, threshold * n / (n - 1)),
        ),
        (
            "the variance is taken over the latent dimensions: take it over the examples, "
            "mu.var(dim=0).",
            lambda: ref(mu.T, threshold) if d >= 2 else None,
        ),
        (
            "this counts the inactive units: count the dimensions whose variance is greater "
            "than the threshold.",
            lambda: d - ref(mu, threshold),
        ),
    ]


def _count(value) -> int:
    number = as_number(value, "active_units")
    if number != int(number):
        raise Mistake(f"active_units should count dimensions, a whole number; got {number:g}.")
    return int(number)


def _expect_count(got, mu: torch.Tensor, threshold: float, case: str) -> None:
    want = metrics.active_units(mu, threshold=threshold)
    got = _count(got)
    if got == want:
        return
    for message, variant in _au_mistakes(mu, threshold):
        value = variant()
        if value is not None and value != want and got == value:
            raise Mistake(message)
    raise Mistake(
        f"active_units counts {got} active units {case}, which is not right: count the "
        "dimensions d with mu[:, d].var() > threshold."
    )


def _au_cases():
    scales = torch.tensor([0.0, 0.03, 0.05, 0.3, 1.0, 2.0, 0.02, 0.5, 0.001, 1.5])
    mu = _randn(200, 10, seed=80) * scales + _randn(10, seed=81)
    pair = torch.tensor([[0.0, 1.0, 0.2], [1.0, 1.0, -0.2]])
    return [(mu, 0.01), (mu, 0.2), (pair, 0.01)]


@check("ex06", "active_units: counts dimensions with Var(mu) > threshold", 1.5)
def _ex06_active_values(mod):
    active_units = learner_function(mod, "active_units")
    for mu, threshold in _au_cases():
        case = f"for mu of shape {tuple(mu.shape)} and threshold {threshold}"
        _expect_count(active_units(mu.clone(), threshold=threshold), mu, threshold, case)


@check("ex06", "active_units: strict threshold (> not >=)", 1)
def _ex06_active_threshold(mod):
    active_units = learner_function(mod, "active_units")
    mu = _exact_mu()
    _expect_count(active_units(mu.clone(), threshold=0.25), mu, 0.25, "when variances equal it")


@check("ex06", "active_units: returns a Python int", 0.5)
def _ex06_active_int(mod):
    active_units = learner_function(mod, "active_units")
    mu, threshold = _au_cases()[0]
    got = active_units(mu, threshold=threshold)
    if not isinstance(got, int) or isinstance(got, bool):
        raise Mistake(f"active_units returned {type(got).__name__}; return a Python int: int(...).")


def _fb_mistakes(kl: torch.Tensor, free_bits: float) -> list:
    ref = losses.free_bits_kl
    dims = kl.shape[-1]
    return [
        (
            "the free bits are applied to the sum: clamp each latent dimension's KL at "
            "free_bits first, then sum over the dimensions.",
            lambda: ref(kl.sum(dim=-1, keepdim=True), free_bits),
        ),
        (
            "the free bits are applied to the sum (max(sum, D * free_bits)): clamp each "
            "dimension first, then sum.",
            lambda: ref(kl.sum(dim=-1, keepdim=True), dims * free_bits),
        ),
        (
            "the KL is clamped from above (min): each dimension should cost at least free_bits, "
            "max(kl, free_bits), e.g. kl_per_dim.clamp(min=free_bits).",
            lambda: -ref(-kl, -free_bits),
        ),
        (
            "free_bits is subtracted: the KL of each dimension is raised to at least free_bits, "
            "max(kl, free_bits), not reduced by it.",
            lambda: ref(kl - free_bits, 0.0),
        ),
        (
            "the clamped KL is averaged over the latent dimensions: sum over them.",
            lambda: ref(kl, free_bits) / dims,
        ),
        (
            "the result is per dimension, (B, D): sum the clamped values over the latent "
            "dimensions (dim=-1).",
            lambda: kl.clamp(min=free_bits),
        ),
        ("the free bits are ignored: clamp each dimension's KL at free_bits.", lambda: kl.sum(-1)),
        *_batch_mistakes(ref(kl, free_bits)),
    ]


def _fb_cases():
    return [
        (_rand(4, 6, seed=90) * 2, 0.5),
        (_rand(1, 3, seed=91) * 2, 0.75),
        (_rand(5, 4, seed=92, dtype=F64) * 0.5, 0.25),
    ]


@check("ex06", "free_bits_kl: each dimension clamped at free_bits, then summed", 2)
def _ex06_free_bits(mod):
    free_bits_kl = learner_function(mod, "free_bits_kl")
    for kl, free_bits in _fb_cases():
        expect_close(
            free_bits_kl(kl.clone(), free_bits),
            losses.free_bits_kl(kl, free_bits),
            what="free_bits_kl",
            case=f"{shape_words(kl_per_dim=kl)} and free_bits={free_bits}",
            variants=_fb_mistakes(kl, free_bits),
            hint="kl_per_dim.clamp(min=free_bits).sum(dim=-1).",
        )


@check("ex06", "free_bits_kl: inputs unchanged, gradient only above free_bits", 1)
def _ex06_free_bits_props(mod):
    free_bits_kl = learner_function(mod, "free_bits_kl")
    kl, free_bits = _fb_cases()[0]
    copies = snapshot(kl_per_dim=kl)
    got = free_bits_kl(kl, free_bits)
    expect_unchanged({"kl_per_dim": kl}, copies, "free_bits_kl")
    _needs_working(close(got, losses.free_bits_kl(kl, free_bits)), "free_bits_kl")
    want = weighted_grads(
        lambda kl_per_dim: losses.free_bits_kl(kl_per_dim, free_bits), kl_per_dim=kl
    )
    inputs = leaves(kl_per_dim=kl)
    expect_gradients(
        free_bits_kl(inputs["kl_per_dim"], free_bits), inputs, want, what="free_bits_kl"
    )


def _weights(fn, steps, *args, **kwargs) -> list[float]:
    return [fn(step, *args, **kwargs) for step in steps]


def _expect_schedule(got: list[float], want: list[float], variants: list, *, what: str, case: str):
    def same(a, b):
        return len(a) == len(b) and all(
            math.isclose(x, y, rel_tol=1e-6, abs_tol=1e-9) for x, y in zip(a, b, strict=True)
        )

    if same(got, want):
        return
    for message, variant in variants:
        try:
            values = variant()
        except Exception:
            continue
        if not same(values, want) and same(got, values):
            raise Mistake(message)
    first = next(
        i
        for i, (a, b) in enumerate(zip(got, want, strict=True))
        if not math.isclose(a, b, abs_tol=1e-9)
    )
    raise Mistake(f"{what} is not right {case}, from step {first} on.")


def _linear_variants(steps, warmup) -> list:
    ref = schedules.linear_kl_weight
    return [
        (
            "off by one: the weight must be 0 at step 0 (step / warmup_steps), not "
            "(step + 1) / warmup_steps.",
            lambda: [ref(s + 1, warmup) for s in steps],
        ),
        (
            "off by one: divide by warmup_steps, so that the weight reaches 1 exactly at "
            "step == warmup_steps.",
            lambda: [ref(s, warmup + 1) for s in steps],
        ),
        (
            "off by one: divide by warmup_steps (not warmup_steps - 1), so that the weight "
            "reaches 1 exactly at step == warmup_steps.",
            lambda: [ref(s, warmup - 1) for s in steps],
        ),
        (
            "off by one: the weight reaches 1 a step late; at step s it is s / warmup_steps.",
            lambda: [ref(max(s - 1, 0), warmup) for s in steps],
        ),
        (
            "the weight keeps growing after the warm-up: it should stay at 1, "
            "min(1, step / warmup_steps).",
            lambda: [s / warmup for s in steps],
        ),
        (
            "integer division: step // warmup_steps is 0 during the whole warm-up; use "
            "step / warmup_steps.",
            lambda: [float(ref(s, warmup) >= 1.0) for s in steps],
        ),
    ]


@check("ex06", "linear_kl_weight: 0 at step 0, 1 from warmup_steps on", 2)
def _ex06_linear(mod):
    linear = learner_function(mod, "linear_kl_weight")
    for warmup in (4, 10, 1, 0):
        steps = range(0, 2 * warmup + 3)
        got = [as_number(v, "linear_kl_weight") for v in _weights(linear, steps, warmup)]
        if warmup == 0 and got != [1.0] * len(got):
            raise Mistake("with warmup_steps=0 there is no warm-up: return 1.0 at every step.")
        _expect_schedule(
            got,
            _weights(schedules.linear_kl_weight, steps, warmup),
            _linear_variants(steps, warmup),
            what="linear_kl_weight",
            case=f"for warmup_steps={warmup}",
        )


def _cyclical_variants(steps, period, ratio) -> list:
    ref = schedules.cyclical_kl_weight
    return [
        (
            "off by one: the weight must be 0 at the first step of each cycle, "
            "p = (step % period) / period.",
            lambda: [ref(s + 1, period, ratio) for s in steps],
        ),
        (
            "the weight never restarts: use the position within the cycle, step % period.",
            lambda: [schedules.linear_kl_weight(s, period * ratio) for s in steps],
        ),
        (
            "the ratio is ignored: the weight should reach 1 after ratio * period steps of "
            "each cycle, min(1, p / ratio).",
            lambda: [ref(s, period, 1.0) for s in steps],
        ),
        (
            "the ratio is ignored (0.5 is used): min(1, p / ratio) with the given ratio.",
            lambda: [ref(s, period, 0.5) for s in steps],
        ),
        (
            "p is multiplied by the ratio: divide, min(1, p / ratio).",
            lambda: [min(1.0, (s % period) / period * ratio) for s in steps],
        ),
        (
            "the weight goes above 1: it should stay at 1 for the rest of the cycle, "
            "min(1, p / ratio).",
            lambda: [(s % period) / period / ratio for s in steps],
        ),
        (
            "off by one in the cycle length: a cycle has `period` steps, so use step % period.",
            lambda: [ref(s, period + 1, ratio) for s in steps],
        ),
        (
            "off by one in the cycle length: a cycle has `period` steps, so use step % period.",
            lambda: [ref(s, period - 1, ratio) for s in steps],
        ),
        (
            "integer division: (step % period) // period is always 0; use / for the position.",
            lambda: [0.0 for s in steps],
        ),
    ]


@check("ex06", "cyclical_kl_weight: restarts every period, rises over ratio of it", 2)
def _ex06_cyclical(mod):
    cyclical = learner_function(mod, "cyclical_kl_weight")
    for period, ratio in ((8, 0.5), (10, 0.25), (6, 1.0)):
        steps = range(0, 3 * period + 2)
        got = [as_number(cyclical(s, period, ratio=ratio), "cyclical_kl_weight") for s in steps]
        _expect_schedule(
            got,
            _weights(schedules.cyclical_kl_weight, steps, period, ratio),
            _cyclical_variants(steps, period, ratio),
            what="cyclical_kl_weight",
            case=f"for period={period}, ratio={ratio}",
        )


# ================================================================ ex07: PSNR, log-mean-exp


def _psnr_cases():
    cases = []
    for seed, shape, dtype in [
        (100, (4, 1, 28, 28), F32),
        (101, (1, 1, 8, 8), F32),
        (102, (3, 3, 5, 7), F64),
    ]:
        x = _rand(*shape, seed=seed, dtype=dtype)
        noise = _randn(*shape, seed=seed + 1, dtype=dtype) * torch.linspace(
            0.02, 0.3, shape[0], dtype=dtype
        ).view(-1, 1, 1, 1)
        cases.append((x, (x + noise).clamp(0, 1)))
    return cases


def _psnr_mistakes(x, x_hat, max_val) -> list:
    ref = metrics.psnr(x, x_hat, max_val=max_val, reduction="none")
    peak = 10 * math.log10(max_val**2)
    pixels = x[0].numel()
    return [
        *_batch_mistakes(ref, "image"),
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


@check("ex07", "psnr: 10 log10(max_val^2 / MSE), one value per image", 3)
def _ex07_psnr(mod):
    psnr = learner_function(mod, "psnr")
    for x, x_hat in _psnr_cases():
        expect_close(
            psnr(x.clone(), x_hat.clone()),
            metrics.psnr(x, x_hat, reduction="none"),
            what="psnr",
            case=f"for images of shape {tuple(x.shape)}",
            variants=_psnr_mistakes(x, x_hat, 1.0),
            hint="mse = (x - x_hat).pow(2).flatten(1).mean(1); 10 * torch.log10(max_val**2 / mse).",
        )


@check("ex07", "psnr: max_val for 0..255 images", 1.5)
def _ex07_psnr_max(mod):
    psnr = learner_function(mod, "psnr")
    x, x_hat = _psnr_cases()[0]
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


def _lme_cases():
    return [
        (_randn(5, 4, seed=110, scale=3.0), 0),
        (_randn(1, 3, seed=111, scale=3.0), 0),
        (_randn(7, seed=112, scale=3.0, dtype=F64), 0),
    ]


@check("ex07", "log_mean_exp: log(mean(exp(log_w))) along dim", 2)
def _ex07_lme(mod):
    log_mean_exp = learner_function(mod, "log_mean_exp")
    for log_w, dim in _lme_cases():
        expect_close(
            log_mean_exp(log_w.clone(), dim=dim),
            losses.log_mean_exp(log_w, dim=dim),
            what="log_mean_exp",
            case=f"{shape_words(log_w=log_w)} and dim={dim}",
            variants=_lme_mistakes(log_w, dim),
            hint="torch.logsumexp(log_w, dim) - math.log(log_w.shape[dim]).",
        )


@check("ex07", "log_mean_exp: works along any dim", 1)
def _ex07_lme_dims(mod):
    log_mean_exp = learner_function(mod, "log_mean_exp")
    log_w = _randn(3, 6, 2, seed=113, scale=2.0)
    for dim in (1, -1, 0):
        expect_close(
            log_mean_exp(log_w.clone(), dim=dim),
            losses.log_mean_exp(log_w, dim=dim),
            what="log_mean_exp",
            case=f"{shape_words(log_w=log_w)} and dim={dim}",
            variants=_lme_mistakes(log_w, dim),
            hint="average over the `dim` you are given, and log(K) with K = log_w.shape[dim].",
        )


@check("ex07", "log_mean_exp: no overflow for large log-weights", 1.5)
def _ex07_lme_large(mod):
    log_mean_exp = learner_function(mod, "log_mean_exp")
    log_w, dim = _lme_cases()[0]
    _needs_working(
        close(log_mean_exp(log_w.clone(), dim=dim), losses.log_mean_exp(log_w, dim=dim)),
        "log_mean_exp",
    )
    log_w = _randn(6, 3, seed=114, scale=2.0) + torch.tensor([1000.0, 90.0, 500.0])
    got = as_tensor(log_mean_exp(log_w.clone(), dim=0), "log_mean_exp")
    if not close(got, losses.log_mean_exp(log_w, dim=0)):
        raise Mistake(
            "log_mean_exp overflows for large log-weights (like 1000): exp(1000) is inf. "
            "Subtract the maximum before exp and add it back after the log (the log-sum-exp "
            "trick), or use torch.logsumexp."
        )


@check("ex07", "log_mean_exp: no underflow for very negative log-weights", 0.5)
def _ex07_lme_small(mod):
    log_mean_exp = learner_function(mod, "log_mean_exp")
    log_w, dim = _lme_cases()[0]
    _needs_working(
        close(log_mean_exp(log_w.clone(), dim=dim), losses.log_mean_exp(log_w, dim=dim)),
        "log_mean_exp",
    )
    log_w = _randn(6, 3, seed=115, scale=2.0) - torch.tensor([1000.0, 120.0, 800.0])
    got = as_tensor(log_mean_exp(log_w.clone(), dim=0), "log_mean_exp")
    if not close(got, losses.log_mean_exp(log_w, dim=0)):
        raise Mistake(
            "log_mean_exp gives -inf for very negative log-weights (like -1000): exp(-1000) "
            "rounds to 0. Subtract the maximum before exp (the log-sum-exp trick), or use "
            "torch.logsumexp."
        )


@check("ex07", "log_mean_exp: input unchanged, gradient flows", 0.5)
def _ex07_lme_props(mod):
    log_mean_exp = learner_function(mod, "log_mean_exp")
    log_w, dim = _lme_cases()[0]
    copies = snapshot(log_w=log_w)
    got = log_mean_exp(log_w, dim=dim)
    expect_unchanged({"log_w": log_w}, copies, "log_mean_exp")
    _needs_working(close(got, losses.log_mean_exp(log_w, dim=dim)), "log_mean_exp")
    want = weighted_grads(lambda log_w: losses.log_mean_exp(log_w, dim=dim), log_w=log_w)
    inputs = leaves(log_w=log_w)
    expect_gradients(log_mean_exp(inputs["log_w"], dim=dim), inputs, want, what="log_mean_exp")


# ================================================================ ex08: anomaly scores


def _anomaly_setup():
    torch.manual_seed(8)
    model = models.MLPVAE(image_shape=(1, 8, 8), hidden_dim=16, latent_dim=3)
    x = _rand(6, 1, 8, 8, seed=120)
    x[:3] = (x[:3] > 0.6).float()  # some binary images too
    return model, x


def _posterior(model, x):
    with torch.no_grad():
        return model.encode(x)


def _repeatable(fn, model, x, name: str) -> torch.Tensor:
    first = as_tensor(fn(model, x.clone()), name)
    second = as_tensor(fn(model, x.clone()), name)
    if first.shape == second.shape and not close(first, second):
        raise Mistake(
            f"{name} changes from call to call: use the posterior mean mu as the code, not a "
            "sample (no reparameterize, no randn)."
        )
    return first


def _recon_variants(model, x, extra=None) -> list:
    from vaelab._grade_vae import _bce_mistakes

    mu, _ = _posterior(model, x)
    with torch.no_grad():
        x_logits = model.decode(mu)
    return _bce_mistakes(x_logits, x, extra=extra)


@check("ex08", "reconstruction_score: BCE of x given z = mu, summed per image", 3)
def _ex08_recon(mod):
    score = learner_function(mod, "reconstruction_score")
    model, x = _anomaly_setup()
    want = anomaly.reconstruction_score(model, x)
    expect_close(
        _repeatable(score, model, x, "reconstruction_score"),
        want,
        what="reconstruction_score",
        variants=[
            *_recon_variants(model, x),
            *_batch_mistakes(want, "image"),
            (
                "this includes the KL: the reconstruction score is the BCE alone (the KL "
                "belongs to anomaly_score).",
                lambda: anomaly.anomaly_score(model, x),
            ),
        ],
        hint="mu, _ = model.encode(x); BCE from logits of model.decode(mu), summed per image.",
    )


@check("ex08", "latent_score: -log N(mu; 0, I) per image", 2)
def _ex08_latent(mod):
    score = learner_function(mod, "latent_score")
    model, x = _anomaly_setup()
    want = anomaly.latent_score(model, x)
    mu, logvar = _posterior(model, x)
    constant = 0.5 * mu.shape[1] * math.log(2 * math.pi)
    expect_close(
        _repeatable(score, model, x, "latent_score"),
        want,
        what="latent_score",
        variants=[
            (
                "this is log N(mu; 0, I), the log-likelihood: the score is its negative, so "
                "that unusual codes score high.",
                -want,
            ),
            (
                "the constant 1/2 log(2 pi) per dimension is missing. It does not change the "
                "ranking, but the score is the full -log N(mu; 0, I).",
                want - constant,
            ),
            ("the 1/2 is missing: -log N(mu; 0, I) = 1/2 sum(mu^2 + log(2 pi)).", 2 * want),
            (
                "this is the KL of the posterior: the latent score is -log N(mu; 0, I) of the "
                "posterior mean.",
                losses.kl_divergence(mu, logvar, reduction="none"),
            ),
            *_batch_mistakes(want, "image"),
        ],
        hint="mu, _ = model.encode(x); 0.5 * (mu**2 + math.log(2 * math.pi)).sum(dim=1).",
    )


def _anomaly_variants(model, x, beta) -> list:
    mu, logvar = _posterior(model, x)
    kl = losses.kl_divergence(mu, logvar, reduction="none")
    recon = anomaly.reconstruction_score(model, x)
    return [
        ("the KL term is missing: add beta * KL.", recon),
        ("the KL enters with the wrong sign: recon + beta * KL.", recon - beta * kl),
        (
            "this adds the latent score: anomaly_score adds the KL of the posterior, "
            "KL(q(z|x) || N(0, I)).",
            lambda: recon + beta * anomaly.latent_score(model, x),
        ),
        *_recon_variants(model, x, extra=lambda r: r + beta * kl),
        *_batch_mistakes(recon + beta * kl, "image"),
    ]


@check("ex08", "anomaly_score: negative ELBO at z = mu", 3)
def _ex08_anomaly(mod):
    score = learner_function(mod, "anomaly_score")
    model, x = _anomaly_setup()
    expect_close(
        _repeatable(score, model, x, "anomaly_score"),
        anomaly.anomaly_score(model, x),
        what="anomaly_score",
        variants=_anomaly_variants(model, x, 1.0),
        hint="reconstruction score + beta * closed-form KL, with z = mu.",
    )


@check("ex08", "anomaly_score: beta weights the KL", 1)
def _ex08_beta(mod):
    score = learner_function(mod, "anomaly_score")
    model, x = _anomaly_setup()
    _needs_working(close(score(model, x), anomaly.anomaly_score(model, x)), "anomaly_score")
    mu, logvar = _posterior(model, x)
    kl = losses.kl_divergence(mu, logvar, reduction="none")
    recon = anomaly.reconstruction_score(model, x)
    for beta in (3.0, 0.0):
        expect_close(
            score(model, x, beta=beta),
            anomaly.anomaly_score(model, x, beta=beta),
            what="anomaly_score",
            case=f"for beta={beta}",
            variants=[
                ("beta is ignored: multiply the KL by beta.", recon + kl),
                ("beta multiplies the reconstruction score: it weights the KL.", beta * recon + kl),
            ],
            hint="recon + beta * KL.",
        )


@check("ex08", "scores: no gradients tracked, images unchanged", 1)
def _ex08_props(mod):
    model, x = _anomaly_setup()
    copies = snapshot(x=x)
    for name in ("reconstruction_score", "latent_score", "anomaly_score"):
        got = as_tensor(learner_function(mod, name)(model, x), name)
        expect_unchanged({"x": x}, copies, name)
        if got.requires_grad:
            raise Mistake(
                f"{name} tracks gradients: scores are for evaluation, so compute them under "
                "torch.no_grad() (or return .detach()); it saves memory on large datasets."
            )
