"""vaelab.losses against torch.distributions, closed forms and Monte-Carlo estimates."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch.distributions import Bernoulli, Independent, Normal, kl_divergence

from vaelab import losses, models


@pytest.fixture(autouse=True)
def double_precision():
    """Oracle comparisons at double precision, restored after each test."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def posterior(mu, logvar):
    return Independent(Normal(mu, torch.exp(0.5 * logvar)), 1)


def standard_normal(mu):
    return Independent(Normal(torch.zeros_like(mu), torch.ones_like(mu)), 1)


@pytest.fixture(params=[(1, 1), (3, 2), (16, 20)], ids=lambda s: f"B{s[0]}_D{s[1]}")
def mu_logvar(request):
    b, d = request.param
    g = torch.Generator().manual_seed(b * 100 + d)
    mu = torch.randn(b, d, generator=g) * 2
    logvar = torch.randn(b, d, generator=g) * 1.5
    return mu, logvar


def test_kl_matches_torch_distributions(mu_logvar):
    mu, logvar = mu_logvar
    oracle = kl_divergence(posterior(mu, logvar), standard_normal(mu))  # (B,)
    assert torch.allclose(losses.kl_divergence(mu, logvar, reduction="none"), oracle)
    assert torch.allclose(losses.kl_divergence(mu, logvar), oracle.mean())
    assert torch.allclose(losses.kl_divergence(mu, logvar, reduction="sum"), oracle.sum())
    assert torch.allclose(losses.kl_per_dim(mu, logvar).sum(-1), oracle)


def test_kl_is_zero_only_at_the_prior():
    zeros = torch.zeros(4, 3)
    assert torch.equal(losses.kl_divergence(zeros, zeros, reduction="none"), torch.zeros(4))
    assert (losses.kl_per_dim(torch.randn(50, 3), torch.randn(50, 3)) > 0).all()


def test_kl_of_known_pair():
    # KL(N(1, 0.5^2) || N(0, 1)) = 0.5 * (0.25 + 1 - 1 - ln 0.25)
    mu, logvar = torch.tensor([[1.0]]), torch.tensor([[math.log(0.25)]])
    expected = 0.5 * (0.25 + 1.0 - 1.0 - math.log(0.25))
    assert losses.kl_divergence(mu, logvar).item() == pytest.approx(expected)


def test_log_densities_match_torch_distributions(mu_logvar):
    mu, logvar = mu_logvar
    z = posterior(mu, logvar).sample()
    assert torch.allclose(losses.log_normal(z, mu, logvar), posterior(mu, logvar).log_prob(z))
    assert torch.allclose(losses.log_standard_normal(z), standard_normal(mu).log_prob(z))
    mc = losses.kl_monte_carlo(z, mu, logvar, reduction="none")
    oracle = posterior(mu, logvar).log_prob(z) - standard_normal(mu).log_prob(z)
    assert torch.allclose(mc, oracle)


def test_closed_form_kl_within_three_standard_errors_of_monte_carlo():
    g = torch.Generator().manual_seed(0)
    mu = torch.randn(1, 8, generator=g)
    logvar = torch.randn(1, 8, generator=g) * 0.5
    n = 20000
    mu_n, logvar_n = mu.expand(n, -1), logvar.expand(n, -1)
    z = losses.reparameterize(mu_n, logvar_n, generator=g)
    estimates = losses.kl_monte_carlo(z, mu_n, logvar_n, reduction="none")
    standard_error = estimates.std() / math.sqrt(n)
    closed = losses.kl_divergence(mu, logvar)
    assert abs(estimates.mean() - closed) < 3 * standard_error


def test_reparameterize_with_given_eps_and_statistics():
    mu, logvar = torch.tensor([[1.0, -2.0]]), torch.tensor([[0.0, math.log(4.0)]])
    eps = torch.tensor([[0.5, -1.0]])
    z = losses.reparameterize(mu, logvar, eps=eps)
    assert torch.allclose(z, torch.tensor([[1.5, -4.0]]))  # mu + exp(logvar / 2) * eps
    g = torch.Generator().manual_seed(0)
    many = losses.reparameterize(mu.expand(40000, -1), logvar.expand(40000, -1), generator=g)
    assert torch.allclose(many.mean(0), mu[0], atol=0.05)
    assert torch.allclose(many.std(0), torch.tensor([1.0, 2.0]), atol=0.05)
    with pytest.raises(ValueError, match="eps must have the shape"):
        losses.reparameterize(mu, logvar, eps=torch.zeros(3))


def test_same_generator_seed_gives_same_z():
    mu, logvar = torch.zeros(5, 3), torch.zeros(5, 3)
    a = losses.reparameterize(mu, logvar, generator=torch.Generator().manual_seed(7))
    b = losses.reparameterize(mu, logvar, generator=torch.Generator().manual_seed(7))
    assert torch.equal(a, b)


def test_gradients_reach_mu_and_logvar_through_reparameterize():
    mu = torch.randn(4, 3, requires_grad=True)
    logvar = torch.randn(4, 3, requires_grad=True)
    eps = torch.randn(4, 3)
    z = losses.reparameterize(mu, logvar, eps=eps)
    z.sum().backward()
    assert torch.allclose(mu.grad, torch.ones(4, 3))
    assert torch.allclose(logvar.grad, 0.5 * torch.exp(0.5 * logvar.detach()) * eps)


def test_bernoulli_nll_matches_bce_and_distribution():
    g = torch.Generator().manual_seed(0)
    x_logits = torch.randn(3, 1, 28, 28, generator=g) * 5
    x = torch.rand(3, 1, 28, 28, generator=g)
    per_example = losses.bernoulli_nll(x_logits, x, reduction="none")
    oracle = F.binary_cross_entropy_with_logits(x_logits, x, reduction="none").sum((1, 2, 3))
    assert torch.allclose(per_example, oracle)
    binary = (x > 0.5).double()
    dist = Independent(Bernoulli(logits=x_logits), 3)
    assert torch.allclose(
        losses.bernoulli_nll(x_logits, binary, reduction="none"), -dist.log_prob(binary)
    )
    assert torch.allclose(losses.bernoulli_nll(x_logits, x), oracle.mean())
    # Stable for saturated logits, where sigmoid + log would give inf.
    extreme = torch.full((1, 1, 28, 28), 200.0)
    assert torch.isfinite(losses.bernoulli_nll(extreme, torch.zeros_like(extreme)))


def test_gaussian_nll_matches_distribution_and_mse():
    g = torch.Generator().manual_seed(0)
    x_mean = torch.rand(2, 1, 28, 28, generator=g)
    x = torch.rand(2, 1, 28, 28, generator=g)
    for logvar in (0.0, -2.0):
        dist = Independent(Normal(x_mean, math.exp(0.5 * logvar)), 3)
        got = losses.gaussian_nll(x_mean, x, logvar=logvar, reduction="none")
        assert torch.allclose(got, -dist.log_prob(x))
    # With unit variance: half the summed squared error plus a constant per pixel.
    sse = F.mse_loss(x_mean, x, reduction="none").sum((1, 2, 3))
    constant = 0.5 * math.log(2 * math.pi) * 28 * 28
    assert torch.allclose(losses.gaussian_nll(x_mean, x, reduction="none"), 0.5 * sse + constant)


@pytest.mark.parametrize("fn", ["kl_divergence", "bernoulli_nll"])
def test_unknown_reduction_is_refused(fn):
    with pytest.raises(ValueError, match="reduction must be one of"):
        getattr(losses, fn)(torch.zeros(2, 3), torch.zeros(2, 3), reduction="avg")


def test_elbo_terms_and_beta():
    torch.manual_seed(0)
    model = models.MLPVAE(latent_dim=4, hidden_dim=32).double()
    x = torch.rand(6, 1, 28, 28)
    out = model(x)
    terms = losses.elbo(out, x, beta=2.5)
    recon = losses.bernoulli_nll(out.x_logits, x)
    kl = losses.kl_divergence(out.mu, out.logvar)
    assert torch.allclose(terms.recon, recon) and torch.allclose(terms.kl, kl)
    assert torch.allclose(terms.loss, recon + 2.5 * kl)
    gauss = losses.elbo(out, x, likelihood="gaussian")
    assert torch.allclose(gauss.recon, losses.gaussian_nll(torch.sigmoid(out.x_logits), x))
    with pytest.raises(ValueError, match="likelihood"):
        losses.elbo(out, x, likelihood="poisson")


def test_free_bits_clamp_each_dimension_in_the_loss_only():
    mu = torch.tensor([[0.0, 3.0], [0.0, 3.0]])
    logvar = torch.zeros(2, 2)
    out = models.VAEOutput(torch.zeros(2, 1, 28, 28), mu, logvar, mu)
    x = torch.full((2, 1, 28, 28), 0.5)
    terms = losses.elbo(out, x, free_bits=1.0)
    # dim 0 has KL 0 -> counted as 1 nat; dim 1 has KL 4.5 -> unchanged.
    assert terms.kl.item() == pytest.approx(4.5)
    assert (terms.loss - terms.recon).item() == pytest.approx(5.5)
    assert torch.allclose(
        losses.free_bits_kl(losses.kl_per_dim(mu, logvar), 1.0), torch.tensor([5.5, 5.5])
    )


def test_log_mean_exp_is_stable():
    log_w = torch.tensor([[1000.0, -1000.0], [1000.0, -1001.0]])
    got = losses.log_mean_exp(log_w, dim=0)
    assert torch.isfinite(got).all()
    assert got[0].item() == pytest.approx(1000.0)
    small = torch.randn(5, 3)
    assert torch.allclose(losses.log_mean_exp(small, dim=1), small.exp().mean(1).log())


@pytest.fixture(scope="module")
def trained_small_vae():
    """A small VAE trained for a few hundred steps on real digits, so the bounds are meaningful."""
    from vaelab import data

    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    torch.manual_seed(0)
    x, _ = data.load_mnist("train", limit=512, download=False)
    x = x.double()
    model = models.MLPVAE(latent_dim=4, hidden_dim=64)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    g = torch.Generator().manual_seed(0)
    for _ in range(15):
        for xb in data.batches(x, batch_size=64, shuffle=True, generator=g):
            loss = losses.elbo(model(xb, generator=g), xb).loss
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    torch.set_default_dtype(old)
    return model, x[:8]


def test_iwae_bound_is_above_the_elbo_and_grows_with_k(trained_small_vae):
    model, x = trained_small_vae
    g = torch.Generator().manual_seed(0)
    bounds = {
        k: losses.iwae_bound(model, x, num_samples=k, generator=g).mean().item()
        for k in (1, 10, 100, 1000)
    }
    # k = 1 is the ELBO: compare two independent Monte-Carlo estimates over 200 repeats.
    x_rep = x.repeat(200, 1, 1, 1)
    iwae_1 = losses.iwae_bound(model, x_rep, num_samples=1, generator=g)
    with torch.no_grad():
        out = model(x_rep, generator=g)
        elbos = -(
            losses.bernoulli_nll(out.x_logits, x_rep, reduction="none")
            + losses.kl_divergence(out.mu, out.logvar, reduction="none")
        )
    n = len(x_rep)
    standard_error = math.sqrt((iwae_1.var() + elbos.var()).item() / n)
    assert abs(iwae_1.mean().item() - elbos.mean().item()) < 4 * standard_error
    assert bounds[10] > elbos.mean().item() + 4 * standard_error
    assert bounds[1] < bounds[10] < bounds[100] < bounds[1000]


def test_iwae_chunking_does_not_change_the_estimate(trained_small_vae):
    model, x = trained_small_vae
    a = losses.iwae_bound(
        model, x, num_samples=300, chunk_size=300, generator=torch.Generator().manual_seed(3)
    )
    b = losses.iwae_bound(
        model, x, num_samples=300, chunk_size=7, generator=torch.Generator().manual_seed(3)
    )
    # Same eps stream order differs by chunk; both are estimates of the same quantity.
    assert torch.allclose(a, b, atol=0.5)
    assert a.shape == (8,)
