"""Draw the README's gallery (docs/gallery/*.png) from full runs of the library.

    python docs/make_gallery.py        # about 2 minutes on a 2-core CPU once the zoo is trained

Uses the zoo's trained models (``vaelab.zoo``, trained on first use and cached) and, for
the posterior-collapse figure, two short trainings like lesson 06's. Refuses FAST mode:
the gallery shows what the full course produces.
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

import vaelab  # noqa: E402
from vaelab import data, latent, metrics, models, plot, train, zoo  # noqa: E402

OUT = Path(__file__).resolve().parent / "gallery"
DPI = 90


def save(fig, name: str) -> None:
    path = OUT / name
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    print(f"wrote {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")


@torch.no_grad()
def samples_and_reconstructions(model, x_test: torch.Tensor) -> None:
    generator = torch.Generator().manual_seed(0)
    z = torch.randn(64, model.config.latent_dim, generator=generator)  # (64, 20) from the prior
    samples = torch.sigmoid(model.decode(z))  # (64, 1, 28, 28) pixel means
    save(plot.image_grid(samples, nrow=16, title="VAE: 64 digits decoded from the prior"),
         "samples.png")  # fmt: skip
    x = x_test[:16]
    fig = plot.reconstructions(
        x, model.reconstruct(x), n=16, title="test digits (top) and their reconstructions"
    )
    save(fig, "reconstructions.png")


@torch.no_grad()
def latent_map(model, x_test: torch.Tensor, y_test: torch.Tensor) -> None:
    mu, _ = latent.encode_dataset(model, x_test)  # (N, 2) posterior means
    save(plot.latent_scatter(mu, y_test, title="2-D latent: test digits by class"),
         "latent_map.png")  # fmt: skip
    save(plot.latent_manifold(model, n=15, title="decoding a grid of the 2-D latent"),
         "manifold.png")  # fmt: skip


def posterior_collapse(x_train: torch.Tensor, x_test: torch.Tensor) -> None:
    """Lesson 06's set-up: the same VAE with KL weight 1 and 30 (collapsed)."""
    runs = {}
    for name, beta in (("beta = 1", 1.0), ("beta = 30: collapsed", 30.0)):
        torch.manual_seed(0)
        model = models.MLPVAE(latent_dim=10, hidden_dim=256)
        history = train.fit(
            model, x_train, test_x=x_test, num_epochs=10, beta=beta, progress=False, log=False
        )
        mu, _ = latent.encode_dataset(model, x_test)
        runs[name] = (torch.tensor(history.test_kl_per_dim[-1]), metrics.active_units(mu))
    fig, axes = plt.subplots(1, 2, figsize=(8, 2.8), sharey=True, layout="constrained")
    for ax, (name, (kl_per_dim, active)) in zip(axes, runs.items(), strict=True):
        plot.kl_per_dim_bars(kl_per_dim, ax=ax, title=f"{name}: {active} of 10 active")
    fig.suptitle("posterior collapse: test KL per latent dimension")
    save(fig, "posterior_collapse.png")


def main() -> None:
    if vaelab.fast_mode():
        sys.exit("make_gallery: unset VAELAB_FAST; the gallery shows full runs")
    OUT.mkdir(parents=True, exist_ok=True)
    train_set, test_set = data.load_mnist("train"), data.load_mnist("test")
    # zoo.get trains a model on first use (then caches it): outside torch.no_grad()
    samples_and_reconstructions(zoo.get("mlp_vae_20d"), test_set.x)  # MLP VAE, 20-D latent
    latent_map(zoo.get("mlp_vae_2d"), test_set.x, test_set.y)  # MLP VAE, 2-D latent
    posterior_collapse(train_set.x, test_set.x)


if __name__ == "__main__":
    main()
