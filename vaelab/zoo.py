"""Trained models for the lessons' standard set-ups, trained on first use and cached.

``zoo.get("mlp_vae_20d")`` trains on ``vaelab.data.load_mnist("train")`` (never downloading)
the first time, with a progress bar, and caches the checkpoint under
``$VAELAB_CACHE/zoo`` (default ``~/.cache/vaelab/zoo``), keyed by a hash of the set-up and
the data; later calls load it in well under a second. In FAST mode (``VAELAB_FAST=1``) it
trains on a small subset for a few epochs, under a different key, so CI stays quick.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from vaelab import classifier, data, fast_mode, models, train

__all__ = ["NAMES", "cache_dir", "get", "score_digits"]

ZOO_VERSION = 2  # bump to retrain every cached model after a change in how they are trained
FAST_NUM_TRAIN = 1000
FAST_NUM_TEST = 500
REFERENCE_NUM_TRAIN = 8000  # epochs below are for this many images; scaled for other sizes


@dataclass(frozen=True)
class _Setup:
    model: str  # a class name in vaelab.models, or "DigitClassifier"
    config: dict = field(default_factory=dict)
    num_epochs: int = 10
    fast_epochs: int = 2
    batch_size: int = 128
    lr: float = 1e-3
    seed: int = 0
    beta: float = 1.0  # KL weight (VAEs only)


SETUPS: dict[str, _Setup] = {
    "mlp_vae_2d": _Setup("MLPVAE", {"latent_dim": 2}, num_epochs=40),
    "mlp_vae_20d": _Setup("MLPVAE", {"latent_dim": 20}, num_epochs=40),
    # The pitfall of lesson 05: the same VAE trained without its KL term.
    "mlp_vae_20d_beta0": _Setup("MLPVAE", {"latent_dim": 20}, num_epochs=40, beta=0.0),
    "mlp_ae_2d": _Setup("MLPAutoencoder", {"latent_dim": 2}, num_epochs=40),
    "conv_vae": _Setup("ConvVAE", {"latent_dim": 20}, num_epochs=12),
    "classifier": _Setup("DigitClassifier", num_epochs=8, fast_epochs=6, lr=2e-3),
}
NAMES = tuple(SETUPS)


def cache_dir() -> Path:
    """Where zoo checkpoints live: ``$VAELAB_CACHE/zoo``, default ``~/.cache/vaelab/zoo``."""
    root = os.environ.get("VAELAB_CACHE")
    return (Path(root).expanduser() if root else Path.home() / ".cache" / "vaelab") / "zoo"


def _build(setup: _Setup) -> nn.Module:
    if setup.model == classifier.DigitClassifier.__name__:
        return classifier.DigitClassifier(**setup.config)
    return models.MODEL_CLASSES[setup.model](**setup.config)


def _epochs(setup: _Setup, num_train: int, fast: bool) -> int:
    if fast:
        return setup.fast_epochs
    # The same number of steps as the reference on the 8,000-image sample (full MNIST: fewer).
    return max(2, round(setup.num_epochs * REFERENCE_NUM_TRAIN / num_train))


def _key(name: str, setup: _Setup, num_epochs: int, spec: dict, source: str, num_train: int) -> str:
    description = {
        "version": ZOO_VERSION,
        "name": name,
        "spec": spec,
        "num_epochs": num_epochs,
        "batch_size": setup.batch_size,
        "lr": setup.lr,
        "seed": setup.seed,
        "data": source,
        "num_train": num_train,
    }
    if setup.beta != 1.0:  # only then, so the keys of the beta = 1 models stay as they were
        description["beta"] = setup.beta
    text = json.dumps(description, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def get(
    name: str, *, progress: bool = True, retrain: bool = False, seed: int | None = None
) -> nn.Module:
    """A trained model for a lesson's standard set-up, in eval mode on the CPU.

    Args:
        name: one of ``NAMES``: "mlp_vae_2d", "mlp_vae_20d", "mlp_ae_2d", "conv_vae"
            (VAEs and an autoencoder on MNIST), "mlp_vae_20d_beta0" (the 20-d VAE trained
            with beta = 0, no KL term) or "classifier" (a CNN digit classifier).
        progress: show a progress bar while training (only on first use).
        retrain: train again even if a cached checkpoint exists.
        seed: the seed of the initial weights and of training (None: the set-up's, 0). A
            lesson passes ``vaelab.lesson_seed()`` so that ``VAELAB_SEED`` checks its claims
            on models trained from other seeds too; each seed is cached on its own.

    Returns:
        The model; a checkpoint's ``extra`` (test numbers) is at ``model.zoo_info``.
    """
    if name not in SETUPS:
        raise ValueError(f"unknown zoo model {name!r}; choose one of {list(NAMES)}")
    setup = SETUPS[name]
    if seed is not None:
        setup = dataclasses.replace(setup, seed=int(seed))
    fast = fast_mode()
    limit = FAST_NUM_TRAIN if fast else None
    train_set = data.load_mnist("train", download=False, limit=limit)
    source = data.source()
    num_epochs = _epochs(setup, len(train_set.x), fast)
    with torch.random.fork_rng(devices=[]):  # seeded weights, the caller's RNG untouched
        torch.manual_seed(setup.seed)
        model = _build(setup)
    key = _key(name, setup, num_epochs, model.spec(), source, len(train_set.x))
    path = cache_dir() / f"{name}{'-fast' if fast else ''}-{key}.pt"
    if path.exists() and not retrain:
        try:
            ckpt = train.load_checkpoint(path)
            ckpt.model.zoo_info = ckpt.extra or {}
            return ckpt.model
        except (ValueError, OSError) as err:
            warnings.warn(
                f"retraining {name}: the cached {path} cannot be read ({err})", stacklevel=2
            )

    test_set = data.load_mnist("test", download=False, limit=FAST_NUM_TEST if fast else None)
    info: dict[str, Any] = {
        "name": name,
        "data": source,
        "num_train": len(train_set.x),
        "num_epochs": num_epochs,
        "fast": fast,
    }
    history = None
    if name == "classifier":
        losses = classifier.fit_classifier(
            model,
            train_set.x,
            train_set.y,
            num_epochs=num_epochs,
            batch_size=setup.batch_size,
            lr=setup.lr,
            seed=setup.seed,
            progress=progress,
        )
        info["train_loss"] = losses[-1]
        info["test_accuracy"] = classifier.accuracy(model, test_set.x, test_set.y)
    else:
        history = train.fit(
            model,
            train_set.x,
            test_x=test_set.x,
            num_epochs=num_epochs,
            batch_size=setup.batch_size,
            lr=setup.lr,
            beta=setup.beta,
            seed=setup.seed,
            progress=progress,
            log=False,
        )
        info["beta"] = setup.beta
        info["test_loss"] = history.test_loss[-1]
    train.save_checkpoint(path, model, history=history, extra=info)
    model.eval()
    model.zoo_info = info
    return model


def score_digits(images: torch.Tensor, *, model: nn.Module | None = None) -> dict[str, Any]:
    """Score images as digits with the zoo's classifier: how confident, how evenly spread.

    Args:
        images: (N, 1, 28, 28) in [0, 1], e.g. ``vae.sample(100)``.
        model: a classifier with ``predict_proba``; default ``get("classifier")``.

    Returns:
        {"confidence": mean probability of the predicted class (1 = sure),
        "class_counts": 10 ints, the predicted-class histogram,
        "evenness": entropy of that histogram / log(10), 1 when every digit appears
        equally often, 0 when all images look like one digit,
        "num_images": N}.
    """
    model = model if model is not None else get("classifier", progress=False)
    proba = model.predict_proba(images)  # (N, 10)
    confidence, predicted = proba.max(dim=1)
    num_classes = proba.shape[1]
    counts = torch.bincount(predicted.cpu(), minlength=num_classes)
    share = counts.double() / counts.sum()
    nonzero = share[share > 0]
    entropy = float(-(nonzero * nonzero.log()).sum())
    return {
        "confidence": float(confidence.mean()),
        "class_counts": counts.tolist(),
        "evenness": entropy / math.log(num_classes),
        "num_images": len(images),
    }
