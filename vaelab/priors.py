"""Priors p(z) for VAEs: the standard normal, a learned mixture of Gaussians, the VampPrior.

Each prior is an ``nn.Module`` with ``log_prob(z)``, the log-density in nats of codes z
(..., D) -> (...), and ``sample(num_samples, generator=...)`` -> (num_samples, D). Give one
to ``losses.elbo(..., prior=prior)`` and ``losses.iwae_bound(..., prior=prior)``; the KL is
then estimated by Monte Carlo, log q(z|x) - log p(z) at the sampled z. To train a learned
prior with its VAE, make it part of the model (``model.prior = prior``): its parameters are
then among ``model.parameters()``, which is what an optimiser is given.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from vaelab.checks import check_images
from vaelab.losses import log_normal, log_standard_normal

__all__ = [
    "MixtureOfGaussians",
    "StandardNormal",
    "VampPrior",
    "log_mixture_density",
    "mixture_responsibilities",
]

Encode = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


def _check_codes(z: torch.Tensor, latent_dim: int) -> None:
    if not isinstance(z, torch.Tensor) or not z.is_floating_point():
        got = type(z).__name__ if not isinstance(z, torch.Tensor) else str(z.dtype)
        raise ValueError(f"expected codes z as a float tensor (..., {latent_dim}), got {got}")
    if z.dim() < 1 or z.shape[-1] != latent_dim:
        raise ValueError(
            f"expected codes z of shape (..., {latent_dim}), got {tuple(z.shape)}: the last "
            "dimension is the latent one"
        )


def log_mixture_density(
    z: torch.Tensor, means: torch.Tensor, logvars: torch.Tensor, logits: torch.Tensor
) -> torch.Tensor:
    """log sum_k pi_k N(z; means_k, diag(exp(logvars_k))), with pi = softmax(logits).

    Computed as a logsumexp over components, so codes far from every component give a
    large negative number instead of log(0) = -inf.

    Args:
        z: (..., D) codes.
        means, logvars: (K, D) component means and log-variances.
        logits: (K,) unnormalised mixture weights.

    Returns:
        (...,) log-densities in nats.
    """
    if means.dim() != 2 or means.shape != logvars.shape or logits.shape != means.shape[:1]:
        raise ValueError(
            f"expected means and logvars of shape (K, D) and logits (K,), got "
            f"{tuple(means.shape)}, {tuple(logvars.shape)} and {tuple(logits.shape)}"
        )
    _check_codes(z, means.shape[1])
    log_components = log_normal(z.unsqueeze(-2), means, logvars)  # (..., K)
    log_weights = F.log_softmax(logits, dim=-1)  # (K,) log pi_k, summing to 1 in probability
    return torch.logsumexp(log_components + log_weights, dim=-1)


def _sample_mixture(
    num_samples: int,
    means: torch.Tensor,
    logvars: torch.Tensor,
    logits: torch.Tensor,
    generator: torch.Generator | None,
) -> torch.Tensor:
    """Pick a component k ~ softmax(logits) per sample, then z ~ N(means_k, exp(logvars_k))."""
    device = generator.device if generator is not None else means.device
    probs = F.softmax(logits.detach(), dim=-1).to(device)
    k = torch.multinomial(probs, num_samples, replacement=True, generator=generator)  # (N,)
    eps = torch.randn(num_samples, means.shape[1], generator=generator, device=device)
    k, eps = k.to(means.device), eps.to(means)
    return means[k] + torch.exp(0.5 * logvars[k]) * eps  # (N, D)


class StandardNormal(nn.Module):
    """p(z) = N(0, I), the usual VAE prior; no parameters."""

    def __init__(self, latent_dim: int):
        super().__init__()
        if latent_dim < 1:
            raise ValueError(f"latent_dim must be >= 1, got {latent_dim}")
        self.latent_dim = latent_dim
        # holds the device and dtype that samples are made on
        self.register_buffer("loc", torch.zeros(latent_dim), persistent=False)

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """log N(z; 0, I): (..., D) -> (...), in nats."""
        _check_codes(z, self.latent_dim)
        return log_standard_normal(z)

    @torch.no_grad()
    def sample(self, num_samples: int, *, generator: torch.Generator | None = None):
        """z ~ N(0, I): (num_samples, D)."""
        device = generator.device if generator is not None else self.loc.device
        z = torch.randn(num_samples, self.latent_dim, generator=generator, device=device)
        return z.to(self.loc)


class MixtureOfGaussians(nn.Module):
    """A learned prior: p(z) = sum_k pi_k N(z; m_k, diag(exp(logvar_k))), K components.

    Means, log-variances and mixture logits are parameters, trained with the VAE. The means
    start at N(0, I) draws (seed with ``torch.manual_seed`` before building), the variances
    at 1 and the weights equal.
    """

    def __init__(self, num_components: int, latent_dim: int):
        super().__init__()
        if num_components < 1 or latent_dim < 1:
            raise ValueError(
                f"num_components and latent_dim must be >= 1, got {num_components} and {latent_dim}"
            )
        self.num_components = num_components
        self.latent_dim = latent_dim
        self.means = nn.Parameter(torch.randn(num_components, latent_dim))  # (K, D)
        self.logvars = nn.Parameter(torch.zeros(num_components, latent_dim))  # (K, D)
        self.logits = nn.Parameter(torch.zeros(num_components))  # (K,)

    @property
    def weights(self) -> torch.Tensor:
        """Mixture weights pi (K,), summing to 1."""
        return F.softmax(self.logits, dim=-1)

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """log p(z): (..., D) -> (...), in nats."""
        return log_mixture_density(z, self.means, self.logvars, self.logits)

    @torch.no_grad()
    def sample(self, num_samples: int, *, generator: torch.Generator | None = None):
        """z ~ p(z): (num_samples, D)."""
        return _sample_mixture(num_samples, self.means, self.logvars, self.logits, generator)


class VampPrior(nn.Module):
    """The VampPrior (Tomczak and Welling, 2018): p(z) = (1/K) sum_k q(z | u_k).

    The mixture of the encoder's own posteriors at K learned *pseudo-inputs* u_k, images
    trained with the VAE. The pseudo-inputs are kept in [0, 1] as sigmoid(pseudo_logits).

    Args:
        num_pseudo_inputs: K.
        encoder: the VAE (anything with ``encode(x) -> (mu, logvar)`` and
            ``config.image_shape``), or such an ``encode`` function. It is called, not
            owned: its weights stay the VAE's (no copy, no second registration).
        image_shape: (C, H, W) of the pseudo-inputs; taken from ``encoder.config`` if not given.
        init: (K, C, H, W) images in [0, 1] to start the pseudo-inputs from (e.g. random
            training images); default: grey noise around 0.5 (seed with ``torch.manual_seed``).
    """

    def __init__(
        self,
        num_pseudo_inputs: int,
        encoder: nn.Module | Encode,
        *,
        image_shape: tuple[int, int, int] | None = None,
        init: torch.Tensor | None = None,
    ):
        super().__init__()
        if num_pseudo_inputs < 1:
            raise ValueError(f"num_pseudo_inputs must be >= 1, got {num_pseudo_inputs}")
        encode = getattr(encoder, "encode", encoder)
        if not callable(encode):
            raise ValueError(
                "encoder must be a VAE with encode(x) -> (mu, logvar), or that function; got "
                f"{type(encoder).__name__}"
            )
        if image_shape is None:
            config = getattr(encoder, "config", None)
            if config is None:
                raise ValueError(
                    "pass image_shape=(C, H, W) for the pseudo-inputs: the encoder has no "
                    "config to read it from"
                )
            image_shape = config.image_shape
        image_shape = tuple(int(s) for s in image_shape)
        # A plain attribute, not a submodule: when the prior is itself part of the VAE
        # (model.prior = VampPrior(K, model)), registering the VAE here would make a loop.
        self._encode = encode
        self.num_pseudo_inputs = num_pseudo_inputs
        self.image_shape = image_shape
        if init is None:
            logits = 0.1 * torch.randn(num_pseudo_inputs, *image_shape)
        else:
            if len(init) != num_pseudo_inputs:
                raise ValueError(
                    f"init must hold num_pseudo_inputs={num_pseudo_inputs} images, got {len(init)}"
                )
            check_images(init, image_shape, name="init")
            logits = torch.logit(init.detach().float().clamp(0.01, 0.99))  # finite logits
        self.pseudo_logits = nn.Parameter(logits)  # (K, C, H, W)

    @property
    def pseudo_inputs(self) -> torch.Tensor:
        """The K pseudo-inputs u_k, images (K, C, H, W) in [0, 1]."""
        return torch.sigmoid(self.pseudo_logits)

    def components(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The encoder's posteriors at the pseudo-inputs: means and log-variances, (K, D) each."""
        return self._encode(self.pseudo_inputs)

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """log (1/K) sum_k N(z; mu(u_k), diag(sigma^2(u_k))): (..., D) -> (...), in nats."""
        means, logvars = self.components()  # (K, D) each
        equal = torch.zeros(self.num_pseudo_inputs, device=means.device, dtype=means.dtype)
        return log_mixture_density(z, means, logvars, equal)

    @torch.no_grad()
    def sample(self, num_samples: int, *, generator: torch.Generator | None = None):
        """z ~ p(z): pick a pseudo-input uniformly, then z ~ q(z | u_k): (num_samples, D)."""
        means, logvars = self.components()
        equal = torch.zeros(self.num_pseudo_inputs, device=means.device)
        return _sample_mixture(num_samples, means, logvars, equal, generator)


def mixture_responsibilities(
    z: torch.Tensor, means: torch.Tensor, logvars: torch.Tensor, logits: torch.Tensor
) -> torch.Tensor:
    """p(k | z) for a mixture-of-Gaussians prior: which component each code comes from.

    pi_k N(z; means_k, exp(logvars_k)) normalised over the K components, computed in log
    space (a softmax over k), so far-away codes give no 0 / 0. (B, D) codes -> (B, K).
    """
    log_joint = torch.log_softmax(logits, dim=0) + log_normal(z.unsqueeze(-2), means, logvars)
    return torch.softmax(log_joint, dim=-1)
