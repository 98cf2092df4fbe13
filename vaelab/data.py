"""Images as in-memory tensors: MNIST (full when available, else the bundled offline sample),
Fashion-MNIST, and folders of your own PNG and JPEG images.

``load_mnist`` gives float32 (N, 1, 28, 28) in [0, 1] with int64 labels (N,). ``load_dataset``
and ``load_images`` keep uint8 (N, C, H, W) in 0..255, four times smaller; ``to_float`` scales
a batch to [0, 1] on its device (``fit`` does this for every batch).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import socket
import struct
import threading
import warnings
from collections import Counter
from collections.abc import Iterator, Sequence
from importlib import resources
from pathlib import Path
from typing import NamedTuple

import torch

from vaelab import _image_io

__all__ = [
    "DATASETS",
    "MNIST",
    "Images",
    "LabelledImages",
    "batches",
    "binarize",
    "default_root",
    "load_dataset",
    "load_images",
    "load_mnist",
    "read_idx",
    "source",
    "stratified_order",
    "to_float",
]

# The official MNIST test split, shipped inside the package (LeCun, Cortes, Burges; CC BY-SA 3.0).
SAMPLE_FILES = {
    "images": ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
    "labels": ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
}
SAMPLE_TEST_SIZE = 2000  # the sample's 10,000 images split 8,000 train / 2,000 test
SPLIT_SEED = 0
DOWNLOAD_TIMEOUT_S = 5.0
# Names load_dataset accepts -> the folder torchvision keeps each in (ROOT/<folder>/raw).
DATASETS = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST"}
DATASET_TITLES = {"MNIST": "MNIST", "FashionMNIST": "Fashion-MNIST"}
IDX_DTYPES_BE = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


class MNIST(NamedTuple):
    """Images and labels: ``x, y = load_mnist()``."""

    x: torch.Tensor  # (N, 1, 28, 28) float32 in [0, 1]
    y: torch.Tensor  # (N,) int64 in 0..9


class LabelledImages(NamedTuple):
    """Images and labels as stored: ``x, y = load_dataset("fashion-mnist")``."""

    x: torch.Tensor  # (N, 1, 28, 28) uint8 in 0..255
    y: torch.Tensor  # (N,) int64 in 0..9


class Images(NamedTuple):
    """Images from a folder and where each came from: ``x, files = load_images(folder, ...)``."""

    x: torch.Tensor  # (N, C, H, W) uint8 in 0..255
    files: list[str]  # N paths relative to the folder, in the order of x


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


def _load_full(
    root: Path, split: str, folder: str = "MNIST"
) -> tuple[torch.Tensor, torch.Tensor] | None:
    """A full split from ``root/<folder>/raw`` (torchvision's layout), or None if absent.

    MNIST and Fashion-MNIST share the IDX files' names and format.
    """
    prefix = "train" if split == "train" else "t10k"
    raw = root / folder / "raw"
    images = _raw_file(raw, f"{prefix}-images-idx3-ubyte")
    labels = _raw_file(raw, f"{prefix}-labels-idx1-ubyte")
    if images is None or labels is None:
        return None
    return read_idx(images), read_idx(labels).long()


# Hosts torchvision downloads from; resolving one tells quickly whether we are online.
MIRROR_HOSTS = ("ossci-datasets.s3.amazonaws.com", "yann.lecun.com")
DOWNLOAD_HOSTS = {
    "MNIST": MIRROR_HOSTS,
    "FashionMNIST": ("fashion-mnist.s3-website.eu-central-1.amazonaws.com",),
}


def _online(timeout: float = 3.0, *, hosts: Sequence[str] = MIRROR_HOSTS) -> bool:
    """Whether a download mirror's name resolves within ``timeout`` seconds (no import of
    torchvision, which alone takes seconds)."""
    result: list[bool] = []

    def probe() -> None:
        for host in hosts:
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


def _download(root: Path, folder: str = "MNIST") -> bool:
    """Try torchvision's download; give up within seconds when there is no network."""
    key = str(root / folder)
    if key in _DOWNLOAD_FAILED:
        return False
    online = _online() if folder == "MNIST" else _online(hosts=DOWNLOAD_HOSTS[folder])
    if not online:
        _DOWNLOAD_FAILED.add(key)
        return False
    old_timeout = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
    try:
        import torchvision.datasets  # slow import: only here

        dataset_class = getattr(torchvision.datasets, folder)  # MNIST or FashionMNIST
        for train in (True, False):
            dataset_class(str(root), train=train, download=True)
        return True
    except Exception:  # no network, a proxy, a full disk: the caller falls back or explains
        _DOWNLOAD_FAILED.add(key)
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


def _raw_split(
    split: str, root: Path, download: bool, folder: str = "MNIST"
) -> tuple[torch.Tensor, torch.Tensor, str]:
    key = (str(root / folder), split)
    title = DATASET_TITLES[folder]
    description = f"full {title} from {root}" if folder == "MNIST" else f"{title} from {root}"
    if key in _CACHE:
        return (*_CACHE[key], description)
    full = _load_full(root, split, folder)
    if full is None and download and _download(root, folder):
        full = _load_full(root, split, folder)
    if full is not None:
        _CACHE[key] = full
        return (*full, description)
    if folder != "MNIST":  # no bundled sample to fall back on
        how = "could not be downloaded (no network?)" if download else "download=False"
        raise FileNotFoundError(
            f"{title} is not on disk under {root / folder / 'raw'} and {how}; go online once, "
            f"or copy torchvision's {folder}/raw files (train-images-idx3-ubyte.gz, ...) there"
        )
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


def load_dataset(
    name: str,
    split: str = "train",
    *,
    root: str | os.PathLike | None = None,
    download: bool = True,
    limit: int | None = None,
) -> LabelledImages:
    """MNIST or Fashion-MNIST as stored, uint8 images and their labels, cached in memory.

    Both are IDX files in torchvision's layout (``root/MNIST/raw``, ``root/FashionMNIST/raw``),
    read by ``read_idx``. When the files are not on disk torchvision downloads them; offline,
    MNIST falls back to the bundled sample (as ``load_mnist`` does) and Fashion-MNIST raises
    FileNotFoundError saying where to put the files.

    Args:
        name: "mnist" or "fashion-mnist".
        split: "train" or "test".
        root: folder holding torchvision's ``<dataset>/raw`` files (default: ``default_root()``).
        download: try torchvision's download when the files are not on disk.
        limit: keep this many images, stratified by class.

    Returns:
        ``LabelledImages(x, y)``: x uint8 (N, 1, 28, 28), y int64 (N,) in 0..9;
        ``to_float(x)`` scales images to [0, 1].
    """
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}: expected one of {sorted(DATASETS)}")
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if limit is not None and (not isinstance(limit, int) or limit < 1):
        raise ValueError(f"limit must be a positive int or None, got {limit!r}")
    root = Path(root).expanduser() if root is not None else default_root()
    images, labels, description = _raw_split(split, root, download, DATASETS[name])
    _SOURCE[:] = [description]
    if limit is not None and limit < len(labels):
        idx = stratified_order(labels)[:limit].sort().values
        images, labels = images[idx], labels[idx]
    return LabelledImages(images.unsqueeze(1).clone(), labels.clone())  # (N, 1, 28, 28)


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


def to_float(x: torch.Tensor, *, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Images as floats in [0, 1]: uint8 is divided by 255 on its device; floats pass as they are.

    Args:
        x: (B, C, H, W) uint8 in 0..255, or floats in [0, 1].
        dtype: the float type for uint8 input.
    """
    if x.dtype == torch.uint8:
        return x.to(dtype).div_(255.0)
    if not x.is_floating_point():
        raise ValueError(
            f"expected images as uint8 in 0..255 or floats in [0, 1], got dtype "
            f"{str(x.dtype).replace('torch.', '')}: convert with x.to(torch.uint8)"
        )
    return x


# ------------------------------------------------------------------ a folder of images


def _workers(num_workers: int | None) -> int:
    if num_workers is not None:
        return num_workers
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(8, cores or 1))


def _image_files(folder: Path) -> list[_image_io.FileStat]:
    """The PNG/JPEG files under folder, or an error saying why there are none."""
    if not folder.exists():
        raise FileNotFoundError(f"no folder at {folder}: check the path")
    if not folder.is_dir():
        raise NotADirectoryError(
            f"{folder} is a file, not a folder: pass the folder that holds the images"
        )
    files, others = _image_io.list_files(folder)
    if files:
        return files
    if not others:
        raise ValueError(
            f"{folder} holds no files: put PNG or JPEG images in it (subfolders are searched too)"
        )
    kinds = Counter(Path(name).suffix.lower() or "no extension" for name in others)
    found = ", ".join(f"{count} {kind}" for kind, count in kinds.most_common(4))
    raise ValueError(
        f"{folder} holds {len(others)} files but no PNG or JPEG images (found {found}); "
        "vaelab reads .png, .jpg and .jpeg files"
    )


def _pixels(width: int, height: int) -> str:
    return f"{width}x{height} pixels"


def _decode_folder(
    folder: Path,
    files: list[_image_io.FileStat],
    *,
    image_size: int | None,
    channels: int,
    num_workers: int,
    progress: bool,
) -> dict:
    """Decode every file into one uint8 tensor, then refuse mixed kinds and sizes."""
    decoded = _image_io.decode_files(
        folder,
        [f.name for f in files],
        image_size=image_size,
        channels=channels,
        num_workers=num_workers,
        progress=progress,
    )
    x = None
    kept: list[str] = []
    unreadable: list[list[str]] = []  # [name, reason]
    kinds: dict[bool, list[str]] = {False: [], True: []}  # colour? -> names
    sizes: Counter = Counter()  # (width, height) -> count
    examples: dict[tuple[int, int], str] = {}
    too_small: list[tuple[str, int, int]] = []
    for stat, d in zip(files, decoded, strict=True):
        if d.error is not None:
            unreadable.append([stat.name, d.error])
            continue
        kinds[d.colour].append(stat.name)
        sizes[(d.width, d.height)] += 1
        examples.setdefault((d.width, d.height), stat.name)
        if d.pixels is None:
            too_small.append((stat.name, d.width, d.height))
            continue
        if x is None:
            x = torch.empty((len(files), *d.pixels.shape), dtype=torch.uint8)  # (N, C, H, W)
        if tuple(d.pixels.shape) == tuple(x.shape[1:]):  # other sizes are reported below
            x[len(kept)] = torch.from_numpy(d.pixels)
            kept.append(stat.name)

    readable = len(files) - len(unreadable)
    if readable == 0:
        name, reason = unreadable[0]
        raise ValueError(
            f"none of the {len(files)} image files in {folder} could be read "
            f"(e.g. {name}: {reason}); check that they are PNG or JPEG images"
        )
    grey, colour = kinds[False], kinds[True]
    if channels == 3 and grey and colour:
        raise ValueError(
            f"{folder} mixes greyscale and colour images: {len(grey)} greyscale "
            f"(e.g. {grey[0]}) and {len(colour)} colour (e.g. {colour[0]}); pass channels=1 "
            "(--channels 1) to use them all in greyscale, or convert the greyscale files to RGB"
        )
    if channels == 3 and grey:
        raise ValueError(
            f"the images in {folder} are greyscale (e.g. {grey[0]}) but channels=3: "
            "pass channels=1 (--channels 1)"
        )
    if too_small:
        name, width, height = min(too_small, key=lambda t: min(t[1], t[2]))
        raise ValueError(
            f"{len(too_small)} of {readable} images in {folder} are smaller than "
            f"image_size={image_size} on their short side (smallest: {name}, "
            f"{_pixels(width, height)}); pass a smaller image_size (--image-size) or remove them"
        )
    if image_size is None and len(sizes) > 1:
        common = ", ".join(
            f"{_pixels(*size)}: {count} (e.g. {examples[size]})"
            for size, count in sizes.most_common(3)
        )
        raise ValueError(
            f"the images in {folder} come in {len(sizes)} sizes ({common}); pass image_size=N "
            "(--image-size N) to centre-crop and resize them all to N x N"
        )
    if len(kept) < len(x):
        x = x[: len(kept)].clone()
    return {"format": _image_io.CACHE_FORMAT, "x": x, "files": kept, "unreadable": unreadable}


def _warn_unreadable(folder: Path, unreadable: list[list[str]], *, total: int) -> None:
    shown = "; ".join(f"{name} ({reason})" for name, reason in unreadable[:5])
    more = f"; and {len(unreadable) - 5} more" if len(unreadable) > 5 else ""
    warnings.warn(
        f"skipped {len(unreadable)} of {total} image files in {folder} that cannot be read: "
        f"{shown}{more}",
        stacklevel=3,
    )


def load_images(
    folder: str | os.PathLike,
    *,
    image_size: int | None,
    channels: int = 3,
    limit: int | None = None,
    num_workers: int | None = None,
    cache: bool = True,
    progress: bool = True,
) -> Images:
    """Every PNG and JPEG image in a folder tree, centre-cropped and resized once, as uint8.

    Files are read in the sorted order of their paths; hidden files and folders are skipped.
    The result is cached in ``folder/.vaelab-cache`` (under ``default_root()`` when the folder
    is read-only), keyed by the files' names, sizes and modification times and by the options,
    so the next call loads in seconds. Unreadable files are skipped and named in one warning.

    Args:
        folder: where the images are; subfolders are searched too.
        image_size: side of the square each image becomes: the largest centred square is cut
            out and resized (antialiased) to image_size x image_size; images whose short side
            is smaller are refused. None keeps the images' own size, which must then be the
            same for all.
        channels: 3 for colour (RGB, alpha dropped) or 1 for greyscale (colour converted).
            Greyscale files are refused when channels=3, rather than copied into three channels.
        limit: read only the first ``limit`` files.
        num_workers: decoding processes (default: the CPU cores available, at most 8).
        cache: read and write the cache.
        progress: a progress bar while decoding.

    Returns:
        ``Images(x, files)``: x uint8 (N, channels, H, W) in 0..255 (memory-mapped from the
        cache when it was read from there), files the N paths relative to ``folder``.

    Raises:
        FileNotFoundError: no such folder.
        ValueError: no images, greyscale and colour mixed, images of mixed sizes or too
            small; each message names the files and the fix.
    """
    if image_size is not None and (
        not isinstance(image_size, int) or isinstance(image_size, bool) or image_size < 1
    ):
        raise ValueError(f"image_size must be a positive int or None, got {image_size!r}")
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 (greyscale) or 3 (RGB), got {channels!r}")
    if limit is not None and (not isinstance(limit, int) or limit < 1):
        raise ValueError(f"limit must be a positive int or None, got {limit!r}")
    folder = Path(folder).expanduser()
    files = _image_files(folder)[:limit]
    key = _image_io.cache_key(files, image_size=image_size, channels=channels)
    paths = _image_io.cache_paths(
        folder,
        default_root() / "image-cache",
        image_size=image_size,
        channels=channels,
        limit=limit,
    )
    payload = _image_io.read_cache(paths, key) if cache else None
    if payload is None:
        payload = _decode_folder(
            folder,
            files,
            image_size=image_size,
            channels=channels,
            num_workers=_workers(num_workers),
            progress=progress,
        )
        payload["key"] = key
        if cache:
            _image_io.write_cache(paths, payload)
    if payload["unreadable"]:
        _warn_unreadable(folder, payload["unreadable"], total=len(files))
    return Images(payload["x"], list(payload["files"]))


def batches(
    x: torch.Tensor,
    *tensors: torch.Tensor,
    batch_size: int,
    shuffle: bool = False,
    generator: torch.Generator | None = None,
    drop_last: bool = False,
) -> Iterator[torch.Tensor | tuple[torch.Tensor, ...]]:
    """Iterate over in-memory tensors in minibatches, on whatever device they live.

    Batches keep x's dtype: uint8 images stay uint8 (scale them with ``to_float``).

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
