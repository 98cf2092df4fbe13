"""Exercise 05: generating images and walking through latent space (lesson 05).

Fill in both functions, then grade them from the course's folder with
``.venv/bin/vaelab grade exercises/ex05_sampling.py`` or, in the notebook,
``vaelab.grade.check("ex05")``.
"""

import torch


def interpolate(
    z0: torch.Tensor, z1: torch.Tensor, num_steps: int = 10, method: str = "linear"
) -> torch.Tensor:
    """Codes on a path from z0 to z1, both ends included, at evenly spaced t in [0, 1].

    "linear": the straight line (1 - t) * z0 + t * z1.
    "slerp": the lesson's spherical interpolation: the direction moves along the great
    circle from z0 / |z0| to z1 / |z1| (sin((1 - t) w) u0 + sin(t w) u1) / sin(w), with w the
    angle between them, and the norm goes linearly from |z0| to |z1|.

    Args:
        z0, z1: (D,) codes.
        num_steps: number of codes on the path (>= 2), the first z0 and the last z1.
        method: "linear" or "slerp".

    Returns:
        (num_steps, D).
    """
    raise NotImplementedError("TODO: t = torch.linspace(0, 1, num_steps), then the path")


def sample(model, num_samples: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """New images from a trained VAE: decode z drawn from the prior N(0, I).

    Draw z of shape (num_samples, model.latent_dim) with ``torch.randn(...,
    generator=generator)``, decode it with ``model.decode``, and turn the logits into
    pixel intensities with the sigmoid. No gradients are needed.

    Args:
        model: a ``vaelab.models.MLPVAE`` (or any vaelab VAE).
        num_samples: number of images.
        generator: a ``torch.Generator`` for repeatable samples, or None.

    Returns:
        (num_samples, C, H, W) images in [0, 1].
    """
    raise NotImplementedError("TODO: z ~ N(0, I), decode, sigmoid")
