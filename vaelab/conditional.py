"""A class-conditional VAE: the label y is given to the encoder and to the decoder.

The encoder sees [x, one_hot(y)] and the decoder sees [z, one_hot(y)], so the latent z
only has to store what the label does not say (slant, thickness, style). To draw a chosen
digit, pick y and sample z from the prior: ``ConditionalVAE().sample(16, y=7)``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn

from vaelab.checks import check_images, check_latent
from vaelab.losses import reparameterize
from vaelab.models import VAEOutput

__all__ = ["ConditionalConfig", "ConditionalVAE", "one_hot"]


@dataclass
class ConditionalConfig:
    """MLP: [x, one-hot y] -> hidden_dim -> latent_dim; [z, one-hot y] -> hidden_dim -> x."""

    image_shape: tuple[int, int, int] = (1, 28, 28)
    num_classes: int = 10
    hidden_dim: int = 400
    latent_dim: int = 20


def one_hot(
    y: torch.Tensor, num_classes: int, *, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """Labels as one-hot rows: integer (B,) -> (B, num_classes); a float (B, num_classes) passes.

    Args:
        y: (B,) integer class labels in [0, num_classes), or (B, num_classes) one-hot rows.
        num_classes: number of classes.
    """
    if y.dim() == 2 and y.is_floating_point():
        if y.shape[1] != num_classes:
            raise ValueError(
                f"expected one-hot y of shape (B, {num_classes}), got {tuple(y.shape)}"
            )
        return y.to(dtype)
    if y.dim() != 1 or y.is_floating_point() or y.dtype == torch.bool:
        raise ValueError(
            f"expected y as integer labels of shape (B,) or one-hot floats (B, {num_classes}), "
            f"got {tuple(y.shape)} {str(y.dtype).replace('torch.', '')}"
        )
    if y.numel() and (int(y.min()) < 0 or int(y.max()) >= num_classes):
        raise ValueError(
            f"labels must be in 0..{num_classes - 1}, got values in "
            f"[{int(y.min())}, {int(y.max())}]"
        )
    return F.one_hot(y.long(), num_classes).to(dtype)


class ConditionalVAE(nn.Module):
    """MLP VAE conditioned on a class label: q(z | x, y) and p(x | z, y), prior p(z) = N(0, I)."""

    def __init__(self, config: ConditionalConfig | None = None, **overrides):
        super().__init__()
        config = replace(config or ConditionalConfig(), **overrides)
        config.image_shape = tuple(int(s) for s in config.image_shape)
        if config.latent_dim < 1 or config.num_classes < 1:
            raise ValueError(
                f"latent_dim and num_classes must be >= 1, got {config.latent_dim} and "
                f"{config.num_classes}"
            )
        self.config = config
        self.check_inputs = True
        pixels = math.prod(config.image_shape)
        k, h, d = config.num_classes, config.hidden_dim, config.latent_dim
        self.encoder = nn.Sequential(nn.Linear(pixels + k, h), nn.ReLU())
        self.to_mu = nn.Linear(h, d)
        self.to_logvar = nn.Linear(h, d)
        self.decoder = nn.Sequential(
            nn.Linear(d + k, h),
            nn.ReLU(),
            nn.Linear(h, pixels),
            nn.Unflatten(1, config.image_shape),  # (B, C*H*W) -> (B, C, H, W)
        )

    @property
    def latent_dim(self) -> int:
        return self.config.latent_dim

    def spec(self) -> dict:
        """Plain-data description of the architecture."""
        return {"name": type(self).__name__, "config": asdict(self.config)}

    def _labels(self, y: torch.Tensor, batch: int, like: torch.Tensor) -> torch.Tensor:
        y1 = one_hot(y.to(like.device), self.config.num_classes, dtype=like.dtype)  # (B, K)
        if y1.shape[0] != batch:
            raise ValueError(f"need one label per example: {batch} examples, {y1.shape[0]} labels")
        return y1

    def encode(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Images x (B, C, H, W) in [0, 1] and labels y (B,) -> mu, logvar, each (B, D)."""
        if self.check_inputs:
            check_images(x, self.config.image_shape)
        y1 = self._labels(y, len(x), x)
        h = self.encoder(torch.cat([x.flatten(1), y1], dim=1))  # (B, C*H*W + K) -> (B, hidden)
        return self.to_mu(h), self.to_logvar(h)

    def decode(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Codes z (B, D) and labels y (B,) -> x_logits (B, C, H, W); no sigmoid."""
        if self.check_inputs:
            check_latent(z, self.latent_dim)
        y1 = self._labels(y, len(z), z)
        return self.decoder(torch.cat([z, y1], dim=1))  # (B, D + K) -> (B, C, H, W)

    def forward(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        *,
        eps: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> VAEOutput:
        """Encode (x, y), draw z = mu + sigma * eps, decode (z, y); use with ``losses.elbo``."""
        mu, logvar = self.encode(x, y)
        z = reparameterize(mu, logvar, eps=eps, generator=generator)
        return VAEOutput(self.decode(z, y), mu, logvar, z)

    @torch.no_grad()
    def sample(
        self,
        num_samples: int,
        y: int | torch.Tensor,
        *,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Draw images of chosen classes: z ~ N(0, I), decoded with label y.

        Args:
            num_samples: how many images.
            y: one class for all of them (an int), or (num_samples,) labels.
            generator: for repeatable draws.

        Returns:
            (num_samples, C, H, W) images in [0, 1] (Bernoulli means).
        """
        param = next(self.parameters())
        if isinstance(y, int):
            y = torch.full((num_samples,), y, dtype=torch.long)
        gen_device = generator.device if generator is not None else param.device
        z = torch.randn(num_samples, self.latent_dim, generator=generator, device=gen_device)
        z = z.to(device=param.device, dtype=param.dtype)  # (num_samples, D)
        return torch.sigmoid(self.decode(z, y))

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Images (B, C, H, W) in [0, 1] decoded from the posterior mean of (x, y)."""
        mu, _ = self.encode(x, y)
        return torch.sigmoid(self.decode(mu, y))
