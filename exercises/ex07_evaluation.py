"""Exercise 07: honest numbers, PSNR and the importance-weighted bound (lesson 07).

Fill in both functions, then grade them from the course's folder with
``.venv/bin/vaelab grade exercises/ex07_evaluation.py`` or, in the notebook,
``vaelab.grade.check("ex07")``. Stuck? ``vaelab.grade.hint("ex07")`` gives a hint for the
first failing check, a step further each time you ask.
"""

import torch


def psnr(x: torch.Tensor, x_hat: torch.Tensor, max_val: float = 1.0) -> torch.Tensor:
    """Peak signal-to-noise ratio of each image, in dB (lesson 07, section 2).

    The ratio of the peak signal power, max_val squared, to the mean squared error of the
    image, in decibels (ten times its base-10 logarithm). The MSE is the mean over all the
    channels and pixels of one image.

    Edge cases: a perfect copy (x_hat equal to x) has MSE 0 and PSNR +inf: return inf for
    it, not NaN, not an error, and not a large finite number from an epsilon. The other
    images of the batch keep their own PSNR.

    Args:
        x: (B, C, H, W) reference images in [0, max_val].
        x_hat: (B, C, H, W) reconstructions.
        max_val: the largest possible pixel value (1.0 for images in [0, 1], 255 for bytes).

    Returns:
        (B,) PSNR per image, same dtype as x.
    """
    raise NotImplementedError(
        "TODO: compute one mean squared error per image, then its ratio to the peak power "
        "in decibels"
    )


def log_mean_exp(log_w: torch.Tensor, dim: int = 0) -> torch.Tensor:
    """log(mean(exp(log_w))) along ``dim``, without overflow: the stable core of the IWAE bound.

    In lesson 07, section 6, log_w[k] = log p(x, z_k) - log q(z_k | x) for K samples z_k,
    and the importance-weighted bound is the log of the mean of the weights exp(log_w[k]).

    Edge cases: log-weights are often around -1000 or +1000, where exp() underflows to 0 or
    overflows to inf; the result must be finite and exact there (the log-sum-exp trick of
    the lesson). Any ``dim``, negative ones too. Do not change log_w in place.

    Args:
        log_w: a tensor of log-weights, e.g. (K, B).
        dim: the dimension to average over (it disappears from the result).

    Returns:
        log_w's shape without ``dim``, e.g. (B,).
    """
    raise NotImplementedError(
        "TODO: the log of the average of the exponentials along dim, computed so that no "
        "exponential overflows or underflows"
    )


# ---- stretch: beyond the lesson (graded, its points counted apart from the exercise's 10)


def bits_per_dim(nll: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Stretch: a negative log-likelihood in the unit papers report, bits per dimension.

    Lesson 07 bounds -log p(x) in nats per image; likelihood models are compared in bits
    per pixel value, so that images of any size compare.

    Edge cases: any image shape (B, C, H, W); float32 or float64, kept.

    Args:
        nll: (B,) negative log-likelihoods in nats, one per image of x.
        x: (B, C, H, W) the images they belong to.

    Returns:
        (B,) bits per dimension.
    """
    raise NotImplementedError(
        "TODO: change the unit from nats to bits and from per image to per pixel value"
    )
