"""Exercise 04: the ELBO, the objective a VAE maximises (lesson 04).

Fill in both functions, then grade them from the course's folder with
``.venv/bin/vaelab grade exercises/ex04_elbo.py`` or, in the notebook,
``vaelab.grade.check("ex04")``.

Both return one value per example, shape (B,): reducing over the batch is the training
loop's job, not theirs.
"""

import torch
import torch.nn.functional as F  # noqa: F401  (you will likely need it)


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, diag(exp(logvar))) || N(0, I)) per example, in closed form.

    The lesson's closed-form KL: -1/2 * sum_d (1 + logvar - mu^2 - exp(logvar)),
    summed over the latent dimensions d.

    Args:
        mu: (B, D) posterior means.
        logvar: (B, D) posterior log-variances (may be very large or very negative).

    Returns:
        (B,) KL divergences in nats, each >= 0.
    """
    raise NotImplementedError("TODO: -0.5 * (1 + logvar - mu^2 - exp(logvar)), summed over D")


def negative_elbo(
    x: torch.Tensor,
    x_logits: torch.Tensor,
    mu: torch.Tensor,
    logvar: torch.Tensor,
    beta: float = 1.0,
) -> torch.Tensor:
    """The loss to minimise: Bernoulli reconstruction loss plus beta times the KL, per example.

    Reconstruction: binary cross-entropy from the decoder's logits, summed over all pixels
    of an image. KL: as in ``kl_divergence``. beta = 1 gives the negative ELBO.

    Args:
        x: (B, C, H, W) target images in [0, 1].
        x_logits: (B, C, H, W) decoder output before the sigmoid (logits, any real number).
        mu, logvar: (B, D) the posterior's parameters.
        beta: weight of the KL term.

    Returns:
        (B,) losses in nats.
    """
    raise NotImplementedError("TODO: BCE from logits summed over pixels + beta * KL")
