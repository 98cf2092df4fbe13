"""KL-weight (beta) schedules, evaluated per optimisation step.

Each schedule is a plain function of the step (0-based). ``linear_warmup`` and
``cyclical`` build callables that ``vaelab.train.fit(beta=...)`` accepts.
"""

from __future__ import annotations

import math
from collections.abc import Callable

__all__ = [
    "constant",
    "cyclical",
    "cyclical_kl_weight",
    "linear_kl_weight",
    "linear_warmup",
    "logistic_kl_weight",
]


def linear_kl_weight(step: int, warmup_steps: int) -> float:
    """KL weight rising linearly from 0 at step 0 to 1 at ``warmup_steps``, then 1.

    Args:
        step: optimisation step, counting from 0.
        warmup_steps: steps until the weight reaches 1 (0 means no warm-up).
    """
    if step < 0:
        raise ValueError(f"step must be >= 0, got {step}")
    if warmup_steps <= 0:
        return 1.0
    return min(1.0, step / warmup_steps)


def cyclical_kl_weight(step: int, period: int, ratio: float = 0.5) -> float:
    """Cyclical annealing (Fu et al. 2019): in every cycle of ``period`` steps the weight
    rises linearly from 0 to 1 over the first ``ratio`` of the cycle, then stays at 1.

    Args:
        step: optimisation step, counting from 0.
        period: steps per cycle.
        ratio: share of each cycle spent rising, in (0, 1].
    """
    if step < 0:
        raise ValueError(f"step must be >= 0, got {step}")
    if period < 1 or not 0 < ratio <= 1:
        raise ValueError(f"need period >= 1 and 0 < ratio <= 1, got {period} and {ratio}")
    position = (step % period) / period  # in [0, 1)
    return min(1.0, position / ratio)


def constant(beta: float = 1.0) -> Callable[[int], float]:
    """A schedule that is always ``beta``."""
    return lambda step: float(beta)


def linear_warmup(warmup_steps: int, *, beta: float = 1.0) -> Callable[[int], float]:
    """beta * ``linear_kl_weight(step, warmup_steps)``."""
    return lambda step: beta * linear_kl_weight(step, warmup_steps)


def cyclical(period: int, *, ratio: float = 0.5, beta: float = 1.0) -> Callable[[int], float]:
    """beta * ``cyclical_kl_weight(step, period, ratio)``."""
    return lambda step: beta * cyclical_kl_weight(step, period, ratio)


def logistic_kl_weight(step: int, midpoint: float, steepness: float) -> float:
    """A KL weight that rises along a logistic curve: 1 / (1 + exp(-steepness * (step -
    midpoint))), 1/2 at the midpoint, in (0, 1) at every step (Bowman et al., 2016).

    Written so that no exponential overflows far from the midpoint.
    """
    u = steepness * (step - midpoint)
    if u >= 0:
        return 1.0 / (1.0 + math.exp(-u))
    e = math.exp(u)
    return e / (1.0 + e)
