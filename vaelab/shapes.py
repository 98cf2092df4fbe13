"""Shapes: small images rendered from known generative factors, for studying disentanglement.

Each 28x28 image shows one white shape on black, fully determined by five factors of
variation: ``shape`` (square, ellipse, triangle), ``scale``, ``rotation`` and the centre
position ``x``, ``y``. Like dSprites, but rendered on the fly with torch (no download),
with every combination on a small grid (3 * 6 * 10 * 8 * 8 = 11,520 images).

Because the true factors of every image are known, one can ask of a trained VAE whether
each latent dimension captures one factor and only one (a beta-VAE latent traversal that
moves only the shape's x position, say), and measure it.

The scale s is the square's half-side; the ellipse has semi-axes 1.4 s and 0.7 s (long axis
horizontal at rotation 0) and the equilateral triangle a circumradius of 1.25 s (apex up at
rotation 0). Rotation turns a shape counter-clockwise as seen in the image. Coordinates are
in pixels, x to the right and y downwards: the image spans [0, size] on both axes and pixel
(row i, column j) covers [j, j + 1) x [i, i + 1), so its centre is at (j + 0.5, i + 0.5).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

__all__ = [
    "FACTORS",
    "FACTOR_SIZES",
    "IMAGE_SIZE",
    "SHAPE_NAMES",
    "Shapes",
    "factor_values",
    "make_shapes",
    "render",
]

FACTORS: tuple[str, ...] = ("shape", "scale", "rotation", "x", "y")
SHAPE_NAMES = ("square", "ellipse", "triangle")
FACTOR_SIZES: dict[str, int] = {"shape": 3, "scale": 6, "rotation": 10, "x": 8, "y": 8}
IMAGE_SIZE = 28

# Geometry at size 28 (every length scales with size / 28). With the largest scale 4.5 the
# farthest point from the centre is the corner of the square turned 45 degrees,
# 4.5 * sqrt(2) = 6.36 px (the ellipse reaches 1.4 * 4.5 = 6.3, the triangle 1.25 * 4.5 =
# 5.63), so centres in [8, 20] keep every shape inside [1.64, 26.36]: more than one pixel
# of black border on each side.
SCALE_RANGE = (2.5, 4.5)  # half-side of the square, in pixels
POSITION_RANGE = (8.0, 20.0)  # centre x and y, in pixels
ELLIPSE_AXES = (1.4, 0.7)  # semi-axes as multiples of the scale
TRIANGLE_RADIUS = 1.25  # circumradius as a multiple of the scale
# Images rendered at once: as many as keep each temporary (rows of samples x pixel columns)
# under 2**23 floats, so memory stays near 100 MB (2,674 images at size 28).
CHUNK_ELEMENTS = 2**23


class Shapes(NamedTuple):
    """Images and their factors: ``x, factors = make_shapes()``."""

    x: torch.Tensor  # (N, 1, size, size) float32 in [0, 1]
    factors: torch.Tensor  # (N, 5) int64, each factor's grid index, columns in FACTORS order


def factor_values(name: str, *, size: int = IMAGE_SIZE) -> torch.Tensor:
    """The real value of each grid point of a factor, as float32.

    Args:
        name: one of ``FACTORS``. "shape": 0, 1, 2 (indices into ``SHAPE_NAMES``);
            "scale": the shape's size in pixels (half-side of the square); "rotation":
            counter-clockwise angles in radians, evenly over [0, pi/2) (a quarter turn
            keeps every shape distinct); "x", "y": centre positions in pixels.
        size: image size the lengths are for (they scale with size / 28).

    Returns:
        (FACTOR_SIZES[name],) tensor; ``factor_values(name)[factors[:, i]]`` converts
        indices to values.
    """
    unit = size / IMAGE_SIZE
    count = FACTOR_SIZES.get(name)
    if name == "shape":
        return torch.arange(count, dtype=torch.float32)
    if name == "scale":
        return torch.linspace(*SCALE_RANGE, count, dtype=torch.float64).mul(unit).float()
    if name == "rotation":
        return (torch.arange(count, dtype=torch.float64) * (math.pi / 2 / count)).float()
    if name in ("x", "y"):
        return torch.linspace(*POSITION_RANGE, count, dtype=torch.float64).mul(unit).float()
    raise ValueError(f"unknown factor {name!r}: choose one of {FACTORS}")


def _check_factors(factors: torch.Tensor) -> None:
    if not isinstance(factors, torch.Tensor) or factors.dim() != 2 or factors.shape[1] != 5:
        shape = tuple(factors.shape) if isinstance(factors, torch.Tensor) else type(factors)
        raise ValueError(
            f"expected factors of shape (N, {len(FACTORS)}), one column per factor in the "
            f"order {FACTORS}, got {shape}; for a single image use factors[None]"
        )
    if factors.dtype.is_floating_point or factors.dtype.is_complex or factors.dtype == torch.bool:
        raise TypeError(
            f"factors must hold integer grid indices, got dtype {factors.dtype}; convert "
            "values to indices (e.g. with torch.bucketize on factor_values) and pass "
            ".long()"
        )
    if len(factors) == 0:
        return
    low, high = factors.min(dim=0).values.tolist(), factors.max(dim=0).values.tolist()
    for i, name in enumerate(FACTORS):
        if low[i] < 0 or high[i] >= FACTOR_SIZES[name]:
            raise ValueError(
                f"factor {name!r} (column {i}) must be an index in 0..{FACTOR_SIZES[name] - 1}, "
                f"got values in {low[i]}..{high[i]}; use FACTOR_SIZES for the grid sizes"
            )


def _span_polygon(
    dy: torch.Tensor, normals: torch.Tensor, reach: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Where each horizontal line crosses a convex polygon {p : n_k . p <= reach, all k}.

    Args:
        dy: (n, S) heights of the lines above each shape's centre.
        normals: (n, K) angles of the outward edge normals (counter-clockwise from +x).
        reach: (n, 1) distance of every edge from the centre.

    Returns:
        (lo, hi), each (n, S): the line is inside for lo <= dx <= hi (hi < lo: it misses).
    """
    nx, ny = torch.cos(normals)[:, None, :], torch.sin(normals)[:, None, :]  # (n, 1, K)
    room = reach[:, :, None] - ny * dy[:, :, None]  # (n, S, K): nx * dx <= room
    bound = room / torch.where(nx.abs() > 1e-6, nx, torch.ones_like(nx))
    hi = torch.where(nx > 1e-6, bound, torch.inf).amin(dim=-1)
    lo = torch.where(nx < -1e-6, bound, -torch.inf).amax(dim=-1)
    blocked = ((nx.abs() <= 1e-6) & (room < 0)).any(dim=-1)  # a horizontal edge cuts it off
    return lo, torch.where(blocked, -torch.inf, hi)


def _span_ellipse(
    dy: torch.Tensor, theta: torch.Tensor, scale: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Like ``_span_polygon``, for the ellipse of semi-axes ``ELLIPSE_AXES * scale`` turned by
    ``theta`` (n, 1)."""
    a2, b2 = (ELLIPSE_AXES[0] * scale) ** 2, (ELLIPSE_AXES[1] * scale) ** 2  # (n, 1)
    cos, sin = torch.cos(theta), torch.sin(theta)
    # (dx cos + dy sin)^2 / a^2 + (dy cos - dx sin)^2 / b^2 <= 1 as A dx^2 + 2 B dx + C <= 0.
    qa = cos**2 / a2 + sin**2 / b2  # (n, 1)
    qb = dy * (cos * sin * (1 / a2 - 1 / b2))  # (n, S)
    qc = dy**2 * (sin**2 / a2 + cos**2 / b2) - 1  # (n, S)
    disc = qb**2 - qa * qc
    root = disc.clamp(min=0).sqrt()
    lo, hi = (-qb - root) / qa, (-qb + root) / qa
    return lo, torch.where(disc < 0, -torch.inf, hi)


def _coverage(
    factors: torch.Tensor, values: dict[str, torch.Tensor], size: int, supersample: int
) -> torch.Tensor:
    """Fraction of each pixel's sub-pixel samples inside the shape: (n, H, W).

    Scan-line rendering: each row of samples crosses the (convex) shape in one interval, so
    counting the samples inside each pixel needs only the interval's two ends, not a test
    per sample. The result equals testing all supersample x supersample points.
    """
    n, ss, device = len(factors), supersample, factors.device
    kind = factors[:, 0]
    scale = values["scale"][factors[:, 1]].view(n, 1)
    theta = values["rotation"][factors[:, 2]].view(n, 1)
    cx = values["x"][factors[:, 3]].view(n, 1)
    cy = values["y"][factors[:, 4]].view(n, 1)
    t = (torch.arange(size * ss, device=device) + 0.5) / ss  # (S,) sample coordinates
    dy = cy - t  # (n, S): height of each row of samples above the centre
    # Polygons as edge normals (angles, in units of pi) and the edges' distance from the
    # centre (in units of scale); the shape turns counter-clockwise by theta, so do they.
    normals = torch.tensor(
        [
            [0.0, 0.5, 1.0, 1.5],  # square: right, up, left, down at the half-side
            [0.0, 0.5, 1.0, 1.5],  # (ellipse: unused)
            [1.5, 1 / 6, 5 / 6, 5 / 6],  # triangle, apex up: three edges at the inradius
        ],
        device=device,
    )
    reach = torch.tensor([1.0, 1.0, 0.5 * TRIANGLE_RADIUS], device=device)
    lo, hi = _span_polygon(dy, normals[kind] * math.pi + theta, reach[kind, None] * scale)
    lo_ellipse, hi_ellipse = _span_ellipse(dy, theta, scale)
    is_ellipse = (kind == SHAPE_NAMES.index("ellipse"))[:, None]  # (n, 1)
    lo, hi = torch.where(is_ellipse, lo_ellipse, lo), torch.where(is_ellipse, hi_ellipse, hi)
    # Samples of a row with x <= cx + hi: the first k_hi; with x < cx + lo: the first k_lo.
    k_hi = torch.floor((cx + hi) * ss + 0.5).clamp_(0, size * ss)  # (n, S)
    k_lo = torch.ceil((cx + lo) * ss - 0.5).clamp_(0, size * ss)
    k_hi = torch.maximum(k_hi, k_lo)  # hi < lo: the row misses the shape, no samples
    starts = torch.arange(size, device=device) * ss  # (W,) first sample of each pixel column
    inside = (k_hi[..., None] - starts).clamp_(0, ss) - (k_lo[..., None] - starts).clamp_(0, ss)
    counts = inside.view(n, size, ss, size).sum(dim=2)  # (n, H, W): samples of the S rows
    return counts.div_(ss * ss)


def render(factors: torch.Tensor, *, size: int = IMAGE_SIZE, supersample: int = 4) -> torch.Tensor:
    """Draw the image of each row of grid indices: a white shape on black, anti-aliased.

    Each pixel's value is the fraction of a supersample x supersample grid of points
    inside it that fall inside the shape. Rendering happens on ``factors.device``.

    Args:
        factors: (N, 5) integer indices into the factor grids, columns in ``FACTORS`` order.
        size: image height and width in pixels; lengths scale with size / 28.
        supersample: sub-pixel samples per pixel along each axis (1: no anti-aliasing).

    Returns:
        (N, 1, size, size) float32 in [0, 1].
    """
    _check_factors(factors)
    for name, value in (("size", size), ("supersample", supersample)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    factors = factors.long()
    device = factors.device
    values = {name: factor_values(name, size=size).to(device) for name in FACTORS}
    x = torch.zeros(len(factors), 1, size, size, device=device)
    chunk_size = max(1, CHUNK_ELEMENTS // (size * supersample * size))
    for start in range(0, len(factors), chunk_size):
        chunk = factors[start : start + chunk_size]
        x[start : start + chunk_size, 0] = _coverage(chunk, values, size, supersample)
    return x


def make_shapes(n: int | None = None, *, seed: int = 0, size: int = IMAGE_SIZE) -> Shapes:
    """The shapes dataset: every factor combination once, or ``n`` random ones.

    Args:
        n: None for the full grid, all 11,520 combinations in lexicographic order of
            ``FACTORS`` (the last factor, y, varies fastest); else this many combinations
            drawn uniformly at random, with replacement.
        seed: seeds the draw (a ``torch.Generator``): the same seed gives the same data.
        size: image height and width in pixels.

    Returns:
        ``Shapes(x, factors)``: x float32 (N, 1, size, size) in [0, 1], factors int64 (N, 5).
    """
    sizes = [FACTOR_SIZES[name] for name in FACTORS]
    if n is None:
        factors = torch.cartesian_prod(*(torch.arange(k) for k in sizes))  # (11520, 5)
    else:
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ValueError(
                f"n must be a positive int (or None for the full grid of "
                f"{math.prod(sizes)} combinations), got {n!r}"
            )
        generator = torch.Generator().manual_seed(seed)
        columns = [torch.randint(k, (n,), generator=generator) for k in sizes]
        factors = torch.stack(columns, dim=1)  # (n, 5)
    return Shapes(render(factors, size=size), factors)
