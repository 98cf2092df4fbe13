"""A small CNN digit classifier, used to score generated images (``vaelab.zoo.score_digits``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn

from vaelab import data
from vaelab.checks import check_images

__all__ = ["ClassifierConfig", "DigitClassifier", "accuracy", "build", "fit_classifier"]


@dataclass
class ClassifierConfig:
    """Two conv + max-pool blocks, then a hidden layer and ``num_classes`` logits."""

    image_shape: tuple[int, int, int] = (1, 28, 28)
    channels: tuple[int, int] = (16, 32)
    hidden_dim: int = 64
    num_classes: int = 10


class DigitClassifier(nn.Module):
    """CNN: (B, 1, 28, 28) images in [0, 1] -> (B, 10) class logits."""

    def __init__(self, config: ClassifierConfig | None = None, **overrides):
        super().__init__()
        config = replace(config or ClassifierConfig(), **overrides)
        config.image_shape = tuple(int(s) for s in config.image_shape)
        config.channels = tuple(int(c) for c in config.channels)
        self.config = config
        in_ch, height, width = config.image_shape
        c1, c2 = config.channels
        self.features = nn.Sequential(
            nn.Conv2d(in_ch, c1, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),  # (B, c1, H/2, W/2)
            nn.Conv2d(c1, c2, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),  # (B, c2, H/4, W/4)
            nn.Flatten(),
        )
        flat = c2 * (height // 4) * (width // 4)
        self.head = nn.Sequential(
            nn.Linear(flat, config.hidden_dim),
            nn.ReLU(),
            nn.Linear(config.hidden_dim, config.num_classes),
        )

    def spec(self) -> dict:
        """Plain-data description that ``build`` turns back into the same architecture."""
        return {"name": type(self).__name__, "config": asdict(self.config)}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits (B, num_classes) for images x (B, C, H, W)."""
        return self.head(self.features(x))

    @torch.inference_mode()
    def predict_proba(self, x: torch.Tensor, *, batch_size: int = 1000) -> torch.Tensor:
        """Class probabilities (B, num_classes) for images x (B, C, H, W) in [0, 1] (eval mode)."""
        check_images(x, self.config.image_shape)
        was_training = self.training
        self.eval()
        try:
            param = next(self.parameters())
            parts = [
                F.softmax(self(xb.to(param.device, param.dtype)), dim=1)
                for xb in data.batches(x, batch_size=batch_size)
            ]
        finally:
            self.train(was_training)
        return torch.cat(parts)


def build(spec: dict) -> DigitClassifier:
    """Rebuild a classifier from ``model.spec()``."""
    if spec.get("name") != DigitClassifier.__name__:
        raise ValueError(f"expected a DigitClassifier spec, got {spec.get('name')!r}")
    config = dict(spec.get("config", {}))
    for key in ("image_shape", "channels"):
        if key in config:
            config[key] = tuple(config[key])
    return DigitClassifier(ClassifierConfig(**config))


def accuracy(model: DigitClassifier, x: torch.Tensor, y: torch.Tensor) -> float:
    """Share of images x (N, C, H, W) whose most likely class is the label y (N,)."""
    predicted = model.predict_proba(x).argmax(dim=1)
    return float((predicted.cpu() == y.cpu()).double().mean())


def fit_classifier(
    model: DigitClassifier,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    num_epochs: int,
    batch_size: int = 128,
    lr: float = 1e-3,
    seed: int = 0,
    progress: bool = True,
) -> list[float]:
    """Train with cross-entropy and Adam, the learning rate decaying linearly to 0; shuffling
    is seeded by ``seed``.

    Args:
        x: (N, C, H, W) images in [0, 1] on the model's device.
        y: (N,) labels.

    Returns:
        The mean training loss of every epoch (nats per image).
    """
    check_images(x, model.config.image_shape)
    if len(x) != len(y):
        raise ValueError(f"x and y need the same length, got {len(x)} and {len(y)}")
    device = next(model.parameters()).device
    x, y = x.to(device), y.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    total_steps = num_epochs * -(-len(x) // batch_size)
    # Linear decay to zero over training: a cheap way to the last half-percent of accuracy.
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1 - step / total_steps)
    generator = torch.Generator().manual_seed(seed)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=total_steps, desc="classifier", leave=False)
    losses = []
    model.train()
    try:
        for _ in range(num_epochs):
            total = torch.zeros((), device=device)
            for xb, yb in data.batches(
                x, y, batch_size=batch_size, shuffle=True, generator=generator
            ):
                loss = F.cross_entropy(model(xb), yb)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                scheduler.step()
                total += loss.detach() * len(xb)
                if bar is not None:
                    bar.update()
            losses.append(float(total) / len(x))
    finally:
        model.eval()
        if bar is not None:
            bar.close()
    return losses
