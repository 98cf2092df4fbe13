"""Checks of exercise 09, measuring disentanglement: ``mutual_information`` and
``mutual_information_gap``.

Every value is compared with vaelab's reference (``vaelab.disentangle``); the variants
beside each comparison are the known mistakes, with the feedback that names them.
"""

from __future__ import annotations

import math

import torch

from vaelab import disentangle
from vaelab.grading.checks.common import stretch_values
from vaelab.grading.checks.toolkit import (
    F32,
    F64,
    Checklist,
    Draw,
    Learner,
    Mistake,
    as_tensor,
    close,
    dtype_name,
    expect_close,
    expect_unchanged,
    learner_function,
    matching_variant,
    needs_working,
    raised_error,
)

# vaelab's own answers, switched off in the learner's process while this exercise is graded
# (disentangle.entropy too: I(a; b) = H(a) + H(b) - H(a, b) would be the answer in one line)
PROTECTED = (
    "disentangle.mutual_information",
    "disentangle._mi_discrete",
    "disentangle.entropy",
    "disentangle.mig",
    "disentangle.mutual_information_gap",
)

checks = Checklist("ex09")
check = checks.add


# ---------------------------------------------------------------- mutual_information


def _labels(values: torch.Tensor) -> torch.Tensor:
    """Labels as 0, 1, 2, ... in the order of their values (the reference counts those)."""
    return torch.unique(values, return_inverse=True)[1]


def reference_mi(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """I(a; b) in nats, from vaelab.disentangle, as a 0-d float64 tensor."""
    return torch.tensor(disentangle._mi_discrete(_labels(a), _labels(b)), dtype=F64)


def _entropy(labels: torch.Tensor) -> torch.Tensor:
    return disentangle.entropy(_labels(labels)[:, None])[0]


def _counts(a: torch.Tensor, b: torch.Tensor):
    """The joint counts (na, nb) and the marginal counts, float64."""
    ia, ib = _labels(a), _labels(b)
    na, nb = int(ia.max()) + 1, int(ib.max()) + 1
    joint = torch.bincount(ia * nb + ib, minlength=na * nb).reshape(na, nb).double()
    return joint, joint.sum(1, keepdim=True), joint.sum(0, keepdim=True)


def _mi_mistakes(a: torch.Tensor, b: torch.Tensor) -> list:
    """Known-wrong mutual informations, each with its feedback (0-d float64)."""
    ref = reference_mi(a, b)
    h_a, h_b = _entropy(a), _entropy(b)
    joint, count_a, count_b = _counts(a, b)
    n = joint.sum()
    seen = joint > 0

    def counts_not_normalised() -> torch.Tensor:
        ratio = joint / (count_a * count_b)
        return (joint[seen] * ratio[seen].log()).sum()

    def marginals_not_normalised() -> torch.Tensor:
        p = joint / n
        ratio = p / (count_a * count_b)
        return (p[seen] * ratio[seen].log()).sum()

    return [
        (
            "this is the mutual information in bits (log base 2): the lesson measures it in "
            "nats, with the natural logarithm (torch.log).",
            ref / math.log(2),
        ),
        (
            "this is the mutual information with log base 10: the lesson measures it in "
            "nats, with the natural logarithm (torch.log).",
            ref / math.log(10),
        ),
        (
            "the counts are not turned into probabilities: divide the joint counts and the "
            "counts of each label by N, the number of pairs, before the sum.",
            counts_not_normalised,
        ),
        (
            "p(a) and p(b) are counts, not probabilities: divide the counts of each label by "
            "N as well, like the joint counts.",
            marginals_not_normalised,
        ),
        (
            "this is H(a) + H(b): the joint entropy is missing, I(a; b) = H(a) + H(b) - H(a, b).",
            h_a + h_b,
        ),
        ("this is the entropy of a, H(a), not the information a and b share.", h_a),
        ("this is the entropy of b, H(b), not the information a and b share.", h_b),
        (
            "the mutual information has the wrong sign: inside the log the joint p(a, b) is "
            "divided by p(a) p(b), and the result is never negative.",
            -ref,
        ),
        (
            "this divides by an entropy (a normalised mutual information): return I(a; b) "
            "itself, in nats; MIG divides by the factor's entropy later.",
            lambda: ref / h_b,
        ),
        (
            "this divides by an entropy (a normalised mutual information): return I(a; b) "
            "itself, in nats; MIG divides by the factor's entropy later.",
            lambda: ref / h_a,
        ),
    ]


def _expect_mi(got, a: torch.Tensor, b: torch.Tensor, case: str) -> None:
    got = as_tensor(got, "mutual_information")
    want = reference_mi(a, b)
    if not got.is_floating_point():
        raise Mistake(
            f"mutual_information returned a {dtype_name(got.dtype)} tensor {case}: the mutual "
            "information is a real number; compute it in floating point (float64)."
        )
    if got.numel() == 1 and got.dim() > 0:
        raise Mistake(
            f"mutual_information has shape {tuple(got.shape)} {case}; return one number as a "
            "0-d tensor, shape ()."
        )
    if got.numel() == 1 and math.isnan(float(got)) and not math.isnan(float(want)):
        raise Mistake(
            f"mutual_information is NaN {case}: a pair of labels that never occurs gives "
            "0 * log(0) = NaN. Sum only over the pairs that occur (their share of the sum "
            "tends to 0)."
        )
    expect_close(
        got,
        want.to(got.dtype),  # compared at the precision of the dtype returned
        what="mutual_information",
        case=case,
        variants=_mi_mistakes(a, b),
        hint="I(a; b) = sum over the pairs that occur of p(a, b) log(p(a, b) / (p(a) p(b))), "
        "every probability a count divided by N.",
        precision="mutual_information is float64 but right only to float32 precision "
        f"{case}: a step ran in float32 (counts turned into float32 probabilities?). Compute "
        "the probabilities in float64 throughout.",
    )


def _mi_cases(draw: Draw) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(a, b) label pairs: dependent with noise, nearly independent, b a function of a."""
    n = draw.integer(250, 400)
    a = torch.randint(0, 4, (n,), generator=draw.generator)
    noise = torch.randint(0, 5, (n,), generator=draw.generator)
    keep = torch.rand(n, generator=draw.generator) < 0.6
    b = torch.where(keep, a, noise)  # b copies a 60% of the time
    c = torch.randint(0, 3, (60,), generator=draw.generator)
    d = torch.randint(0, 7, (60,), generator=draw.generator)
    e = torch.randint(0, 8, (500,), generator=draw.generator)
    return [(a, b), (c, d), (e, e // 2)]


MI_HINTS = (
    "Lesson 09, section 5: I(z_d; v_k) is a sum over pairs of values (a, b) of "
    "p(a, b) log(p(a, b) / (p(a) p(b))), from a histogram.",
    "Count every pair of labels that occurs (a 2-d histogram), and every label on its own "
    "(the sums of the histogram's rows and columns); divide each count by N.",
    "Sum only over the pairs that occur (0 log 0 is taken as 0), with the natural log, so "
    "the result is in nats.",
)


@check(
    "mutual_information.values", "mutual_information: nats, from the joint histogram", 3, MI_HINTS
)
def _mi(learner: Learner, draw: Draw):
    mutual_information = learner_function(learner, "mutual_information")
    cases = _mi_cases(draw)
    outcomes = mutual_information.many([((a, b), {}) for a, b in cases])
    for (a, b), outcome in zip(cases, outcomes, strict=True):
        _expect_mi(outcome.value, a, b, f"for {len(a)} pairs of labels")


def _odd_label_cases(draw: Draw) -> list[tuple[torch.Tensor, torch.Tensor, str]]:
    values = torch.tensor([-7, -1, 3, 100])
    n = draw.integer(120, 200)
    a = values[torch.randint(0, 4, (n,), generator=draw.generator)]
    b = torch.where(a > 0, a * 5, torch.full_like(a, 2))  # a function of a, other values
    c = torch.randint(-3, 3, (n,), generator=draw.generator).to(torch.int32)
    constant = torch.full((n,), 9)
    return [
        (a, b, "for labels like -7, -1, 3 and 100 (negative, with gaps)"),
        (c, a, "for int32 labels from -3 to 2"),
        (constant, a, "when a has a single value (it tells nothing: 0)"),
    ]


@check(
    "mutual_information.labels",
    "mutual_information: any integer labels (negative, gaps, a single value)",
    1.5,
    (
        "Factors and bins come as indices 0, 1, 2, ..., but the function promises any "
        "integers. What does your counting do with -7, or with the value 100 when only four "
        "values occur?",
        "Map the labels to 0, 1, 2, ... first: torch.unique can give each value's position "
        "in the sorted list of distinct values. A labelling with one value then gives 0.",
    ),
)
def _mi_labels(learner: Learner, draw: Draw):
    mutual_information = learner_function(learner, "mutual_information")
    cases = _odd_label_cases(draw)
    outcomes = mutual_information.many([((a, b), {}) for a, b, _ in cases])
    for (a, b, case), outcome in zip(cases, outcomes, strict=True):
        _expect_mi(outcome.value, a, b, case)


@check(
    "mutual_information.continuous",
    "mutual_information: refuses continuous codes (they must be binned first)",
    1,
    (
        "Lesson 09, section 5: the mutual information of a code dimension is computed from "
        "its values cut into 20 bins. What would counting the raw float values do?",
        "Every float code is different, so each would be a label of its own: knowing it "
        "pins down the factor, and the 'mutual information' is just the factor's entropy. "
        "Refuse floating-point input with a ValueError that says to bin the codes first.",
    ),
)
def _mi_continuous(learner: Learner, draw: Draw):
    mutual_information = learner_function(learner, "mutual_information")
    a, b = _mi_cases(draw)[2]  # b a function of a: pairs that never occur, too
    right = close(mutual_information(a, b), reference_mi(a, b), dtype=F32)
    needs_working(right, "mutual_information")
    n = len(b)
    codes = draw.randn(n, dtype=F64)  # one latent dimension's codes, continuous
    # the codes as either argument: the lesson's b (bins of z_d), or a
    for args, which in (((codes, b), "a"), ((b, codes), "b")):
        outcome = mutual_information.many([(args, {})])[0]
        _expect_refused(outcome, learner, n, which, _entropy(b))


def _expect_refused(outcome, learner: Learner, n: int, which: str, entropy) -> None:
    """A Mistake unless the call raised a ValueError for continuous codes as ``which``."""
    error = raised_error(outcome, learner, "mutual_information")
    if error:
        if error.get("type") == "ValueError":
            return
        raise Mistake(
            f"for float codes as `{which}`, mutual_information raised {error.get('type')}; "
            "raise a ValueError that says why (continuous values must be cut into bins first)."
        )
    got = outcome.value
    value = float(got) if isinstance(got, torch.Tensor) and got.numel() == 1 else None
    if value is not None and math.isclose(value, float(entropy), rel_tol=1e-4):
        raise Mistake(
            f"for {n} continuous codes as `{which}` (every value different) mutual_information "
            f"gives {value:.4g} nats, the entropy of the other labelling: each float became a "
            "label of its own, so the code 'determines' the factor whatever it holds. "
            "Continuous codes must be cut into bins first (the lesson uses 20 equal-width "
            "bins); raise a ValueError when either input is floating-point."
        )
    raise Mistake(
        f"mutual_information returned a value for continuous (floating-point) codes as "
        f"`{which}`: it counts labels, so raise a ValueError for float input (in `a` or `b`), "
        "saying the codes must be cut into bins first (the lesson uses 20 equal-width bins)."
    )


# ---------------------------------------------------------------- mutual_information_gap


def _mig_mistakes(mi: torch.Tensor, entropy: torch.Tensor) -> list:
    top = mi.sort(dim=0, descending=True).values  # (D, K)
    gap = top[0] - top[1]  # (K,)
    d, k = mi.shape
    variants = [
        (
            "the gap is not divided by the factor's entropy: each factor's share is (largest "
            "- second largest MI) / H(factor), so that MIG lies between 0 and 1.",
            gap.mean(),
        ),
        (
            "the gap is divided by the largest MI instead of the factor's entropy: MIG "
            "measures the gap as a share of all there is to know about the factor, "
            "H(factor).",
            (gap / top[0]).mean(),
        ),
        (
            "the gap is multiplied by the entropy: divide by it.",
            (gap * entropy).mean(),
        ),
        (
            "this is the largest minus the smallest MI: the gap is between the largest and "
            "the second largest, the runner-up.",
            ((top[0] - top[-1]) / entropy).mean(),
        ),
        (
            "this is the largest MI minus the mean over the dimensions: the gap is between "
            "the largest and the second largest, the runner-up.",
            ((top[0] - mi.mean(dim=0)) / entropy).mean(),
        ),
        (
            "the shares are summed over the factors: MIG is their mean.",
            (gap / entropy).sum(),
        ),
        (
            "this is the share of the best dimension alone, largest MI / H: subtract the "
            "second largest first.",
            (top[0] / entropy).mean(),
        ),
        (
            "the order is reversed: the second largest minus the largest is negative; take "
            "the largest minus the second largest.",
            (-gap / entropy).mean(),
        ),
    ]
    if d == k:  # the gap over the factors, for each latent dimension, divides like shapes
        over = mi.sort(dim=1, descending=True).values
        variants.append(
            (
                "the gap is taken over the factors, for each latent dimension: for each "
                "factor (a column of mi), compare the latent dimensions (the rows), dim=0.",
                ((over[:, 0] - over[:, 1]) / entropy).mean(),
            )
        )
    variants.append(
        (
            "the result is one value per factor: average the shares over the factors, one number.",
            gap / entropy,
        )
    )
    return variants


def _mig_cases(draw: Draw) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(mi, entropy): D != K and D == K, float64 and float32, each MI within its entropy."""
    cases = []
    for (d, k), dtype in (((10, 5), F64), ((6, 6), F32), ((2, 3), F64)):
        sizes = torch.randint(2, 11, (k,), generator=draw.generator)
        entropy = sizes.double().log()
        mi = draw.rand(d, k, dtype=F64) ** 2 * entropy  # a few large values per column
        cases.append((mi.to(dtype), entropy.to(dtype)))
    return cases


def _expect_gap_call(outcome, mi: torch.Tensor):
    try:
        return outcome.value
    except Mistake as e:
        if "must match the size" in str(e):
            raise Mistake(
                f"`mutual_information_gap` fails for mi of shape {tuple(mi.shape)} (D = "
                f"{mi.shape[0]} latent dimensions, K = {mi.shape[1]} factors): is the gap "
                "taken along the wrong dimension? For each factor (a column of mi) compare "
                f"the latent dimensions (the rows, dim=0). ({e})"
            ) from None
        raise


def _gap_working(gap, mi: torch.Tensor, entropy: torch.Tensor) -> None:
    """A Mistake unless the learner's gap is right on (mi, entropy) (for the checks of a
    property); a stub still says it is not implemented."""
    try:
        got = gap(mi, entropy)
    except Mistake as e:
        if "not implemented yet" in str(e) or "calls vaelab's own" in str(e):
            raise
        got = None
    needs_working(
        close(got, disentangle.mutual_information_gap(mi, entropy)), "mutual_information_gap"
    )


MIG_HINTS = (
    "Lesson 09, section 5: MIG is the mean, over the factors, of (I of the best dimension "
    "- I of the second best dimension) / H(factor).",
    "mi has one row per latent dimension and one column per factor: for each column, find "
    "its largest and second largest value (sorting the column, or the top two of it).",
    "Divide each column's gap by that factor's entropy, then average the K shares into one number.",
)


@check(
    "mutual_information_gap.values",
    "mutual_information_gap: best minus runner-up over the dimensions, over H, averaged",
    2.5,
    MIG_HINTS,
)
def _mig(learner: Learner, draw: Draw):
    gap = learner_function(learner, "mutual_information_gap")
    cases = _mig_cases(draw)
    outcomes = gap.many([((mi, entropy), {}) for mi, entropy in cases])
    for (mi, entropy), outcome in zip(cases, outcomes, strict=True):
        expect_close(
            _expect_gap_call(outcome, mi),
            disentangle.mutual_information_gap(mi, entropy),
            what="mutual_information_gap",
            case=f"for mi of shape {tuple(mi.shape)} ({dtype_name(mi.dtype)})",
            variants=_mig_mistakes(mi, entropy),
            hint="For each factor (column): (largest - second largest MI over the rows) / "
            "H(factor); then the mean over the factors.",
        )


def _tie_case(draw: Draw) -> tuple[torch.Tensor, torch.Tensor]:
    """(mi, entropy) where two latent dimensions tie for first place for factor 0."""
    mi, entropy = _mig_cases(draw)[0]
    mi = mi.clone()
    best = float(entropy[0]) * draw.uniform(0.5, 0.9)
    mi[:, 0] = mi[:, 0].clamp(max=best * 0.5)
    first, second = draw.integer(0, 4), draw.integer(5, 9)
    mi[first, 0] = mi[second, 0] = best  # a factor shared equally by two dimensions: gap 0
    return mi, entropy


@check(
    "mutual_information_gap.ties",
    "mutual_information_gap: two dimensions tied for first place give that factor 0",
    1.5,
    (
        "Lesson 09, section 5: a factor copied into two dimensions is not disentangled. "
        "What does MIG give it?",
        "The runner-up is the second entry of the column sorted in decreasing order, even "
        "when it equals the first: do not look for the largest value below the maximum, and "
        "do not drop every entry equal to it.",
    ),
)
def _mig_ties(learner: Learner, draw: Draw):
    gap = learner_function(learner, "mutual_information_gap")
    _gap_working(gap, *_mig_cases(draw)[0])
    mi, entropy = _tie_case(draw)
    got = as_tensor(gap(mi, entropy), "mutual_information_gap")
    want = disentangle.mutual_information_gap(mi, entropy)
    if close(got, want):
        return
    masked = mi.clone()  # the "largest below the maximum" reading of the runner-up
    top = mi.max(dim=0).values
    masked[mi == top] = -math.inf
    below = masked.max(dim=0).values
    below = torch.where(torch.isfinite(below), below, top)
    message = matching_variant(
        got,
        [
            (
                "with two dimensions tied for the largest MI, the runner-up has the same MI "
                "and that factor's gap is 0 (a factor shared by two dimensions is not "
                "disentangled): take the second entry of the sorted column, not the largest "
                "value below the maximum.",
                ((top - below) / entropy).mean(),
            )
        ],
        want,
    )
    raise Mistake(
        message
        or "mutual_information_gap is not right when two dimensions tie for first place: "
        "the runner-up is the second entry of the column sorted in decreasing order, "
        "ties included, and the tied factor's gap is 0."
    )


@check(
    "mutual_information_gap.unchanged",
    "mutual_information_gap: inputs unchanged",
    0.5,
    (
        "Finding the runner-up by overwriting the best entry changes the caller's mi.",
        "Sort a copy (sorting returns a new tensor) or take the top two values, instead of "
        "writing into mi.",
    ),
)
def _mig_unchanged(learner: Learner, draw: Draw):
    gap = learner_function(learner, "mutual_information_gap")
    mi, entropy = _mig_cases(draw)[2]
    mi = mi[mi[:, 0].argsort()]  # the best dimension of the first factor last: not yet sorted
    _gap_working(gap, mi, entropy)
    result = gap.run(mi, entropy)
    expect_unchanged(result, ("mi", "entropy"), "mutual_information_gap")


# ---------------------------------------------------------------- stretch (issue 22): beyond
# the lesson, graded like the rest, its points counted apart


def _label_entropy(labels):
    _, index = torch.unique(labels, return_inverse=True)
    return disentangle.entropy(index[:, None])[0]


def _entropy_cases(draw):
    calls = []
    for n, k in ((200, 5), (37, 3)):
        labels = (draw.rand(n) * draw.rand(n) * k).long() - draw.integer(0, 3)
        calls.append(((labels,), {}))
    calls.append(((torch.tensor([4, 4, 4, 4]),), {}))  # one value: 0 nats
    calls.append(((torch.tensor([-7, 10, 10, 3, -7, 10]),), {}))  # negative labels, gaps
    return calls


def _entropy_label_mistakes(labels):
    ref = _label_entropy(labels)
    _, counts = torch.unique(labels, return_counts=True)
    c = counts.double()
    return [
        (
            "this is in bits (log base 2): the exercise asks for nats, the natural log.",
            ref / math.log(2),
        ),
        (
            "the counts are not turned into probabilities: divide each count by N first.",
            lambda: -(c * c.log()).sum(),
        ),
        ("the sign is flipped: an entropy is never negative.", -ref),
    ]


stretch_values(
    checks,
    "label_entropy",
    "label_entropy: the plug-in entropy of a labelling, in nats",
    (
        "Lesson 09's MIG divides each gap by the entropy of the factor: compute that "
        "entropy from the labels themselves.",
        "Estimate each label's probability by counting, then H = -sum p log p over the "
        "labels that occur.",
        "Labels may be negative or have gaps: count the values that occur, not 0..max.",
    ),
    cases=_entropy_cases,
    reference=_label_entropy,
    mistakes=_entropy_label_mistakes,
    what="label_entropy",
    case_words=lambda labels: f"for {len(labels)} labels",
)
