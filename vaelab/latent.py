"""Working in latent space: encoding a dataset, sampling, interpolating between codes."""

from __future__ import annotations

import torch

from vaelab.data import batches

__all__ = ["encode_dataset", "interpolate", "sample", "slerp"]


@torch.no_grad()
def encode_dataset(model, x: torch.Tensor, *, batch_size: int = 1000):
    """Encode a whole dataset in batches, in eval mode.

    Args:
        model: a VAE (returns ``(mu, logvar)``, each (N, D)) or an autoencoder (returns z (N, D)).
        x: (N, C, H, W) images in [0, 1], on the model's device.
    """
    was_training = model.training
    model.eval()
    try:
        parts = [model.encode(xb) for xb in batches(x, batch_size=batch_size)]
    finally:
        model.train(was_training)
    if isinstance(parts[0], tuple):
        return tuple(torch.cat(p) for p in zip(*parts, strict=True))
    return torch.cat(parts)


def sample(model, num_samples: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """New images: decode codes drawn from the prior N(0, I) (exercise 05's ``sample``).

    For a VAE this is ``model.sample``. A plain autoencoder has no prior and no ``sample``;
    its decoder is given the same draws, so that lesson 05 can show what that gives (the same
    generator seed draws the same codes for both).

    Args:
        model: a vaelab VAE or autoencoder; codes z ~ N(0, I) of ``model.latent_dim``
            dimensions are decoded.
        num_samples: number of images.
        generator: for repeatable samples; the same seed gives the same images.

    Returns:
        (num_samples, C, H, W) pixel intensities (Bernoulli means) in [0, 1].
    """
    with torch.no_grad():
        if hasattr(model, "sample"):
            return model.sample(num_samples, generator=generator)
        param = next(model.parameters())
        gen_device = generator.device if generator is not None else param.device
        z = torch.randn(num_samples, model.latent_dim, generator=generator, device=gen_device)
        return torch.sigmoid(model.decode(z.to(device=param.device, dtype=param.dtype)))


def slerp(z0: torch.Tensor, z1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation: move along the great circle between z0 and z1, interpolating
    the norm linearly, so a path between typical codes keeps a typical radius.

    Args:
        z0, z1: (D,) codes.
        t: (T,) positions in [0, 1].

    Returns:
        (T, D).
    """
    n0, n1 = z0.norm(), z1.norm()
    u0, u1 = z0 / n0, z1 / n1
    omega = torch.arccos(torch.clamp((u0 * u1).sum(), -1.0, 1.0))  # angle between the codes
    t = t[:, None]  # (T, 1)
    if omega.abs() < 1e-6:  # (nearly) parallel: the direction does not change
        direction = u0.expand(len(t), -1)
    else:
        direction = (torch.sin((1 - t) * omega) * u0 + torch.sin(t * omega) * u1) / torch.sin(omega)
    return direction * ((1 - t) * n0 + t * n1)


def interpolate(
    z0: torch.Tensor, z1: torch.Tensor, *, num_steps: int = 10, method: str = "linear"
) -> torch.Tensor:
    """Codes on a path from z0 to z1, both ends included.

    Args:
        z0, z1: (D,) codes.
        num_steps: points on the path (>= 2).
        method: "linear" (a straight line) or "slerp" (a great circle).

    Returns:
        (num_steps, D).
    """
    if z0.shape != z1.shape or z0.dim() != 1:
        raise ValueError(
            f"expected two codes of shape (D,), got {tuple(z0.shape)} and {tuple(z1.shape)}"
        )
    if num_steps < 2:
        raise ValueError(f"num_steps must be >= 2 to include both ends, got {num_steps}")
    t = torch.linspace(0.0, 1.0, num_steps, device=z0.device, dtype=z0.dtype)
    if method == "linear":
        return torch.lerp(z0.expand(num_steps, -1), z1.expand(num_steps, -1), t[:, None])
    if method == "slerp":
        return slerp(z0, z1, t)
    raise ValueError(f"method must be 'linear' or 'slerp', got {method!r}")
