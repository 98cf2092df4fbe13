"""Disentanglement: does each latent dimension capture one factor of variation?

On data whose generative factors are known (``vaelab.shapes``: shape, scale, rotation,
x, y), two tools answer the question:

- ``traversals``: decode a code while one latent dimension sweeps a range and the others
  stay put, one row per dimension. A disentangled dimension changes one factor only.
- ``mig``: the mutual information gap (Chen et al., 2018, "Isolating Sources of
  Disentanglement in VAEs"). For every factor, the mutual information with the latent
  dimension that knows most about it, minus that with the runner-up, over the factor's
  entropy; averaged over factors. 1 when each factor lives in exactly one dimension, 0
  when no dimension stands out (two dimensions sharing a factor equally also score 0).

The mutual information is estimated from a histogram: each dimension's codes are cut into
``bins`` equal-width bins over their range, and the discrete mutual information with the
factor's grid index is computed in nats. Chen et al. define it through the encoder's
distribution q(z | x); one draw z ~ q(z | x) per example, binned, is a simple estimate of
that. Posterior means also work, but a dimension at the prior then still scores: its means
wobble with the input by amounts the noise would drown, and binning over the dimension's
own small range magnifies them. With few
examples per bin the estimate is biased upwards by about ``(bins - 1)(m - 1) / 2N`` nats
for a factor with ``m`` values, which is why the score uses a gap between dimensions.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

__all__ = [
    "MIG",
    "discretize",
    "entropy",
    "mig",
    "mutual_information",
    "mutual_information_gap",
    "mutual_information_of_labels",
    "traversals",
]


class MIG(NamedTuple):
    """The mutual information gap and what it is made of."""

    score: float  # mean over factors of gap / entropy, in [0, 1]
    per_factor: torch.Tensor  # (K,) each factor's normalised gap
    mi: torch.Tensor  # (D, K) mutual information between each dimension and factor, nats
    entropy: torch.Tensor  # (K,) each factor's entropy, nats
    best_dim: torch.Tensor  # (K,) int64: the dimension that knows most about each factor


def _check_codes(codes: torch.Tensor) -> None:
    if not isinstance(codes, torch.Tensor) or codes.dim() != 2 or not codes.is_floating_point():
        got = (
            f"a {codes.dtype} tensor of shape {tuple(codes.shape)}"
            if isinstance(codes, torch.Tensor)
            else type(codes).__name__
        )
        raise ValueError(
            f"codes should be a float tensor of shape (N, D), one row per example (for a "
            f"VAE, one draw z ~ q(z | x) per example, or the posterior means); got {got}"
        )
    if len(codes) < 2:
        raise ValueError(f"codes need at least 2 examples to estimate anything; got {len(codes)}")
    if not torch.isfinite(codes).all():
        raise ValueError("codes contain NaN or inf: check the model (a diverged run?)")


def _check_factors(factors: torch.Tensor, num: int) -> None:
    if not isinstance(factors, torch.Tensor) or factors.dim() != 2:
        got = tuple(factors.shape) if isinstance(factors, torch.Tensor) else type(factors).__name__
        raise ValueError(
            f"factors should be an integer tensor of shape (N, K), each factor's grid index "
            f"per example (vaelab.shapes gives them); got {got}"
        )
    if factors.is_floating_point() or factors.is_complex() or factors.dtype == torch.bool:
        raise ValueError(
            f"factors should hold integer grid indices, got dtype {factors.dtype}: "
            "pass Shapes.factors, or turn values into indices with torch.unique(..., "
            "return_inverse=True)"
        )
    if len(factors) != num:
        raise ValueError(
            f"codes and factors should have one row per example each; got {num} codes and "
            f"{len(factors)} rows of factors"
        )
    if (factors < 0).any():
        raise ValueError("factors should be non-negative grid indices")


def discretize(codes: torch.Tensor, *, bins: int = 20) -> torch.Tensor:
    """Each column of ``codes`` (N, D) cut into ``bins`` equal-width bins over its range.

    Returns (N, D) int64 bin indices in 0..bins-1 (numpy.histogram's edges: the maximum
    falls in the last bin). A constant column lands in bin 0.
    """
    _check_codes(codes)
    if not isinstance(bins, int) or bins < 2:
        raise ValueError(f"bins should be an integer >= 2, got {bins!r}")
    codes = codes.detach().double()
    low, high = codes.min(0).values, codes.max(0).values
    width = (high - low).clamp_min(torch.finfo(torch.float64).tiny)
    index = ((codes - low) / width * bins).floor().long()
    return index.clamp_(0, bins - 1)


def entropy(labels: torch.Tensor) -> torch.Tensor:
    """Entropy in nats of each column of integer ``labels`` (N, K), from their frequencies."""
    _check_factors(labels, len(labels))
    out = torch.empty(labels.shape[1], dtype=torch.float64)
    for k in range(labels.shape[1]):
        p = torch.bincount(labels[:, k]).double()
        p = p[p > 0] / len(labels)
        out[k] = -(p * p.log()).sum()
    return out


def _mi_discrete(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mutual information in nats between two integer label vectors (plug-in estimate)."""
    na, nb = int(a.max()) + 1, int(b.max()) + 1
    joint = torch.bincount(a * nb + b, minlength=na * nb).reshape(na, nb).double()
    joint /= len(a)
    pa, pb = joint.sum(1, keepdim=True), joint.sum(0, keepdim=True)
    mask = joint > 0
    return float((joint[mask] * (joint[mask] / (pa * pb).expand_as(joint)[mask]).log()).sum())


def mutual_information(
    codes: torch.Tensor, factors: torch.Tensor, *, bins: int = 20
) -> torch.Tensor:
    """(D, K) mutual information in nats between each code dimension and each factor.

    Args:
        codes: (N, D) float, e.g. one draw z ~ q(z | x) per example; discretised with
            ``discretize``.
        factors: (N, K) integer grid indices of the known factors.
        bins: histogram bins per code dimension.
    """
    _check_codes(codes)
    _check_factors(factors, len(codes))
    binned = discretize(codes, bins=bins).cpu()
    factors = factors.detach().cpu().long()
    mi = torch.empty(codes.shape[1], factors.shape[1], dtype=torch.float64)
    for d in range(codes.shape[1]):
        for k in range(factors.shape[1]):
            mi[d, k] = _mi_discrete(binned[:, d], factors[:, k])
    return mi.clamp_min_(0.0)


def mutual_information_of_labels(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """I(a; b) in nats of two labellings of the same N items, the plug-in estimate.

    Any integer labels work (negative ones, gaps between the values); continuous values must
    be binned first (``discretize``). ``mutual_information`` does that for a whole code.

    Args:
        a: (N,) integer labels.
        b: (N,) integer labels.

    Returns:
        A 0-d float64 tensor, in nats.
    """
    if a.dim() != 1 or b.dim() != 1 or len(a) != len(b) or len(a) == 0:
        raise ValueError(
            f"expected two labellings (N,) of the same N >= 1 items, got {tuple(a.shape)} and "
            f"{tuple(b.shape)}"
        )
    if a.is_floating_point() or b.is_floating_point():
        raise ValueError(
            "mutual_information_of_labels counts integer labels; cut continuous values into "
            "bins first (disentangle.discretize)"
        )
    labels_a = torch.unique(a.detach().cpu(), return_inverse=True)[1]  # 0, 1, 2, ... (N,)
    labels_b = torch.unique(b.detach().cpu(), return_inverse=True)[1]
    return torch.tensor(_mi_discrete(labels_a, labels_b), dtype=torch.float64)


def mutual_information_gap(mi: torch.Tensor, entropy: torch.Tensor) -> torch.Tensor:
    """MIG from a mutual-information matrix: for each factor, the largest minus the second
    largest mutual information over the latent dimensions, over the factor's entropy,
    averaged over the factors (``mig`` computes it from codes, clamped into [0, 1]).

    Args:
        mi: (D, K) mutual information between D >= 2 latent dimensions and K factors, nats.
        entropy: (K,) the factors' entropies, nats, > 0.

    Returns:
        A 0-d tensor in mi's dtype.
    """
    if mi.dim() != 2 or mi.shape[0] < 2 or entropy.shape != mi.shape[1:]:
        raise ValueError(
            f"expected mi of shape (D, K) with D >= 2 and entropy of shape (K,); got "
            f"{tuple(mi.shape)} and {tuple(entropy.shape)}"
        )
    top2 = mi.topk(2, dim=0).values  # (2, K): the best and second-best dimension per factor
    return ((top2[0] - top2[1]) / entropy).mean()


def mig(codes: torch.Tensor, factors: torch.Tensor, *, bins: int = 20) -> MIG:
    """The mutual information gap of ``codes`` with respect to known ``factors``.

    Args:
        codes: (N, D) float with D >= 2, e.g. one draw z ~ q(z | x) per example.
        factors: (N, K) integer grid indices; each factor should take at least 2 values.
        bins: histogram bins per code dimension.

    Returns:
        ``MIG(score, per_factor, mi, entropy, best_dim)``; ``score`` is in [0, 1].
    """
    _check_codes(codes)
    if codes.shape[1] < 2:
        raise ValueError(
            f"MIG compares the best latent dimension with the second best, so codes need "
            f"at least 2 dimensions; got {codes.shape[1]}"
        )
    _check_factors(factors, len(codes))
    h = entropy(factors.detach().cpu().long())
    if (h <= 0).any():
        constant = [int(k) for k in torch.nonzero(h <= 0).flatten()]
        raise ValueError(
            f"factor column(s) {constant} take a single value in this data, so there is "
            "nothing to capture: drop them or use data where they vary"
        )
    mi = mutual_information(codes, factors, bins=bins)
    top2 = mi.topk(2, dim=0)
    gap = (top2.values[0] - top2.values[1]) / h
    gap = gap.clamp(0.0, 1.0)
    return MIG(float(gap.mean()), gap, mi, h, top2.indices[0])


@torch.no_grad()
def traversals(
    model,
    z: torch.Tensor,
    *,
    dims: list[int] | None = None,
    span: float = 3.0,
    steps: int = 9,
) -> torch.Tensor:
    """Decoded images as each latent dimension sweeps ``[-span, span]`` around code ``z``.

    Args:
        model: a vaelab model (anything with ``decode(z) -> x_logits`` and ``latent_dim``).
        z: (D,) the code to start from (e.g. one image's posterior mean).
        dims: which dimensions to sweep (default all, in order).
        span: the sweep's half-width; the prior is N(0, 1), so 3 covers most of it.
        steps: values per sweep.

    Returns:
        (len(dims), steps, C, H, W) images in [0, 1]: row i sweeps dimension ``dims[i]``,
        which is set to ``linspace(-span, span, steps)`` while the others keep ``z``'s values.
    """
    latent_dim = getattr(model, "latent_dim", None)
    if not isinstance(z, torch.Tensor) or z.dim() != 1 or not z.is_floating_point():
        got = tuple(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__
        raise ValueError(f"z should be one float code of shape (latent_dim,), got {got}")
    if latent_dim is not None and len(z) != latent_dim:
        raise ValueError(f"z has {len(z)} dimensions but the model's latent_dim is {latent_dim}")
    dims = list(range(len(z))) if dims is None else [int(d) for d in dims]
    bad = [d for d in dims if not 0 <= d < len(z)]
    if bad or not dims:
        raise ValueError(f"dims should be indices in 0..{len(z) - 1}, got {dims}")
    if steps < 2 or not span > 0:
        raise ValueError(f"need steps >= 2 and span > 0, got steps={steps}, span={span}")
    values = torch.linspace(-span, span, steps, dtype=z.dtype, device=z.device)
    codes = z.detach().expand(len(dims), steps, len(z)).clone()
    for row, d in enumerate(dims):
        codes[row, :, d] = values
    was_training = model.training
    model.eval()
    try:
        images = torch.sigmoid(model.decode(codes.reshape(-1, len(z))))
    finally:
        model.train(was_training)
    return images.reshape(len(dims), steps, *images.shape[1:])
