"""Autoencoders and VAEs for (C, H, W) images: MLP and convolutional, each with a typed config.

Decoders return ``x_logits``; the sigmoid is applied by the loss (stable) or by
``sample`` / ``reconstruct`` when you want images.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Literal, NamedTuple

import torch
import torch.nn.functional as F
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
    "MaskedConv2d",
    "PixelCNNConfig",
    "PixelCNNDecoder",
    "PixelCNNVAE",
    "UpsampleConvConfig",
    "UpsampleConvVAE",
    "VAEOutput",
    "build",
    "causal_mask",
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


# ------------------------------------------------------------ autoregressive (PixelCNN) decoder


def causal_mask(kernel_size: int, mask_type: str) -> torch.Tensor:
    """The 0/1 mask a masked convolution multiplies its (kernel_size, kernel_size) weights by.

    Pixels are ordered row by row, left to right (raster order). The mask keeps the rows above
    the centre and the pixels left of the centre in its row; type "A" (first layer: the output
    at pixel i must not see input pixel i) excludes the centre, type "B" (later layers, whose
    input at pixel i already depends only on pixels before i) includes it.

    Args:
        kernel_size: odd, >= 1.
        mask_type: "A" or "B".

    Returns:
        (kernel_size, kernel_size) float tensor of 0s and 1s.
    """
    if not isinstance(kernel_size, int) or kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(
            f"kernel_size must be an odd int >= 1 (a centre pixel), got {kernel_size!r}"
        )
    if mask_type not in ("A", "B"):
        raise ValueError(f"mask_type must be 'A' (first layer) or 'B' (later), got {mask_type!r}")
    centre = kernel_size // 2
    mask = torch.zeros(kernel_size, kernel_size)
    mask[:centre, :] = 1.0  # every row above the centre
    mask[centre, :centre] = 1.0  # left of the centre in its row
    if mask_type == "B":
        mask[centre, centre] = 1.0
    return mask


class MaskedConv2d(nn.Conv2d):
    """A same-size convolution whose weights are multiplied by ``causal_mask`` at every call.

    The output at pixel i depends only on input pixels before i (type "A") or up to and
    including i (type "B"), in raster order, in every channel.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, *, mask_type: str):
        super().__init__(in_channels, out_channels, kernel_size, padding=kernel_size // 2)
        self.mask_type = mask_type
        self.register_buffer("mask", causal_mask(kernel_size, mask_type), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)


@dataclass
class PixelCNNConfig:
    """MLP encoder; decoder: masked convs over the image (type A, then B), conditioned on z.

    The receptive field of the decoder (which earlier pixels it sees) grows with
    ``kernel_size`` (the first layer's) and ``num_layers``; with ``num_layers=1`` and
    ``kernel_size=3`` it sees only the 4 neighbours above and to the left.
    """

    image_shape: tuple[int, int, int] = (1, 28, 28)
    hidden_dim: int = 400  # encoder MLP width, and width of the z -> feature map MLP
    latent_dim: int = 20
    num_layers: int = 4  # masked conv layers: one of type A, then num_layers - 1 of type B
    hidden_channels: int = 32  # channels of every masked layer
    kernel_size: int = 7  # first layer (type A)
    hidden_kernel_size: int = 3  # later layers (type B)
    cond_channels: int = 4  # channels of the feature map decoded from z
    conditioning: Literal["spatial", "global"] = "spatial"  # z -> (H, W) map, or one vector

    def receptive_rows(self) -> int:
        """How many rows above a pixel the decoder can see."""
        return self.kernel_size // 2 + (self.num_layers - 1) * (self.hidden_kernel_size // 2)


class PixelCNNDecoder(nn.Module):
    """p(x | z) = prod_i p(x_i | x_<i, z): masked convs over x plus a feature map decoded from z.

    ``forward(z, x)`` gives every pixel's logit from the pixels before it (teacher forcing:
    one pass for all pixels); drawing an image takes one pass per pixel (``sample``).
    """

    def __init__(self, config: PixelCNNConfig):
        super().__init__()
        c = config
        in_ch, height, width = c.image_shape
        if c.conditioning not in ("spatial", "global"):
            raise ValueError(f"conditioning must be 'spatial' or 'global', got {c.conditioning!r}")
        # spatial: a feature map the size of the image; global: one vector for every pixel
        map_h, map_w = (height, width) if c.conditioning == "spatial" else (1, 1)
        self.from_z = nn.Sequential(
            nn.Linear(c.latent_dim, c.hidden_dim),
            nn.ReLU(),
            nn.Linear(c.hidden_dim, c.cond_channels * map_h * map_w),
            nn.Unflatten(1, (c.cond_channels, map_h, map_w)),  # (B, cond_channels, H, W or 1, 1)
        )
        layers = [MaskedConv2d(in_ch, c.hidden_channels, c.kernel_size, mask_type="A")]
        for _ in range(c.num_layers - 1):
            layers.append(
                MaskedConv2d(
                    c.hidden_channels, c.hidden_channels, c.hidden_kernel_size, mask_type="B"
                )
            )
        self.layers = nn.ModuleList(layers)
        # z's feature map enters every layer through a 1x1 conv (it does not depend on x,
        # so it needs no mask)
        self.cond = nn.ModuleList(
            nn.Conv2d(c.cond_channels, c.hidden_channels, 1) for _ in range(c.num_layers)
        )
        self.to_logits = nn.Conv2d(c.hidden_channels, in_ch, 1)  # per pixel: keeps causality

    def forward(self, z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """x_logits (B, C, H, W) of every pixel given z (B, D) and the pixels before it in x."""
        return self.logits(self.condition(z), x)

    def condition(self, z: torch.Tensor) -> list[torch.Tensor]:
        """What z adds to each masked layer: (B, hidden_channels, H, W) maps, or (..., 1, 1)
        vectors with global conditioning. They do not depend on x: sampling computes them once.
        """
        cond = self.from_z(z)  # (B, cond_channels, H, W) or (B, cond_channels, 1, 1)
        return [from_cond(cond) for from_cond in self.cond]

    def logits(self, terms: list[torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        """x_logits from x (B, C, H', W') and ``condition(z)`` (cropped to the same rows)."""
        h = x
        for layer, term in zip(self.layers, terms, strict=True):
            h = torch.relu(layer(h) + term)  # (B, hidden_channels, H', W')
        return self.to_logits(h)


class PixelCNNVAE(_VAE):
    """VAE with an MLP encoder and an autoregressive PixelCNN decoder p(x_i | x_<i, z)."""

    config_class = PixelCNNConfig
    autoregressive = True  # decode(z, x) scores x; losses.iwae_bound reads this

    def __init__(self, config: PixelCNNConfig | None = None, **overrides):
        super().__init__(config, **overrides)
        c = self.config
        if c.num_layers < 1:
            raise ValueError(f"num_layers must be >= 1 (the type-A layer), got {c.num_layers}")
        for name in ("kernel_size", "hidden_kernel_size"):
            size = getattr(c, name)
            if size < 1 or size % 2 == 0:
                raise ValueError(f"{name} must be odd and >= 1, got {size}")
        pixels = math.prod(c.image_shape)
        self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(pixels, c.hidden_dim), nn.ReLU())
        self.to_mu = nn.Linear(c.hidden_dim, c.latent_dim)
        self.to_logvar = nn.Linear(c.hidden_dim, c.latent_dim)
        self.decoder = PixelCNNDecoder(c)

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)  # (B, hidden_dim)

    def decode(self, z: torch.Tensor, x: torch.Tensor | None = None) -> torch.Tensor:
        """x_logits (B, C, H, W): each pixel's logit given z (B, D) and x's earlier pixels.

        An autoregressive decoder scores an image it is given; it needs ``x``. To draw new
        images use ``sample``.
        """
        if x is None:
            raise ValueError(
                "an autoregressive decoder needs the image it scores: decode(z, x), each "
                "pixel's logit given the pixels before it; to draw images use sample()"
            )
        if self.check_inputs:
            check_latent(z, self.latent_dim)
            self._check(x)
        return self.decoder(z, x)

    def forward(
        self,
        x: torch.Tensor,
        *,
        eps: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> VAEOutput:
        """Encode, draw z = mu + sigma * eps, score x's pixels given z and the earlier pixels."""
        mu, logvar = self.encode(x)
        z = reparameterize(mu, logvar, eps=eps, generator=generator)
        return VAEOutput(self.decoder(z, x), mu, logvar, z)

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Each pixel's probability (B, C, H, W) given mu(x) and x's true earlier pixels.

        Not an image drawn from the code alone: the decoder sees x's own pixels before each one.
        """
        mu, _ = self.encode(x)
        return torch.sigmoid(self.decode(mu, x))

    @torch.no_grad()
    def sample(
        self,
        num_samples: int,
        *,
        z: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Draw 0/1 images (num_samples, C, H, W) pixel by pixel, in raster order.

        One decoder pass per pixel (H * W passes, one after another): each pixel is drawn from
        its Bernoulli given z and the pixels drawn before it. Each pass covers only the rows
        the decoder can see from the current row (``config.receptive_rows()``).

        Args:
            num_samples: images to draw.
            z: (num_samples, D) codes; default z ~ N(0, I).
            generator: for repeatable draws (on the model's device).
        """
        param = next(self.parameters())
        gen_device = generator.device if generator is not None else param.device
        if z is None:
            z = torch.randn(num_samples, self.latent_dim, generator=generator, device=gen_device)
        check_latent(z, self.latent_dim)
        if len(z) != num_samples:
            raise ValueError(f"z must hold num_samples={num_samples} codes, got {len(z)}")
        z = z.to(device=param.device, dtype=param.dtype)
        _, height, width = self.config.image_shape
        x = torch.zeros(num_samples, *self.config.image_shape, device=param.device)
        x = x.to(param.dtype)
        terms = self.decoder.condition(z)  # z's part does not change from pixel to pixel
        reach = self.config.receptive_rows()
        for row in range(height):
            # The logits of this row depend on the rows up to `reach` above it and no others, so
            # a crop of those rows gives the same logits as the whole image, for less work.
            rows = slice(max(0, row - reach), row + 1)
            cropped = [t[:, :, rows] if t.shape[-2] > 1 else t for t in terms]
            for col in range(width):
                logits = self.decoder.logits(cropped, x[:, :, rows])[:, :, -1, col]  # (N, C)
                noise = torch.rand(logits.shape, generator=generator, device=gen_device)
                x[:, :, row, col] = (noise.to(logits) < torch.sigmoid(logits)).to(x.dtype)
        return x


MODEL_CLASSES[PixelCNNVAE.__name__] = PixelCNNVAE
