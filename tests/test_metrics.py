"""vaelab.metrics against scikit-image and scikit-learn, and schedules/latent helpers."""

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity
from sklearn.metrics import roc_auc_score
from sklearn.metrics import roc_curve as sk_roc_curve

from vaelab import latent, metrics, schedules


@pytest.fixture
def image_pair():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(4, 1, 28, 28, generator=g, dtype=torch.float64)
    noise = 0.1 * torch.randn(4, 1, 28, 28, generator=g, dtype=torch.float64)
    return x, (x + noise).clamp(0, 1)


def test_psnr_matches_scikit_image(image_pair):
    x, x_hat = image_pair
    ours = metrics.psnr(x, x_hat, reduction="none")
    for i in range(len(x)):
        oracle = peak_signal_noise_ratio(x[i].numpy(), x_hat[i].numpy(), data_range=1.0)
        assert ours[i].item() == pytest.approx(oracle, rel=1e-9)
    assert metrics.psnr(x, x_hat).item() == pytest.approx(ours.mean().item())
    assert metrics.psnr(x * 255, x_hat * 255, max_val=255.0).allclose(metrics.psnr(x, x_hat))


def test_ssim_matches_scikit_image(image_pair):
    x, x_hat = image_pair
    ours = metrics.ssim(x, x_hat, reduction="none")
    for i in range(len(x)):
        oracle = structural_similarity(
            x[i, 0].numpy(),
            x_hat[i, 0].numpy(),
            data_range=1.0,
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
        )
        assert ours[i].item() == pytest.approx(oracle, abs=1e-6)
    assert metrics.ssim(x, x).allclose(torch.tensor(1.0, dtype=torch.float64))


def test_metrics_refuse_mismatched_shapes():
    with pytest.raises(ValueError, match="same shape"):
        metrics.psnr(torch.rand(2, 1, 28, 28), torch.rand(2, 784))
    with pytest.raises(ValueError, match="at least 11x11"):
        metrics.ssim(torch.rand(2, 1, 8, 8), torch.rand(2, 1, 8, 8))


def test_active_units_counts_dimensions_with_varying_means():
    g = torch.Generator().manual_seed(0)
    mu = torch.randn(1000, 5, generator=g) * torch.tensor([1.0, 0.5, 0.01, 0.0, 0.2])
    # variances ~ 1, 0.25, 1e-4, 0, 0.04 -> three exceed 0.01
    assert metrics.active_units(mu) == 3
    assert metrics.active_units(mu, threshold=0.1) == 2
    exact = torch.tensor([[0.0], [0.5]])  # unbiased variance exactly 0.125
    assert metrics.active_units(exact, threshold=0.125) == 0  # strictly greater
    assert metrics.active_units(exact, threshold=0.124) == 1
    with pytest.raises(ValueError, match="N >= 2"):
        metrics.active_units(torch.zeros(1, 3))


def test_auroc_and_roc_curve_match_scikit_learn():
    g = torch.Generator().manual_seed(0)
    labels = (torch.rand(300, generator=g) < 0.3).long()
    scores = torch.randn(300, generator=g) + labels * 1.0
    scores[:40] = scores[:40].round()  # ties
    assert metrics.auroc(scores, labels) == pytest.approx(roc_auc_score(labels, scores))
    fpr, tpr = metrics.roc_curve(scores, labels)
    sk_fpr, sk_tpr, _ = sk_roc_curve(labels, scores, drop_intermediate=False)
    assert np.allclose(fpr.numpy(), sk_fpr) and np.allclose(tpr.numpy(), sk_tpr)
    assert torch.trapezoid(tpr, fpr).item() == pytest.approx(metrics.auroc(scores, labels))
    with pytest.raises(ValueError, match="both classes"):
        metrics.auroc([0.1, 0.2], [1, 1])


@pytest.mark.parametrize(
    "step, expected", [(0, 0.0), (1, 0.001), (300, 0.3), (999, 0.999), (1000, 1.0), (5000, 1.0)]
)
def test_linear_kl_weight(step, expected):
    assert schedules.linear_kl_weight(step, 1000) == pytest.approx(expected)


def test_cyclical_kl_weight_rises_then_holds_every_period():
    period, ratio = 100, 0.5
    weights = [schedules.cyclical_kl_weight(s, period, ratio) for s in range(300)]
    assert weights[0] == 0.0 and weights[25] == pytest.approx(0.5) and weights[50] == 1.0
    assert weights[99] == 1.0 and weights[100] == 0.0 and weights[200] == 0.0
    assert weights[:100] == weights[100:200]
    schedule = schedules.cyclical(period, ratio=ratio, beta=4.0)
    assert schedule(125) == pytest.approx(2.0)
    assert schedules.linear_warmup(10, beta=2.0)(5) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        schedules.cyclical_kl_weight(5, 0)


def test_interpolation_paths():
    g = torch.Generator().manual_seed(0)
    z0, z1 = torch.randn(16, generator=g), torch.randn(16, generator=g)
    line = latent.interpolate(z0, z1, num_steps=7)
    assert torch.allclose(line[0], z0) and torch.allclose(line[-1], z1)
    assert torch.allclose(line[3], (z0 + z1) / 2)
    arc = latent.interpolate(z0, z1, num_steps=7, method="slerp")
    assert torch.allclose(arc[0], z0, atol=1e-6) and torch.allclose(arc[-1], z1, atol=1e-6)
    # slerp interpolates the norm linearly; the straight line cuts inside the sphere
    norms = torch.linspace(0, 1, 7)[:, None] * (z1.norm() - z0.norm()) + z0.norm()
    assert torch.allclose(arc.norm(dim=1), norms.flatten(), atol=1e-5)
    assert line.norm(dim=1)[3] < arc.norm(dim=1)[3]
    with pytest.raises(ValueError, match="method"):
        latent.interpolate(z0, z1, method="cubic")


def test_encode_dataset_matches_a_single_encode():
    from vaelab import models

    model = models.MLPVAE(latent_dim=3)
    x = torch.rand(25, 1, 28, 28)
    mu, logvar = latent.encode_dataset(model, x, batch_size=10)
    ref_mu, ref_logvar = model.eval().encode(x)
    assert torch.allclose(mu, ref_mu, atol=1e-6) and torch.allclose(logvar, ref_logvar, atol=1e-6)
    ae = models.MLPAutoencoder(latent_dim=2)
    assert latent.encode_dataset(ae, x, batch_size=7).shape == (25, 2)
