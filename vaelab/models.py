"""Autoencoders and VAEs for (C, H, W) images: MLP and convolutional, each with a typed config.

Decoders return ``x_logits``; the sigmoid is applied by the loss (stable) or by
``sample`` / ``reconstruct`` when you want images.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Literal, NamedTuple

import torch
from torch import nn

from vaelab.checks import check_images, check_latent
from vaelab.losses import reparameterize

__all__ = [
    "AEOutput",
    "ConvAutoencoder",
    "ConvConfig",
    "ConvVAE",
    "MLPAutoencoder",
    "MLPConfig",
    "MLPVAE",
    "UpsampleConvConfig",
    "UpsampleConvVAE",
    "VAEOutput",
    "build",
    "conv_config_for",
]


class VAEOutput(NamedTuple):
    x_logits: torch.Tensor  # (B, C, H, W)
    mu: torch.Tensor  # (B, D)
    logvar: torch.Tensor  # (B, D)
    z: torch.Tensor  # (B, D)


class AEOutput(NamedTuple):
    x_logits: torch.Tensor  # (B, C, H, W)
    z: torch.Tensor  # (B, D)


@dataclass
class MLPConfig:
    """MLP: image -> hidden_dim -> latent_dim (-> hidden_dim -> image)."""

    image_shape: tuple[int, int, int] = (1, 28, 28)
    hidden_dim: int = 400
    latent_dim: int = 20


@dataclass
class ConvConfig:
    """Conv: one stride-2 conv layer per entry of ``channels`` (3 by default), a linear
    bottleneck, a mirrored decoder. ``conv_config_for`` sizes it for larger images."""

    image_shape: tuple[int, int, int] = (1, 28, 28)
    channels: tuple[int, ...] = (32, 64, 128)
    latent_dim: int = 20
    decoder: Literal["transposed", "upsample"] = "transposed"


def _conv_sizes(size: int, layers: int = 3) -> list[int]:
    """Spatial sizes after each 3x3 stride-2 padding-1 conv: 28 -> [28, 14, 7, 4]."""
    sizes = [size]
    for _ in range(layers):
        sizes.append((sizes[-1] - 1) // 2 + 1)
    return sizes


class _Base(nn.Module):
    config: MLPConfig | ConvConfig
    config_class: type = MLPConfig

    def __init__(self, config=None, **overrides):
        super().__init__()
        config = replace(config or self.config_class(), **overrides)
        config.image_shape = tuple(int(s) for s in config.image_shape)
        if hasattr(config, "channels"):
            config.channels = tuple(int(c) for c in config.channels)
        if config.latent_dim < 1:
            raise ValueError(f"latent_dim must be >= 1, got {config.latent_dim}")
        self.config = config
        self.check_inputs = True  # fit() turns this off after checking the whole dataset once

    @property
    def latent_dim(self) -> int:
        return self.config.latent_dim

    def spec(self) -> dict:
        """Plain-data description that ``build`` turns back into the same architecture."""
        return {"name": type(self).__name__, "config": asdict(self.config)}

    def _check(self, x: torch.Tensor) -> None:
        if self.check_inputs:
            check_images(x, self.config.image_shape)

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Map latent codes z (B, D) to x_logits (B, C, H, W); no sigmoid."""
        if self.check_inputs:
            check_latent(z, self.latent_dim)
        return self.decoder(z)

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Images (B, C, H, W) in [0, 1] decoded from x's code (for a VAE, the posterior mean)."""
        code = self.encode(x)
        if isinstance(code, tuple):
            code = code[0]
        return torch.sigmoid(self.decode(code))


class _Autoencoder(_Base):
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Map images x (B, C, H, W) in [0, 1] to codes z (B, D)."""
        self._check(x)
        return self.to_z(self._features(x))

    def forward(self, x: torch.Tensor) -> AEOutput:
        z = self.encode(x)
        return AEOutput(self.decoder(z), z)


class _VAE(_Base):
    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Map images x (B, C, H, W) in [0, 1] to the posterior's mu and logvar, each (B, D)."""
        self._check(x)
        h = self._features(x)
        return self.to_mu(h), self.to_logvar(h)

    def forward(
        self,
        x: torch.Tensor,
        *,
        eps: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> VAEOutput:
        """Encode, draw z = mu + sigma * eps, decode; ``eps`` or ``generator`` repeat a draw."""
        mu, logvar = self.encode(x)
        z = reparameterize(mu, logvar, eps=eps, generator=generator)
        return VAEOutput(self.decoder(z), mu, logvar, z)

    @torch.no_grad()
    def sample(self, num_samples: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """Decode z ~ N(0, I): images (num_samples, C, H, W) in [0, 1] (Bernoulli means)."""
        param = next(self.parameters())
        gen_device = generator.device if generator is not None else param.device
        z = torch.randn(num_samples, self.latent_dim, generator=generator, device=gen_device)
        return torch.sigmoid(self.decoder(z.to(device=param.device, dtype=param.dtype)))


class _MLPParts:
    config_class = MLPConfig

    def _build(self) -> tuple[int, int]:
        c = self.config
        pixels = math.prod(c.image_shape)
        self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(pixels, c.hidden_dim), nn.ReLU())
        self.decoder = nn.Sequential(
            nn.Linear(c.latent_dim, c.hidden_dim),
            nn.ReLU(),
            nn.Linear(c.hidden_dim, pixels),
            nn.Unflatten(1, c.image_shape),  # (B, C*H*W) -> (B, C, H, W)
        )
        return c.hidden_dim, c.latent_dim

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)  # (B, hidden_dim)


class _ConvParts:
    config_class = ConvConfig

    def _build(self) -> tuple[int, int]:
        c = self.config
        in_ch, height, width = c.image_shape
        layers = len(c.channels)
        hs, ws = _conv_sizes(height, layers), _conv_sizes(width, layers)  # e.g. [28, 14, 7, 4]
        chans = (in_ch, *c.channels)
        enc = []
        for i in range(layers):
            enc += [nn.Conv2d(chans[i], chans[i + 1], 3, stride=2, padding=1), nn.ReLU()]
        self.encoder = nn.Sequential(*enc, nn.Flatten())  # (B, channels[-1] * 4 * 4)
        flat = chans[-1] * hs[-1] * ws[-1]
        dec: list[nn.Module] = [
            nn.Linear(c.latent_dim, flat),
            nn.ReLU(),
            nn.Unflatten(1, (chans[-1], hs[-1], ws[-1])),  # (B, flat) -> (B, 128, 4, 4)
        ]
        for i in range(layers, 0, -1):  # 4 -> 7 -> 14 -> 28
            target = (hs[i - 1], ws[i - 1])
            if c.decoder == "transposed":
                pad = (target[0] - (2 * hs[i] - 1), target[1] - (2 * ws[i] - 1))
                dec.append(
                    nn.ConvTranspose2d(
                        chans[i], chans[i - 1], 3, stride=2, padding=1, output_padding=pad
                    )
                )
            elif c.decoder == "upsample":
                dec += [
                    nn.Upsample(size=target, mode="nearest"),
                    nn.Conv2d(chans[i], chans[i - 1], 3, padding=1),
                ]
            else:
                raise ValueError(f"decoder must be 'transposed' or 'upsample', got {c.decoder!r}")
            if i > 1:
                dec.append(nn.ReLU())
        self.decoder = nn.Sequential(*dec)
        return flat, c.latent_dim

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)  # (B, flat)


class MLPAutoencoder(_MLPParts, _Autoencoder):
    """Plain MLP autoencoder: x -> z (a point) -> x_logits."""

    def __init__(self, config: MLPConfig | None = None, **overrides):
        super().__init__(config, **overrides)
        features, latent = self._build()
        self.to_z = nn.Linear(features, latent)


class MLPVAE(_MLPParts, _VAE):
    """MLP VAE, by default 784 -> 400 -> (mu, logvar: 20 each) -> 400 -> 784."""

    def __init__(self, config: MLPConfig | None = None, **overrides):
        super().__init__(config, **overrides)
        features, latent = self._build()
        self.to_mu = nn.Linear(features, latent)
        self.to_logvar = nn.Linear(features, latent)


class ConvAutoencoder(_ConvParts, _Autoencoder):
    """Conv autoencoder with the same layers as ``ConvVAE``, a point code instead of a posterior."""

    def __init__(self, config: ConvConfig | None = None, **overrides):
        super().__init__(config, **overrides)
        features, latent = self._build()
        self.to_z = nn.Linear(features, latent)


class ConvVAE(_ConvParts, _VAE):
    """Conv VAE: 3 conv layers, linear to_mu / to_logvar, 3 transposed-conv layers."""

    def __init__(self, config: ConvConfig | None = None, **overrides):
        super().__init__(config, **overrides)
        features, latent = self._build()
        self.to_mu = nn.Linear(features, latent)
        self.to_logvar = nn.Linear(features, latent)


def conv_config_for(
    image_shape: tuple[int, int, int],
    *,
    latent_dim: int = 20,
    decoder: Literal["transposed", "upsample"] = "transposed",
) -> ConvConfig:
    """A ConvConfig deep enough for the image: stride-2 layers until the feature map is at
    most 4x4, with channels doubling from 32 up to 512.

    28x28 and 32x32 get the default 3 layers (32, 64, 128); 64x64 gets 4 (32, 64, 128, 256),
    a 4x4x256 map before the bottleneck; 128x128 gets 5.

    Args:
        image_shape: (C, H, W) of the images.
        latent_dim: size of z.
        decoder: "transposed" or "upsample".
    """
    layers = 3
    while _conv_sizes(max(image_shape[1:]), layers)[-1] > 4:
        layers += 1
    channels = tuple(min(512, 32 * 2**i) for i in range(layers))
    return ConvConfig(
        image_shape=tuple(image_shape), channels=channels, latent_dim=latent_dim, decoder=decoder
    )


@dataclass
class UpsampleConvConfig(ConvConfig):
    """ConvConfig whose decoder upsamples (nearest) then convolves, avoiding checkerboards."""

    decoder: Literal["transposed", "upsample"] = field(default="upsample")


class UpsampleConvVAE(ConvVAE):
    """Conv VAE whose decoder is upsample + conv instead of transposed convs."""

    config_class = UpsampleConvConfig


MODEL_CLASSES = {
    cls.__name__: cls for cls in (MLPAutoencoder, MLPVAE, ConvAutoencoder, ConvVAE, UpsampleConvVAE)
}


def build(spec: dict) -> nn.Module:
    """Rebuild a model from ``model.spec()`` (as stored in a checkpoint)."""
    name = spec.get("name")
    if name not in MODEL_CLASSES:
        raise ValueError(f"unknown model {name!r}; expected one of {sorted(MODEL_CLASSES)}")
    cls = MODEL_CLASSES[name]
    config = dict(spec.get("config", {}))
    for key in ("image_shape", "channels"):
        if key in config:
            config[key] = tuple(config[key])
    return cls(cls.config_class(**config))
