"""vaelab.shapes: the factor grid, determinism, and geometry checked against closed forms."""

import itertools
import math

import pytest
import torch

from vaelab import shapes

SIZES = [shapes.FACTOR_SIZES[name] for name in shapes.FACTORS]


@pytest.fixture(scope="module")
def grid():
    """The full grid, rendered once for the whole file."""
    return shapes.make_shapes()


@pytest.fixture(scope="module")
def grid_moments(grid):
    """``moments`` of every image of the full grid."""
    return moments(grid.x)


def select(factors: torch.Tensor, **fixed: int) -> torch.Tensor:
    """Rows of ``factors`` whose named factors have the given indices."""
    keep = torch.ones(len(factors), dtype=torch.bool)
    for name, index in fixed.items():
        keep &= factors[:, shapes.FACTORS.index(name)] == index
    return keep


def moments(x: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Mass, centroid (x, y) and central second moments of (N, 1, H, W) images, in pixel
    coordinates where pixel (i, j) has its centre at (j + 0.5, i + 0.5)."""
    img = x[:, 0].double()  # (N, H, W)
    cols = torch.arange(img.shape[2], dtype=torch.float64) + 0.5  # x of each column
    rows = torch.arange(img.shape[1], dtype=torch.float64)[:, None] + 0.5  # y of each row
    mass = img.sum(dim=(1, 2))
    cx = (img * cols).sum(dim=(1, 2)) / mass
    cy = (img * rows).sum(dim=(1, 2)) / mass
    ddx, ddy = cols - cx[:, None, None], rows - cy[:, None, None]  # (N, 1, W), (N, H, 1)
    mu20 = (img * ddx**2).sum(dim=(1, 2)) / mass
    mu02 = (img * ddy**2).sum(dim=(1, 2)) / mass
    mu11 = (img * ddx * ddy).sum(dim=(1, 2)) / mass
    return mass, cx, cy, mu20, mu02, mu11


def values_of(factors: torch.Tensor, name: str, size: int = shapes.IMAGE_SIZE) -> torch.Tensor:
    values = shapes.factor_values(name, size=size).double()
    return values[factors[:, shapes.FACTORS.index(name)]]


def closed_form_area(shape: int, s: torch.Tensor | float) -> torch.Tensor | float:
    """Area of the shape of index ``shape`` at scale ``s``, in square pixels."""
    if shape == 0:
        return (2 * s) ** 2  # square of half-side s
    if shape == 1:
        return math.pi * (1.4 * s) * (0.7 * s)  # ellipse, pi a b
    return 3 * math.sqrt(3) / 4 * (1.25 * s) ** 2  # equilateral triangle of circumradius R


def oracle(factors: torch.Tensor, size: int = 28, supersample: int = 4) -> torch.Tensor:
    """Independent renderer: test every sub-pixel sample against the shape's definition
    (square half-side s; ellipse semi-axes 1.4 s, 0.7 s; triangle from its three vertices at
    circumradius 1.25 s, apex up), in float64, and average."""
    ss = supersample
    t = (torch.arange(size * ss, dtype=torch.float64) + 0.5) / ss
    s = values_of(factors, "scale", size)[:, None, None]
    theta = values_of(factors, "rotation")[:, None, None]
    dx = t - values_of(factors, "x", size)[:, None, None]  # (N, 1, S), to the right
    dy = values_of(factors, "y", size)[:, None, None] - t[:, None]  # (N, S, 1), upwards
    # Undo the counter-clockwise turn: coordinates in the shape's own frame.
    u = dx * torch.cos(theta) + dy * torch.sin(theta)
    v = dy * torch.cos(theta) - dx * torch.sin(theta)
    square = (u.abs() <= s) & (v.abs() <= s)
    ellipse = (u / (1.4 * s)) ** 2 + (v / (0.7 * s)) ** 2 <= 1
    angles = [math.radians(a) for a in (90, 210, 330)]  # counter-clockwise
    corners = [(1.25 * s * math.cos(a), 1.25 * s * math.sin(a)) for a in angles]
    triangle = torch.ones_like(square)
    for (ax, ay), (bx, by) in zip(corners, corners[1:] + corners[:1], strict=True):
        triangle &= (bx - ax) * (v - ay) - (by - ay) * (u - ax) >= 0  # left of each edge
    inside = torch.stack([square, ellipse, triangle])[factors[:, 0], torch.arange(len(factors))]
    return inside.double().view(-1, 1, size, ss, size, ss).mean(dim=(3, 5)).float()


def test_full_grid_every_combination_once_in_lexicographic_order(grid):
    x, factors = grid
    assert x.shape == (11520, 1, 28, 28) and x.dtype == torch.float32
    assert factors.shape == (11520, 5) and factors.dtype == torch.int64
    assert math.prod(SIZES) == 11520
    expected = torch.tensor(list(itertools.product(*(range(k) for k in SIZES))))
    assert torch.equal(factors, expected)  # each combination once, last factor fastest
    assert x.min() == 0 and x.max() == 1
    assert (x.amax(dim=(1, 2, 3)) == 1).all()  # every shape covers at least one pixel fully


def test_render_matches_independent_point_sampling(grid):
    x, factors = grid
    idx = torch.randperm(len(factors), generator=torch.Generator().manual_seed(0))[:400]
    expected = oracle(factors[idx])
    diff = (x[idx] - expected).abs()
    # Equal up to a sub-pixel sample lying on the boundary within rounding.
    assert diff.max() <= 1 / 16 + 1e-6
    assert (diff > 0).float().mean() < 1e-3


def test_values_are_coverage_fractions():
    factors = shapes.make_shapes(30, seed=1).factors
    for ss in (1, 3):
        x = shapes.render(factors, supersample=ss)
        counts = x * ss * ss  # samples inside each pixel
        assert (counts - counts.round()).abs().max() < 1e-5
    assert set(shapes.render(factors, supersample=1).unique().tolist()) == {0.0, 1.0}


def test_random_draws_are_deterministic_and_consistent():
    a, b = shapes.make_shapes(300, seed=7), shapes.make_shapes(300, seed=7)
    assert a.x.shape == (300, 1, 28, 28) and a.factors.shape == (300, 5)
    assert torch.equal(a.x, b.x) and torch.equal(a.factors, b.factors)
    c = shapes.make_shapes(300, seed=8)
    assert not torch.equal(a.factors, c.factors) and not torch.equal(a.x, c.x)
    assert torch.equal(shapes.render(a.factors), a.x)
    for i, k in enumerate(SIZES):  # uniform draws reach every grid index
        assert set(a.factors[:, i].tolist()) == set(range(k))


def test_every_shape_stays_inside_the_frame_with_a_margin(grid, grid_moments):
    x = grid.x[:, 0]
    border = torch.cat([x[:, 0], x[:, -1], x[:, :, 0], x[:, :, -1]], dim=1)
    assert border.abs().max() == 0
    assert grid_moments[0].min() > 10  # and none vanished: the smallest triangle covers 12.7 px


def test_other_sizes_scale_the_geometry():
    extremes = [[k, 5, 5, p, q] for k in range(3) for p in (0, 7) for q in (0, 7)]
    factors = torch.tensor(extremes)
    small, large = shapes.render(factors), shapes.render(factors, size=56)
    assert large.shape == (12, 1, 56, 56)
    border = torch.cat([large[:, 0, 0], large[:, 0, -1], large[:, 0, :, 0], large[:, 0, :, -1]])
    assert border.max() == 0
    ratio = large.sum(dim=(1, 2, 3)) / small.sum(dim=(1, 2, 3))
    assert torch.allclose(ratio, torch.full_like(ratio, 4.0), rtol=0.03)
    assert torch.allclose(shapes.factor_values("x", size=56), 2 * shapes.factor_values("x"))


@pytest.mark.parametrize("scale_index", [0, 5])
def test_area_matches_closed_form(grid, scale_index):
    x, factors = grid
    s = shapes.factor_values("scale")[scale_index].item()
    for k, name in enumerate(shapes.SHAPE_NAMES):
        keep = select(factors, shape=k, scale=scale_index)
        area = closed_form_area(k, s)
        pixel_sum = x[keep].double().sum(dim=(1, 2, 3))  # one per rotation and position
        assert len(pixel_sum) == 10 * 8 * 8
        # 4 x 4 samples per pixel: each image within a few percent, their mean much closer.
        assert (pixel_sum / area - 1).abs().max() < 0.06, name
        assert abs(pixel_sum.mean() / area - 1) < 0.005, name


def test_finer_supersampling_converges_to_the_area():
    factors = shapes.make_shapes(40, seed=2).factors
    s = values_of(factors, "scale")
    area = torch.stack([closed_form_area(k, s) for k in range(3)])
    area = area[factors[:, 0], torch.arange(len(factors))]
    pixel_sum = shapes.render(factors, supersample=16).double().sum(dim=(1, 2, 3))
    assert (pixel_sum / area - 1).abs().max() < 0.015


@pytest.mark.parametrize("shape", range(3))
def test_centroid_is_the_centre(grid, grid_moments, shape):
    factors = grid.factors
    keep = select(factors, shape=shape)
    _, cx, cy, *_ = (m[keep] for m in grid_moments)
    assert (cx - values_of(factors[keep], "x")).abs().max() < 0.3
    assert (cy - values_of(factors[keep], "y")).abs().max() < 0.3


def test_triangle_points_up_at_rotation_zero(grid):
    # The line through an equilateral triangle's centre, parallel to its base, leaves
    # (2/3)^2 = 4/9 of the area on the apex side. Centres y = 8 and 20 lie on pixel edges.
    x, factors = grid
    for y_index, row in ((0, 8), (7, 20)):
        keep = select(factors, shape=2, rotation=0, y=y_index)
        img = x[keep, 0].double()
        above = img[:, :row].sum(dim=(1, 2)) / img.sum(dim=(1, 2))
        assert (above - 4 / 9).abs().max() < 0.03


@pytest.mark.parametrize("scale_index", [0, 5])
def test_ellipse_orientation_follows_rotation(grid, grid_moments, scale_index):
    factors = grid.factors
    rotations = shapes.factor_values("rotation").double()
    assert torch.allclose(rotations, torch.arange(10, dtype=torch.float64) * math.pi / 20)
    keep = select(factors, shape=1, scale=scale_index)  # all rotations and positions
    *_, mu20, mu02, mu11 = (m[keep] for m in grid_moments)
    # Long axis angle measured with y downwards, i.e. clockwise as seen: -rotation.
    angle = 0.5 * torch.atan2(2 * mu11, mu20 - mu02)
    theta = values_of(factors[keep], "rotation")
    error = torch.remainder(angle + theta + math.pi / 2, math.pi) - math.pi / 2
    assert set(factors[keep, 2].tolist()) == set(range(10))
    assert error.abs().max() < math.radians(2.5)


def test_every_rotation_is_a_distinct_image(grid):
    # Rotations cover [0, pi/2) only: the square repeats after a quarter turn, so a full
    # turn would give identical images for different factor values.
    x, factors = grid
    for k in range(3):
        images = x[select(factors, shape=k, scale=5, x=3, y=4)].flatten(1)  # (10, 784)
        distance = torch.cdist(images.double(), images.double(), p=1)
        assert distance[~torch.eye(10, dtype=torch.bool)].min() > 1.0, shapes.SHAPE_NAMES[k]


def test_factor_values():
    assert torch.equal(shapes.factor_values("shape"), torch.tensor([0.0, 1.0, 2.0]))
    expected = {
        "scale": torch.linspace(2.5, 4.5, 6),
        "x": torch.linspace(8, 20, 8),
        "y": torch.linspace(8, 20, 8),
    }
    for name, values in expected.items():
        assert torch.allclose(shapes.factor_values(name), values)
    for name in shapes.FACTORS:
        assert shapes.factor_values(name).shape == (shapes.FACTOR_SIZES[name],)
    with pytest.raises(ValueError, match=r"unknown factor 'colour'.*'shape', 'scale'"):
        shapes.factor_values("colour")


def test_bad_inputs_raise_clear_errors():
    good = torch.zeros(2, 5, dtype=torch.long)
    with pytest.raises(ValueError, match=r"shape \(N, 5\).*got \(5,\).*factors\[None\]"):
        shapes.render(good[0])
    with pytest.raises(ValueError, match=r"shape \(N, 5\).*got \(2, 4\)"):
        shapes.render(good[:, :4])
    with pytest.raises(TypeError, match="integer grid indices, got dtype torch.float32"):
        shapes.render(good.float())
    bad = good.clone()
    bad[1, 2] = 10
    with pytest.raises(ValueError, match=r"'rotation' \(column 2\).*0\.\.9, got values in 0\.\.10"):
        shapes.render(bad)
    bad[1, 2], bad[0, 3] = 0, -1
    with pytest.raises(ValueError, match=r"'x' \(column 3\).*0\.\.7"):
        shapes.render(bad)
    with pytest.raises(ValueError, match="supersample must be a positive int"):
        shapes.render(good, supersample=0)
    for n in (0, -3, 2.5):
        with pytest.raises(ValueError, match="n must be a positive int"):
            shapes.make_shapes(n)
    assert shapes.render(good[:0]).shape == (0, 1, 28, 28)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_renders_on_the_device_of_the_factors():
    factors = shapes.make_shapes(200, seed=3).factors
    x = shapes.render(factors.cuda())
    assert x.device.type == "cuda"
    diff = (x.cpu() - shapes.render(factors)).abs()
    assert diff.max() <= 1 / 16 + 1e-6 and (diff > 0).float().mean() < 1e-3
