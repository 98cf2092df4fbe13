"""Checks of exercise 06, posterior collapse: ``active_units``, ``free_bits_kl`` and the
KL-weight schedules ``linear_kl_weight`` and ``cyclical_kl_weight``.

Every value is compared with vaelab's reference functions; the variants beside each
comparison are the known mistakes, with the feedback that names them.
"""

from __future__ import annotations

import math

import torch

from vaelab import losses, metrics, schedules
from vaelab.grading.checks.common import batch_mistakes, stretch_values
from vaelab.grading.checks.toolkit import (
    F64,
    Checklist,
    Draw,
    Leaf,
    Learner,
    Mistake,
    as_number,
    close,
    exception_feedback,
    expect_close,
    expect_gradients,
    expect_unchanged,
    learner_function,
    needs_working,
    raised_error,
    shape_words,
    type_name,
    weighted_grads,
)

# vaelab's own answers, switched off in the learner's process while this exercise is graded
# (schedules.linear_warmup and schedules.cyclical call them, and meet them switched off)
PROTECTED = (
    "metrics.active_units",
    "losses.free_bits_kl",
    "schedules.linear_kl_weight",
    "schedules.cyclical_kl_weight",
    "schedules.logistic_kl_weight",
)

checks = Checklist("ex06")
check = checks.add


def _exact_mu() -> torch.Tensor:
    """(5, 6) float64 means whose column variances are 0.25 (twice), 0.1, 0.3, 4 and 0."""
    pattern = torch.tensor([-1.0, -1.0, 1.0, 1.0, 0.0], dtype=F64)  # unbiased variance 1
    scales = torch.tensor([0.5, 0.5, math.sqrt(0.1), math.sqrt(0.3), 2.0, 0.0], dtype=F64)
    return pattern[:, None] * scales + torch.tensor([1.5, -2.0, 0.25, 0.0, 3.0, 7.0], dtype=F64)


def _au_mistakes(mu: torch.Tensor, threshold: float) -> list:
    n, d = mu.shape
    ref = lambda m, t: metrics.active_units(m, threshold=t)  # noqa: E731
    mu64 = mu.double()
    return [
        (
            ">= instead of >: a unit whose variance equals the threshold is not active; count "
            "the variances strictly greater than it.",
            lambda: ref(mu64, math.nextafter(threshold, -math.inf)),
        ),
        (
            "this compares the standard deviation with the threshold: compare the variance of "
            "each latent dimension over the examples.",
            lambda: ref(mu, threshold**2),
        ),
        (
            "this uses the biased variance (dividing by N): use the sample variance, which divides "
            "by N - 1.",
            lambda: ref(mu, threshold * n / (n - 1)),
        ),
        (
            "the variance is taken over the latent dimensions: take it over the examples, the "
            "first dimension of mu.",
            lambda: ref(mu.T, threshold) if d >= 2 else None,
        ),
        (
            "this counts the inactive units: count the dimensions whose variance is greater "
            "than the threshold.",
            lambda: d - ref(mu, threshold),
        ),
    ]


def _count(value) -> int:
    number = as_number(value, "active_units")
    if number != int(number):
        raise Mistake(f"active_units should count dimensions, a whole number; got {number:g}.")
    return int(number)


def _expect_count(got, mu: torch.Tensor, threshold: float, case: str) -> None:
    want = metrics.active_units(mu, threshold=threshold)
    got = _count(got)
    if got == want:
        return
    for message, variant in _au_mistakes(mu, threshold):
        value = variant()
        if value is not None and value != want and got == value:
            raise Mistake(message)
    raise Mistake(
        f"active_units counts {got} active units {case}, which is not right: count the "
        "dimensions d with mu[:, d].var() > threshold."
    )


def _au_cases(draw: Draw):
    scales = torch.tensor([0.0, 0.03, 0.05, 0.3, 1.0, 2.0, 0.02, 0.5, 0.001, 1.5])
    mu = draw.randn(200, 10) * scales + draw.randn(10)
    pair = torch.tensor([[0.0, 1.0, 0.2], [1.0, 1.0, -0.2]])
    return [(mu, 0.01), (mu, 0.2), (pair, 0.01)]


@check(
    "active_units.values",
    "active_units: counts dimensions with Var(mu) > threshold",
    1.5,
    (
        "Lesson 06: a unit is active when its posterior mean moves from image to image.",
        "For each latent dimension, take the variance of mu over the examples (the first "
        "dimension of mu), then count the dimensions whose variance is above the threshold.",
    ),
)
def _active_values(learner: Learner, draw: Draw):
    active_units = learner_function(learner, "active_units")
    cases = _au_cases(draw)
    outcomes = active_units.many([((mu,), {"threshold": t}) for mu, t in cases])
    for (mu, threshold), outcome in zip(cases, outcomes, strict=True):
        case = f"for mu of shape {tuple(mu.shape)} and threshold {threshold}"
        _expect_count(outcome.value, mu, threshold, case)


@check(
    "active_units.threshold",
    "active_units: strict threshold (> not >=)",
    1,
    (
        "Read the definition once more: greater than, or greater than or equal?",
        "A variance exactly at the threshold does not count.",
    ),
)
def _active_threshold(learner: Learner, draw: Draw):
    active_units = learner_function(learner, "active_units")
    # a count that is wrong on ordinary inputs can hit another mistake's count here by
    # chance (mu.var(dim=1) matched "the standard deviation"): that check names it
    mu, threshold = _au_cases(draw)[0]
    needs_working(
        active_units(mu, threshold=threshold) == metrics.active_units(mu, threshold=threshold),
        "active_units",
    )
    mu = _exact_mu()
    _expect_count(active_units(mu, threshold=0.25), mu, 0.25, "when variances equal it")


@check(
    "active_units.int",
    "active_units: returns a Python int",
    0.5,
    ("A count is a plain number: turn the tensor you counted with into a Python int.",),
)
def _active_int(learner: Learner, draw: Draw):
    active_units = learner_function(learner, "active_units")
    mu, threshold = _au_cases(draw)[0]
    got = active_units(mu, threshold=threshold)
    if not isinstance(got, int) or isinstance(got, bool):
        raise Mistake(f"active_units returned {type_name(got)}; return a Python int: int(...).")
    # a property of a working count only: a constant int gets nothing
    needs_working(got == metrics.active_units(mu, threshold=threshold), "active_units")


def _fb_mistakes(kl: torch.Tensor, free_bits: float) -> list:
    ref = losses.free_bits_kl
    dims = kl.shape[-1]
    return [
        (
            "the free bits are applied to the sum: clamp each latent dimension's KL at "
            "free_bits first, then sum over the dimensions.",
            lambda: ref(kl.sum(dim=-1, keepdim=True), free_bits),
        ),
        (
            "the free bits are applied to the sum (max(sum, D * free_bits)): clamp each "
            "dimension first, then sum.",
            lambda: ref(kl.sum(dim=-1, keepdim=True), dims * free_bits),
        ),
        (
            "the KL is clamped from above (min): each dimension should cost at least free_bits, "
            "max(kl, free_bits), a floor, not a ceiling.",
            lambda: -ref(-kl, -free_bits),
        ),
        (
            "free_bits is subtracted: the KL of each dimension is raised to at least free_bits, "
            "max(kl, free_bits), not reduced by it.",
            lambda: ref(kl - free_bits, 0.0),
        ),
        (
            "the clamped KL is averaged over the latent dimensions: sum over them.",
            lambda: ref(kl, free_bits) / dims,
        ),
        (
            "the result is per dimension, (B, D): sum the clamped values over the latent "
            "dimensions (dim=-1).",
            lambda: kl.clamp(min=free_bits),
        ),
        ("the free bits are ignored: clamp each dimension's KL at free_bits.", lambda: kl.sum(-1)),
        *batch_mistakes(ref(kl, free_bits)),
    ]


def _fb_cases(draw: Draw):
    """(kl_per_dim, free_bits) with a dimension below the free bits and one above, always."""
    cases = []
    for kl, free_bits in [
        (draw.rand(4, 6) * 2, 0.5),
        (draw.rand(1, 3) * 2, 0.75),
        (draw.rand(5, 4, dtype=F64) * 0.5, 0.25),
    ]:
        kl[0, 0] = free_bits * draw.uniform(0.1, 0.9)
        kl[-1, -1] = free_bits * draw.uniform(1.2, 2.0)
        cases.append((kl, free_bits))
    return cases


@check(
    "free_bits_kl.values",
    "free_bits_kl: each dimension clamped at free_bits, then summed",
    1.5,
    (
        "Lesson 06, free bits: below free_bits nats, a dimension's KL costs a constant.",
        "Raise every entry below free_bits to free_bits (a clamp from below), then sum over "
        "the latent dimensions.",
        "The order matters: clamp each dimension first, sum afterwards. Sum over the last "
        "dimension only.",
    ),
)
def _free_bits(learner: Learner, draw: Draw):
    free_bits_kl = learner_function(learner, "free_bits_kl")
    cases = _fb_cases(draw)
    outcomes = free_bits_kl.many([(case, {}) for case in cases])
    for (kl, free_bits), outcome in zip(cases, outcomes, strict=True):
        expect_close(
            outcome.value,
            losses.free_bits_kl(kl, free_bits),
            what="free_bits_kl",
            case=f"{shape_words(kl_per_dim=kl)} and free_bits={free_bits}",
            variants=_fb_mistakes(kl, free_bits),
            hint="raise each dimension's KL to at least free_bits, then add up the dimensions.",
        )


@check(
    "free_bits_kl.properties",
    "free_bits_kl: inputs unchanged, gradient only above free_bits",
    1,
    (
        "The clamp must make a new tensor: in-place versions (their names end in an "
        "underscore) change the caller's KL.",
    ),
)
def _free_bits_props(learner: Learner, draw: Draw):
    free_bits_kl = learner_function(learner, "free_bits_kl")
    kl, free_bits = _fb_cases(draw)[0]
    result = free_bits_kl.run(kl, free_bits)
    expect_unchanged(result, ("kl_per_dim",), "free_bits_kl")
    want = losses.free_bits_kl(kl, free_bits)
    needs_working(close(result.value, want), "free_bits_kl")
    weights = draw.weights_like(want)
    want_grads = weighted_grads(
        lambda kl_per_dim: losses.free_bits_kl(kl_per_dim, free_bits), weights, kl_per_dim=kl
    )
    result = free_bits_kl.run(Leaf(kl, "kl_per_dim"), free_bits, backward=[weights])
    expect_gradients(result, want_grads, what="free_bits_kl")


@check(
    "free_bits_kl.batch_mean",
    "free_bits_kl: the batch-mean KL per dimension, as fit passes it ((D,) -> one number)",
    0.5,
    (
        "Read the docstring: what does `fit` (through losses.elbo) pass to free bits, and "
        "which shape has it?",
        "fit clamps each dimension's KL averaged over the batch, a (D,) tensor, and expects "
        "one number back. The same clamp-then-sum works if you reduce over the last "
        "dimension, whatever comes before it.",
    ),
)
def _free_bits_batch_mean(learner: Learner, draw: Draw):
    free_bits_kl = learner_function(learner, "free_bits_kl")
    kl, free_bits = _fb_cases(draw)[0]
    kl_mean = kl.mean(dim=0)  # (D,): what losses.elbo clamps
    kl_mean[0] = free_bits * draw.uniform(0.1, 0.9)  # a dimension below the free bits
    kl_mean[-1] = free_bits * draw.uniform(1.2, 2.0)  # and one above
    try:
        got = free_bits_kl(kl_mean, free_bits)
    except Mistake as e:
        raise Mistake(
            "free_bits_kl fails for a (D,) tensor, the batch-mean KL of each dimension that "
            "`fit` clamps (through losses.elbo): reduce over the last dimension (dim=-1), "
            f"so that (B, D) and (D,) both work. ({e})"
        ) from None
    expect_close(
        got,
        losses.free_bits_kl(kl_mean, free_bits),
        what="free_bits_kl",
        case=f"for the batch-mean KL per dimension, shape {tuple(kl_mean.shape)}",
        variants=[
            (
                "free_bits_kl of a (D,) batch-mean KL should be one number (a 0-d tensor): "
                "sum the clamped values over the dimensions, dim=-1.",
                lambda: kl_mean.clamp(min=free_bits),
            ),
            *[
                (message, lambda v=value: (v() if callable(v) else v).squeeze(0))
                for message, value in _fb_mistakes(kl_mean[None], free_bits)[:5]
            ],
        ],
        hint="sum over d of max(kl[d], free_bits), for a (D,) input too.",
    )


def _weights(fn, steps, *args, **kwargs) -> list[float]:
    return [fn(step, *args, **kwargs) for step in steps]


def _expect_schedule(got: list[float], want: list[float], variants: list, *, what: str, case: str):
    def same(a, b):
        return len(a) == len(b) and all(
            math.isclose(x, y, rel_tol=1e-6, abs_tol=1e-9) for x, y in zip(a, b, strict=True)
        )

    if same(got, want):
        return
    for message, variant in variants:
        try:
            values = variant()
        except Exception:
            continue
        if not same(values, want) and same(got, values):
            raise Mistake(message)
    first = next(
        i
        for i, (a, b) in enumerate(zip(got, want, strict=True))
        if not math.isclose(a, b, abs_tol=1e-9)
    )
    raise Mistake(f"{what} is not right {case}, from step {first} on.")


def _linear_variants(steps, warmup) -> list:
    ref = schedules.linear_kl_weight
    return [
        (
            "off by one: the weight must be 0 at step 0 (step / warmup_steps), not "
            "(step + 1) / warmup_steps.",
            lambda: [ref(s + 1, warmup) for s in steps],
        ),
        (
            "off by one: divide by warmup_steps, so that the weight reaches 1 exactly at "
            "step == warmup_steps.",
            lambda: [ref(s, warmup + 1) for s in steps],
        ),
        (
            "off by one: divide by warmup_steps (not warmup_steps - 1), so that the weight "
            "reaches 1 exactly at step == warmup_steps.",
            lambda: [ref(s, warmup - 1) for s in steps],
        ),
        (
            "off by one: the weight reaches 1 a step late; at step s it is s / warmup_steps.",
            lambda: [ref(max(s - 1, 0), warmup) for s in steps],
        ),
        (
            "the weight keeps growing after the warm-up: it should stay at 1 once the warm-up "
            "is over (a cap).",
            lambda: [s / warmup for s in steps],
        ),
        (
            "integer division: step // warmup_steps is 0 during the whole warm-up; use "
            "step / warmup_steps.",
            lambda: [float(ref(s, warmup) >= 1.0) for s in steps],
        ),
    ]


@check(
    "linear_kl_weight.values",
    "linear_kl_weight: 0 at step 0, 1 from warmup_steps on",
    2,
    (
        "Lesson 06, KL annealing: the weight grows in a straight line during the warm-up.",
        "It is 0 at step 0 and reaches 1 exactly at step warmup_steps; then it stays at 1. "
        "What should warmup_steps = 0 mean?",
        "Use true division (not //) for the fraction of the warm-up done, and cap it at 1.",
    ),
)
def _linear(learner: Learner, draw: Draw):
    linear = learner_function(learner, "linear_kl_weight")
    for warmup in (draw.integer(3, 6), draw.integer(8, 14), 1, 0):
        steps = range(0, 2 * warmup + 3)
        outcomes = linear.many([((step, warmup), {}) for step in steps])
        if warmup == 0:
            _expect_no_warmup(outcomes, learner)
            continue
        got = [as_number(o.value, "linear_kl_weight") for o in outcomes]
        _expect_schedule(
            got,
            _weights(schedules.linear_kl_weight, steps, warmup),
            _linear_variants(steps, warmup),
            what="linear_kl_weight",
            case=f"for warmup_steps={warmup}",
        )


NO_WARMUP = (
    "with warmup_steps=0 there is no warm-up, and the docstring says the weight is 1 at every "
    "step. {what} Handle warmup_steps == 0 before dividing by it: there is nothing to divide."
)


def _expect_no_warmup(outcomes, learner: Learner) -> None:
    """warmup_steps = 0: the weight is 1.0 at every step, with no division by zero (its
    result, inf or NaN, is no weight either)."""
    for outcome in outcomes:
        error = raised_error(outcome, learner, "linear_kl_weight")
        if error and error.get("type") == "ZeroDivisionError":
            raise Mistake(NO_WARMUP.format(what="Your function divides by warmup_steps = 0."))
        if error:
            raise Mistake(exception_feedback("linear_kl_weight", error, learner.memory_gb))
        value = as_number(outcome.value, "linear_kl_weight")
        if not math.isfinite(value):
            raise Mistake(
                NO_WARMUP.format(what=f"Your function gives {value} (a division by zero).")
            )
        if value != 1.0:
            raise Mistake(NO_WARMUP.format(what=f"Your function gives {value:g}."))


def _cyclical_variants(steps, period, ratio) -> list:
    ref = schedules.cyclical_kl_weight
    return [
        (
            "off by one: the weight must be 0 at the first step of each cycle, "
            "p = (step % period) / period.",
            lambda: [ref(s + 1, period, ratio) for s in steps],
        ),
        (
            "the weight never restarts: use the position within the cycle, step % period.",
            lambda: [schedules.linear_kl_weight(s, period * ratio) for s in steps],
        ),
        (
            "the ratio is ignored: the weight should reach 1 after ratio * period steps of "
            "each cycle, min(1, p / ratio).",
            lambda: [ref(s, period, 1.0) for s in steps],
        ),
        (
            "the ratio is ignored (0.5 is used): min(1, p / ratio) with the given ratio.",
            lambda: [ref(s, period, 0.5) for s in steps],
        ),
        (
            "p is multiplied by the ratio: divide, min(1, p / ratio).",
            lambda: [min(1.0, (s % period) / period * ratio) for s in steps],
        ),
        (
            "the weight goes above 1: it should stay at 1 for the rest of the cycle, "
            "min(1, p / ratio).",
            lambda: [(s % period) / period / ratio for s in steps],
        ),
        (
            "off by one in the cycle length: a cycle has `period` steps, so use step % period.",
            lambda: [ref(s, period + 1, ratio) for s in steps],
        ),
        (
            "off by one in the cycle length: a cycle has `period` steps, so use step % period.",
            lambda: [ref(s, period - 1, ratio) for s in steps],
        ),
        (
            "integer division: (step % period) // period is always 0; use / for the position.",
            lambda: [0.0 for s in steps],
        ),
    ]


@check(
    "cyclical_kl_weight.values",
    "cyclical_kl_weight: restarts every period, rises over ratio of it",
    2,
    (
        "Lesson 06: the cyclical schedule repeats the linear warm-up every period steps.",
        "First find the position inside the current cycle, as a fraction of the period (0 "
        "at the first step of each cycle); the remainder of a division gives the step "
        "within the cycle.",
        "The weight reaches 1 when that fraction reaches ratio, and stays at 1 until the "
        "cycle ends.",
    ),
)
def _cyclical(learner: Learner, draw: Draw):
    cyclical = learner_function(learner, "cyclical_kl_weight")
    cases = ((draw.integer(6, 10), 0.5), (draw.integer(8, 14), 0.25), (draw.integer(5, 9), 1.0))
    for period, ratio in cases:
        steps = range(0, 3 * period + 2)
        values = cyclical.values([((s, period), {"ratio": ratio}) for s in steps])
        got = [as_number(v, "cyclical_kl_weight") for v in values]
        _expect_schedule(
            got,
            _weights(schedules.cyclical_kl_weight, steps, period, ratio),
            _cyclical_variants(steps, period, ratio),
            what="cyclical_kl_weight",
            case=f"for period={period}, ratio={ratio}",
        )


# ---------------------------------------------------------------- stretch (issue 22): beyond
# the lesson, graded like the rest, its points counted apart


def _logistic_cases(draw):
    calls = []
    for midpoint, steepness in (
        (draw.integer(20, 60), draw.uniform(0.1, 0.5)),
        (draw.integer(100, 200), draw.uniform(0.02, 0.08)),
    ):
        for step in range(0, 3 * midpoint, max(1, midpoint // 7)):
            calls.append(((step, midpoint, steepness), {}))
    calls += [((0, 5000, 1.0), {}), ((10**5, 0, 2.0), {})]  # far from the midpoint
    return calls


def _logistic_mistakes(step, midpoint, steepness):
    ref = schedules.logistic_kl_weight(step, midpoint, steepness)
    return [
        (
            "the weight falls instead of rising: it is near 0 before the midpoint and near "
            "1 after it (the sign in the exponent).",
            1.0 - ref,
        ),
        (
            "the steepness divides the distance from the midpoint: it multiplies it (a "
            "larger steepness gives a sharper rise).",
            lambda: schedules.logistic_kl_weight(
                step / steepness**2, midpoint / steepness**2, steepness
            ),
        ),
        (
            "the midpoint is ignored: the curve is centred at step 0, where it should be "
            "1/2 only at the midpoint.",
            lambda: schedules.logistic_kl_weight(step, 0, steepness),
        ),
    ]


stretch_values(
    checks,
    "logistic_kl_weight",
    "logistic_kl_weight: a logistic rise, 1/2 at the midpoint, finite at any step",
    (
        "Lesson 06 warms the KL weight up in a straight line; Bowman et al. (2016) used a "
        "smooth S-shaped rise instead. Which function goes from 0 to 1 and is 1/2 at 0?",
        "The logistic function of the distance from the midpoint, scaled by the steepness.",
        "Far from the midpoint, exp of a large number overflows in plain Python: write "
        "the logistic so that the exponential only ever sees a number <= 0.",
    ),
    cases=_logistic_cases,
    reference=schedules.logistic_kl_weight,
    mistakes=_logistic_mistakes,
    what="logistic_kl_weight",
    case_words=lambda step, midpoint, steepness: (
        f"at step {step} (midpoint {midpoint}, steepness {steepness:.3g})"
    ),
)
