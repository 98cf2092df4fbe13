"""Exercise 03: the reparameterization trick (lesson 03).

Fill in ``reparameterize``, then grade it from the course's folder with
``.venv/bin/vaelab grade exercises/ex03_reparameterize.py`` or, in the notebook,
``vaelab.grade.check("ex03")``.
"""

import torch


def reparameterize(
    mu: torch.Tensor, logvar: torch.Tensor, eps: torch.Tensor | None = None
) -> torch.Tensor:
    """Draw z ~ N(mu, exp(logvar)) so that gradients reach mu and logvar.

    The lesson's reparameterization trick: z = mu + sigma * eps, sigma = exp(logvar / 2),
    eps ~ N(0, I). Draw eps yourself when it is None (fresh noise every call); use the
    given eps otherwise. Do not change mu or logvar in place.

    Args:
        mu: (B, D) posterior means.
        logvar: (B, D) posterior log-variances.
        eps: (B, D) standard-normal noise, or None.

    Returns:
        z: (B, D), same dtype as mu.
    """
    raise NotImplementedError("TODO: z = mu + exp(logvar / 2) * eps")
