"""Working in latent space: encoding a dataset, sampling, interpolating between codes, and the
true posterior of a 2-D latent on a grid."""

from __future__ import annotations

from typing import NamedTuple

import torch

from vaelab import losses
from vaelab.data import batches

__all__ = [
    "GridPosterior",
    "elbo_estimate",
    "encode_dataset",
    "fit_gaussian_posterior",
    "grid_posterior",
    "interpolate",
    "sample",
    "slerp",
]


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


class GridPosterior(NamedTuple):
    """The true posterior p(z | x) of a 2-D latent, on one grid per image.

    ``log_joint[b, i, j]`` is log p(x_b | z) + log p(z) at z = (z1[b, j], z2[b, i]): rows run
    along z_2, columns along z_1 (``imshow(..., origin="lower")`` draws it the right way up).
    """

    z1: torch.Tensor  # (B, n) grid coordinates along z_1
    z2: torch.Tensor  # (B, n) grid coordinates along z_2
    log_joint: torch.Tensor  # (B, n, n) log p(x | z) + log p(z), nats
    log_px: torch.Tensor  # (B,) log p(x): the log of the sum of p(x, z) * cell area

    def cell_area(self) -> torch.Tensor:
        """(B,) the area of one grid cell."""
        return (self.z1[:, 1] - self.z1[:, 0]) * (self.z2[:, 1] - self.z2[:, 0])

    def log_density(self) -> torch.Tensor:
        """(B, n, n) log p(z | x) = log p(x, z) - log p(x) (Bayes' rule), a density in z."""
        return self.log_joint - self.log_px[:, None, None]

    def codes(self) -> torch.Tensor:
        """(B, n, n, 2) the code z = (z_1, z_2) at every grid point."""
        n = self.z1.shape[1]
        z1 = self.z1[:, None, :].expand(-1, n, -1)
        z2 = self.z2[:, :, None].expand(-1, -1, n)
        return torch.stack([z1, z2], dim=-1)

    def moments(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 2), (B, 2): the mean and the variance of p(z | x) along z_1 and z_2."""
        mass = (self.log_density().exp() * self.cell_area()[:, None, None])[..., None]
        codes = self.codes()  # (B, n, n, 2)
        mean = (mass * codes).sum(dim=(1, 2))  # (B, 2)
        var = (mass * (codes - mean[:, None, None, :]).pow(2)).sum(dim=(1, 2))  # (B, 2)
        return mean, var

    def kl_from(self, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """(B,) KL(q(z | x) || p(z | x)) in nats, by the grid sum, for q = N(mu, diag(exp(logvar))).

        Args:
            mu, logvar: (B, 2) the encoder's posterior for each image.
        """
        n = self.z1.shape[1]
        z = self.codes().reshape(len(mu), n * n, 2)  # (B, G, 2)
        log_q = losses.log_normal(z, mu[:, None, :], logvar[:, None, :])  # (B, G)
        log_p = self.log_density().reshape(len(mu), n * n)  # (B, G)
        q_mass = torch.exp(log_q) * self.cell_area()[:, None]  # (B, G) q's mass per cell
        return (q_mass * (log_q - log_p)).sum(dim=1)


def _log_joint(model, x, z, *, likelihood: str, chunk_size: int) -> torch.Tensor:
    """(B, G) log p(x_b | z_g) + log p(z_g) for images x (B, C, H, W) and codes z (G, 2)."""
    parts = []
    for start in range(0, len(z), chunk_size):
        z_chunk = z[start : start + chunk_size]  # (g, 2)
        x_logits = model.decode(z_chunk)  # (g, C, H, W), decoded once for all the images
        log_prior = losses.log_standard_normal(z_chunk)  # (g,)
        rows = [
            -losses.reconstruction_nll(
                x_logits, image.expand_as(x_logits), likelihood=likelihood, reduction="none"
            )
            + log_prior
            for image in x.unsqueeze(1)  # each (1, C, H, W)
        ]
        parts.append(torch.stack(rows))  # (B, g)
    return torch.cat(parts, dim=1)  # (B, G)


def _square_grid(lo: torch.Tensor, hi: torch.Tensor, num_points: int):
    """Coordinates (n,), (n,) and the codes (n * n, 2) of a grid, rows along z_2."""
    z1 = torch.linspace(float(lo[0]), float(hi[0]), num_points, device=lo.device, dtype=lo.dtype)
    z2 = torch.linspace(float(lo[1]), float(hi[1]), num_points, device=lo.device, dtype=lo.dtype)
    rows, cols = torch.meshgrid(z2, z1, indexing="ij")  # (n, n) each
    return z1, z2, torch.stack([cols, rows], dim=-1).reshape(-1, 2)


@torch.no_grad()
def grid_posterior(
    model,
    x: torch.Tensor,
    *,
    limit: float = 5.0,
    num_points: int = 161,
    likelihood: str = "bernoulli",
    tail: float = 20.0,
    cover: tuple[torch.Tensor, torch.Tensor] | None = None,
    chunk_size: int = 2048,
) -> GridPosterior:
    """The true posterior p(z | x) = p(x | z) p(z) / p(x) of a 2-D VAE, by brute force on a grid.

    A first grid over the square [-limit, limit]^2 finds where p(x, z) has its mass; a second
    grid of ``num_points`` per side, one per image, covers the part within ``tail`` nats of
    the highest log p(x, z), so a narrow posterior is resolved as finely as a broad one.
    log p(x) is the sum of p(x, z) over the second grid times the cell area.

    Args:
        model: a VAE with a 2-D latent (``latent_dim == 2``) and ``decode``.
        x: (B, C, H, W) images in [0, 1].
        limit: half-width of the first grid; p(z) = N(0, I) has almost no mass beyond 5.
        num_points: grid points per side of each grid.
        likelihood: "bernoulli" or "gaussian", as the model was trained.
        tail: how many nats below its peak p(x, z) may fall inside the second grid.
        cover: (mu, logvar), each (B, 2): a Gaussian q(z | x) per image whose bulk (6 sigma
            either side of mu) the second grid covers too, beyond ``limit`` if need be, so
            that ``kl_from`` weighs all of q's mass, even where the encoder placed it far from
            the posterior.
        chunk_size: codes decoded at once.

    Returns:
        A ``GridPosterior`` (grids, log p(x, z) on them, log p(x)).
    """
    if model.latent_dim != 2:
        raise ValueError(
            f"grid_posterior needs a 2-D latent (a grid in D dimensions has num_points**D "
            f"points), got latent_dim={model.latent_dim}"
        )
    was_training = model.training
    model.eval()
    try:
        param = next(model.parameters())
        x = x.to(device=param.device, dtype=param.dtype)
        bound = torch.full((2,), float(limit), device=param.device, dtype=param.dtype)
        z1, z2, z = _square_grid(-bound, bound, num_points)
        coarse = _log_joint(model, x, z, likelihood=likelihood, chunk_size=chunk_size)  # (B, G)
        if coarse.isnan().any():
            raise ValueError(
                "log p(x | z) is NaN at some grid points: the decoder's output is not finite "
                "there (check the model's weights, or a smaller limit)"
            )
        step = torch.stack([z1[1] - z1[0], z2[1] - z2[0]])  # (2,)
        fine_z1, fine_z2, fine = [], [], []
        for b in range(len(x)):
            kept = z[coarse[b] >= coarse[b].max() - tail]  # (K, 2) codes near the mass
            lo = torch.maximum(kept.min(dim=0).values - 2 * step, -bound)
            hi = torch.minimum(kept.max(dim=0).values + 2 * step, bound)
            if cover is not None:  # q's bulk, even beyond the first grid's square
                mu, logvar = (t[b].to(lo) for t in cover)  # (2,) each
                spread = 6 * losses.reparameterize(
                    torch.zeros_like(mu), logvar, eps=torch.ones_like(mu)
                )
                lo, hi = torch.minimum(lo, mu - spread), torch.maximum(hi, mu + spread)
            g1, g2, codes = _square_grid(lo, hi, num_points)
            fine_z1.append(g1)
            fine_z2.append(g2)
            fine.append(
                _log_joint(model, x[b : b + 1], codes, likelihood=likelihood, chunk_size=chunk_size)
            )
        log_joint = torch.cat(fine).reshape(len(x), num_points, num_points)  # (B, n, n)
        z1s, z2s = torch.stack(fine_z1), torch.stack(fine_z2)  # (B, n) each
        area = (z1s[:, 1] - z1s[:, 0]) * (z2s[:, 1] - z2s[:, 0])  # (B,)
        log_px = torch.logsumexp(log_joint.flatten(1), dim=1) + torch.log(area)
    finally:
        model.train(was_training)
    return GridPosterior(z1s, z2s, log_joint, log_px)


@torch.no_grad()
def elbo_estimate(
    model,
    x: torch.Tensor,
    *,
    num_samples: int = 1000,
    likelihood: str = "bernoulli",
    q: tuple[torch.Tensor, torch.Tensor] | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """The ELBO of each image, E_q[log p(x | z)] - KL(q(z | x) || N(0, I)), in nats.

    The expectation is a Monte-Carlo average over ``num_samples`` codes z ~ q(z | x); the KL
    is the closed form. (A training loop uses one code per image; this is the same quantity,
    measured precisely.)

    Args:
        model: a VAE with ``encode`` and ``decode``.
        x: (B, C, H, W) images in [0, 1].
        num_samples: codes drawn per image.
        q: (mu, logvar), each (B, D), a Gaussian to use instead of the encoder's (the one
            ``fit_gaussian_posterior`` finds, say).
        generator: for repeatable draws (on the model's device).

    Returns:
        (B,) ELBO per image (higher is better; the training loss is its negative).
    """
    was_training = model.training
    model.eval()
    try:
        mu, logvar = model.encode(x) if q is None else q  # (B, D) each
        batch, dim = mu.shape
        gen_device = generator.device if generator is not None else mu.device
        total = torch.zeros(batch, device=mu.device, dtype=mu.dtype)
        chunk = max(1, 16384 // batch)
        done = 0
        while done < num_samples:
            k = min(chunk, num_samples - done)
            eps = torch.randn(k, batch, dim, generator=generator, device=gen_device).to(mu)
            z = losses.reparameterize(mu.expand(k, -1, -1), logvar.expand(k, -1, -1), eps=eps)
            x_rep = x.unsqueeze(0).expand(k, *x.shape).reshape(k * batch, *x.shape[1:])
            x_logits = model.decode(z.reshape(k * batch, dim))
            log_px_z = -losses.reconstruction_nll(
                x_logits, x_rep, likelihood=likelihood, reduction="none"
            )  # (k * B,)
            total += log_px_z.view(k, batch).sum(dim=0)
            done += k
    finally:
        model.train(was_training)
    return total / num_samples - losses.kl_divergence(mu, logvar, reduction="none")


def fit_gaussian_posterior(
    model,
    x: torch.Tensor,
    *,
    num_steps: int = 300,
    num_samples: int = 64,
    lr: float = 0.05,
    likelihood: str = "bernoulli",
    start: tuple[torch.Tensor, torch.Tensor] | None = None,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The best diagonal Gaussian q(z | x) for each image on its own: its ELBO maximised.

    Starts from the encoder's mu and logvar (or ``start``) and runs Adam on them alone (the
    model's weights stay as they are), with ``num_samples`` reparameterised codes per image
    and step. The ELBO this q reaches, against the encoder's, separates the two parts of the
    gap to log p(x):
    what no Gaussian can close (the posterior is not Gaussian) and what the encoder leaves
    open by guessing q for every image with one network (Cremer, Li and Duvenaud, ICML 2018).

    Args:
        model: a VAE with ``encode`` and ``decode``.
        x: (B, C, H, W) images in [0, 1].
        num_steps: Adam steps.
        num_samples: codes drawn per image and step.
        lr: Adam's learning rate.
        start: (mu, logvar), each (B, D), to start from instead of the encoder's: a Gaussian
            matched to the true posterior's moments, say, when the encoder's guess is so far
            off that the ELBO's gradient there says little.
        generator: for repeatable draws (on the model's device).

    Returns:
        (mu, logvar), each (B, D), detached.
    """
    was_training = model.training
    model.eval()
    grads = [p.requires_grad for p in model.parameters()]
    for p in model.parameters():
        p.requires_grad_(False)
    try:
        with torch.no_grad():
            mu0, logvar0 = model.encode(x) if start is None else start  # (B, D) each
        mu = mu0.clone().requires_grad_(True)
        logvar = logvar0.clone().requires_grad_(True)
        optimizer = torch.optim.Adam([mu, logvar], lr=lr)
        batch, dim = mu.shape
        gen_device = generator.device if generator is not None else mu.device
        x_rep = x.unsqueeze(0).expand(num_samples, *x.shape).reshape(-1, *x.shape[1:])
        for _ in range(num_steps):
            eps = torch.randn(num_samples, batch, dim, generator=generator, device=gen_device)
            z = losses.reparameterize(
                mu.expand(num_samples, -1, -1), logvar.expand(num_samples, -1, -1), eps=eps.to(mu)
            )  # (S, B, D)
            x_logits = model.decode(z.reshape(-1, dim))  # (S * B, C, H, W)
            recon = losses.reconstruction_nll(
                x_logits, x_rep, likelihood=likelihood, reduction="none"
            ).view(num_samples, batch)
            loss = recon.mean(dim=0) + losses.kl_divergence(mu, logvar, reduction="none")  # (B,)
            optimizer.zero_grad()
            loss.sum().backward()  # the images are independent: one sum, separate gradients
            optimizer.step()
    finally:
        for p, g in zip(model.parameters(), grads, strict=True):
            p.requires_grad_(g)
        model.train(was_training)
    return mu.detach(), logvar.detach()
