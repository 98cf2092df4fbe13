"""Exercise 06: diagnosing and preventing posterior collapse (lesson 06).

Fill in the four functions, then grade them from the course's folder with
``.venv/bin/vaelab grade exercises/ex06_posterior_collapse.py`` or, in the notebook,
``vaelab.grade.check("ex06")``.
"""

import torch


def active_units(mu: torch.Tensor, threshold: float = 0.01) -> int:
    """How many latent dimensions the encoder actually uses ("active units").

    A dimension is active when the variance of its posterior mean across the dataset is
    strictly greater than ``threshold``: Var_x(mu_d) > threshold. Use the usual
    (unbiased, N - 1) variance over the examples.

    Args:
        mu: (N, D) posterior means of N examples.
        threshold: the variance above which a unit counts as active.

    Returns:
        The number of active dimensions, a Python int.
    """
    raise NotImplementedError("TODO: variance over examples (dim=0), count those > threshold")


def free_bits_kl(kl_per_dim: torch.Tensor, free_bits: float) -> torch.Tensor:
    """The KL term with free bits: each dimension's KL counts as at least ``free_bits`` nats.

    sum over d of max(kl_per_dim[:, d], free_bits): dimensions whose KL is below the free
    bits cost a constant, so the optimiser gains nothing by collapsing them further.
    Do not change ``kl_per_dim`` in place.

    Args:
        kl_per_dim: (B, D) KL of each latent dimension, per example.
        free_bits: nats per dimension that are free.

    Returns:
        (B,) per-example KL with free bits.
    """
    raise NotImplementedError("TODO: clamp each dimension below at free_bits, then sum over D")


def linear_kl_weight(step: int, warmup_steps: int) -> float:
    """KL annealing, linear: the KL weight rises from 0 at step 0 to 1 at ``warmup_steps``.

    Steps count from 0. The weight is step / warmup_steps during the warm-up and stays at 1
    afterwards; ``warmup_steps == 0`` means no warm-up (always 1).

    Args:
        step: the optimisation step, 0, 1, 2, ...
        warmup_steps: steps until the weight reaches 1.

    Returns:
        The weight in [0, 1].
    """
    raise NotImplementedError("TODO: min(1, step / warmup_steps)")


def cyclical_kl_weight(step: int, period: int, ratio: float = 0.5) -> float:
    """KL annealing, cyclical: the linear warm-up repeated every ``period`` steps.

    Within each cycle the position is p = (step % period) / period, in [0, 1); the weight
    rises linearly from 0 (at p = 0) to 1 (at p = ratio), then stays at 1 until the cycle
    ends: min(1, p / ratio).

    Args:
        step: the optimisation step, 0, 1, 2, ...
        period: steps per cycle.
        ratio: the share of each cycle spent rising, in (0, 1].

    Returns:
        The weight in [0, 1].
    """
    raise NotImplementedError("TODO: p = (step % period) / period; min(1, p / ratio)")
