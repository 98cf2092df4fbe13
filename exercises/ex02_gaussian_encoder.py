"""Exercise 02: a Gaussian encoder outputs a distribution, not a point (lesson 02).

Fill in the three functions, then grade them from the course's folder with
``.venv/bin/vaelab grade exercises/ex02_gaussian_encoder.py`` or, in the notebook,
``vaelab.grade.check("ex02")``.

``model`` is a ``vaelab.models.MLPVAE`` with ``model.encoder`` (image -> hidden features)
and two heads on those features: ``model.to_mu`` and ``model.to_logvar``.
"""

import torch


def encode(model, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The posterior q(z | x) = N(mu, diag(exp(logvar))) of each image.

    Args:
        model: a ``vaelab.models.MLPVAE``.
        x: (B, C, H, W) images in [0, 1].

    Returns:
        (mu, logvar), each (B, D): the outputs of the two heads on the shared features.
    """
    raise NotImplementedError("TODO: h = model.encoder(x); return the two heads' outputs")


def std_from_logvar(logvar: torch.Tensor) -> torch.Tensor:
    """Standard deviation sigma from the log-variance: sigma = exp(logvar / 2).

    Args:
        logvar: (B, D) log-variances, any real numbers (large ones too).

    Returns:
        (B, D) standard deviations, all > 0.
    """
    raise NotImplementedError("TODO: sigma = exp(logvar / 2)")


def logvar_from_std(std: torch.Tensor) -> torch.Tensor:
    """The inverse: log-variance from the standard deviation, logvar = log(sigma^2).

    Args:
        std: (B, D) standard deviations, > 0.

    Returns:
        (B, D) log-variances.
    """
    raise NotImplementedError("TODO: logvar = 2 * log(sigma)")
