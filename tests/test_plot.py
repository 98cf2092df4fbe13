"""Each figure draws exactly what it was given (Agg backend, no display)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from vaelab import plot  # noqa: E402
from vaelab.models import MLPVAE, MLPAutoencoder  # noqa: E402


def images(b: int, *, c: int = 1, h: int = 6, w: int = 5, seed: int = 0) -> torch.Tensor:
    return torch.rand(b, c, h, w, generator=torch.Generator().manual_seed(seed))  # (B, C, H, W)


def tile(x: torch.Tensor, nrow: int, padding: int, pad_value: float = 1.0) -> np.ndarray:
    """An independent arrangement: rows of images joined by padding strips."""
    x = x.numpy()
    b, c, h, w = x.shape
    ncols = min(nrow, b)
    rows = -(-b // ncols)
    blank = np.full((c, h, w), pad_value)
    cells = [x[i] if i < b else blank for i in range(rows * ncols)]
    vpad = np.full((c, h, padding), pad_value)
    lines = []
    for r in range(rows):
        parts = [vpad]
        for cell in cells[r * ncols : (r + 1) * ncols]:
            parts += [cell, vpad]
        lines.append(np.concatenate(parts, axis=2))
    hpad = np.full((c, padding, lines[0].shape[2]), pad_value)
    out = np.concatenate([hpad] + [p for line in lines for p in (line, hpad)], axis=1)
    return out[0] if c == 1 else out.transpose(1, 2, 0)


def shown(ax) -> np.ndarray:
    return np.asarray(ax.images[0].get_array())


@pytest.mark.parametrize(("b", "nrow"), [(1, 8), (7, 3), (16, 8), (5, 5)])
def test_image_grid_shows_the_images_arranged_in_a_grid(b, nrow):
    x = images(b)
    fig = plot.image_grid(x, nrow=nrow, title="t")
    assert isinstance(fig, Figure)
    np.testing.assert_allclose(shown(fig.axes[0]), tile(x, nrow, 2))
    assert fig.axes[0].get_title() == "t"


def test_image_grid_rgb_labels_and_no_padding():
    x = images(4, c=3)
    fig = plot.image_grid(x, nrow=2, padding=0, labels=[3, 1, 4, 1])
    np.testing.assert_allclose(shown(fig.axes[0]), tile(x, 2, 0))
    assert [t.get_text() for t in fig.axes[0].texts] == ["3", "1", "4", "1"]


def test_image_grid_accepts_a_tensor_that_needs_grad():
    x = images(3).requires_grad_()
    np.testing.assert_allclose(shown(plot.image_grid(x).axes[0]), tile(x.detach(), 8, 2))


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (torch.rand(4, 28, 28), "unsqueeze"),
        (torch.rand(4, 784), "view"),
        (torch.randn(4, 1, 28, 28) * 5, "sigmoid"),
    ],
)
def test_image_grid_explains_bad_input(bad, message):
    with pytest.raises(ValueError, match=message):
        plot.image_grid(bad)


def test_figures_are_released_from_pyplot():
    plt.close("all")
    plot.image_grid(images(2))
    plot.training_curves({"train_loss": [1.0], "train_recon": [1.0], "train_kl": [0.0]})
    assert plt.get_fignums() == []  # returned to the caller, not left open in pyplot


def test_reconstructions_puts_originals_above_reconstructions():
    x, x_hat = images(10, seed=1), images(10, seed=2)
    fig = plot.reconstructions(x, x_hat, n=6, title="recon")
    top, bottom = fig.axes
    np.testing.assert_allclose(shown(top), tile(x[:6], 6, 2))
    np.testing.assert_allclose(shown(bottom), tile(x_hat[:6], 6, 2))
    assert top.get_position().y0 > bottom.get_position().y0
    with pytest.raises(ValueError, match="same shape"):
        plot.reconstructions(x, x_hat[:5])


def test_interpolation_strip_is_one_row():
    x = images(7)
    fig = plot.interpolation_strip(x, title="lerp")
    np.testing.assert_allclose(shown(fig.axes[0]), tile(x, 7, 2))


def test_latent_scatter_offsets_equal_z_and_colours_follow_labels():
    z = torch.randn(50, 2, generator=torch.Generator().manual_seed(0))
    labels = torch.arange(50) % 10
    fig = plot.latent_scatter(z, labels, title="codes")
    ax = fig.axes[0]
    collection = ax.collections[0]
    np.testing.assert_allclose(collection.get_offsets(), z.numpy())
    np.testing.assert_array_equal(collection.get_array(), labels.numpy())
    legend = ax.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == [str(d) for d in range(10)]


def test_latent_scatter_into_given_axes_and_without_labels():
    fig, ax = plt.subplots()
    z = np.random.default_rng(0).normal(size=(20, 2))
    assert plot.latent_scatter(z, ax=ax) is fig
    np.testing.assert_allclose(ax.collections[0].get_offsets(), z)
    assert plt.fignum_exists(fig.number)  # the caller's figure stays open
    plt.close(fig)


def test_latent_scatter_refuses_more_than_two_dimensions():
    with pytest.raises(ValueError, match=r"\(N, 2\).*z\[:, :2\]"):
        plot.latent_scatter(torch.randn(10, 5), torch.zeros(10))


def test_posterior_ellipses_centre_and_size():
    mu = torch.tensor([[0.0, 1.0], [2.0, -1.0], [-1.5, 0.5]])
    logvar = torch.tensor([[0.0, -2.0], [-1.0, 0.5], [0.2, 0.2]])
    fig = plot.posterior_ellipses(mu, logvar, torch.tensor([0, 1, 1]), n_std=2.0)
    ax = fig.axes[0]
    ellipses, centres = ax.collections[0], ax.collections[1]
    std = torch.exp(0.5 * logvar).numpy()
    np.testing.assert_allclose(ellipses.get_offsets(), mu.numpy())
    np.testing.assert_allclose(ellipses.get_widths(), 2 * 2.0 * std[:, 0])
    np.testing.assert_allclose(ellipses.get_heights(), 2 * 2.0 * std[:, 1])
    np.testing.assert_allclose(centres.get_offsets(), mu.numpy())
    xlo, xhi = ax.get_xlim()
    assert xlo <= (mu[:, 0].numpy() - 2 * std[:, 0]).min()
    assert xhi >= (mu[:, 0].numpy() + 2 * std[:, 0]).max()


def test_latent_manifold_decodes_the_quantile_grid():
    torch.manual_seed(0)
    model = MLPVAE(image_shape=(1, 6, 5), hidden_dim=8, latent_dim=2).double().train()
    fig = plot.latent_manifold(model, n=4, quantile_range=(0.1, 0.9))
    assert model.training  # mode restored
    grid = torch.distributions.Normal(0.0, 1.0).icdf(torch.tensor([0.1, 0.3667, 0.6333, 0.9]))
    np.testing.assert_allclose(plot.manifold_codes(4, quantile_range=(0.1, 0.9)), grid, atol=1e-4)
    codes = plot.manifold_codes(4, quantile_range=(0.1, 0.9))
    with torch.no_grad():
        rows = []
        for z2 in codes.flip(0):  # top row: largest z_2
            z = torch.stack([codes, z2.expand(4)], dim=1).double()  # (4, 2)
            rows.append(torch.sigmoid(model.decode(z)))
        expected = tile(torch.cat(rows), 4, 0)
    np.testing.assert_allclose(shown(fig.axes[0]), expected, rtol=1e-12)


def test_latent_manifold_works_for_an_autoencoder_and_refuses_other_dims():
    ae = MLPAutoencoder(image_shape=(1, 6, 5), hidden_dim=8, latent_dim=2)
    assert shown(plot.latent_manifold(ae, n=3).axes[0]).shape == (18, 15)
    with pytest.raises(ValueError, match="2-D latent"):
        plot.latent_manifold(MLPVAE(image_shape=(1, 6, 5), hidden_dim=8, latent_dim=3))
    with pytest.raises(ValueError, match="quantile_range"):
        plot.latent_manifold(ae, quantile_range=(0.0, 1.0))


HISTORY = {
    "epoch": [1, 2, 3],
    "train_loss": [150.0, 120.0, 110.0],
    "train_recon": [140.0, 100.0, 88.0],
    "train_kl": [10.0, 20.0, 22.0],
    "test_loss": [140.0, 118.0, 112.0],
    "test_recon": [130.0, 99.0, 90.0],
    "test_kl": [10.0, 19.0, 22.0],
    "test_kl_per_dim": [[5.0, 5.0], [10.0, 9.0], [12.0, 10.0]],
    "beta": [1.0, 1.0, 1.0],
    "seconds": [0.1, 0.1, 0.1],
}


class FakeHistory:
    """Stands in for ``vaelab.train.History``: anything with ``to_dict()``."""

    def to_dict(self) -> dict:
        return dict(HISTORY)


@pytest.mark.parametrize("history", [HISTORY, FakeHistory()])
def test_training_curves_plot_the_history(history):
    fig = plot.training_curves(history)
    assert len(fig.axes) == 3
    for ax, key in zip(fig.axes, ("loss", "recon", "kl"), strict=True):
        train, test = ax.lines
        np.testing.assert_array_equal(train.get_xdata(), HISTORY["epoch"])
        np.testing.assert_array_equal(train.get_ydata(), HISTORY[f"train_{key}"])
        np.testing.assert_array_equal(test.get_ydata(), HISTORY[f"test_{key}"])


def test_training_curves_without_test_set_and_with_missing_keys():
    history = {"train_loss": [3.0, 2.0], "train_recon": [2.0, 1.5], "train_kl": [1.0, 0.5]}
    history["test_loss"] = [None, None]
    fig = plot.training_curves(history)
    assert [len(ax.lines) for ax in fig.axes] == [1, 1, 1]
    np.testing.assert_array_equal(fig.axes[0].lines[0].get_xdata(), [1, 2])
    with pytest.raises(ValueError, match="train_kl"):
        plot.training_curves({"train_loss": [1.0], "train_recon": [1.0]})


def bar_heights(ax) -> list[float]:
    return [p.get_height() for p in ax.patches]


def test_kl_per_dim_bars_heights_sorting_and_threshold():
    kl = torch.tensor([0.0, 3.0, 0.005, 1.5])
    fig = plot.kl_per_dim_bars(kl)
    np.testing.assert_allclose(bar_heights(fig.axes[0]), kl.numpy())
    fig = plot.kl_per_dim_bars(kl, sort=True, threshold=0.01)
    ax = fig.axes[0]
    np.testing.assert_allclose(bar_heights(ax), [3.0, 1.5, 0.005, 0.0])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "3", "2", "0"]
    (line,) = ax.lines
    assert list(line.get_ydata()) == [0.01, 0.01]
    np.testing.assert_allclose(
        plot.kl_per_dim_bars(kl.expand(5, 4)).axes[0].patches[1].get_height(), 3.0
    )


def test_roc_curves_draw_each_curve_and_its_area():
    fpr, tpr = np.array([0.0, 0.5, 1.0]), np.array([0.0, 1.0, 1.0])
    fig = plot.roc_curves({"recon": (fpr, tpr), "random": (fpr, fpr)})
    ax = fig.axes[0]
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), fpr)
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), tpr)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["recon (AUROC 0.750)", "random (AUROC 0.500)", "chance"]
