"""vaelab: reference implementations for a course on Variational Autoencoders.

Import the parts by name, so each call shows its home module::

    from vaelab import data, models, losses, metrics
"""

from __future__ import annotations

import os

__version__ = "0.1.0"
__all__ = ["default_device", "fast_mode", "lesson_seed", "__version__"]


def fast_mode() -> bool:
    """True when the environment variable ``VAELAB_FAST`` asks for a quick run (CI)."""
    return os.environ.get("VAELAB_FAST", "").strip().lower() in {"1", "true", "yes", "on"}


def lesson_seed() -> int:
    """The seed a lesson starts from: ``VAELAB_SEED`` (default 0).

    A lesson's claims must hold under other seeds too; ``VAELAB_SEED=1 make test-full``
    checks that they do.
    """
    value = os.environ.get("VAELAB_SEED", "").strip() or "0"
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"VAELAB_SEED must be an integer, got {value!r}") from None


def default_device():
    """The best device on this machine: cuda, then mps, then cpu (for notebooks and scripts).

    The library itself never picks a device: models and tensors stay where you put them.
    """
    import torch

    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")
