"""Figures for the lessons: image grids, latent spaces, training curves, KL bars, ROC curves.

Every function returns a matplotlib ``Figure`` and never calls ``plt.show``. Figures are
made with pyplot (so Jupyter's inline backend knows how to draw them) and then released
from pyplot, so a figure returned as a cell's last expression is shown exactly once and
scripts do not pile up open figures. Functions that take ``ax=`` draw into that axes
instead and return its figure, leaving it open.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, is_dataclass

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.collections import EllipseCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

__all__ = [
    "image_grid",
    "interpolation_strip",
    "kl_per_dim_bars",
    "latent_manifold",
    "latent_scatter",
    "make_grid",
    "manifold_codes",
    "mutual_information_heatmap",
    "posterior_ellipses",
    "reconstructions",
    "roc_curves",
    "training_curves",
    "traversal_grid",
]

CELL_INCHES = 0.6  # size of one 28x28 image in a grid figure


def _new_figure(nrows: int = 1, ncols: int = 1, **kwargs) -> tuple[Figure, np.ndarray | Axes]:
    """``plt.subplots``, then release the figure from pyplot (the caller owns it)."""
    kwargs.setdefault("layout", "constrained")  # laid out when drawn, not when built
    fig, axes = plt.subplots(nrows, ncols, **kwargs)
    plt.close(fig)  # no double display in Jupyter, no build-up of open figures in scripts
    return fig, axes


def _figure_and_axes(ax: Axes | None, **kwargs) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.figure, ax
    return _new_figure(**kwargs)


def _numpy(t, *, name: str) -> np.ndarray:
    """Any tensor (any device, with grad) or array-like as a float64 numpy array."""
    if isinstance(t, torch.Tensor):
        t = t.detach().to("cpu", torch.float64).numpy()
    try:
        return np.asarray(t, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(
            f"{name} must be a tensor or array of numbers, got {type(t).__name__}"
        ) from err


def _images(x, *, name: str = "x") -> np.ndarray:
    """Check and convert (B, C, H, W) images in [0, 1] to a numpy array (B, H, W, C)."""
    arr = _numpy(x, name=name)
    if arr.ndim != 4 or arr.shape[1] not in (1, 3):
        hint = ""
        if arr.ndim == 3:
            hint = f" - add the channel dimension with {name}.unsqueeze(1)"
        elif arr.ndim == 2:
            hint = f" - reshape with {name}.view(-1, 1, 28, 28)"
        raise ValueError(
            f"expected {name} of shape (B, C, H, W) with C = 1 or 3, got {arr.shape}{hint}"
        )
    if arr.size and (np.nanmin(arr) < 0.0 or np.nanmax(arr) > 1.0):
        raise ValueError(
            f"expected {name} with values in [0, 1], got values in "
            f"[{np.nanmin(arr):g}, {np.nanmax(arr):g}] - decoder outputs are x_logits: apply "
            "torch.sigmoid, or use model.reconstruct / model.sample"
        )
    return arr.transpose(0, 2, 3, 1)  # (B, C, H, W) -> (B, H, W, C)


def make_grid(x, *, nrow: int = 8, padding: int = 2, pad_value: float = 1.0) -> np.ndarray:
    """Tile images into one array, row by row, ``nrow`` images per row.

    Args:
        x: (B, C, H, W) images in [0, 1], tensor or array.
        nrow: images per row.
        padding: pixels between images and around the border.
        pad_value: the colour of the padding (1.0 is white).

    Returns:
        (rows * (H + padding) + padding, ncols * (W + padding) + padding) for C = 1, with a
        trailing channel axis of 3 for RGB; image b sits in row b // nrow, column b % nrow.
    """
    imgs = _images(x)  # (B, H, W, C)
    if nrow < 1:
        raise ValueError(f"nrow must be >= 1, got {nrow}")
    b, h, w, c = imgs.shape
    ncols = max(1, min(nrow, b))
    rows = max(1, math.ceil(b / ncols))
    grid = np.full(
        (rows * (h + padding) + padding, ncols * (w + padding) + padding, c), float(pad_value)
    )
    for i in range(b):
        top = padding + (i // ncols) * (h + padding)
        left = padding + (i % ncols) * (w + padding)
        grid[top : top + h, left : left + w] = imgs[i]
    return grid[..., 0] if c == 1 else grid


def _show_grid(ax: Axes, grid: np.ndarray) -> None:
    ax.imshow(grid, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)


def image_grid(
    x,
    *,
    nrow: int = 8,
    title: str | None = None,
    labels: Sequence | None = None,
    padding: int = 2,
) -> Figure:
    """A grid of images, ``nrow`` per row, optionally with a small label on each.

    Args:
        x: (B, C, H, W) images in [0, 1] (C = 1 or 3); tensor on any device, or array.
        nrow: images per row.
        title: figure title.
        labels: B labels (digits, scores, strings) written in each image's corner.
        padding: white pixels between images.

    Returns:
        A Figure with one axes whose image is ``make_grid(x, nrow=nrow, padding=padding)``.
    """
    grid = make_grid(x, nrow=nrow, padding=padding)
    b, _, h, w = np.shape(x)
    if labels is not None and len(labels) != b:
        raise ValueError(f"need one label per image: got {len(labels)} labels for {b} images")
    ncols = max(1, min(nrow, b))
    rows = math.ceil(b / ncols) if b else 1
    fig, ax = _new_figure(
        figsize=(max(2.0, ncols * CELL_INCHES), max(1.0, rows * CELL_INCHES) + 0.4 * bool(title))
    )
    _show_grid(ax, grid)
    if labels is not None:
        for i, label in enumerate(labels):
            top = padding + (i // ncols) * (h + padding)
            left = padding + (i % ncols) * (w + padding)
            ax.text(left + 1, top + 1, str(label), color="tab:orange", fontsize=7, va="top")
    if title:
        ax.set_title(title)
    return fig


def reconstructions(x, x_hat, *, n: int = 8, title: str | None = None) -> Figure:
    """Originals in the top row, their reconstructions below.

    Args:
        x: (B, C, H, W) originals in [0, 1].
        x_hat: (B, C, H, W) reconstructions in [0, 1] (``model.reconstruct(x)``, or
            ``torch.sigmoid(x_logits)``).
        n: how many of the first images to show.
        title: figure title.

    Returns:
        A Figure with two axes: ``make_grid(x[:n], nrow=n)`` above ``make_grid(x_hat[:n], nrow=n)``.
    """
    if tuple(np.shape(x)) != tuple(np.shape(x_hat)):
        raise ValueError(
            f"x and x_hat must have the same shape, got {tuple(np.shape(x))} and "
            f"{tuple(np.shape(x_hat))}"
        )
    n = max(1, min(n, len(x)))
    fig, axes = _new_figure(2, 1, figsize=(max(2.0, n * CELL_INCHES), 2 * CELL_INCHES + 0.6))
    for ax, images, name in zip(
        axes, (x[:n], x_hat[:n]), ("original", "reconstruction"), strict=True
    ):
        _show_grid(ax, make_grid(images, nrow=n))
        ax.set_ylabel(name, fontsize=8, rotation=0, ha="right", va="center")
    if title:
        fig.suptitle(title)
    return fig


def interpolation_strip(images, *, title: str | None = None) -> Figure:
    """One row of images, e.g. decoded codes along a path from z0 to z1.

    Args:
        images: (T, C, H, W) in [0, 1].
        title: figure title.

    Returns:
        A Figure with one axes whose image is ``make_grid(images, nrow=T)``.
    """
    return image_grid(images, nrow=max(1, len(images)), title=title)


def _latent_2d(z, *, name: str) -> np.ndarray:
    arr = _numpy(z, name=name)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(
            f"expected 2-D codes {name} of shape (N, 2), got {arr.shape}; for a larger "
            f"latent_dim, pass two columns ({name}[:, :2]) or a 2-D projection (e.g. PCA)"
        )
    return arr


def latent_scatter(z, labels=None, *, title: str | None = None, ax: Axes | None = None) -> Figure:
    """Scatter of 2-D codes, coloured by label, with a legend of the labels.

    Only 2-D codes are accepted: for D > 2 this raises an error rather than silently
    dropping dimensions; pick two dimensions or project to 2-D yourself.

    Args:
        z: (N, 2) codes (AE codes, or a VAE's posterior means ``mu``).
        labels: (N,) integer labels such as digits, or None for one colour.
        title: axes title.
        ax: draw into this axes instead of a new figure.

    Returns:
        The Figure; the scatter is ``ax.collections[0]`` with offsets equal to z.
    """
    points = _latent_2d(z, name="z")
    fig, ax = _figure_and_axes(ax, figsize=(5.5, 4.5))
    if labels is None:
        ax.scatter(points[:, 0], points[:, 1], s=4, alpha=0.6, rasterized=True)
    else:
        lab = _numpy(labels, name="labels").ravel()
        if len(lab) != len(points):
            raise ValueError(f"need one label per code: {len(lab)} labels for {len(points)} codes")
        classes = np.unique(lab)
        cmap = "tab10" if len(classes) <= 10 else "viridis"
        lo, hi = (0, 9) if np.isin(classes, np.arange(10)).all() else (classes[0], classes[-1])
        scatter = ax.scatter(
            points[:, 0],
            points[:, 1],
            c=lab,
            cmap=cmap,
            vmin=lo - 0.5,
            vmax=hi + 0.5,
            s=4,
            alpha=0.7,
            rasterized=True,
        )
        handles = [
            Line2D([], [], ls="", marker="o", ms=4, color=scatter.cmap(scatter.norm(c)))
            for c in classes
        ]
        names = [str(int(c)) if float(c).is_integer() else f"{c:g}" for c in classes]
        ax.legend(
            handles,
            names,
            title="label",
            loc="center left",
            bbox_to_anchor=(1.0, 0.5),
            fontsize=8,
            frameon=False,
        )
    ax.set_xlabel("$z_1$")
    ax.set_ylabel("$z_2$")
    if title:
        ax.set_title(title)
    return fig


def posterior_ellipses(
    mu,
    logvar,
    labels=None,
    *,
    n_std: float = 1.0,
    ax: Axes | None = None,
    title: str | None = None,
) -> Figure:
    """Each image's 2-D posterior N(mu, diag(exp(logvar))) as an ellipse of ``n_std`` sigmas.

    Args:
        mu: (N, 2) posterior means.
        logvar: (N, 2) posterior log-variances.
        labels: (N,) integer labels for the colours, or None.
        n_std: half-axes are ``n_std * sigma`` with sigma = exp(logvar / 2).
        ax: draw into this axes instead of a new figure.
        title: axes title.

    Returns:
        The Figure; ``ax.collections[0]`` is an EllipseCollection centred at mu with full
        widths ``2 * n_std * sigma[:, 0]`` and heights ``2 * n_std * sigma[:, 1]``, and
        ``ax.collections[1]`` the centres.
    """
    centres = _latent_2d(mu, name="mu")
    lv = _latent_2d(logvar, name="logvar")
    if lv.shape != centres.shape:
        raise ValueError(
            f"mu and logvar must have the same shape, got {centres.shape} and {lv.shape}"
        )
    if n_std <= 0:
        raise ValueError(f"n_std must be > 0, got {n_std}")
    std = np.exp(0.5 * lv)  # (N, 2)
    fig, ax = _figure_and_axes(ax, figsize=(5.5, 4.5))
    if labels is None:
        colours = np.tile(np.array(plt.get_cmap("tab10")(0)), (len(centres), 1))
    else:
        lab = _numpy(labels, name="labels").ravel()
        if len(lab) != len(centres):
            raise ValueError(f"need one label per code: {len(lab)} labels for {len(centres)} codes")
        colours = plt.get_cmap("tab10")(lab.astype(int) % 10)
    faces = colours.copy()
    faces[:, 3] = 0.15
    ellipses = EllipseCollection(
        2 * n_std * std[:, 0],
        2 * n_std * std[:, 1],
        np.zeros(len(centres)),
        units="xy",
        offsets=centres,
        offset_transform=ax.transData,
        facecolors=faces,
        edgecolors=colours,
        linewidths=0.8,
    )
    ax.add_collection(ellipses)
    ax.scatter(centres[:, 0], centres[:, 1], c=colours, s=6, zorder=3)
    if labels is not None:
        for c in np.unique(lab).astype(int):
            ax.plot([], [], "o", color=plt.get_cmap("tab10")(c % 10), label=str(c), ms=4)
        ax.legend(
            title="label", loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, frameon=False
        )
    if len(centres):  # the data limits include every ellipse, not only the centres
        ax.update_datalim(np.concatenate([centres - n_std * std, centres + n_std * std]))
        ax.autoscale_view()
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_xlabel("$z_1$")
    ax.set_ylabel("$z_2$")
    ax.set_title(title or f"posteriors ({n_std:g} sigma ellipses)")
    return fig


def manifold_codes(n: int, *, quantile_range: tuple[float, float] = (0.05, 0.95)) -> torch.Tensor:
    """The 1-D grid of prior quantiles used by ``latent_manifold``: (n,) values of z.

    Args:
        n: points per axis.
        quantile_range: lowest and highest quantile of N(0, 1), each strictly in (0, 1).
    """
    lo, hi = quantile_range
    if not 0.0 < lo < hi < 1.0:
        raise ValueError(f"quantile_range must satisfy 0 < low < high < 1, got {quantile_range}")
    if n < 2:
        raise ValueError(f"n must be >= 2, got {n}")
    quantiles = torch.linspace(lo, hi, n, dtype=torch.float64)
    return torch.distributions.Normal(0.0, 1.0).icdf(quantiles)


@torch.no_grad()
def latent_manifold(
    model,
    *,
    n: int = 15,
    quantile_range: tuple[float, float] = (0.05, 0.95),
    title: str | None = None,
) -> Figure:
    """Decode an n x n grid of codes spaced by prior quantiles, for a model with a 2-D latent.

    Column j decodes z_1 = grid[j]; row i (top to bottom) decodes z_2 = grid[n - 1 - i], so
    z_2 grows upwards as in ``latent_scatter``; ``grid = manifold_codes(n, quantile_range=...)``
    takes equal steps of probability under N(0, 1), as in Kingma and Welling (2014).

    Args:
        model: a VAE or autoencoder with ``decode(z)`` returning x_logits (B, C, H, W) and a
            2-D latent; its device and dtype are taken from its parameters.
        n: images per side.
        quantile_range: lowest and highest prior quantile on each axis.
        title: figure title.

    Returns:
        A Figure with one axes whose image is the n x n decoded images, without padding.
    """
    latent_dim = getattr(model, "latent_dim", None)
    if latent_dim is not None and latent_dim != 2:
        raise ValueError(
            f"latent_manifold needs a model with a 2-D latent, got latent_dim={latent_dim}; "
            "train one with latent_dim=2"
        )
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    dtype = param.dtype if param is not None else torch.float32
    grid = manifold_codes(n, quantile_range=quantile_range)  # (n,)
    z1 = grid.repeat(n)  # column index varies fastest
    z2 = grid.flip(0).repeat_interleave(n)  # top row: largest z_2
    z = torch.stack([z1, z2], dim=1).to(device=device, dtype=dtype)  # (n * n, 2)
    was_training = model.training
    model.eval()
    try:
        images = torch.sigmoid(model.decode(z))  # (n * n, C, H, W)
    finally:
        model.train(was_training)
    h, w = images.shape[-2:]
    fig, ax = _new_figure(figsize=(min(9.0, n * 0.45) + 0.6, min(9.0, n * 0.45) + 0.6))
    _show_grid(ax, make_grid(images, nrow=n, padding=0))
    ticks = np.arange(n) * w + w / 2
    step = max(1, n // 5)
    values = grid.numpy()
    ax.set_xticks(ticks[::step], [f"{v:.2f}" for v in values[::step]], fontsize=7)
    ax.set_yticks(
        (np.arange(n) * h + h / 2)[::step], [f"{v:.2f}" for v in values[::-1][::step]], fontsize=7
    )
    ax.set_xlabel("$z_1$")
    ax.set_ylabel("$z_2$")
    if title:
        ax.set_title(title)
    return fig


HISTORY_PANELS = (("loss", "loss"), ("recon", "reconstruction"), ("kl", "KL"))


def _history_dict(history) -> dict:
    if hasattr(history, "to_dict"):
        data = history.to_dict()
    elif isinstance(history, Mapping):
        data = dict(history)
    elif is_dataclass(history):
        data = asdict(history)
    else:
        raise TypeError(
            f"expected a History or a dict of per-epoch lists, got {type(history).__name__}"
        )
    missing = [f"train_{key}" for key, _ in HISTORY_PANELS if f"train_{key}" not in data]
    if missing:
        raise ValueError(
            f"history lacks {missing}; expected per-epoch lists train_loss, train_recon, train_kl "
            f"(and optionally test_loss, test_recon, test_kl, epoch); got keys {sorted(data)}"
        )
    return data


def _series(values) -> np.ndarray:
    return np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)


def training_curves(history, *, title: str | None = None) -> Figure:
    """Loss, reconstruction and KL per epoch, train (solid) and test (dashed), one panel each.

    Args:
        history: a ``vaelab.train.History`` or a dict with per-epoch lists ``train_loss``,
            ``train_recon``, ``train_kl`` and optionally ``test_loss``, ``test_recon``,
            ``test_kl`` and ``epoch`` (else epochs count from 1). Missing or all-None test
            lists are skipped.
        title: figure title.

    Returns:
        A Figure with three axes; in each, ``lines[0]`` is train and ``lines[1]`` (if any) test.
    """
    data = _history_dict(history)
    num_epochs = len(data["train_loss"])
    epoch = data.get("epoch")
    if epoch is None or len(epoch) == 0:
        epoch = range(1, num_epochs + 1)
    epochs = np.asarray(epoch, dtype=np.float64)
    fig, axes = _new_figure(1, 3, figsize=(11, 3.2))
    for ax, (key, label) in zip(axes, HISTORY_PANELS, strict=True):
        train = _series(data[f"train_{key}"])
        ax.plot(epochs[: len(train)], train, "-o", ms=3, label="train")
        test = data.get(f"test_{key}")
        if test is not None and len(test) and not all(v is None for v in test):
            ax.plot(epochs[: len(test)], _series(test), "--o", ms=3, label="test")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(f"{label} (nats)")
        ax.set_title(label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    return fig


def kl_per_dim_bars(
    kl_per_dim,
    *,
    threshold: float | None = None,
    sort: bool = False,
    ax: Axes | None = None,
    title: str | None = None,
) -> Figure:
    """Bars of the KL of each latent dimension, to see which dimensions the model uses.

    Args:
        kl_per_dim: (D,) KL per dimension in nats, e.g. ``history.test_kl_per_dim[-1]``;
            (N, D) per-example values are averaged over N.
        threshold: draw a dashed line at this value (an active-unit cut-off or the free-bits
            level); bars below it are grey.
        sort: order the bars from largest to smallest KL; tick labels keep the dimension index.
        ax: draw into this axes instead of a new figure.
        title: axes title.

    Returns:
        The Figure; the bar heights are the (sorted) values.
    """
    values = _numpy(kl_per_dim, name="kl_per_dim")
    if values.ndim == 2:
        values = values.mean(axis=0)  # (N, D) -> (D,)
    if values.ndim != 1:
        raise ValueError(f"expected kl_per_dim of shape (D,) or (N, D), got {values.shape}")
    dims = np.arange(len(values))
    if sort:
        dims = np.argsort(-values, kind="stable")
        values = values[dims]
    fig, ax = _figure_and_axes(ax, figsize=(max(4.0, 0.25 * len(values) + 1.5), 3.0))
    colours = ["tab:blue"] * len(values)
    if threshold is not None:
        colours = ["tab:blue" if v >= threshold else "tab:gray" for v in values]
    ax.bar(np.arange(len(values)), values, color=colours)
    ax.set_xticks(np.arange(len(values)), [str(d) for d in dims], fontsize=7)
    if threshold is not None:
        ax.axhline(threshold, color="tab:red", ls="--", lw=1, label=f"threshold {threshold:g} nats")
        ax.legend(fontsize=8)
    ax.set_xlabel("latent dimension" + (" (sorted by KL)" if sort else ""))
    ax.set_ylabel("KL (nats)")
    ax.set_title(title or "KL per latent dimension")
    return fig


def roc_curves(
    curves: Mapping[str, tuple], *, title: str | None = None, ax: Axes | None = None
) -> Figure:
    """ROC curves, one line per detector, with the area under each in the legend.

    Args:
        curves: ``{name: (fpr, tpr)}``, each pair as returned by ``vaelab.metrics.roc_curve``.
        title: axes title.
        ax: draw into this axes instead of a new figure.

    Returns:
        The Figure; ``lines[i]`` is the i-th curve, and the last line is the chance diagonal.
    """
    if not curves:
        raise ValueError("curves is empty: pass {name: (fpr, tpr)}, e.g. from metrics.roc_curve")
    fig, ax = _figure_and_axes(ax, figsize=(4.5, 4.2))
    for name, pair in curves.items():
        if len(pair) != 2:
            raise ValueError(f"curves[{name!r}] must be a pair (fpr, tpr)")
        fpr, tpr = _numpy(pair[0], name="fpr"), _numpy(pair[1], name="tpr")
        if fpr.shape != tpr.shape or fpr.ndim != 1:
            raise ValueError(f"curves[{name!r}]: fpr and tpr must be 1-D of the same length")
        area = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))  # trapezoid rule
        ax.plot(fpr, tpr, label=f"{name} (AUROC {area:.3f})")
    ax.plot([0, 1], [0, 1], ls=":", color="gray", label="chance")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_xlabel("false-positive rate")
    ax.set_ylabel("true-positive rate")
    ax.set_aspect("equal")
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title(title or "ROC")
    return fig


def traversal_grid(
    images,
    *,
    row_labels: Sequence[str] | None = None,
    values: Sequence[float] | None = None,
    title: str | None = None,
    padding: int = 2,
) -> Figure:
    """Latent traversals: one row per latent dimension, one column per value it takes.

    Args:
        images: (R, S, C, H, W) in [0, 1], as ``vaelab.disentangle.traversals`` returns.
        row_labels: R labels written left of the rows (e.g. "z3  KL 2.1").
        values: S numbers written under the columns (the swept values).
        title: figure title.
        padding: white pixels between images.

    Returns:
        A Figure with one axes whose image is ``make_grid(images.reshape(R * S, C, H, W),
        nrow=S)``; the rows' labels are its y tick labels.
    """
    shape = tuple(np.shape(images))
    if len(shape) != 5:
        raise ValueError(
            f"expected images of shape (R, S, C, H, W) - one row of S images per swept "
            f"dimension, as disentangle.traversals returns - got {shape}"
        )
    r, steps, c, h, w = shape
    for name, labels, want in (("row_labels", row_labels, r), ("values", values, steps)):
        if labels is not None and len(labels) != want:
            raise ValueError(f"need {want} {name}, one per {'row' if want == r else 'column'}")
    flat = images.reshape(r * steps, c, h, w)
    grid = make_grid(flat, nrow=steps, padding=padding)
    fig, ax = _new_figure(
        figsize=(steps * CELL_INCHES + 1.0, r * CELL_INCHES + 0.4 * bool(title) + 0.3)
    )
    _show_grid(ax, grid)
    if row_labels is not None:
        ax.set_yticks([padding + i * (h + padding) + h / 2 for i in range(r)], list(row_labels))
        ax.tick_params(axis="y", length=0, labelsize=8)
    if values is not None:
        ax.set_xticks(
            [padding + j * (w + padding) + w / 2 for j in range(steps)],
            [f"{v:g}" for v in values],
        )
        ax.tick_params(axis="x", length=0, labelsize=7)
    if title:
        ax.set_title(title)
    return fig


def mutual_information_heatmap(
    mi,
    *,
    factor_names: Sequence[str] | None = None,
    entropy=None,
    ax: Axes | None = None,
    title: str | None = None,
) -> Figure:
    """Mutual information between latent dimensions (rows) and known factors (columns).

    Args:
        mi: (D, K) in nats, e.g. ``vaelab.disentangle.mig(...).mi``.
        factor_names: K column labels.
        entropy: (K,) the factors' entropies; when given, each column is divided by it, so a
            cell reads as the share of the factor's information held by that dimension, and
            the colour scale runs from 0 to 1 (a dim map is a code that holds little).
        ax: draw into this axes instead of a new figure.
        title: axes title.

    Returns:
        The Figure; the image's values are the (normalised) matrix, and each cell shows its
        value to two decimals.
    """
    values = _numpy(mi, name="mi")
    if values.ndim != 2:
        raise ValueError(f"expected mi of shape (D, K), got {values.shape}")
    d, k = values.shape
    if factor_names is not None and len(factor_names) != k:
        raise ValueError(f"need {k} factor_names, one per column of mi, got {len(factor_names)}")
    unit = "nats"
    if entropy is not None:
        h = _numpy(entropy, name="entropy")
        if h.shape != (k,):
            raise ValueError(f"expected entropy of shape ({k},), got {h.shape}")
        values = values / h
        unit = "share of the factor's entropy"
    fig, ax = _figure_and_axes(ax, figsize=(1.2 * k + 2.0, 0.32 * d + 1.2))
    vmax = 1.0 if entropy is not None else None  # shares: one fixed scale for every map
    image = ax.imshow(values, cmap="viridis", aspect="auto", vmin=0.0, vmax=vmax)
    for i in range(d):
        for j in range(k):
            dark = values[i, j] < 0.5 * (vmax or max(values.max(), 1e-12))
            ax.text(
                j,
                i,
                f"{values[i, j]:.2f}",
                ha="center",
                va="center",
                fontsize=8,
                color="white" if dark else "black",
            )
    ax.set_xticks(range(k), list(factor_names) if factor_names is not None else range(k))
    ax.set_yticks(range(d), [f"z{i}" for i in range(d)], fontsize=8)
    ax.set_xlabel("factor")
    ax.set_ylabel("latent dimension")
    fig.colorbar(image, ax=ax, label=unit)
    ax.set_title(title or "mutual information")
    return fig
