"""Exercise 07: honest numbers, PSNR and the importance-weighted bound (lesson 07).

Fill in both functions, then grade them from the course's folder with
``.venv/bin/vaelab grade exercises/ex07_evaluation.py`` or, in the notebook,
``vaelab.grade.check("ex07")``.
"""

import torch


def psnr(x: torch.Tensor, x_hat: torch.Tensor, max_val: float = 1.0) -> torch.Tensor:
    """Peak signal-to-noise ratio of each image, in dB: 10 * log10(max_val^2 / MSE).

    MSE is the mean squared error over the pixels (and channels) of one image.

    Args:
        x: (B, C, H, W) reference images in [0, max_val].
        x_hat: (B, C, H, W) reconstructions.
        max_val: the largest possible pixel value (1.0 for images in [0, 1], 255 for bytes).

    Returns:
        (B,) PSNR per image.
    """
    raise NotImplementedError("TODO: per-image MSE, then 10 * log10(max_val**2 / mse)")


def log_mean_exp(log_w: torch.Tensor, dim: int = 0) -> torch.Tensor:
    """log(mean(exp(log_w))) along ``dim``, without overflow: the stable core of the IWAE bound.

    In the lesson, log_w[k] = log p(x, z_k) - log q(z_k | x) for K samples z_k, and the
    importance-weighted bound is log (1/K) sum_k exp(log_w[k]). Log-weights are often
    around -100 or +1000, where exp() underflows or overflows: subtract the maximum first
    (the log-sum-exp trick) or use ``torch.logsumexp``. Do not change log_w in place.

    Args:
        log_w: a tensor of log-weights, e.g. (K, B).
        dim: the dimension to average over (it disappears from the result).

    Returns:
        log_w's shape without ``dim``, e.g. (B,).
    """
    raise NotImplementedError("TODO: logsumexp along dim, minus log(K)")
