"""Anomaly scores from a VAE: one number per image, higher meaning "more unusual".

All scores are deterministic: they use the posterior mean mu as the code (no sampling),
so the same image always gets the same score. Rank them with ``vaelab.metrics.auroc``.
"""

from __future__ import annotations

import torch

from vaelab.losses import bernoulli_nll, kl_divergence, log_standard_normal

__all__ = ["anomaly_score", "latent_score", "reconstruction_score", "threshold_at_fpr"]


@torch.no_grad()
def reconstruction_score(model, x: torch.Tensor) -> torch.Tensor:
    """Reconstruction error: -log p(x | z = mu), BCE from logits summed over pixels.

    Args:
        model: a VAE with ``encode`` (x -> mu, logvar) and ``decode`` (z -> x_logits).
        x: (B, C, H, W) images in [0, 1].

    Returns:
        (B,) scores in nats.
    """
    mu, _ = model.encode(x)  # (B, D)
    return bernoulli_nll(model.decode(mu), x, reduction="none")


@torch.no_grad()
def latent_score(model, x: torch.Tensor) -> torch.Tensor:
    """Latent unlikelihood: -log N(mu; 0, I), summed over latent dimensions.

    Args:
        model: a VAE with ``encode``.
        x: (B, C, H, W) images in [0, 1].

    Returns:
        (B,) scores in nats.
    """
    mu, _ = model.encode(x)
    return -log_standard_normal(mu)


@torch.no_grad()
def anomaly_score(model, x: torch.Tensor, *, beta: float = 1.0) -> torch.Tensor:
    """Negative ELBO at the posterior mean: reconstruction_score + beta * KL(q(z|x) || N(0, I)).

    Args:
        model: a VAE with ``encode`` and ``decode``.
        x: (B, C, H, W) images in [0, 1].
        beta: weight of the KL term.

    Returns:
        (B,) scores in nats.
    """
    mu, logvar = model.encode(x)
    recon = bernoulli_nll(model.decode(mu), x, reduction="none")  # (B,)
    return recon + beta * kl_divergence(mu, logvar, reduction="none")


def threshold_at_fpr(normal_scores: torch.Tensor, fpr: float) -> torch.Tensor:
    """The lowest of the normal images' scores that flags at most a fraction ``fpr`` of them.

    An image is flagged when its score is strictly above the threshold; the threshold is
    one of ``normal_scores`` (N,), the smallest t among them with mean(scores > t) <= fpr.
    fpr = 0 gives the largest score (nothing normal flagged).
    """
    if not 0.0 <= fpr <= 1.0:
        raise ValueError(f"fpr is a fraction in [0, 1], got {fpr}")
    ordered = torch.sort(normal_scores.flatten()).values
    above = len(ordered) - torch.searchsorted(ordered, ordered, right=True)  # scores > each
    allowed = above <= fpr * len(ordered) + 1e-9
    return ordered[int(torch.nonzero(allowed)[0])]
