"""Exercise 02: a Gaussian encoder outputs a distribution, not a point (lesson 02).

Fill in the three functions, then grade them from the course's folder with
``.venv/bin/vaelab grade exercises/ex02_gaussian_encoder.py`` or, in the notebook,
``vaelab.grade.check("ex02")``. Stuck? ``vaelab.grade.hint("ex02")`` gives a hint for the
first failing check, a step further each time you ask.

``model`` is a ``vaelab.models.MLPVAE`` with ``model.encoder`` (image -> hidden features)
and two heads on those features: ``model.to_mu`` and ``model.to_logvar``.
"""

import torch


def encode(model, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The posterior q(z | x) = N(mu, diag(exp(logvar))) of each image (lesson 02, section 1).

    Both heads read the same features. The log-variance is returned as its head gives it:
    any real number is a valid log-variance (lesson 02, section 3).

    Args:
        model: a ``vaelab.models.MLPVAE``.
        x: (B, C, H, W) images in [0, 1].

    Returns:
        (mu, logvar), each (B, D).
    """
    raise NotImplementedError(
        "TODO: compute the shared features once, then give them to each of the two heads"
    )


def std_from_logvar(logvar: torch.Tensor) -> torch.Tensor:
    """The standard deviation sigma that goes with a log-variance (lesson 02, section 2).

    Edge cases: any real logvar, large ones too (lesson 02, section 2, shows what goes wrong):
    logvar = 100 has sigma of about 5e21, which float32 holds, while its variance does not.

    Args:
        logvar: (B, D) log-variances.

    Returns:
        (B, D) standard deviations, all > 0, same dtype.
    """
    raise NotImplementedError(
        "TODO: undo the log and take the square root in one step that cannot overflow"
    )


def logvar_from_std(std: torch.Tensor) -> torch.Tensor:
    """The inverse of ``std_from_logvar``: the log-variance of a standard deviation.

    Edge cases: a posterior can be very sure or very vague, so sigma may be as small as
    1e-30 or as large as 1e30; the log-variance is finite for both in float32, although
    their variances are not representable.

    Args:
        std: (B, D) standard deviations, > 0.

    Returns:
        (B, D) log-variances, same dtype.
    """
    raise NotImplementedError(
        "TODO: go from the standard deviation to the log of the variance without forming "
        "the variance itself"
    )


# ---- stretch: beyond the lesson (graded, its points counted apart from the exercise's 10)


def gaussian_entropy(logvar: torch.Tensor) -> torch.Tensor:
    """Stretch: how uncertain the encoder is about an image, in nats.

    The differential entropy of the posterior N(mu, diag(exp(logvar))) of each example,
    in nats. Lesson 02 draws the posteriors' ellipses; their entropy measures their size
    in one number. The mean does not enter; derive the one-dimensional entropy first.

    Edge cases: any (B, D), a batch of one too; float32 or float64, kept.

    Args:
        logvar: (B, D) posterior log-variances.

    Returns:
        (B,) entropies in nats (negative for narrow posteriors).
    """
    raise NotImplementedError(
        "TODO: the entropy of each independent dimension's normal, added up per example"
    )
