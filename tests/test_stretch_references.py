"""vaelab's references for the exercises' stretch functions (issue 22), each against an
independent oracle: torch.distributions, closed forms, brute force."""

from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import Categorical, Independent, Normal, kl_divergence

from vaelab import anomaly, disentangle, losses, metrics, priors, schedules

G = torch.Generator().manual_seed(22)


def randn(*shape):
    return torch.randn(*shape, generator=G, dtype=torch.float64)


def test_gaussian_nll_with_a_learned_variance_is_normal_log_prob():
    x_mean, logvar, x = randn(3, 1, 4, 4), randn(3, 1, 4, 4), randn(3, 1, 4, 4)
    want = -Normal(x_mean, (0.5 * logvar).exp()).log_prob(x).flatten(1).sum(1)
    got = losses.gaussian_nll(x_mean, x, logvar=logvar, reduction="none")
    torch.testing.assert_close(got, want)


def test_gaussian_entropy_is_normal_entropy():
    mu, logvar = randn(5, 3), randn(5, 3)
    want = Independent(Normal(mu, (0.5 * logvar).exp()), 1).entropy()
    torch.testing.assert_close(losses.gaussian_entropy(logvar), want)


def test_log_normal_is_normal_log_prob():
    z, mu, logvar = randn(4, 6), randn(4, 6), randn(4, 6)
    want = Independent(Normal(mu, (0.5 * logvar).exp()), 1).log_prob(z)
    torch.testing.assert_close(losses.log_normal(z, mu, logvar), want)


def test_kl_between_gaussians_is_torch_distributions_kl():
    mq, lq, mp, lp = randn(6, 4), randn(6, 4), randn(6, 4), randn(6, 4)
    q = Independent(Normal(mq, (0.5 * lq).exp()), 1)
    p = Independent(Normal(mp, (0.5 * lp).exp()), 1)
    torch.testing.assert_close(losses.kl_between_gaussians(mq, lq, mp, lp), kl_divergence(q, p))
    zeros = torch.zeros_like(mq)  # the standard-normal prior: the closed form of lesson 04
    torch.testing.assert_close(
        losses.kl_between_gaussians(mq, lq, zeros, zeros),
        losses.kl_divergence(mq, lq, reduction="none"),
    )


def test_rate_in_bits_is_the_kl_over_ln_2():
    mu, logvar = randn(5, 3), randn(5, 3)
    q = Independent(Normal(mu, (0.5 * logvar).exp()), 1)
    p = Independent(Normal(torch.zeros_like(mu), torch.ones_like(mu)), 1)
    torch.testing.assert_close(losses.rate_in_bits(mu, logvar), kl_divergence(q, p) / math.log(2))


def test_logistic_kl_weight_is_the_sigmoid_and_never_overflows():
    for step in range(0, 60, 7):
        want = float(torch.sigmoid(torch.tensor(0.3 * (step - 25.0), dtype=torch.float64)))
        assert schedules.logistic_kl_weight(step, 25.0, 0.3) == pytest.approx(want, rel=1e-12)
    assert schedules.logistic_kl_weight(0, 5000, 1.0) == pytest.approx(0.0, abs=1e-300)
    assert schedules.logistic_kl_weight(10**6, 0, 1.0) == 1.0
    assert schedules.logistic_kl_weight(7, 7, 0.5) == 0.5


def test_bits_per_dim_is_minus_log2_of_the_likelihood_per_value():
    x_mean, x = randn(2, 3, 2, 2), randn(2, 3, 2, 2)
    log2_p = Normal(x_mean, 1.0).log_prob(x).exp().log2().flatten(1).sum(1)
    nll = -Normal(x_mean, 1.0).log_prob(x).flatten(1).sum(1)
    torch.testing.assert_close(metrics.bits_per_dim(nll, x), -log2_p / 12)


@pytest.mark.parametrize("fpr", [0.0, 0.05, 0.1, 0.25, 0.5, 1.0])
def test_threshold_at_fpr_by_brute_force(fpr):
    scores = torch.tensor([3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0, 5.0, 3.5])
    allowed = [t for t in scores.tolist() if (scores > t).double().mean() <= fpr]
    assert float(anomaly.threshold_at_fpr(scores, fpr)) == min(allowed)
    with pytest.raises(ValueError, match="fpr"):
        anomaly.threshold_at_fpr(scores, 1.5)


def test_label_entropy_is_categorical_entropy():
    labels = torch.tensor([0, 3, 3, 1, 0, 3, 2, 2, 3])
    counts = torch.bincount(labels).double()
    want = Categorical(probs=counts / counts.sum()).entropy()
    torch.testing.assert_close(disentangle.entropy(labels[:, None])[0], want)


def test_mixture_responsibilities_by_bayes_rule():
    z, means, logvars, logits = randn(5, 3), randn(4, 3), randn(4, 3), randn(4)
    pi = logits.exp() / logits.exp().sum()
    dens = torch.stack(
        [
            Independent(Normal(means[k], (0.5 * logvars[k]).exp()), 1).log_prob(z).exp()
            for k in range(4)
        ],
        dim=1,
    )
    want = pi * dens / (pi * dens).sum(dim=1, keepdim=True)
    torch.testing.assert_close(priors.mixture_responsibilities(z, means, logvars, logits), want)
