"""Image-quality and latent-space metrics: PSNR, SSIM, active units, ROC and AUROC.

LPIPS, often reported beside PSNR and SSIM, needs ImageNet-pretrained weights that
cannot be downloaded offline, so vaelab does not provide it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from vaelab.losses import _reduce

__all__ = ["active_units", "auroc", "psnr", "roc_curve", "ssim"]


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


def active_units(mu: torch.Tensor, *, threshold: float = 0.01) -> int:
    """Number of latent dimensions whose posterior mean varies across the data (Burda et al. 2015).

    A unit u is active when Var_x(E_q[z_u | x]) > threshold.

    Args:
        mu: (N, D) posterior means over a dataset (N >= 2).
    """
    if mu.dim() != 2 or mu.shape[0] < 2:
        raise ValueError(f"expected mu of shape (N, D) with N >= 2, got {tuple(mu.shape)}")
    return int((mu.var(dim=0) > threshold).sum())


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
