"""Exercise 06: diagnosing and preventing posterior collapse (lesson 06).

Fill in the four functions, then grade them from the course's folder with
``.venv/bin/vaelab grade exercises/ex06_posterior_collapse.py`` or, in the notebook,
``vaelab.grade.check("ex06")``. Stuck? ``vaelab.grade.hint("ex06")`` gives a hint for the
first failing check, a step further each time you ask.
"""

import torch


def active_units(mu: torch.Tensor, threshold: float = 0.01) -> int:
    """How many latent dimensions the encoder actually uses ("active units", lesson 06).

    A dimension is active when the variance of its posterior mean across the dataset is
    strictly greater than ``threshold``: Var_x(mu_d) > threshold. Use the usual
    (unbiased, N - 1) variance over the examples.

    Args:
        mu: (N, D) posterior means of N examples.
        threshold: the variance above which a unit counts as active.

    Returns:
        The number of active dimensions, a Python int.
    """
    raise NotImplementedError(
        "TODO: measure how much each dimension's mean varies over the examples, and count "
        "the dimensions that vary more than the threshold"
    )


def free_bits_kl(kl_per_dim: torch.Tensor, free_bits: float) -> torch.Tensor:
    """The KL term with free bits: each dimension's KL counts as at least ``free_bits`` nats.

    Free bits (lesson 06, section 2; Kingma et al., 2016): each latent dimension's KL is
    clamped from below at free_bits, then the dimensions are summed. A dimension whose KL is
    below the floor costs a constant, so the optimiser gains nothing by collapsing it
    further. Do not change ``kl_per_dim`` in place.

    Which KL gets the floor? ``train.fit(..., free_bits=)`` (through ``losses.elbo``)
    passes each dimension's KL averaged over the batch, a (D,) tensor, and expects one
    number back, as the paper does; the grader also passes a (B, D) table of per-example
    KLs and expects (B,). Clamp, then sum over the last dimension only, and both work.
    Lesson 06, section 2 says why fit floors the batch mean and not each example: the free
    nats are a budget for what a dimension carries about the images on average, while a
    per-example clamp gives every image its own free nats in every dimension (the mean of
    the clamps is never below the clamp of the mean).

    Args:
        kl_per_dim: (B, D) KL of each latent dimension per example, or (D,) a batch mean.
        free_bits: nats per dimension that are free.

    Returns:
        (B,) per-example KL with free bits, or a 0-d tensor for a (D,) input.
    """
    raise NotImplementedError(
        "TODO: raise each dimension's KL to at least the free bits, then add up over the "
        "latent dimensions"
    )


def linear_kl_weight(step: int, warmup_steps: int) -> float:
    """KL annealing, linear: the KL weight rises from 0 at step 0 to 1 at ``warmup_steps``.

    Steps count from 0. During the warm-up the weight is the fraction of the warm-up done so
    far; from step warmup_steps on it stays at 1. ``warmup_steps == 0`` means no warm-up
    (always 1).

    Args:
        step: the optimisation step, 0, 1, 2, ...
        warmup_steps: steps until the weight reaches 1.

    Returns:
        The weight in [0, 1].
    """
    raise NotImplementedError("TODO: the share of the warm-up done so far, never more than one")


def cyclical_kl_weight(step: int, period: int, ratio: float = 0.5) -> float:
    """KL annealing, cyclical: the linear warm-up repeated every ``period`` steps.

    Within each cycle the position is the number of steps since the cycle began, divided
    by the period: 0 at the first step of a cycle, just below 1 at its last. The weight
    rises linearly from 0 at position 0 to 1 at position ``ratio``, then stays at 1 until
    the cycle ends.

    Args:
        step: the optimisation step, 0, 1, 2, ...
        period: steps per cycle.
        ratio: the share of each cycle spent rising, in (0, 1].

    Returns:
        The weight in [0, 1].
    """
    raise NotImplementedError(
        "TODO: find the position within the current cycle, then rise linearly over the first "
        "ratio of the cycle and stay at one"
    )


# ---- stretch: beyond the lesson (graded, its points counted apart from the exercise's 10)


def logistic_kl_weight(step: int, midpoint: float, steepness: float) -> float:
    """Stretch: a KL weight that rises along an S-shaped (logistic) curve.

    Bowman et al. (2016) annealed the KL weight smoothly instead of linearly: near 0 early,
    exactly 1/2 at step == midpoint, near 1 late, rising faster for a larger steepness.

    Edge cases: steps far from the midpoint (thousands of steps, with any steepness) give
    a weight in [0, 1], never an OverflowError or NaN.

    Args:
        step: the training step, >= 0.
        midpoint: the step at which the weight is 1/2.
        steepness: > 0, how sharp the rise is.

    Returns:
        The weight, a Python float in [0, 1].
    """
    raise NotImplementedError(
        "TODO: the logistic function of the scaled distance from the midpoint, written so "
        "that no exponential overflows"
    )
