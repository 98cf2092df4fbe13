"""Exercise 03: the reparameterization trick (lesson 03).

Fill in ``reparameterize``, then grade it from the course's folder with
``.venv/bin/vaelab grade exercises/ex03_reparameterize.py`` or, in the notebook,
``vaelab.grade.check("ex03")``. Stuck? ``vaelab.grade.hint("ex03")`` gives a hint for the
first failing check, a step further each time you ask.
"""

import torch


def reparameterize(
    mu: torch.Tensor, logvar: torch.Tensor, eps: torch.Tensor | None = None
) -> torch.Tensor:
    """Draw z ~ N(mu, diag(exp(logvar))) so that gradients reach mu and logvar.

    The reparameterization trick of lesson 03, section 2: a draw written as a function of
    the posterior's parameters and of noise that does not depend on them. When eps is
    None, draw the standard-normal noise yourself, fresh on every call, one independent
    number per entry of mu; when eps is given, use exactly that eps.

    Edge cases: any batch shape (B, D), a batch of one too, float32 or float64 (z keeps
    mu's dtype, and noise you draw follows mu's dtype and device); logvar as large as 100
    must not overflow; mu and logvar are not changed in place.

    Args:
        mu: (B, D) posterior means.
        logvar: (B, D) posterior log-variances.
        eps: (B, D) standard-normal noise, or None.

    Returns:
        z: (B, D), same dtype as mu.
    """
    raise NotImplementedError(
        "TODO: without eps, draw fresh standard-normal noise shaped like mu; then shift and "
        "scale the noise by the posterior's mean and standard deviation"
    )


# ---- stretch: beyond the lesson (graded, its points counted apart from the exercise's 10)


def log_posterior_density(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Stretch: log q(z | x), the log-density of a drawn code under the posterior.

    The log of the density of N(mu, diag(exp(logvar))) at z, per example, with every
    constant included: what importance weighting (lesson 07) divides by. Lesson 03 draws
    z; this asks how likely the draw was.

    Edge cases: any (B, D), a batch of one too; float32 or float64, kept.

    Args:
        z: (B, D) codes.
        mu: (B, D) posterior means.
        logvar: (B, D) posterior log-variances.

    Returns:
        (B,) log-densities in nats.
    """
    raise NotImplementedError(
        "TODO: the log of each dimension's normal density at z, added up per example"
    )
