"""vaelab.latent's true posterior on a grid, against closed forms and importance sampling."""

import math

import pytest
import torch
from torch import nn
from torch.distributions import MultivariateNormal

from vaelab import latent, losses, models


class LinearGaussian(nn.Module):
    """p(z) = N(0, I), p(x | z) = N(b + W z, I): p(x) and p(z | x) have closed forms.

    ``decode`` returns logits whose sigmoid is b + W z, the mean that vaelab's unit-variance
    Gaussian likelihood reads.
    """

    latent_dim = 2

    def __init__(self, num_pixels: int, scale: float, seed: int = 0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.W = nn.Parameter(
            (torch.rand(num_pixels, 2, generator=g, dtype=torch.float64) * 2 - 1) * scale
        )
        self.b = nn.Parameter(torch.full((num_pixels,), 0.5, dtype=torch.float64))
        self.side = int(math.isqrt(num_pixels))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        mean = self.b + z @ self.W.T  # (G, P), inside (0, 1) on the grid
        return torch.logit(mean).view(-1, 1, self.side, self.side)

    def exact(self, x: torch.Tensor):
        """log p(x) (B,) and the posterior's mean (B, 2) and covariance (2, 2)."""
        flat = x.flatten(1)  # (B, P)
        cov_x = self.W @ self.W.T + torch.eye(len(self.b), dtype=torch.float64)
        log_px = MultivariateNormal(self.b, cov_x).log_prob(flat)
        precision = torch.eye(2, dtype=torch.float64) + self.W.T @ self.W
        cov = torch.linalg.inv(precision)
        mean = (flat - self.b) @ self.W @ cov  # (B, 2)
        return log_px, mean, cov


@pytest.fixture(scope="module")
def linear():
    model = LinearGaussian(num_pixels=32 * 32, scale=0.045)  # posterior sigma about 0.75
    with torch.no_grad():
        z = torch.tensor([[0.3, -1.2], [2.0, 1.5]], dtype=torch.float64)
        x = torch.sigmoid(model.decode(z)) + 0.1 * torch.randn(
            2, 1, 32, 32, generator=torch.Generator().manual_seed(1), dtype=torch.float64
        )
    return model, x


def test_grid_log_px_is_the_closed_form(linear):
    model, x = linear
    grid = latent.grid_posterior(model, x, likelihood="gaussian", num_points=81)
    log_px, mean, cov = model.exact(x)
    torch.testing.assert_close(grid.log_px, log_px, atol=1e-3, rtol=0)
    grid_mean, grid_var = grid.moments()  # (B, 2) each
    torch.testing.assert_close(grid_mean, mean, atol=1e-3, rtol=0)
    torch.testing.assert_close(grid_var, cov.diagonal().expand(2, 2), atol=1e-3, rtol=0)


def test_kl_from_q_to_the_grid_posterior_is_the_gaussian_kl(linear):
    model, x = linear
    grid = latent.grid_posterior(model, x, likelihood="gaussian", num_points=81)
    _, mean, cov = model.exact(x)
    # q = the exact posterior's marginals, shifted: KL between two Gaussians, closed form
    mu = mean + torch.tensor([0.1, -0.05], dtype=torch.float64)
    logvar = cov.diagonal().log().expand(2, 2) + 0.3
    want = torch.stack(
        [
            torch.distributions.kl_divergence(
                MultivariateNormal(mu[b], torch.diag(logvar[b].exp())),
                MultivariateNormal(mean[b], cov),
            )
            for b in range(2)
        ]
    )
    torch.testing.assert_close(grid.kl_from(mu, logvar), want, atol=2e-3, rtol=0)


def _train(model, x, steps=200, seed=0):
    g = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(steps):
        batch = x[torch.randint(0, len(x), (64,), generator=g)]
        loss = losses.elbo(model(batch, generator=g), batch).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


@pytest.fixture(scope="module")
def bars_vae():
    """A small 2-D VAE trained on eight bar images (rows and columns of an 8 x 8 square)."""
    torch.manual_seed(0)
    model = models.MLPVAE(image_shape=(1, 8, 8), hidden_dim=32, latent_dim=2)
    bars = torch.zeros(8, 1, 8, 8)
    for i in range(4):
        bars[i, 0, 2 * i : 2 * i + 2, :] = 1
        bars[4 + i, 0, :, 2 * i : 2 * i + 2] = 1
    return _train(model, bars.repeat(64, 1, 1, 1)).double(), bars.double()


def test_grid_log_px_agrees_with_the_importance_weighted_bound(bars_vae):
    model, bars = bars_vae
    x = bars[:4]
    grid = latent.grid_posterior(model, x, num_points=81)
    generator = torch.Generator().manual_seed(0)
    iwae = losses.iwae_bound(model, x, num_samples=5000, generator=generator)
    # IWAE is a lower bound that is tight for large k: just below, and close
    assert (grid.log_px > iwae - 0.02).all(), (grid.log_px, iwae)
    torch.testing.assert_close(grid.log_px, iwae, atol=0.05, rtol=0)


def test_the_gap_between_log_px_and_the_elbo_is_the_kl_to_the_true_posterior(bars_vae):
    model, bars = bars_vae
    x = bars[:4]
    grid = latent.grid_posterior(model, x, num_points=81)
    generator = torch.Generator().manual_seed(0)
    elbo = latent.elbo_estimate(model, x, num_samples=5000, generator=generator)
    mu, logvar = model.encode(x)
    gap = grid.log_px - elbo
    assert (gap > 0).all()  # the ELBO is a lower bound
    torch.testing.assert_close(gap, grid.kl_from(mu, logvar).detach(), atol=0.05, rtol=0)


def test_elbo_estimate_is_the_monte_carlo_elbo_by_torch_distributions(bars_vae):
    model, bars = bars_vae
    x = bars[:2]
    with torch.no_grad():
        mu, logvar = model.encode(x)  # (B, 2)
        q = torch.distributions.Normal(mu, (0.5 * logvar).exp())
        z = q.sample((4000,))  # (S, B, 2)
        p_x = torch.distributions.Bernoulli(logits=model.decode(z.reshape(-1, 2)))
        log_px_z = p_x.log_prob(x.repeat(4000, 1, 1, 1)).flatten(1).sum(1).view(4000, 2)
        prior = torch.distributions.Normal(0.0, 1.0)
        log_w = log_px_z + prior.log_prob(z).sum(-1) - q.log_prob(z).sum(-1)  # (S, B)
    stderr = log_w.std(dim=0) / math.sqrt(len(log_w))
    elbo = latent.elbo_estimate(model, x, num_samples=20_000)
    assert ((log_w.mean(dim=0) - elbo).abs() < 4 * stderr + 1e-3).all(), (log_w.mean(0), elbo)


def test_the_best_gaussian_is_the_closed_form_for_a_gaussian_posterior(linear):
    model, x = linear
    start = (torch.zeros(2, 2, dtype=x.dtype), torch.zeros(2, 2, dtype=x.dtype))  # the prior
    generator = torch.Generator().manual_seed(0)
    mu, logvar = latent.fit_gaussian_posterior(
        model,
        x,
        likelihood="gaussian",
        num_steps=400,
        num_samples=256,
        start=start,
        generator=generator,
    )
    _, mean, cov = model.exact(x)
    # KL(q || p) over diagonal Gaussians is least at p's mean, with variances 1 / diag(precision)
    best_logvar = -torch.linalg.inv(cov).diagonal().log()  # (2,)
    torch.testing.assert_close(mu, mean, atol=0.03, rtol=0)
    torch.testing.assert_close(logvar, best_logvar.expand(2, 2), atol=0.1, rtol=0)
    assert all(p.requires_grad for p in model.parameters())  # the model is left as it was


def test_cover_stretches_the_grid_to_a_far_away_q(bars_vae):
    model, bars = bars_vae
    x = bars[:2]
    mu = torch.tensor([[3.5, -3.5], [-3.5, 3.5]], dtype=torch.float64)  # far from the posteriors
    logvar = torch.full((2, 2), -3.0, dtype=torch.float64)
    plain = latent.grid_posterior(model, x, num_points=81)
    covered = latent.grid_posterior(model, x, num_points=161, cover=(mu, logvar))
    assert (covered.z1[:, 0] <= mu[:, 0] - 1).all() or (covered.z1[:, -1] >= mu[:, 0] + 1).all()
    torch.testing.assert_close(covered.log_px, plain.log_px, atol=0.02, rtol=0)
    # KL(q || p(z|x)) = E_q[log q] - E_q[log p(x, z)] + log p(x): by Monte-Carlo from q
    q = torch.distributions.Normal(mu, (0.5 * logvar).exp())
    z = q.sample((4000,))  # (S, B, 2)
    with torch.no_grad():
        log_px_z = (
            torch.distributions.Bernoulli(logits=model.decode(z.reshape(-1, 2)))
            .log_prob(x.repeat(4000, 1, 1, 1))
            .flatten(1)
            .sum(1)
            .view(4000, 2)
        )
    log_joint = log_px_z + torch.distributions.Normal(0.0, 1.0).log_prob(z).sum(-1)
    kl_mc = (q.log_prob(z).sum(-1) - log_joint).mean(0) + covered.log_px
    torch.testing.assert_close(covered.kl_from(mu, logvar), kl_mc, atol=0.5, rtol=0.02)


def test_grid_posterior_needs_a_2d_latent():
    model = models.MLPVAE(image_shape=(1, 8, 8), hidden_dim=16, latent_dim=3)
    with pytest.raises(ValueError, match="2-D latent"):
        latent.grid_posterior(model, torch.zeros(1, 1, 8, 8))
