"""vaelab.priors and the prior= paths of losses.elbo / iwae_bound, against torch.distributions."""

import math

import pytest
import torch
from torch.distributions import Categorical, Independent, MixtureSameFamily, Normal

from vaelab import losses, models, priors


def _torch_mixture(means, logvars, logits):
    components = Independent(Normal(means, torch.exp(0.5 * logvars)), 1)
    return MixtureSameFamily(Categorical(logits=logits), components)


def _mixture(num_components=3, latent_dim=2, seed=0):
    torch.manual_seed(seed)
    prior = priors.MixtureOfGaussians(num_components, latent_dim)
    with torch.no_grad():
        prior.logvars.copy_(torch.randn(num_components, latent_dim) - 0.5)
        prior.logits.copy_(torch.randn(num_components))
    return prior


# ---------------------------------------------------------------- the standard normal


def test_standard_normal_log_prob_and_samples():
    prior = priors.StandardNormal(3)
    z = torch.randn(2, 5, 3)  # any leading dimensions
    expected = Independent(Normal(torch.zeros(3), torch.ones(3)), 1).log_prob(z)
    assert torch.allclose(prior.log_prob(z), expected, atol=1e-6)
    a = prior.sample(4000, generator=torch.Generator().manual_seed(1))
    b = prior.sample(4000, generator=torch.Generator().manual_seed(1))
    assert a.shape == (4000, 3) and torch.equal(a, b)
    assert a.mean(0).abs().max() < 4 / math.sqrt(4000) * 1.5
    assert (a.var(0) - 1).abs().max() < 0.1
    assert list(prior.parameters()) == []


def test_standard_normal_refuses_codes_of_the_wrong_size():
    with pytest.raises(ValueError, match=r"shape \(\.\.\., 3\)"):
        priors.StandardNormal(3).log_prob(torch.zeros(4, 2))


# ---------------------------------------------------------------- mixtures


@pytest.mark.parametrize("num_components, latent_dim", [(1, 1), (3, 2), (10, 5)])
def test_mixture_log_prob_matches_mixture_same_family(num_components, latent_dim):
    prior = _mixture(num_components, latent_dim)
    oracle = _torch_mixture(prior.means, prior.logvars, prior.logits)
    z = 2 * torch.randn(7, 4, latent_dim)
    assert torch.allclose(prior.log_prob(z), oracle.log_prob(z), atol=1e-5)
    assert prior.log_prob(z).shape == (7, 4)
    assert torch.allclose(prior.weights.sum(), torch.tensor(1.0))


def test_mixture_density_is_stable_far_from_every_component():
    prior = _mixture(4, 2)
    z = torch.tensor([[1e3, -1e3], [40.0, 40.0]])
    log_p = prior.log_prob(z)
    assert torch.isfinite(log_p).all() and (log_p < -700).all()
    oracle = _torch_mixture(prior.means.double(), prior.logvars.double(), prior.logits.double())
    assert torch.allclose(log_p.double(), oracle.log_prob(z.double()), rtol=1e-5)


def test_mixture_weights_are_normalised_and_shift_invariant():
    means, logvars = torch.randn(3, 2), torch.zeros(3, 2)
    z = torch.randn(5, 2)
    logits = torch.tensor([0.3, -1.0, 2.0])
    a = priors.log_mixture_density(z, means, logvars, logits)
    b = priors.log_mixture_density(z, means, logvars, logits + 100.0)
    assert torch.allclose(a, b, atol=1e-5)
    # one component: a plain diagonal Gaussian
    one = priors.log_mixture_density(z, means[:1], logvars[:1], torch.tensor([5.0]))
    assert torch.allclose(one, losses.log_normal(z, means[:1], logvars[:1]), atol=1e-6)


def test_mixture_samples_follow_the_mixture():
    prior = _mixture(3, 2, seed=2)
    generator = torch.Generator().manual_seed(0)
    n = 40_000
    z = prior.sample(n, generator=generator)
    oracle = _torch_mixture(prior.means.detach(), prior.logvars.detach(), prior.logits.detach())
    mean, var = oracle.mean, oracle.variance  # (D,)
    assert ((z.mean(0) - mean).abs() < 4 * (var / n).sqrt()).all()
    assert ((z.var(0) - var).abs() / var < 0.05).all()
    # the samples are more likely under the mixture than under a shifted copy of it
    assert oracle.log_prob(z).mean() > oracle.log_prob(z + 1.0).mean()
    again = prior.sample(n, generator=torch.Generator().manual_seed(0))
    assert torch.equal(z, again)


def test_gradients_reach_every_mixture_parameter():
    prior = _mixture(3, 2)
    prior.log_prob(torch.randn(8, 2)).sum().backward()
    for name, p in prior.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_log_mixture_density_names_bad_shapes():
    z = torch.randn(4, 2)
    with pytest.raises(ValueError, match=r"\(K, D\)"):
        priors.log_mixture_density(z, torch.zeros(3, 2), torch.zeros(3, 3), torch.zeros(3))
    with pytest.raises(ValueError, match=r"\(K,\)"):
        priors.log_mixture_density(z, torch.zeros(3, 2), torch.zeros(3, 2), torch.zeros(2))
    with pytest.raises(ValueError, match=r"\(\.\.\., 2\)"):
        priors.log_mixture_density(torch.randn(4, 3), torch.zeros(3, 2), torch.zeros(3, 2),
                                   torch.zeros(3))  # fmt: skip


# ---------------------------------------------------------------- the VampPrior


def _vamp(num_pseudo_inputs=3, latent_dim=2):
    torch.manual_seed(0)
    model = models.MLPVAE(latent_dim=latent_dim, hidden_dim=32)
    prior = priors.VampPrior(num_pseudo_inputs, model)
    return model, prior


def test_vampprior_log_prob_by_hand():
    model, prior = _vamp(3, 2)
    z = torch.randn(5, 2)
    # by hand, in float64 with plain exp and sum: (1/K) sum_k prod_d N(z_d; mu_kd, sigma_kd)
    u = torch.sigmoid(prior.pseudo_logits.detach())
    mu, logvar = model.encode(u)
    mu, sigma = mu.detach().double(), torch.exp(0.5 * logvar.detach().double())
    zz = z.double()
    density = torch.zeros(5, dtype=torch.float64)
    for k in range(3):
        per_dim = torch.exp(-0.5 * ((zz - mu[k]) / sigma[k]) ** 2) / (
            sigma[k] * math.sqrt(2 * math.pi)
        )
        density += per_dim.prod(dim=1) / 3
    assert torch.allclose(prior.log_prob(z).double(), density.log(), atol=1e-5)


def test_vampprior_trains_pseudo_inputs_and_encoder_and_nests_in_the_model():
    model, prior = _vamp(4, 2)
    model.prior = prior  # a submodule now: its parameters are the model's
    names = [name for name, _ in model.named_parameters()]
    assert "prior.pseudo_logits" in names
    assert len(names) == len(set(names)) == len(list(model.parameters()))
    assert "prior.pseudo_logits" in model.state_dict()  # no loop through the encoder
    prior.log_prob(torch.randn(6, 2)).sum().backward()
    assert prior.pseudo_logits.grad.abs().sum() > 0
    assert model.to_mu.weight.grad.abs().sum() > 0  # the encoder is shared, and trained


def test_vampprior_samples_come_from_its_components():
    model, prior = _vamp(1, 2)  # one pseudo-input: the prior is q(z | u_1) itself
    mu, logvar = (t.detach()[0] for t in prior.components())
    z = prior.sample(20_000, generator=torch.Generator().manual_seed(0))
    std = torch.exp(0.5 * logvar)
    assert ((z.mean(0) - mu).abs() < 4 * std / math.sqrt(20_000)).all()
    assert ((z.std(0) / std - 1).abs() < 0.03).all()


def test_vampprior_init_from_images_and_errors():
    model, _ = _vamp()
    images = torch.rand(3, 1, 28, 28) * 0.9 + 0.05
    prior = priors.VampPrior(3, model, init=images)
    assert torch.allclose(prior.pseudo_inputs, images, atol=1e-5)
    with pytest.raises(ValueError, match="3 images"):
        priors.VampPrior(3, model, init=images[:2])
    with pytest.raises(ValueError, match="image_shape"):
        priors.VampPrior(3, model.encode)
    encode_only = priors.VampPrior(3, model.encode, image_shape=(1, 28, 28))
    assert encode_only.log_prob(torch.zeros(1, 2)).shape == (1,)


# ---------------------------------------------------------------- losses with a prior


def _out(batch=16, latent_dim=2, seed=0):
    torch.manual_seed(seed)
    model = models.MLPVAE(latent_dim=latent_dim, hidden_dim=32)
    x = torch.rand(batch, 1, 28, 28)
    return model, x, model(x)


def test_elbo_with_a_prior_uses_the_monte_carlo_kl_at_the_sampled_z():
    model, x, out = _out()
    prior = _mixture(3, 2)
    terms = losses.elbo(out, x, prior=prior)
    by_hand = (losses.log_normal(out.z, out.mu, out.logvar) - prior.log_prob(out.z)).mean()
    assert torch.allclose(terms.kl, by_hand)
    assert torch.allclose(terms.kl, losses.kl_monte_carlo(out.z, out.mu, out.logvar,
                                                          log_prior=prior.log_prob))  # fmt: skip
    assert torch.allclose(terms.loss, terms.recon + terms.kl)
    assert torch.allclose(
        losses.elbo(out, x, beta=3.0, prior=prior).loss, terms.recon + 3 * terms.kl
    )
    terms.loss.backward()
    assert prior.means.grad.abs().sum() > 0 and model.to_logvar.weight.grad.abs().sum() > 0


def test_elbo_with_the_standard_normal_object_estimates_the_closed_form():
    torch.manual_seed(0)
    num_draws, batch, dim = 20_000, 4, 3
    mu, logvar = torch.randn(batch, dim), torch.randn(batch, dim) - 1
    z = mu + torch.exp(0.5 * logvar) * torch.randn(num_draws, batch, dim)  # (S, B, D)
    mu_s, logvar_s = mu.expand(num_draws, -1, -1), logvar.expand(num_draws, -1, -1)
    x = torch.zeros(num_draws * batch, 1, 1, 1)  # the reconstruction plays no part here
    out = models.VAEOutput(x, mu_s.reshape(-1, dim), logvar_s.reshape(-1, dim), z.reshape(-1, dim))
    mc = losses.elbo(out, x, prior=priors.StandardNormal(dim)).kl  # mean over S * B draws
    per_draw = losses.kl_monte_carlo(out.z, out.mu, out.logvar, reduction="none")
    se = per_draw.std() / math.sqrt(len(per_draw))
    closed = losses.kl_divergence(mu, logvar)  # batch mean, closed form
    assert (mc - closed).abs() < 4 * se


def test_elbo_refuses_free_bits_with_a_prior_and_objects_without_log_prob():
    _, x, out = _out()
    with pytest.raises(ValueError, match="free bits"):
        losses.elbo(out, x, prior=priors.StandardNormal(2), free_bits=0.5)
    with pytest.raises(ValueError, match="log_prob"):
        losses.elbo(out, x, prior="mixture")


def test_iwae_with_the_standard_normal_object_equals_the_default():
    model, x, _ = _out(batch=4)
    model.eval()
    a = losses.iwae_bound(model, x, num_samples=50, generator=torch.Generator().manual_seed(3))
    b = losses.iwae_bound(model, x, num_samples=50, prior=priors.StandardNormal(2),
                          generator=torch.Generator().manual_seed(3))  # fmt: skip
    assert torch.allclose(a, b)


def test_iwae_with_a_mixture_prior_by_hand():
    model, x, _ = _out(batch=3)
    model.eval()
    prior = _mixture(4, 2)
    k = 7
    got = losses.iwae_bound(model, x, num_samples=k, prior=prior,
                            generator=torch.Generator().manual_seed(5))  # fmt: skip
    mu, logvar = model.encode(x)
    eps = torch.randn(k, 3, 2, generator=torch.Generator().manual_seed(5))
    z = mu + torch.exp(0.5 * logvar) * eps  # (k, B, D)
    oracle = _torch_mixture(prior.means, prior.logvars, prior.logits)
    log_w = torch.stack([
        -losses.bernoulli_nll(model.decode(z[i]), x, reduction="none")
        + oracle.log_prob(z[i])
        - Independent(Normal(mu, torch.exp(0.5 * logvar)), 1).log_prob(z[i])
        for i in range(k)
    ])  # fmt: skip
    expected = torch.logsumexp(log_w, dim=0) - math.log(k)
    assert torch.allclose(got, expected.detach(), atol=1e-4)
