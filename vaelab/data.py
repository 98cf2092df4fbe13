"""MNIST as in-memory tensors: full MNIST when available, else the bundled offline sample.

Images are float32 of shape (N, 1, 28, 28) in [0, 1]; labels are int64 of shape (N,).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import socket
import struct
import threading
from collections.abc import Iterator, Sequence
from importlib import resources
from pathlib import Path
from typing import NamedTuple

import torch

__all__ = [
    "MNIST",
    "batches",
    "binarize",
    "default_root",
    "load_mnist",
    "read_idx",
    "source",
    "stratified_order",
]

# The official MNIST test split, shipped inside the package (LeCun, Cortes, Burges; CC BY-SA 3.0).
SAMPLE_FILES = {
    "images": ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
    "labels": ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
}
SAMPLE_TEST_SIZE = 2000  # the sample's 10,000 images split 8,000 train / 2,000 test
SPLIT_SEED = 0
DOWNLOAD_TIMEOUT_S = 5.0
IDX_DTYPES_BE = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


class MNIST(NamedTuple):
    """Images and labels: ``x, y = load_mnist()``."""

    x: torch.Tensor  # (N, 1, 28, 28) float32 in [0, 1]
    y: torch.Tensor  # (N,) int64 in 0..9


# Raw uint8 splits, loaded once per process: {(origin, split): (images_u8, labels)}.
_CACHE: dict[tuple[str, str], tuple[torch.Tensor, torch.Tensor]] = {}
_SOURCE: list[str] = []  # description of the data of the latest load
_DOWNLOAD_FAILED: set[str] = set()  # roots whose download already failed in this process
_NOTICE_SHOWN: list[bool] = []


def default_root() -> Path:
    """Where full MNIST lives: ``$VAELAB_DATA`` if set, else ``~/.cache/vaelab``."""
    env = os.environ.get("VAELAB_DATA")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "vaelab"


def read_idx(path: str | os.PathLike) -> torch.Tensor:
    """Parse an IDX file (optionally gzipped), the format MNIST is distributed in.

    Args:
        path: file such as ``t10k-images-idx3-ubyte.gz``.

    Returns:
        A tensor with the file's dtype and shape, e.g. uint8 (N, 28, 28) for images.
    """
    path = Path(path)
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":  # gzip magic, whatever the file's name
        data = gzip.decompress(data)
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise ValueError(f"{path} is not an IDX file: it should start with two zero bytes")
    code, ndim = data[2], data[3]
    if code not in IDX_DTYPES_BE:
        raise ValueError(f"{path}: unknown IDX type code 0x{code:02x}")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{path}: truncated IDX header")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    import numpy as np

    dtype = np.dtype(IDX_DTYPES_BE[code])
    count = int(np.prod(shape)) if shape else 1
    if len(data) - header != count * dtype.itemsize:
        raise ValueError(
            f"{path}: header promises shape {tuple(shape)} ({count * dtype.itemsize} bytes) "
            f"but the file holds {len(data) - header} bytes of data; the file is truncated "
            "or corrupt - delete it and load again"
        )
    array = np.frombuffer(data, dtype=dtype, count=count, offset=header).reshape(shape)
    return torch.from_numpy(array.astype(dtype.newbyteorder("="), copy=True))


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def _sample_path(name: str) -> Path:
    return Path(str(resources.files("vaelab") / "_data" / name))


def _load_sample() -> tuple[torch.Tensor, torch.Tensor]:
    """The bundled 10,000 images, checked by md5."""
    tensors = []
    for kind in ("images", "labels"):
        name, md5 = SAMPLE_FILES[kind]
        path = _sample_path(name)
        if not path.exists():
            raise FileNotFoundError(
                f"the bundled MNIST sample is missing: {path}; reinstall vaelab"
            )
        if _md5(path) != md5:
            raise ValueError(
                f"the bundled MNIST sample {path} fails its md5 check; reinstall vaelab"
            )
        tensors.append(read_idx(path))
    images, labels = tensors
    return images, labels.long()


def _raw_file(raw: Path, stem: str) -> Path | None:
    for candidate in (raw / stem, raw / f"{stem}.gz"):
        if candidate.exists():
            return candidate
    return None


def _load_full(root: Path, split: str) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Full MNIST from ``root/MNIST/raw`` (torchvision's layout), or None if absent."""
    prefix = "train" if split == "train" else "t10k"
    raw = root / "MNIST" / "raw"
    images = _raw_file(raw, f"{prefix}-images-idx3-ubyte")
    labels = _raw_file(raw, f"{prefix}-labels-idx1-ubyte")
    if images is None or labels is None:
        return None
    return read_idx(images), read_idx(labels).long()


# Hosts torchvision downloads MNIST from; resolving one tells quickly whether we are online.
MIRROR_HOSTS = ("ossci-datasets.s3.amazonaws.com", "yann.lecun.com")


def _online(timeout: float = 3.0) -> bool:
    """Whether a download mirror's name resolves within ``timeout`` seconds (no import of
    torchvision, which alone takes seconds)."""
    result: list[bool] = []

    def probe() -> None:
        for host in MIRROR_HOSTS:
            try:
                socket.getaddrinfo(host, 443)
                result.append(True)
                return
            except OSError:
                continue

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(result)


def _download(root: Path) -> bool:
    """Try torchvision's download; give up within seconds when there is no network."""
    if str(root) in _DOWNLOAD_FAILED or not _online():
        _DOWNLOAD_FAILED.add(str(root))
        return False
    old_timeout = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
    try:
        from torchvision.datasets import MNIST as TorchvisionMNIST  # slow import: only here

        for train in (True, False):
            TorchvisionMNIST(str(root), train=train, download=True)
        return True
    except Exception:  # no network, a proxy, a full disk: fall back to the sample
        _DOWNLOAD_FAILED.add(str(root))
        return False
    finally:
        socket.setdefaulttimeout(old_timeout)


def _sample_split(labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Deterministic split of the sample, stratified by class: (train_idx, test_idx)."""
    counts = torch.bincount(labels, minlength=10)
    quota = counts.double() * SAMPLE_TEST_SIZE / len(labels)
    test_counts = quota.floor().long()
    # Largest remainder: hand the last few test places to the classes with the largest fraction.
    missing = SAMPLE_TEST_SIZE - int(test_counts.sum())
    order = torch.argsort(quota - quota.floor(), descending=True, stable=True)
    test_counts[order[:missing]] += 1
    generator = torch.Generator().manual_seed(SPLIT_SEED)
    train_idx, test_idx = [], []
    for c in range(10):
        idx = torch.nonzero(labels == c).flatten()
        idx = idx[torch.randperm(len(idx), generator=generator)]
        test_idx.append(idx[: test_counts[c]])
        train_idx.append(idx[test_counts[c] :])
    return torch.cat(train_idx).sort().values, torch.cat(test_idx).sort().values


def stratified_order(labels: torch.Tensor, *, seed: int = SPLIT_SEED) -> torch.Tensor:
    """A deterministic ordering whose every prefix has (nearly) the class proportions of the whole.

    Args:
        labels: (N,) integer class labels.

    Returns:
        (N,) indices; ``labels[order[:k]]`` is a stratified subset of size k.
    """
    generator = torch.Generator().manual_seed(seed)
    keys = torch.empty(len(labels), dtype=torch.float64)
    for c in labels.unique().tolist():
        idx = torch.nonzero(labels == c).flatten()
        idx = idx[torch.randperm(len(idx), generator=generator)]
        keys[idx] = (torch.arange(len(idx), dtype=torch.float64) + 0.5) / len(idx)
    return torch.argsort(keys, stable=True)


def _notice(message: str) -> None:
    if not _NOTICE_SHOWN:
        print(message)
        _NOTICE_SHOWN.append(True)


def _raw_split(split: str, root: Path, download: bool) -> tuple[torch.Tensor, torch.Tensor, str]:
    key = (str(root), split)
    if key in _CACHE:
        return (*_CACHE[key], f"full MNIST from {root}")
    full = _load_full(root, split)
    if full is None and download and _download(root):
        full = _load_full(root, split)
    if full is not None:
        _CACHE[key] = full
        return (*full, f"full MNIST from {root}")
    if ("sample", split) in _CACHE:
        return (*_CACHE[("sample", split)], "the bundled MNIST sample")
    images, labels = _load_sample()
    train_idx, test_idx = _sample_split(labels)
    _CACHE[("sample", "train")] = (images[train_idx], labels[train_idx])
    _CACHE[("sample", "test")] = (images[test_idx], labels[test_idx])
    _notice(
        "vaelab: full MNIST is not available offline, so the bundled sample is in use "
        "(the official 10,000-image test split, 8,000 train / 2,000 test). For the full set, "
        f"go online once or put torchvision's MNIST/raw files under {root}."
    )
    return (*_CACHE[("sample", split)], "the bundled MNIST sample")


def load_mnist(
    split: str = "train",
    *,
    root: str | os.PathLike | None = None,
    download: bool = True,
    limit: int | None = None,
    digits: Sequence[int] | None = None,
    binarized: bool = False,
) -> MNIST:
    """Load MNIST images in [0, 1] and their labels, cached in memory after the first call.

    Args:
        split: "train" or "test".
        root: folder holding torchvision's ``MNIST/raw`` files (default: ``default_root()``).
        download: try to download full MNIST when it is not on disk; without network the
            bundled sample is used within seconds.
        limit: keep this many images, stratified by class (for FAST runs).
        digits: keep only these classes, e.g. ``range(9)`` to hold out the 9s.
        binarized: static binarisation, each pixel set to 1 with probability equal to its
            intensity, with a fixed seed (the same 0/1 images on every call).

    Returns:
        ``MNIST(x, y)``: x float32 (N, 1, 28, 28) in [0, 1], y int64 (N,).
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if limit is not None and (not isinstance(limit, int) or limit < 1):
        raise ValueError(f"limit must be a positive int or None, got {limit!r}")
    root = Path(root).expanduser() if root is not None else default_root()
    images, labels, description = _raw_split(split, root, download)
    _SOURCE[:] = [description]
    if digits is not None:
        wanted = sorted({int(d) for d in digits})
        if not wanted or any(d < 0 or d > 9 for d in wanted):
            raise ValueError(f"digits must be classes in 0..9, got {list(digits)!r}")
        keep = torch.isin(labels, torch.tensor(wanted))
        images, labels = images[keep], labels[keep]
    if limit is not None and limit < len(labels):
        idx = stratified_order(labels)[:limit].sort().values
        images, labels = images[idx], labels[idx]
    x = images.unsqueeze(1).float().div_(255.0)  # (N, 28, 28) uint8 -> (N, 1, 28, 28) float
    if binarized:
        generator = torch.Generator().manual_seed(SPLIT_SEED + (split == "test"))
        x = binarize(x, generator=generator)
    return MNIST(x, labels.clone())


def source() -> str:
    """Which data the latest ``load_mnist`` call used: full MNIST or the bundled sample."""
    return _SOURCE[0] if _SOURCE else "nothing loaded yet"


def binarize(x: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """Sample 0/1 pixels with P(1) = intensity. Call per batch for dynamic binarisation.

    Args:
        x: images in [0, 1], any shape.
        generator: for repeatable draws; must live on x's device.
    """
    noise = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    return (noise < x).to(x.dtype)


def batches(
    x: torch.Tensor,
    *tensors: torch.Tensor,
    batch_size: int,
    shuffle: bool = False,
    generator: torch.Generator | None = None,
    drop_last: bool = False,
) -> Iterator[torch.Tensor | tuple[torch.Tensor, ...]]:
    """Iterate over in-memory tensors in minibatches, on whatever device they live.

    Args:
        x: (N, ...) tensor; more tensors with the same N may follow (e.g. labels).
        batch_size: examples per batch.
        shuffle: visit the examples in a random order (drawn on the CPU with ``generator``).
        drop_last: skip a final batch smaller than ``batch_size``.

    Yields:
        The batch of x alone, or a tuple ``(x_batch, *other_batches)`` when more tensors are given.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    n = len(x)
    for t in tensors:
        if len(t) != n:
            raise ValueError(f"all tensors need the same first dimension: {n} vs {len(t)}")
    if shuffle:
        order = torch.randperm(n, generator=generator).to(x.device)
    else:
        order = None
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        if order is None:
            parts = [t[start : start + batch_size] for t in (x, *tensors)]
        else:
            idx = order[start : start + batch_size]
            parts = [t.index_select(0, idx.to(t.device)) for t in (x, *tensors)]
        yield parts[0] if not tensors else tuple(parts)
