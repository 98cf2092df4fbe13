"""vaelab.disentangle: mutual information against scikit-learn and numpy, MIG on codes whose
answer is known in closed form, traversals against decoding by hand; and their plots."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.metrics import mutual_info_score

from vaelab import disentangle, models, plot


def _factors(n: int, sizes=(3, 6, 8), seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.stack([torch.randint(0, m, (n,), generator=g) for m in sizes], dim=1)


def test_discretize_matches_numpy_histogram_bins():
    g = torch.Generator().manual_seed(1)
    codes = torch.randn(500, 3, generator=g, dtype=torch.float64) * torch.tensor([1.0, 5.0, 0.1])
    binned = disentangle.discretize(codes, bins=7)
    for d in range(3):
        col = codes[:, d].numpy()
        edges = np.histogram_bin_edges(col, bins=7)
        want = np.clip(np.digitize(col, edges[1:-1]), 0, 6)  # the max falls in the last bin
        np.testing.assert_array_equal(binned[:, d].numpy(), want)
    assert disentangle.discretize(torch.ones(4, 2)).eq(0).all()  # constant column: bin 0


def test_mutual_information_matches_scikit_learn():
    factors = _factors(3000)
    g = torch.Generator().manual_seed(2)
    codes = torch.cat(
        [
            factors[:, :1].float() + 0.3 * torch.randn(3000, 1, generator=g),  # noisy factor 0
            torch.randn(3000, 1, generator=g),  # nothing
            (factors[:, 2:3] * 2.0 - factors[:, 1:2]).float(),  # a mix of factors 1 and 2
        ],
        dim=1,
    )
    mi = disentangle.mutual_information(codes, factors, bins=12)
    binned = disentangle.discretize(codes, bins=12)
    for d in range(3):
        for k in range(3):
            want = mutual_info_score(factors[:, k].numpy(), binned[:, d].numpy())
            assert mi[d, k].item() == pytest.approx(want, abs=1e-10)
    assert mi[0, 0] > 0.5 and mi[1].max() < 0.05 and mi[2, 1] > 0.1 and mi[2, 2] > 0.5


def test_mutual_information_of_labels_matches_scikit_learn_for_any_integer_labels():
    g = torch.Generator().manual_seed(3)
    a = torch.randint(-4, 5, (700,), generator=g) * 3  # negative labels, gaps between them
    b = (a // 2 + torch.randint(0, 3, (700,), generator=g)) ** 2
    got = disentangle.mutual_information_of_labels(a, b)
    assert got.dtype == torch.float64 and got.dim() == 0
    assert float(got) == pytest.approx(mutual_info_score(a.numpy(), b.numpy()), abs=1e-12)
    assert float(disentangle.mutual_information_of_labels(a, a)) == pytest.approx(
        mutual_info_score(a.numpy(), a.numpy()), abs=1e-12
    )
    assert float(disentangle.mutual_information_of_labels(a, torch.zeros_like(a))) == 0.0
    with pytest.raises(ValueError, match="bins first"):
        disentangle.mutual_information_of_labels(a.double(), b)
    with pytest.raises(ValueError, match="same N"):
        disentangle.mutual_information_of_labels(a, b[:-1])


def test_entropy_of_uniform_grids_is_log_of_their_size():
    # every combination of a 3 x 4 grid exactly once: each column uniform
    grid = torch.cartesian_prod(torch.arange(3), torch.arange(4))
    np.testing.assert_allclose(disentangle.entropy(grid).numpy(), [math.log(3), math.log(4)])


def test_mig_is_one_for_one_factor_per_dimension_and_zero_when_shared():
    grid = torch.cartesian_prod(torch.arange(4), torch.arange(5), torch.arange(3))  # 60 rows
    factors = grid.repeat(20, 1)  # each combination 20 times: entropies exactly log(m)
    perfect = factors.flip(1).float()  # dimension 0 holds factor 2, 1 holds 1, 2 holds 0
    result = disentangle.mig(perfect, factors, bins=20)
    assert result.score == pytest.approx(1.0, abs=1e-9)
    assert result.best_dim.tolist() == [2, 1, 0]
    np.testing.assert_allclose(result.entropy.numpy(), np.log([4, 5, 3]))

    # factor 0 copied into two dimensions: no gap for it; the others keep theirs
    shared = torch.cat([perfect, factors[:, :1].float() * 3.0], dim=1)
    result = disentangle.mig(shared, factors)
    np.testing.assert_allclose(result.per_factor.numpy(), [0.0, 1.0, 1.0], atol=1e-9)
    assert result.score == pytest.approx(2 / 3)

    # one dimension that holds factors 0 and 1 together (a bijective code of the pair):
    # it knows all of each, the runner-up nothing, so MIG counts it as captured.
    # The score rewards "one dimension per factor", not "one factor per dimension".
    pair = (factors[:, 0] * 5 + factors[:, 1]).float()[:, None]
    entangled = torch.cat([pair, torch.zeros(len(factors), 1)], dim=1)
    result = disentangle.mig(entangled, factors, bins=20)
    np.testing.assert_allclose(result.per_factor[:2].numpy(), [1.0, 1.0], atol=1e-9)
    assert result.per_factor[2] == 0.0


def test_mig_of_random_codes_is_near_zero():
    factors = _factors(20000, seed=3)
    codes = torch.randn(20000, 6, generator=torch.Generator().manual_seed(4))
    result = disentangle.mig(codes, factors)
    assert 0.0 <= result.score < 0.01
    assert result.mi.max() < 0.01  # only the plug-in estimate's small upward bias


def test_mig_explains_bad_input():
    factors = _factors(10)
    with pytest.raises(ValueError, match=r"shape \(N, D\)"):
        disentangle.mig(torch.randn(10), factors)
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        disentangle.mig(torch.randn(10, 1), factors)
    with pytest.raises(ValueError, match="integer grid indices"):
        disentangle.mig(torch.randn(10, 3), factors.float())
    with pytest.raises(ValueError, match="one row per example"):
        disentangle.mig(torch.randn(9, 3), factors)
    with pytest.raises(ValueError, match="NaN or inf"):
        disentangle.mig(torch.full((10, 3), float("nan")), factors)
    with pytest.raises(ValueError, match=r"column\(s\) \[1\] take a single value"):
        disentangle.mig(torch.randn(10, 3), torch.stack([factors[:, 0], factors[:, 0] * 0], 1))
    with pytest.raises(ValueError, match="bins should be an integer >= 2"):
        disentangle.discretize(torch.randn(10, 2), bins=1)


def test_traversals_equal_decoding_each_swept_code_by_hand():
    torch.manual_seed(0)
    model = models.MLPVAE(image_shape=(1, 8, 8), hidden_dim=16, latent_dim=4)
    z = torch.randn(4)
    images = disentangle.traversals(model, z, dims=[2, 0], span=2.0, steps=5)
    assert images.shape == (2, 5, 1, 8, 8)
    assert model.training  # the mode is restored
    values = torch.linspace(-2.0, 2.0, 5)
    for row, d in enumerate([2, 0]):
        for j, v in enumerate(values):
            code = z.clone()
            code[d] = v
            want = torch.sigmoid(model.decode(code[None]))[0]
            torch.testing.assert_close(images[row, j], want.detach())
    with pytest.raises(ValueError, match="latent_dim is 4"):
        disentangle.traversals(model, torch.zeros(3))
    with pytest.raises(ValueError, match=r"dims should be indices in 0\.\.3"):
        disentangle.traversals(model, z, dims=[4])


def test_traversal_grid_draws_the_rows_in_order_with_labels():
    images = torch.rand(3, 4, 1, 6, 6)
    fig = plot.traversal_grid(images, row_labels=["a", "b", "c"], values=[-1, 0, 1, 2])
    (ax,) = fig.axes
    shown = ax.images[0].get_array()
    np.testing.assert_allclose(shown, plot.make_grid(images.reshape(12, 1, 6, 6), nrow=4))
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b", "c"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["-1", "0", "1", "2"]
    with pytest.raises(ValueError, match=r"\(R, S, C, H, W\)"):
        plot.traversal_grid(torch.rand(4, 1, 6, 6))
    with pytest.raises(ValueError, match="need 3 row_labels"):
        plot.traversal_grid(images, row_labels=["a"])


def test_mutual_information_heatmap_shows_the_matrix():
    mi = torch.tensor([[0.1, 1.2], [0.9, 0.0], [0.3, 0.4]])
    fig = plot.mutual_information_heatmap(mi, factor_names=["shape", "x"])
    ax = fig.axes[0]
    np.testing.assert_allclose(ax.images[0].get_array(), mi.numpy())
    assert [t.get_text() for t in ax.get_xticklabels()] == ["shape", "x"]
    assert {t.get_text() for t in ax.texts} >= {"1.20", "0.90"}
    h = torch.tensor([2.0, 4.0])
    fig = plot.mutual_information_heatmap(mi, entropy=h)
    np.testing.assert_allclose(fig.axes[0].images[0].get_array(), (mi / h).numpy())
    assert fig.axes[0].images[0].get_clim() == (0.0, 1.0)  # shares: a fixed 0-1 scale
    with pytest.raises(ValueError, match="need 2 factor_names"):
        plot.mutual_information_heatmap(mi, factor_names=["a"])
