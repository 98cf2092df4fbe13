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


def test_sample_decodes_prior_codes_drawn_with_the_generator():
    from vaelab import models

    torch.manual_seed(0)
    model = models.MLPVAE(latent_dim=3, hidden_dim=8).double()
    images = latent.sample(model, 5, generator=torch.Generator().manual_seed(2))
    z = torch.randn(5, 3, generator=torch.Generator().manual_seed(2)).double()
    with torch.no_grad():
        expected = torch.distributions.Bernoulli(logits=model.decode(z)).mean
    assert images.dtype == torch.float64 and not images.requires_grad
    assert torch.allclose(images, expected)
    assert torch.equal(images, model.sample(5, generator=torch.Generator().manual_seed(2)))


def test_latent_sample_decodes_the_same_draws_with_an_autoencoder():
    from vaelab import models

    torch.manual_seed(0)
    ae = models.MLPAutoencoder(latent_dim=3, hidden_dim=8)
    assert not hasattr(ae, "sample")
    images = latent.sample(ae, 4, generator=torch.Generator().manual_seed(5))
    z = torch.randn(4, 3, generator=torch.Generator().manual_seed(5))  # the same prior draws
    with torch.no_grad():
        expected = torch.distributions.Bernoulli(logits=ae.decode(z)).mean
    assert images.shape == (4, 1, 28, 28) and not images.requires_grad
    assert torch.allclose(images, expected)


def test_encode_dataset_matches_a_single_encode():
    from vaelab import models

    model = models.MLPVAE(latent_dim=3)
    x = torch.rand(25, 1, 28, 28)
    mu, logvar = latent.encode_dataset(model, x, batch_size=10)
    ref_mu, ref_logvar = model.eval().encode(x)
    assert torch.allclose(mu, ref_mu, atol=1e-6) and torch.allclose(logvar, ref_logvar, atol=1e-6)
    ae = models.MLPAutoencoder(latent_dim=2)
    assert latent.encode_dataset(ae, x, batch_size=7).shape == (25, 2)


# ----------------------------------------------------------------- checkerboard, probe, LPIPS


def test_checkerboard_energy_is_the_share_of_period_two_patterns():
    i, j = torch.meshgrid(torch.arange(28), torch.arange(28), indexing="ij")
    board = ((i + j) % 2).double()[None, None]  # a pure checkerboard
    stripes = (j % 2).double()[None, None]  # columns alternating: also period 2
    smooth = torch.exp(-((i - 14.0) ** 2 + (j - 14.0) ** 2) / 50).double()[None, None]
    assert metrics.checkerboard_energy(board).item() == pytest.approx(1.0)
    assert metrics.checkerboard_energy(stripes).item() == pytest.approx(1.0)
    assert metrics.checkerboard_energy(smooth).item() < 1e-6
    # A mix: the checkerboard's variance over the total (the parts are nearly orthogonal).
    mixed = smooth + 0.1 * (board - 0.5)
    expected = (0.1 * 0.5) ** 2 / (0.0025 + smooth.var(unbiased=False).item())
    assert metrics.checkerboard_energy(mixed).item() == pytest.approx(expected, rel=1e-3)
    # numpy's FFT as the oracle for an arbitrary image
    g = torch.Generator().manual_seed(0)
    x = torch.rand(3, 1, 28, 28, generator=g, dtype=torch.float64)
    spectrum = np.abs(np.fft.fft2(x.numpy() - x.numpy().mean(axis=(-2, -1), keepdims=True))) ** 2
    at_nyquist = spectrum[..., 14, :].sum(-1) + spectrum[..., :, 14].sum(-1) - spectrum[..., 14, 14]
    oracle = (at_nyquist / spectrum.sum(axis=(-2, -1))).ravel()
    assert np.allclose(metrics.checkerboard_energy(x, reduction="none").numpy(), oracle)
    with pytest.raises(ValueError, match="even"):
        metrics.checkerboard_energy(torch.rand(1, 1, 27, 27))


def _blobs(n, generator):
    # Three classes in 6 dimensions, separated along the first two, on different scales.
    y = torch.arange(n) % 3
    centres = torch.tensor([[0.0, 0.0], [3.0, 0.0], [0.0, 3.0]])
    z = torch.randn(n, 6, generator=generator, dtype=torch.float64)
    z[:, :2] += centres[y]
    return z * torch.tensor([1.0, 1.0, 10.0, 0.1, 1.0, 50.0], dtype=torch.float64), y


def test_linear_probe_matches_scikit_learn_logistic_regression():
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    g = torch.Generator().manual_seed(0)
    z_train, y_train = _blobs(600, g)
    z_test, y_test = _blobs(300, g)
    for c in (1.0, 0.01):
        ours = metrics.linear_probe(z_train, y_train, z_test, y_test, c=c)
        scaler = StandardScaler().fit(z_train.numpy())
        oracle = LogisticRegression(C=c, max_iter=5000, tol=1e-10).fit(
            scaler.transform(z_train.numpy()), y_train.numpy()
        )
        expected = oracle.score(scaler.transform(z_test.numpy()), y_test.numpy())
        assert ours == pytest.approx(expected, abs=1 / 300), c  # at most one code differs
    assert ours > 0.7  # the classes do separate


def test_linear_probe_is_at_chance_on_codes_that_ignore_the_label():
    g = torch.Generator().manual_seed(1)
    z_train, z_test = torch.randn(500, 4, generator=g), torch.randn(2000, 4, generator=g)
    y_train = torch.randint(0, 10, (500,), generator=g)
    y_test = torch.randint(0, 10, (2000,), generator=g)
    assert abs(metrics.linear_probe(z_train, y_train, z_test, y_test) - 0.1) < 0.04
    with pytest.raises(ValueError, match="one label per code"):
        metrics.linear_probe(z_train, y_train[:10], z_test, y_test)


def test_lpips_plumbing_with_the_random_backbone():
    lpips_package = pytest.importorskip("lpips")
    g = torch.Generator().manual_seed(0)
    x = torch.rand(4, 1, 28, 28, generator=g)
    x_hat = (x + 0.3 * torch.randn(4, 1, 28, 28, generator=g)).clamp(0, 1)
    torch.manual_seed(0)  # the random backbone's weights
    d = metrics.lpips(x, x_hat, pretrained=False, reduction="none")
    assert d.shape == (4,) and (d > 0).all()
    assert torch.allclose(metrics.lpips(x, x, pretrained=False, reduction="none"), torch.zeros(4))
    assert torch.allclose(metrics.lpips(x_hat, x, pretrained=False, reduction="none"), d)
    assert torch.allclose(metrics.lpips(x[:1], x_hat[:1], pretrained=False), d[0])
    # The same numbers as the package itself on RGB images resized to 64 x 64 in [-1, 1].
    net = metrics._lpips_net("alex", False)
    assert isinstance(net, lpips_package.LPIPS)

    def rgb64(images):
        big = torch.nn.functional.interpolate(
            images.repeat(1, 3, 1, 1), size=(64, 64), mode="bilinear"
        )
        return 2 * big - 1

    with torch.no_grad():
        expected = net(rgb64(x), rgb64(x_hat)).flatten()
    assert torch.allclose(d, expected, atol=1e-6)
    with pytest.raises(ValueError, match="at least 32"):
        metrics.lpips(x, x_hat, pretrained=False, size=28)


def test_lpips_offline_raises_one_clear_error(monkeypatch, tmp_path):
    pytest.importorskip("lpips")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # no cached weights
    monkeypatch.setattr(metrics, "_download_error", lambda url: "Name or service not known")
    monkeypatch.setattr(metrics, "_LPIPS_NETS", {})
    x = torch.rand(2, 1, 28, 28)
    with pytest.raises(metrics.LPIPSUnavailable, match="ImageNet-pretrained alex weights") as err:
        metrics.lpips(x, x)
    message = str(err.value)
    assert "download.pytorch.org" in message and str(tmp_path) in message
    assert "Name or service not known" in message and "\n" not in message  # one line
    with pytest.raises(ValueError, match="net must be one of"):
        metrics.lpips(x, x, net="resnet")


def test_download_error_reports_an_unreachable_address():
    reason = metrics._download_error("http://127.0.0.1:9/alexnet.pth", timeout=2.0)
    assert isinstance(reason, str) and reason  # nothing listens on the discard port


def test_lpips_backbone_urls_are_torchvisions():
    from torchvision import models as tv_models

    enums = {"alex": "AlexNet_Weights", "vgg": "VGG16_Weights", "squeeze": "SqueezeNet1_1_Weights"}
    for net, enum in enums.items():
        assert metrics._BACKBONE_URLS[net] == getattr(tv_models, enum).IMAGENET1K_V1.url


def test_lpips_without_the_package_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(metrics.importlib.util, "find_spec", lambda name: None)
    monkeypatch.setattr(metrics, "_LPIPS_NETS", {})
    with pytest.raises(metrics.LPIPSUnavailable, match=r"pip install -e '\.\[lpips\]'"):
        metrics.lpips(torch.rand(2, 1, 28, 28), torch.rand(2, 1, 28, 28))
