"""Image-quality and latent-space metrics: PSNR, SSIM, LPIPS, checkerboard energy, active
units, a linear probe, ROC and AUROC.

LPIPS needs the optional ``lpips`` package (``pip install -e .[lpips]``) and ImageNet-pretrained
backbone weights that torchvision downloads on first use; offline it raises ``LPIPSUnavailable``.
"""

from __future__ import annotations

import importlib.util
import math
import warnings
from pathlib import Path
from urllib.parse import urlparse

import torch
import torch.nn.functional as F

from vaelab.losses import _reduce

__all__ = [
    "LPIPSUnavailable",
    "active_units",
    "auroc",
    "bits_per_dim",
    "checkerboard_energy",
    "linear_probe",
    "lpips",
    "psnr",
    "roc_curve",
    "ssim",
]


def _check_images_pair(x: torch.Tensor, x_hat: torch.Tensor) -> None:
    if x.shape != x_hat.shape or x.dim() < 2:
        raise ValueError(
            f"x and x_hat must be batches of the same shape (B, ...), got {tuple(x.shape)} and "
            f"{tuple(x_hat.shape)}"
        )


def psnr(
    x: torch.Tensor, x_hat: torch.Tensor, *, max_val: float = 1.0, reduction: str = "mean"
) -> torch.Tensor:
    """Peak signal-to-noise ratio per image, in dB: 10 log10(max_val^2 / MSE).

    Args:
        x, x_hat: (B, C, H, W) images in [0, max_val].
        reduction: "mean" over the images' PSNRs, "sum", or "none" for (B,).
    """
    _check_images_pair(x, x_hat)
    mse = (x - x_hat).pow(2).flatten(1).mean(dim=1)  # (B,)
    return _reduce(10.0 * torch.log10(max_val**2 / mse), reduction)


def _gaussian_window(sigma: float, truncate: float, device, dtype) -> torch.Tensor:
    radius = int(truncate * sigma + 0.5)
    t = torch.arange(-radius, radius + 1, device=device, dtype=dtype)
    w = torch.exp(-0.5 * (t / sigma) ** 2)
    return w / w.sum()


def ssim(
    x: torch.Tensor,
    x_hat: torch.Tensor,
    *,
    max_val: float = 1.0,
    sigma: float = 1.5,
    reduction: str = "mean",
) -> torch.Tensor:
    """Structural similarity per image (Wang et al. 2004) with an 11x11 Gaussian window.

    Matches ``skimage.metrics.structural_similarity(..., gaussian_weights=True,
    sigma=1.5, use_sample_covariance=False, data_range=max_val)``: local statistics
    over windows that fit inside the image, averaged over positions and channels.

    Args:
        x, x_hat: (B, C, H, W) images in [0, max_val], H and W at least 11.
        reduction: "mean", "sum", or "none" for (B,).
    """
    _check_images_pair(x, x_hat)
    if x.dim() != 4:
        raise ValueError(f"ssim expects (B, C, H, W) images, got shape {tuple(x.shape)}")
    w = _gaussian_window(sigma, 3.5, x.device, x.dtype)
    if x.shape[-1] < len(w) or x.shape[-2] < len(w):
        raise ValueError(f"ssim needs images of at least {len(w)}x{len(w)}, got {tuple(x.shape)}")
    channels = x.shape[1]
    kernel = (w[:, None] * w[None, :]).expand(channels, 1, len(w), len(w))

    def blur(t: torch.Tensor) -> torch.Tensor:
        return F.conv2d(t, kernel, groups=channels)  # valid: (B, C, H-10, W-10)

    c1, c2 = (0.01 * max_val) ** 2, (0.03 * max_val) ** 2
    mu_x, mu_y = blur(x), blur(x_hat)
    var_x = blur(x * x) - mu_x**2
    var_y = blur(x_hat * x_hat) - mu_y**2
    cov = blur(x * x_hat) - mu_x * mu_y
    s = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / (
        (mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2)
    )
    return _reduce(s.flatten(1).mean(dim=1), reduction)


class LPIPSUnavailable(RuntimeError):
    """LPIPS cannot be computed here: no ``lpips`` package, or no pretrained backbone weights."""


_LPIPS_NETS: dict[tuple[str, bool], torch.nn.Module] = {}
# torchvision's ImageNet weights for each LPIPS backbone (the IMAGENET1K_V1 entries of its
# weight enums, checked in the tests), so that the offline case needs no torchvision import.
_BACKBONE_URLS = {
    "alex": "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",
    "vgg": "https://download.pytorch.org/models/vgg16-397923af.pth",
    "squeeze": "https://download.pytorch.org/models/squeezenet1_1-b8a52dc0.pth",
}


def _backbone_weights(net: str) -> tuple[str, Path]:
    """The URL of torchvision's ImageNet weights for ``net`` and where torchvision caches them."""
    url = _BACKBONE_URLS[net]
    return url, Path(torch.hub.get_dir()) / "checkpoints" / Path(urlparse(url).path).name


def _download_error(url: str, *, timeout: float = 5.0) -> str | None:
    """Why ``url`` cannot be reached (a short message), or None when it can."""
    import urllib.request

    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout):
            return None
    except OSError as err:  # URLError, timeouts and refused connections are all OSErrors
        return str(getattr(err, "reason", err))


def _lpips_net(net: str, pretrained: bool) -> torch.nn.Module:
    """The ``lpips.LPIPS`` module for ``net``, built once per process."""
    if net not in _BACKBONE_URLS:
        raise ValueError(f"net must be one of {sorted(_BACKBONE_URLS)}, got {net!r}")
    key = (net, pretrained)
    if key in _LPIPS_NETS:
        return _LPIPS_NETS[key]
    if importlib.util.find_spec("lpips") is None:
        raise LPIPSUnavailable(
            "metrics.lpips needs the optional lpips package: pip install -e '.[lpips]' "
            "(or pip install lpips); PSNR and SSIM need nothing extra"
        )
    if pretrained:
        url, path = _backbone_weights(net)
        reason = None if path.exists() else _download_error(url)
        if reason is not None:
            raise LPIPSUnavailable(
                f"LPIPS needs torchvision's ImageNet-pretrained {net} weights ({path.name}), "
                f"which are downloaded on first use, and {url} cannot be reached ({reason}). "
                f"Run metrics.lpips once with internet access (the file is then cached in "
                f"{path.parent}) or copy the file there; PSNR and SSIM need no weights"
            )
    import lpips as lpips_package  # optional: pip install -e .[lpips]

    with warnings.catch_warnings():  # lpips passes torchvision's deprecated pretrained=
        warnings.simplefilter("ignore", UserWarning)
        model = lpips_package.LPIPS(net=net, pnet_rand=not pretrained, verbose=False)
    model.eval().requires_grad_(False)
    _LPIPS_NETS[key] = model
    return model


def lpips(
    x: torch.Tensor,
    x_hat: torch.Tensor,
    *,
    net: str = "alex",
    size: int = 64,
    pretrained: bool = True,
    reduction: str = "mean",
) -> torch.Tensor:
    """LPIPS perceptual distance per image (Zhang et al. 2018), through the ``lpips`` package.

    The distance between the two images' feature maps in an ImageNet-trained network, weighted
    by layers fitted to human judgements; 0 for identical images, lower is more alike. Grey
    images are repeated to three channels and resized to ``size`` x ``size`` (bilinear) first:
    AlexNet's pooling needs at least 32 pixels, and 28 x 28 digits are smaller.

    Only the pretrained backbone gives meaningful values. ``pretrained=False`` builds the
    package's randomly initialised backbone (seeded by torch's global RNG), which needs no
    download: use it to test the plumbing offline, never to compare models.

    Args:
        x, x_hat: (B, C, H, W) images in [0, 1], C = 1 or 3.
        net: the backbone, "alex" (the package's default), "vgg" or "squeeze".
        size: side length the images are resized to.
        pretrained: load torchvision's ImageNet weights (downloaded on first use).
        reduction: "mean", "sum", or "none" for (B,).

    Raises:
        LPIPSUnavailable: the ``lpips`` package is not installed, or the backbone weights are
            not cached and cannot be downloaded.
    """
    _check_images_pair(x, x_hat)
    if x.dim() != 4 or x.shape[1] not in (1, 3):
        raise ValueError(f"lpips expects (B, 1 or 3, H, W) images, got shape {tuple(x.shape)}")
    if size < 32:
        raise ValueError(f"size must be at least 32 for LPIPS's backbone, got {size}")
    model = _lpips_net(net, pretrained).to(x.device)

    def prepare(images: torch.Tensor) -> torch.Tensor:
        images = images.float().expand(-1, 3, -1, -1)  # grey -> RGB (no-op for 3 channels)
        images = F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False)
        return 2 * images - 1  # the package expects [-1, 1]

    with torch.no_grad():
        distance = model(prepare(x), prepare(x_hat)).flatten()  # (B,)
    return _reduce(distance.to(x.dtype), reduction)


def checkerboard_energy(x: torch.Tensor, *, reduction: str = "mean") -> torch.Tensor:
    """Share of each image's variance at the highest spatial frequencies: the checkerboard share.

    The 2-D Fourier transform of the mean-removed image; the energy in the row and the column
    of period-2 patterns (frequency H/2 or W/2: pixels alternating one by one) over the total.
    0 for a smooth image, 1 for a pure checkerboard; a stride-2 transposed convolution whose
    overlaps are uneven adds energy exactly there (Odena et al. 2016).

    Args:
        x: (B, C, H, W) images, H and W even.
        reduction: "mean", "sum", or "none" for (B,).
    """
    if x.dim() != 4 or x.shape[-1] % 2 or x.shape[-2] % 2:
        raise ValueError(f"expected (B, C, H, W) images with even H and W, got {tuple(x.shape)}")
    height, width = x.shape[-2:]
    centred = x - x.mean(dim=(-2, -1), keepdim=True)
    power = torch.fft.fft2(centred).abs().pow(2)  # (B, C, H, W)
    nyquist = torch.zeros(height, width, dtype=torch.bool, device=x.device)
    nyquist[height // 2, :] = True
    nyquist[:, width // 2] = True
    total = power.flatten(1).sum(dim=1)  # (B,)
    share = power[..., nyquist].flatten(1).sum(dim=1) / total.clamp_min(1e-12)
    return _reduce(share, reduction)


def active_units(mu: torch.Tensor, *, threshold: float = 0.01) -> int:
    """Number of latent dimensions whose posterior mean varies across the data (Burda, Grosse
    and Salakhutdinov, ICLR 2016).

    A unit u is active when Var_x(E_q[z_u | x]) > threshold.

    Args:
        mu: (N, D) posterior means over a dataset (N >= 2).
    """
    if mu.dim() != 2 or mu.shape[0] < 2:
        raise ValueError(f"expected mu of shape (N, D) with N >= 2, got {tuple(mu.shape)}")
    return int((mu.var(dim=0) > threshold).sum())


def linear_probe(
    z_train: torch.Tensor,
    y_train: torch.Tensor,
    z_test: torch.Tensor,
    y_test: torch.Tensor,
    *,
    c: float = 1.0,
    max_iter: int = 100,
) -> float:
    """Test accuracy of a logistic regression fitted on codes: how linearly the classes separate.

    Each dimension is standardised with the training codes' mean and standard deviation, then
    a multinomial logistic regression is fitted with L-BFGS in float64 to the objective of
    scikit-learn's ``LogisticRegression(C=c)``: ``c`` times the summed log-loss plus half the
    squared weights (the bias is not penalised).

    Args:
        z_train: (N, D) codes (a VAE's mu, an autoencoder's z) with labels y_train (N,).
        z_test: (M, D) codes with labels y_test (M,).
        c: inverse regularisation strength, as scikit-learn's C.
        max_iter: L-BFGS iterations at most (100 is plenty for a test accuracy: more moves
            the lessons' probes by less than 0.1 percentage point).

    Returns:
        The share of test codes whose label the probe predicts.
    """
    if z_train.dim() != 2 or z_test.dim() != 2 or z_train.shape[1] != z_test.shape[1]:
        raise ValueError(
            "expected codes (N, D) and (M, D) with the same D, got "
            f"{tuple(z_train.shape)} and {tuple(z_test.shape)}"
        )
    if len(z_train) != len(y_train) or len(z_test) != len(y_test):
        raise ValueError("each set of codes needs one label per code")
    z_train, z_test = z_train.detach().double().cpu(), z_test.detach().double().cpu()
    y_train, y_test = y_train.long().cpu(), y_test.long().cpu()
    mean, std = z_train.mean(dim=0), z_train.std(dim=0).clamp_min(1e-8)
    features = (z_train - mean) / std  # (N, D)
    num_classes = int(max(y_train.max(), y_test.max())) + 1
    weight = torch.zeros(z_train.shape[1], num_classes, dtype=torch.float64, requires_grad=True)
    bias = torch.zeros(num_classes, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS(
        [weight, bias], max_iter=max_iter, tolerance_grad=1e-9, line_search_fn="strong_wolfe"
    )

    def objective() -> torch.Tensor:
        optimizer.zero_grad()
        log_loss = F.cross_entropy(features @ weight + bias, y_train, reduction="sum")
        loss = (c * log_loss + 0.5 * weight.pow(2).sum()) / len(features)  # scaled: same optimum
        loss.backward()
        return loss

    optimizer.step(objective)
    with torch.no_grad():
        predicted = (((z_test - mean) / std) @ weight + bias).argmax(dim=1)  # (M,)
    return float((predicted == y_test).double().mean())


def _prepare_scores(scores, labels) -> tuple[torch.Tensor, torch.Tensor]:
    scores = torch.as_tensor(scores, dtype=torch.float64).flatten().cpu()
    labels = torch.as_tensor(labels).flatten().cpu()
    if scores.shape != labels.shape:
        raise ValueError(f"scores and labels differ in length: {len(scores)} vs {len(labels)}")
    if not torch.isin(labels, torch.tensor([0, 1])).all():
        raise ValueError("labels must be 0 (normal) or 1 (anomaly)")
    labels = labels.bool()
    if labels.all() or not labels.any():
        raise ValueError("AUROC needs both classes among the labels: some 0s and some 1s")
    return scores, labels


def auroc(scores, labels) -> float:
    """Area under the ROC curve: the probability that a random positive outscores a random
    negative (ties count one half). Higher scores should mean "more likely label 1".

    Args:
        scores: (N,) anomaly scores.
        labels: (N,) 1 for positives (anomalies), 0 for negatives.
    """
    scores, labels = _prepare_scores(scores, labels)
    # Mann-Whitney U from average ranks (ties share their mean rank).
    sorted_scores, order = torch.sort(scores, stable=True)
    ranks = torch.empty_like(scores)
    _, inverse, counts = torch.unique_consecutive(
        sorted_scores, return_inverse=True, return_counts=True
    )
    ends = torch.cumsum(counts, 0).double()
    mean_rank = ends - (counts.double() - 1) / 2  # 1-based average rank of each tie group
    ranks[order] = mean_rank[inverse]
    n_pos = int(labels.sum())
    n_neg = len(labels) - n_pos
    u = ranks[labels].sum() - n_pos * (n_pos + 1) / 2
    return float(u / (n_pos * n_neg))


def roc_curve(scores, labels) -> tuple[torch.Tensor, torch.Tensor]:
    """False- and true-positive rates at every threshold, from the strictest down.

    Returns:
        (fpr, tpr), each starting at 0 and ending at 1; ``torch.trapezoid(tpr, fpr)``
        equals ``auroc``.
    """
    scores, labels = _prepare_scores(scores, labels)
    order = torch.argsort(scores, descending=True, stable=True)
    s, lab = scores[order], labels[order].double()
    tps, fps = torch.cumsum(lab, 0), torch.cumsum(1 - lab, 0)
    last_of_tie = torch.ones_like(s, dtype=torch.bool)
    last_of_tie[:-1] = s[1:] != s[:-1]
    zero = torch.zeros(1, dtype=torch.float64)
    tpr = torch.cat([zero, tps[last_of_tie] / tps[-1]])
    fpr = torch.cat([zero, fps[last_of_tie] / fps[-1]])
    return fpr, tpr


def bits_per_dim(nll: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """A negative log-likelihood per image in nats, (B,), as bits per pixel value, (B,).

    Divides by the number of values in one image of ``x`` (C * H * W) and by ln 2: the
    unit in which likelihood models compare across image sizes.
    """
    return nll / (x[0].numel() * math.log(2.0))
