"""Checks for exercises 01 - 04: autoencoder, Gaussian encoder, reparameterization, ELBO.

Every value is compared with vaelab's reference functions; the variants next to each
comparison are the known mistakes, computed from the reference, with the feedback that
names them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from vaelab import losses, models
from vaelab._grade_core import (
    Mistake,
    as_tensor,
    check,
    close,
    expect_close,
    expect_gradients,
    expect_unchanged,
    learner_function,
    leaves,
    matching_variant,
    shape_words,
    snapshot,
    weighted_grads,
)

F32, F64 = torch.float32, torch.float64


def _randn(*shape: int, seed: int, scale: float = 1.0, dtype=F32) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(*shape, generator=g, dtype=F64) * scale).to(dtype)


def _rand(*shape: int, seed: int, dtype=F32) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(*shape, generator=g, dtype=F64).to(dtype)


def _std(logvar: torch.Tensor) -> torch.Tensor:
    """sigma = exp(logvar / 2), taken from the reference: z = 0 + sigma * 1."""
    zeros, ones = torch.zeros_like(logvar), torch.ones_like(logvar)
    return losses.reparameterize(zeros, logvar, eps=ones)


def _needs_working(ok: bool, name: str) -> None:
    if not ok:
        raise Mistake(
            f"first make `{name}` right on ordinary inputs (see its values check); "
            "this check tests a property of a working function."
        )


# ================================================================ BCE from logits (ex01, ex04)


def _bce_mistakes(x_logits: torch.Tensor, x: torch.Tensor, *, extra=None) -> list:
    """Known-wrong reconstruction terms, each with its feedback; ``extra(recon)`` adds a term."""
    add = extra or (lambda recon: recon)
    recon = losses.bernoulli_nll(x_logits, x, reduction="none")  # (B,)
    pixels = x[0].numel()

    def probs_as_logits() -> torch.Tensor:  # BCE formula fed with logits as if probabilities
        p = x_logits
        return add(-(x * torch.log(p) + (1 - x) * torch.log(1 - p)).flatten(1).sum(1))

    def squared_error() -> torch.Tensor:
        return add((torch.sigmoid(x_logits) - x).pow(2).flatten(1).sum(1))

    return [
        (
            "the reconstruction term is one number averaged over all pixels and the whole "
            "batch: F.binary_cross_entropy_with_logits(x_logits, x) takes the mean over every "
            "element by default (reduction='mean'). Use reduction='none' and sum over each "
            "image's pixels, .flatten(1).sum(1), for one value per image.",
            lambda: add(F.binary_cross_entropy_with_logits(x_logits, x)),
        ),
        (
            "the reconstruction term is one number summed over all pixels and the whole batch "
            "(reduction='sum'): use reduction='none' and sum over each image's pixels only, "
            ".flatten(1).sum(1), for one value per image.",
            lambda: add(F.binary_cross_entropy_with_logits(x_logits, x, reduction="sum")),
        ),
        (
            "the reconstruction term is averaged over pixels: sum it over the pixels of each "
            "image instead (it is the log-likelihood of the whole image), e.g. "
            "F.binary_cross_entropy_with_logits(x_logits, x, reduction='none').flatten(1).sum(1).",
            add(recon / pixels),
        ),
        (
            "the sigmoid is applied twice: x_logits are logits, and "
            "F.binary_cross_entropy_with_logits applies the sigmoid itself - pass x_logits "
            "directly, without torch.sigmoid.",
            add(losses.bernoulli_nll(torch.sigmoid(x_logits), x, reduction="none")),
        ),
        (
            "the BCE is computed on logits as if they were probabilities: x_logits can be any "
            "real number; use F.binary_cross_entropy_with_logits(x_logits, x).",
            probs_as_logits,
        ),
        (
            "x and x_logits are swapped in the BCE: the logits are the input (first argument) "
            "and the images are the target.",
            lambda: add(losses.bernoulli_nll(x, x_logits, reduction="none")),
        ),
        (
            "the reconstruction term has the wrong sign: BCE is the negative log-likelihood, "
            "a positive number to minimise.",
            add(-recon),
        ),
        (
            "this is a squared error: the exercise asks for the Bernoulli likelihood, the "
            "binary cross-entropy from logits.",
            squared_error,
        ),
    ]


def _batch_mistakes(ref: torch.Tensor, unit: str = "example") -> list:
    return [
        (
            f"your function returns one number for the whole batch (a sum over the batch): "
            f"return one value per {unit}, shape (B,), and leave the reduction to the training "
            "loop.",
            ref.sum(),
        ),
        (
            f"your function returns one number for the whole batch (a mean over the batch): "
            f"return one value per {unit}, shape (B,).",
            ref.mean(),
        ),
    ]


def _image_cases() -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(x_logits, x) pairs: MNIST-sized, a single small image, several channels in float64."""
    cases = []
    for seed, shape, dtype in [
        (1, (4, 1, 28, 28), F32),
        (2, (1, 1, 8, 8), F32),
        (3, (3, 3, 5, 7), F64),
    ]:
        x_logits = _randn(*shape, seed=seed, scale=3.0, dtype=dtype)
        x = _rand(*shape, seed=seed + 100, dtype=dtype)
        x[0] = (x[0] > 0.5).to(dtype)  # binary pixels too
        cases.append((x_logits, x))
    return cases


def _extreme_logits() -> tuple[torch.Tensor, torch.Tensor]:
    """Confident decoder outputs (logits of +-20 and +-120) against binary images."""
    x_logits = torch.tensor([20.0, -20.0, 120.0, -120.0, 3.0, -3.0, 20.0, -120.0]).view(2, 1, 2, 2)
    x = torch.tensor([0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0]).view(2, 1, 2, 2)
    return x_logits, x


UNSTABLE_BCE = (
    "the reconstruction loss is wrong for confident logits (like 20 or -120): sigmoid "
    "rounds to exactly 0 or 1 there, and log(0) gives inf (F.binary_cross_entropy clamps it "
    "at 100). Compute the BCE from the logits with F.binary_cross_entropy_with_logits, which "
    "is stable."
)


# ================================================================ ex01: autoencoder


def _ae_models() -> list[models.MLPAutoencoder]:
    torch.manual_seed(1)
    return [
        models.MLPAutoencoder(image_shape=(1, 28, 28), hidden_dim=32, latent_dim=4),
        models.MLPAutoencoder(image_shape=(1, 8, 8), hidden_dim=16, latent_dim=2),
    ]


@check("ex01", "encode: codes from the encoder and to_z", 2)
def _ex01_encode(mod):
    encode = learner_function(mod, "encode")
    for model in _ae_models():
        x = _rand(3, *model.config.image_shape, seed=5)
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


@check("ex01", "decode: logits of the image's shape", 2)
def _ex01_decode(mod):
    decode = learner_function(mod, "decode")
    for model in _ae_models():
        z = _randn(3, model.latent_dim, seed=6)
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


@check("ex01", "gradients reach the encoder and decoder weights", 1)
def _ex01_gradients(mod):
    encode, decode = learner_function(mod, "encode"), learner_function(mod, "decode")
    model = _ae_models()[1]
    x = _rand(3, *model.config.image_shape, seed=7)
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


@check("ex01", "reconstruction_loss: BCE from logits, summed over pixels, per image", 3)
def _ex01_loss(mod):
    loss = learner_function(mod, "reconstruction_loss")
    for x_logits, x in _image_cases():
        want = losses.bernoulli_nll(x_logits, x, reduction="none")
        per_pixel = F.binary_cross_entropy_with_logits(x_logits, x, reduction="none")
        expect_close(
            loss(x_logits.clone(), x.clone()),
            want,
            what="reconstruction_loss",
            case=shape_words(x_logits=x_logits, x=x),
            variants=[
                *_bce_mistakes(x_logits, x),
                *_batch_mistakes(want, "image"),
                (
                    "reconstruction_loss returns one value per pixel: sum them over each "
                    "image's pixels, e.g. .flatten(1).sum(1).",
                    per_pixel,
                ),
            ],
            hint="Use F.binary_cross_entropy_with_logits(x_logits, x, reduction='none') and "
            "sum over all but the batch dimension.",
        )


@check("ex01", "reconstruction_loss is stable for confident logits", 1)
def _ex01_loss_stable(mod):
    loss = learner_function(mod, "reconstruction_loss")
    x_logits, x = _image_cases()[1]
    _needs_working(
        close(loss(x_logits, x), losses.bernoulli_nll(x_logits, x, reduction="none")),
        "reconstruction_loss",
    )
    x_logits, x = _extreme_logits()
    got = as_tensor(loss(x_logits, x), "reconstruction_loss")
    if not close(got, losses.bernoulli_nll(x_logits, x, reduction="none")):
        raise Mistake(UNSTABLE_BCE)


@check("ex01", "reconstruction_loss: gradient reaches x_logits, inputs unchanged", 1)
def _ex01_loss_grad(mod):
    loss = learner_function(mod, "reconstruction_loss")
    x_logits, x = _image_cases()[0]
    copies = snapshot(x_logits=x_logits, x=x)
    want = losses.bernoulli_nll(x_logits, x, reduction="none")
    _needs_working(close(loss(x_logits, x), want), "reconstruction_loss")
    expect_unchanged({"x_logits": x_logits, "x": x}, copies, "reconstruction_loss")
    inputs = leaves(x_logits=x_logits)
    want_grads = weighted_grads(
        lambda x_logits: losses.bernoulli_nll(x_logits, x, reduction="none"), x_logits=x_logits
    )
    expect_gradients(loss(inputs["x_logits"], x), inputs, want_grads, what="the loss")


# ================================================================ ex02: Gaussian encoder


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


@check("ex02", "encode returns (mu, logvar), each (B, D)", 1)
def _ex02_pair(mod):
    model = _vae_model()
    x = _rand(5, 1, 8, 8, seed=8)
    mu, logvar = _encode_pair(mod, model, x)
    for name, t in (("mu", mu), ("logvar", logvar)):
        if tuple(t.shape) != (5, model.latent_dim):
            raise Mistake(f"{name} has shape {tuple(t.shape)}; expected (B, D) = (5, 3).")


@check("ex02", "encode: mu from the to_mu head", 2)
def _ex02_mu(mod):
    model = _vae_model()
    x = _rand(5, 1, 8, 8, seed=9)
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


@check("ex02", "encode: logvar from the to_logvar head, unconstrained", 2)
def _ex02_logvar(mod):
    model = _vae_model()
    x = _rand(5, 1, 8, 8, seed=10)
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


@check("ex02", "std_from_logvar: sigma = exp(logvar / 2)", 2)
def _ex02_std(mod):
    std_from_logvar = learner_function(mod, "std_from_logvar")
    for seed, shape, dtype in [(11, (6, 4), F32), (12, (1, 1), F32), (13, (3, 2), F64)]:
        logvar = _randn(*shape, seed=seed, scale=2.0, dtype=dtype)
        expect_close(
            std_from_logvar(logvar.clone()),
            _std(logvar),
            what="std_from_logvar",
            case=shape_words(logvar=logvar),
            variants=_std_mistakes(logvar),
            hint="sigma = exp(logvar / 2).",
        )


@check("ex02", "std_from_logvar is finite for extreme logvar", 1)
def _ex02_std_extreme(mod):
    std_from_logvar = learner_function(mod, "std_from_logvar")
    logvar = _randn(3, 2, seed=14)
    _needs_working(close(std_from_logvar(logvar), _std(logvar)), "std_from_logvar")
    logvar = torch.tensor([[-100.0, -30.0, 0.0], [30.0, 100.0, 150.0]])
    got = as_tensor(std_from_logvar(logvar), "std_from_logvar")
    if not close(got, _std(logvar)):
        raise Mistake(
            "std_from_logvar is inf or wrong for large logvar (like 100): exp(logvar) overflows "
            "float32 before a square root can bring it back; compute exp(0.5 * logvar) directly."
        )


@check("ex02", "logvar_from_std inverts std_from_logvar", 1)
def _ex02_logvar_from_std(mod):
    logvar_from_std = learner_function(mod, "logvar_from_std")
    std = _rand(4, 3, seed=15) * 3 + 0.05
    got = as_tensor(logvar_from_std(std.clone()), "logvar_from_std")
    if got.shape != std.shape:
        raise Mistake(f"logvar_from_std has shape {tuple(got.shape)}; expected {tuple(std.shape)}.")
    if close(_std(got), std):  # exp(got / 2) gives sigma back
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


@check("ex02", "gradients reach both heads and the encoder", 1)
def _ex02_gradients(mod):
    model = _vae_model()
    mu, logvar = _encode_pair(mod, model, _rand(4, 1, 8, 8, seed=16))
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


# ================================================================ ex03: reparameterize


def _reparam_cases() -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    cases = []
    for seed, shape, dtype in [(20, (64, 20), F32), (21, (1, 1), F32), (22, (3, 2), F64)]:
        mu = _randn(*shape, seed=seed, scale=1.5, dtype=dtype)
        logvar = _randn(*shape, seed=seed + 1, scale=1.5, dtype=dtype)
        eps = _randn(*shape, seed=seed + 2, dtype=dtype)
        cases.append((mu, logvar, eps))
    return cases


def _reparam_mistakes(mu, logvar, eps) -> list:
    std = _std(logvar)
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


@check("ex03", "returns a tensor of mu's shape and dtype", 1)
def _ex03_shape(mod):
    reparameterize = learner_function(mod, "reparameterize")
    for mu, logvar, eps in _reparam_cases():
        z = as_tensor(reparameterize(mu, logvar, eps=eps), "z")
        if z.shape != mu.shape:
            raise Mistake(f"z has shape {tuple(z.shape)}; expected mu's shape {tuple(mu.shape)}.")
        if z.dtype != mu.dtype:
            raise Mistake(f"z is {z.dtype} for {mu.dtype} inputs; keep mu's dtype.")


@check("ex03", "values with a given eps: z = mu + sigma * eps", 2)
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


@check("ex03", "gradients reach mu and logvar (given eps)", 1)
def _ex03_gradients(mod):
    reparameterize = learner_function(mod, "reparameterize")
    mu, logvar, eps = _reparam_cases()[0]
    want_grads = weighted_grads(
        lambda mu, logvar: losses.reparameterize(mu, logvar, eps=eps), mu=mu, logvar=logvar
    )
    want = losses.reparameterize(mu, logvar, eps=eps)
    _needs_working(
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
    std = _std(logvar[0])  # (4,)
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


@check("ex03", "eps=None: fresh N(0, I) noise gives z ~ N(mu, exp(logvar))", 2)
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


@check("ex03", "eps=None: gradients still reach mu and logvar", 3)
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


@check("ex03", "inputs unchanged; finite for extreme logvar", 1)
def _ex03_inplace_extreme(mod):
    reparameterize = learner_function(mod, "reparameterize")
    mu, logvar, eps = _reparam_cases()[1]
    copies = snapshot(mu=mu, logvar=logvar, eps=eps)
    got = reparameterize(mu, logvar, eps=eps)
    expect_unchanged({"mu": mu, "logvar": logvar, "eps": eps}, copies, "reparameterize")
    want = losses.reparameterize(copies["mu"], copies["logvar"], eps=copies["eps"])
    _needs_working(close(got, want), "reparameterize")
    logvar = torch.tensor([[-100.0, -30.0, 0.0, 30.0, 100.0]])
    mu, eps = torch.full_like(logvar, 0.5), torch.full_like(logvar, -0.7)
    got = as_tensor(reparameterize(mu, logvar, eps=eps), "z")
    if not close(got, losses.reparameterize(mu, logvar, eps=eps)):
        raise Mistake(
            "z is inf or wrong for large logvar (like 100): exp(logvar) overflows float32 "
            "before a square root; compute sigma = exp(0.5 * logvar) directly."
        )


# ================================================================ ex04: KL and negative ELBO


def _kl_cases() -> list[tuple[torch.Tensor, torch.Tensor]]:
    cases = []
    for seed, shape, dtype in [(30, (5, 3), F32), (31, (1, 1), F32), (32, (64, 20), F64)]:
        mu = _randn(*shape, seed=seed, scale=1.2, dtype=dtype)
        logvar = _randn(*shape, seed=seed + 1, scale=1.2, dtype=dtype)
        cases.append((mu, logvar))
    return cases


def _kl_mistakes(mu: torch.Tensor, logvar: torch.Tensor) -> list:
    """Known-wrong KL values, each (B,) unless the mistake changes the shape."""
    ref = losses.kl_divergence(mu, logvar, reduction="none")
    per_dim = losses.kl_per_dim(mu, logvar)
    dims = mu.shape[-1]
    return [
        (
            "the KL has the wrong sign: KL = -1/2 * sum(1 + logvar - mu^2 - exp(logvar)) is "
            "never negative - check the minus in front.",
            -ref,
        ),
        (
            "the 1/2 is missing: KL = -1/2 * sum(1 + logvar - mu^2 - exp(logvar)).",
            2 * ref,
        ),
        ("the KL has the wrong sign and the 1/2 is missing.", -2 * ref),
        (
            "the KL is averaged over the latent dimensions: sum over them (dim=1) instead.",
            per_dim.mean(dim=-1),
        ),
        (
            "the KL is given per latent dimension, (B, D): sum over the latent dimensions "
            "(dim=1) for one value per example.",
            per_dim,
        ),
        (
            "`logvar` is used as the standard deviation: it is the log of the variance, so "
            "sigma^2 = exp(logvar) and log(sigma^2) = logvar.",
            lambda: losses.kl_divergence(mu, torch.log(logvar.pow(2)), reduction="none"),
        ),
        (
            "`logvar` is used as the variance: it is the log of the variance, so "
            "sigma^2 = exp(logvar) and log(sigma^2) = logvar.",
            lambda: losses.kl_divergence(mu, torch.log(logvar), reduction="none"),
        ),
        (
            "exp(logvar) is squared: exp(logvar) is already the variance sigma^2.",
            lambda: ref + 0.5 * (torch.exp(2 * logvar) - torch.exp(logvar)).sum(dim=-1),
        ),
        ("the 1 in (1 + logvar - mu^2 - exp(logvar)) is missing.", ref + 0.5 * dims),
        ("mu is not squared: the term is mu^2.", ref - 0.5 * (mu.pow(2) - mu).sum(dim=-1)),
        *_batch_mistakes(ref),
    ]


KL_HINT = "KL = -0.5 * (1 + logvar - mu**2 - logvar.exp()).sum(dim=1)."


@check("ex04", "kl_divergence: closed form, one value per example", 2.5)
def _ex04_kl(mod):
    kl_divergence = learner_function(mod, "kl_divergence")
    for mu, logvar in _kl_cases():
        expect_close(
            kl_divergence(mu.clone(), logvar.clone()),
            losses.kl_divergence(mu, logvar, reduction="none"),
            what="the KL",
            case=shape_words(mu=mu, logvar=logvar),
            variants=_kl_mistakes(mu, logvar),
            hint=KL_HINT,
        )


@check("ex04", "kl_divergence: gradients reach mu and logvar", 1)
def _ex04_kl_gradients(mod):
    kl_divergence = learner_function(mod, "kl_divergence")
    mu, logvar = _kl_cases()[0]
    want_grads = weighted_grads(
        lambda mu, logvar: losses.kl_divergence(mu, logvar, reduction="none"), mu=mu, logvar=logvar
    )
    want = losses.kl_divergence(mu, logvar, reduction="none")
    _needs_working(close(kl_divergence(mu.clone(), logvar.clone()), want), "kl_divergence")
    inputs = leaves(mu=mu, logvar=logvar)
    expect_gradients(kl_divergence(**inputs), inputs, want_grads, what="the KL")


@check("ex04", "kl_divergence: finite for extreme logvar; inputs unchanged", 1.5)
def _ex04_kl_extreme(mod):
    kl_divergence = learner_function(mod, "kl_divergence")
    mu, logvar = _kl_cases()[0]
    copies = snapshot(mu=mu, logvar=logvar)
    got = kl_divergence(mu, logvar)
    expect_unchanged({"mu": mu, "logvar": logvar}, copies, "kl_divergence")
    _needs_working(
        close(got, losses.kl_divergence(*copies.values(), reduction="none")), "kl_divergence"
    )
    logvar = torch.tensor([[-120.0, -30.0, 0.0], [30.0, 80.0, -60.0]])
    mu = torch.tensor([[0.5, -1.0, 2.0], [0.0, 1.5, -0.5]])
    got = as_tensor(kl_divergence(mu, logvar), "the KL")
    if not close(got, losses.kl_divergence(mu, logvar, reduction="none")):
        raise Mistake(
            "the KL is inf or wrong for extreme logvar (like -120 or 80): log(sigma**2) or "
            "log(exp(logvar)) underflows to log(0); use logvar itself where the formula has "
            "log(sigma^2)."
        )


def _elbo_cases():
    cases = []
    for i, (x_logits, x) in enumerate(_image_cases()):
        batch = x.shape[0]
        dims = (3, 1, 5)[i]
        mu = _randn(batch, dims, seed=40 + i, dtype=x.dtype)
        logvar = _randn(batch, dims, seed=50 + i, dtype=x.dtype)
        cases.append((x, x_logits, mu, logvar))
    return cases


def _elbo_reference(x, x_logits, mu, logvar, beta):
    recon = losses.bernoulli_nll(x_logits, x, reduction="none")
    return recon + beta * losses.kl_divergence(mu, logvar, reduction="none")


def _elbo_mistakes(x, x_logits, mu, logvar, beta) -> list:
    recon = losses.bernoulli_nll(x_logits, x, reduction="none")
    kl = losses.kl_divergence(mu, logvar, reduction="none")
    ref = recon + beta * kl
    kl_variants = [
        (
            f"the KL term is off - {message}",
            lambda v=value: recon + beta * (v() if callable(v) else v),
        )
        for message, value in _kl_mistakes(mu, logvar)
        if "batch" not in message
    ]
    return [
        *_bce_mistakes(x_logits, x, extra=lambda r: r + beta * kl),
        (
            "the KL enters with the wrong sign: the loss to minimise is reconstruction + "
            "beta * KL.",
            recon - beta * kl,
        ),
        ("the KL term is missing: add beta * KL.", recon),
        ("the reconstruction term is missing: add the BCE summed over pixels.", beta * kl),
        (
            "the reconstruction is averaged over pixels and the KL over latent dimensions: "
            "sum both (pixels and latent dimensions), one value per image.",
            recon / x[0].numel() + beta * kl / mu.shape[-1],
        ),
        *_batch_mistakes(ref),
        *kl_variants,
    ]


ELBO_HINT = (
    "negative ELBO = BCE from logits summed over each image's pixels + beta * KL, per example."
)


@check("ex04", "negative_elbo: BCE summed over pixels + KL, per example", 2)
def _ex04_elbo(mod):
    negative_elbo = learner_function(mod, "negative_elbo")
    for x, x_logits, mu, logvar in _elbo_cases():
        got = negative_elbo(x.clone(), x_logits.clone(), mu.clone(), logvar.clone())
        expect_close(
            got,
            _elbo_reference(x, x_logits, mu, logvar, 1.0),
            what="negative_elbo",
            case=f"for images of shape {tuple(x.shape)} and mu of shape {tuple(mu.shape)}",
            variants=_elbo_mistakes(x, x_logits, mu, logvar, 1.0),
            hint=ELBO_HINT,
        )


@check("ex04", "negative_elbo: beta weights the KL", 1)
def _ex04_beta(mod):
    negative_elbo = learner_function(mod, "negative_elbo")
    x, x_logits, mu, logvar = _elbo_cases()[0]
    recon = losses.bernoulli_nll(x_logits, x, reduction="none")
    kl = losses.kl_divergence(mu, logvar, reduction="none")
    _needs_working(close(negative_elbo(x, x_logits, mu, logvar), recon + kl), "negative_elbo")
    for beta in (4.0, 0.0, 0.25):
        expect_close(
            negative_elbo(x, x_logits, mu, logvar, beta=beta),
            _elbo_reference(x, x_logits, mu, logvar, beta),
            what="negative_elbo",
            case=f"for beta={beta}",
            variants=[
                ("beta is ignored: multiply the KL term by beta.", recon + kl),
                (
                    "beta multiplies the reconstruction term: it weights the KL, "
                    "recon + beta * KL.",
                    beta * recon + kl,
                ),
                ("beta multiplies both terms: only the KL is weighted.", beta * (recon + kl)),
                ("the KL is divided by beta: multiply it by beta.", recon + kl / max(beta, 1e-12)),
            ],
            hint="loss = recon + beta * KL.",
        )


@check("ex04", "negative_elbo: stable for confident logits", 1)
def _ex04_elbo_stable(mod):
    negative_elbo = learner_function(mod, "negative_elbo")
    _needs_working(
        all(  # a batch of one as well as of four: a sum over the batch passes the first alone
            close(
                negative_elbo(x, x_logits, mu, logvar),
                _elbo_reference(x, x_logits, mu, logvar, 1.0),
            )
            for x, x_logits, mu, logvar in _elbo_cases()[:2]
        ),
        "negative_elbo",
    )
    x_logits, x = _extreme_logits()
    mu, logvar = _randn(2, 3, seed=60), _randn(2, 3, seed=61)
    got = as_tensor(negative_elbo(x, x_logits, mu, logvar), "negative_elbo")
    if not close(got, _elbo_reference(x, x_logits, mu, logvar, 1.0)):
        raise Mistake(UNSTABLE_BCE)


@check("ex04", "negative_elbo: gradients reach x_logits, mu, logvar; inputs unchanged", 1)
def _ex04_elbo_gradients(mod):
    negative_elbo = learner_function(mod, "negative_elbo")
    x, x_logits, mu, logvar = _elbo_cases()[0]
    copies = snapshot(x=x, x_logits=x_logits, mu=mu, logvar=logvar)
    got = negative_elbo(x, x_logits, mu, logvar)
    expect_unchanged(
        {"x": x, "x_logits": x_logits, "mu": mu, "logvar": logvar}, copies, "negative_elbo"
    )
    _needs_working(close(got, _elbo_reference(x, x_logits, mu, logvar, 1.0)), "negative_elbo")
    want_grads = weighted_grads(
        lambda x_logits, mu, logvar: _elbo_reference(x, x_logits, mu, logvar, 1.0),
        x_logits=x_logits,
        mu=mu,
        logvar=logvar,
    )
    inputs = leaves(x_logits=x_logits, mu=mu, logvar=logvar)
    expect_gradients(negative_elbo(x, **inputs), inputs, want_grads, what="negative_elbo")
