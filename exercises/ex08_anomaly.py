"""Exercise 08: anomaly detection with a VAE (lesson 08).

Fill in the three functions, then grade them from the course's folder with
``.venv/bin/vaelab grade exercises/ex08_anomaly.py`` or, in the notebook,
``vaelab.grade.check("ex08")``.

Each returns one score per image, higher meaning "more unusual", computed without
randomness: use the posterior mean mu as the code (no sampling) and no gradients.
``model`` is a ``vaelab.models.MLPVAE`` (``model.encode(x)`` gives ``(mu, logvar)``,
``model.decode(z)`` gives ``x_logits``).
"""

import torch
import torch.nn.functional as F  # noqa: F401  (you will likely need it)


def reconstruction_score(model, x: torch.Tensor) -> torch.Tensor:
    """Reconstruction error: BCE between x and the decoding of its posterior mean.

    Decode z = mu (not a sample) and sum the binary cross-entropy from logits over the
    pixels of each image.

    Args:
        model: a VAE.
        x: (B, C, H, W) images in [0, 1].

    Returns:
        (B,) scores in nats.
    """
    raise NotImplementedError("TODO: mu from model.encode, decode mu, BCE from logits per image")


def latent_score(model, x: torch.Tensor) -> torch.Tensor:
    """Latent (un)likelihood: -log N(mu; 0, I), how far the code lies from the prior's bulk.

    The lesson's formula: 1/2 * sum_d (mu_d^2 + log(2 pi)), summed over the latent
    dimensions.

    Args:
        model: a VAE.
        x: (B, C, H, W) images in [0, 1].

    Returns:
        (B,) scores in nats.
    """
    raise NotImplementedError("TODO: 0.5 * (mu^2 + log(2 pi)) summed over the latent dims")


def anomaly_score(model, x: torch.Tensor, beta: float = 1.0) -> torch.Tensor:
    """Negative ELBO at the posterior mean: reconstruction_score + beta * KL(q(z|x) || N(0, I)).

    Args:
        model: a VAE.
        x: (B, C, H, W) images in [0, 1].
        beta: weight of the KL term.

    Returns:
        (B,) scores in nats.
    """
    raise NotImplementedError("TODO: reconstruction score + beta * closed-form KL")
