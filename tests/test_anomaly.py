"""vaelab.anomaly: per-image scores checked against torch.distributions, and their use."""

import torch
from torch.distributions import Bernoulli, Normal, kl_divergence

from vaelab import anomaly, metrics, models


def _setup(batch: int = 5):
    torch.manual_seed(0)
    model = models.MLPVAE(image_shape=(1, 8, 8), hidden_dim=16, latent_dim=3)
    x = torch.rand(batch, 1, 8, 8)
    return model, x


def test_scores_match_torch_distributions():
    model, x = _setup()
    with torch.no_grad():
        mu, logvar = model.encode(x)
        x_logits = model.decode(mu)
    recon = -Bernoulli(logits=x_logits, validate_args=False).log_prob(x).flatten(1).sum(1)
    prior = Normal(torch.zeros_like(mu), torch.ones_like(mu))
    kl = kl_divergence(Normal(mu, torch.exp(0.5 * logvar)), prior).sum(1)
    torch.testing.assert_close(anomaly.reconstruction_score(model, x), recon)
    torch.testing.assert_close(anomaly.latent_score(model, x), -prior.log_prob(mu).sum(1))
    torch.testing.assert_close(anomaly.anomaly_score(model, x), recon + kl)
    torch.testing.assert_close(anomaly.anomaly_score(model, x, beta=0.0), recon)


def test_scores_are_per_image_deterministic_and_gradient_free():
    model, x = _setup(batch=1)
    for score in (anomaly.reconstruction_score, anomaly.latent_score, anomaly.anomaly_score):
        first, second = score(model, x), score(model, x)
        assert first.shape == (1,) and not first.requires_grad
        assert torch.equal(first, second)


def test_noise_images_score_higher_than_blank_ones_after_fitting():
    model, _ = _setup()
    blank = torch.zeros(20, 1, 8, 8)
    noise = torch.rand(20, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    for _ in range(30):  # plain gradient steps (no optimizer import): images are blank
        model.zero_grad()
        loss = -Bernoulli(logits=model(blank).x_logits).log_prob(blank).sum(dim=(1, 2, 3)).mean()
        loss.backward()
        with torch.no_grad():
            for p in model.parameters():
                p -= 0.05 * p.grad
    scores = torch.cat([anomaly.anomaly_score(model, blank), anomaly.anomaly_score(model, noise)])
    labels = torch.cat([torch.zeros(20), torch.ones(20)])
    assert metrics.auroc(scores, labels) > 0.95
