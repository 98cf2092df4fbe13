"""Exercise 05: generating images and walking through latent space (lesson 05).

Fill in both functions, then grade them from the course's folder with
``.venv/bin/vaelab grade exercises/ex05_sampling.py`` or, in the notebook,
``vaelab.grade.check("ex05")``. Stuck? ``vaelab.grade.hint("ex05")`` gives a hint for the
first failing check, a step further each time you ask.
"""

import torch


def interpolate(
    z0: torch.Tensor, z1: torch.Tensor, num_steps: int = 10, method: str = "linear"
) -> torch.Tensor:
    """Codes on a path from z0 to z1, both ends included (lesson 05, section 4).

    The codes sit at num_steps evenly spaced positions t from 0 (z0) to 1 (z1).
    "linear": the straight line between the two codes.
    "slerp": the lesson's spherical interpolation. The direction z / |z| moves along the
    great circle from z0's direction to z1's at constant angular speed, while the length
    |z| goes in a straight line from |z0| to |z1|; the code is the direction times the
    length.

    Edge cases: when z0 and z1 point the same way, the angle between them is 0 and slerp
    is the straight line: finite, no division by zero. float32 and float64 codes alike:
    the path has the codes' dtype and precision (and device).

    Args:
        z0, z1: (D,) codes.
        num_steps: number of codes on the path (>= 2), the first z0 and the last z1.
        method: "linear" or "slerp".

    Returns:
        (num_steps, D).
    """
    raise NotImplementedError(
        "TODO: compute the positions along the path, then the codes at those positions for "
        "the chosen method"
    )


def sample(model, num_samples: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """New images from a trained VAE: decode codes drawn from the prior (lesson 05, section 1).

    The prior is the standard normal N(0, I); draw the codes with the ``generator`` given
    (the same seed gives the same images), decode them with ``model.decode`` and turn the
    logits into pixel intensities. No gradients are needed.

    Edge cases: the codes follow the model. A float64 model needs float64 codes and gives
    float64 images; a model on the GPU needs codes on the GPU.

    Args:
        model: a ``vaelab.models.MLPVAE`` (or any vaelab VAE; ``model.latent_dim``).
        num_samples: number of images.
        generator: a ``torch.Generator`` for repeatable samples, or None.

    Returns:
        (num_samples, C, H, W) images in [0, 1], in the model's dtype.
    """
    raise NotImplementedError(
        "TODO: draw one code per image from the prior, decode the codes, and turn the logits "
        "into intensities"
    )


# ---- stretch: beyond the lesson (graded, its points counted apart from the exercise's 10)


def rate_in_bits(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Stretch: how much each image's code says beyond the prior, in bits.

    The rate is KL(q(z | x) || N(0, I)) of each image; in bits it reads as the length of
    the message the code sends. Codes sampled from the prior (lesson 05) carry none.

    Edge cases: any (B, D), a batch of one too; float32 or float64, kept.

    Args:
        mu: (B, D) posterior means.
        logvar: (B, D) posterior log-variances.

    Returns:
        (B,) rates in bits.
    """
    raise NotImplementedError(
        "TODO: each image's closed-form KL from the prior, converted from nats to bits"
    )
