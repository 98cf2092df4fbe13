"""The machinery behind ``vaelab.data.load_images``: find image files, decode them in worker
processes, and cache the result next to the data.

torchvision is imported inside the functions that decode (it takes seconds to import).
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import re
import sys
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
CACHE_DIR_NAME = ".vaelab-cache"  # inside the image folder; hidden, so never read as data
CACHE_FORMAT = 1
CHUNK_SIZE = 64  # files per task sent to a worker process
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PNG_COLOUR_TYPES = {0: False, 2: True, 3: True, 4: False, 6: True}  # grey, RGB, palette, ...
# JPEG start-of-frame markers (the frame header holds the number of colour components).
JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


class FileStat(NamedTuple):
    name: str  # path relative to the folder, with forward slashes
    size: int  # bytes
    mtime_ns: int


class Decoded(NamedTuple):
    """One file after decoding: its kind and size, and its pixels (None when not usable)."""

    colour: bool  # the file stores colour (RGB, palette, CMYK), not greyscale
    width: int  # before cropping
    height: int
    pixels: np.ndarray | None  # (C, H, W) uint8; None if unreadable or too small
    error: str | None = None  # why the file could not be read


def list_files(folder: Path) -> tuple[list[FileStat], list[str]]:
    """Image files under ``folder`` (sorted, hidden files and folders skipped) and the rest.

    Returns:
        (images, others): a FileStat per PNG/JPEG file, and the names of all other files.
    """
    images: list[FileStat] = []
    others: list[str] = []
    stack = [folder]
    while stack:
        current = stack.pop()
        with os.scandir(current) as entries:
            for entry in entries:
                if entry.name.startswith("."):  # .vaelab-cache, .DS_Store, ._photo.jpg, .git
                    continue
                if entry.is_dir():
                    stack.append(Path(entry.path))
                    continue
                name = Path(entry.path).relative_to(folder).as_posix()
                if entry.name.lower().endswith(IMAGE_SUFFIXES):
                    stat = entry.stat()
                    images.append(FileStat(name, stat.st_size, stat.st_mtime_ns))
                else:
                    others.append(name)
    images.sort()
    others.sort()
    return images, others


def header_colour(raw: bytes) -> bool | None:
    """Whether a PNG or JPEG file stores colour (True) or greyscale (False); None for others."""
    if raw.startswith(PNG_MAGIC) and len(raw) > 25:
        return PNG_COLOUR_TYPES.get(raw[25])  # the IHDR chunk's colour type
    if not raw.startswith(b"\xff\xd8"):
        return None
    i = 2
    while i + 9 < len(raw):  # walk the JPEG markers up to the frame header
        if raw[i] != 0xFF:
            return None
        marker = raw[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
        elif marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length
            i += 2
        elif marker in JPEG_SOF:
            return raw[i + 9] >= 3  # components: 1 grey, 3 YCbCr, 4 CMYK
        else:
            i += 2 + int.from_bytes(raw[i + 2 : i + 4], "big")
    return None


def decode_file(path: Path, *, image_size: int | None, channels: int) -> Decoded:
    """Decode one file to uint8 (channels, H, W), centre-cropped and resized to image_size."""
    from torchvision.io import ImageReadMode, decode_image
    from torchvision.transforms.v2 import functional as F

    try:
        raw = path.read_bytes()
        colour = header_colour(raw)
        if colour is None:
            known = raw.startswith((PNG_MAGIC, b"\xff\xd8"))
            reason = "damaged header" if known else "not a PNG or JPEG file"
            return Decoded(False, 0, 0, None, reason)
        # Colour is decoded as RGB and turned grey below, the same way for PNG and JPEG.
        mode = ImageReadMode.GRAY if channels == 1 and not colour else ImageReadMode.RGB
        x = decode_image(
            torch.frombuffer(bytearray(raw), dtype=torch.uint8),
            mode=mode,
            apply_exif_orientation=True,
        )  # (channels, H, W)
    except (OSError, RuntimeError, ValueError) as err:
        lines = str(err).strip().splitlines()
        reason = re.sub(r"^.*\.cpp:\d+,\s*", "", lines[0]) if lines else type(err).__name__
        return Decoded(False, 0, 0, None, reason)  # e.g. "Image is incomplete or truncated"
    if x.dtype != torch.uint8:  # 16-bit PNG
        x = F.to_dtype(x, torch.uint8, scale=True)
    if channels == 1 and colour:
        x = F.rgb_to_grayscale(x)  # ITU-R 601 luma, as PIL's convert("L")
    height, width = x.shape[-2:]
    if image_size is not None:
        side = min(height, width)
        if side < image_size:
            return Decoded(colour, width, height, None)
        top, left = (height - side) // 2, (width - side) // 2
        x = x[:, top : top + side, left : left + side]  # the centred square
        if side != image_size:
            x = F.resize(x, [image_size, image_size], antialias=True)
    return Decoded(colour, width, height, x.numpy())


def _decode_chunk(task: tuple[Path, list[str], int | None, int]) -> list[Decoded]:
    folder, names, image_size, channels = task
    with warnings.catch_warnings():
        # torchvision 0.29 marks its decoders deprecated (in favour of TorchCodec), on every call.
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="torchvision")
        return [
            decode_file(folder / name, image_size=image_size, channels=channels) for name in names
        ]


def _worker_init() -> None:
    torch.set_num_threads(1)  # one decoding thread per process; the processes share the cores


def decode_files(
    folder: Path,
    names: Sequence[str],
    *,
    image_size: int | None,
    channels: int,
    num_workers: int,
    progress: bool,
) -> Iterator[Decoded]:
    """Decode the files in order, in ``num_workers`` processes, with a progress bar."""
    import torchvision.io  # noqa: F401  (imported once here; forked workers inherit it)
    from tqdm.auto import tqdm

    tasks = [
        (folder, list(names[i : i + CHUNK_SIZE]), image_size, channels)
        for i in range(0, len(names), CHUNK_SIZE)
    ]
    bar = tqdm(
        total=len(names), desc="decoding images", unit="image", disable=not progress, leave=False
    )
    try:
        if num_workers <= 1 or len(tasks) < 2:
            for task in tasks:
                results = _decode_chunk(task)
                bar.update(len(results))
                yield from results
            return
        # fork: workers start in milliseconds with torch and torchvision already imported.
        method = "fork" if sys.platform == "linux" else None
        context = multiprocessing.get_context(method)
        with context.Pool(min(num_workers, len(tasks)), initializer=_worker_init) as pool:
            for results in pool.imap(_decode_chunk, tasks):
                bar.update(len(results))
                yield from results
    finally:
        bar.close()


def cache_key(files: Sequence[FileStat], *, image_size: int | None, channels: int) -> str:
    """A digest of the files' names, sizes and modification times and of the options."""
    text = json.dumps([CACHE_FORMAT, image_size, channels, [list(f) for f in files]])
    return hashlib.sha256(text.encode()).hexdigest()


def cache_paths(
    folder: Path, fallback: Path, *, image_size: int | None, channels: int, limit: int | None
) -> list[Path]:
    """Where the cache may live: inside the folder, else (read-only data) under ``fallback``."""
    name = f"images-{image_size or 'native'}px-{channels}ch-{limit or 'all'}.pt"
    folder_id = hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:16]
    return [folder / CACHE_DIR_NAME / name, fallback / folder_id / name]


def read_cache(paths: Sequence[Path], key: str) -> dict | None:
    """The cached payload whose key matches, memory-mapped (loads in seconds), or None."""
    for path in paths:
        if not path.is_file():
            continue
        try:
            payload = torch.load(path, mmap=True, weights_only=True)
        except Exception:  # a half-written or foreign file: decode again
            continue
        if isinstance(payload, dict) and payload.get("key") == key:
            return payload
    return None


def write_cache(paths: Sequence[Path], payload: dict) -> Path | None:
    """Save to the first writable path (temp file + rename); None when none is writable."""
    for path in paths:
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            torch.save(payload, tmp)
            os.replace(tmp, path)
            return path
        except OSError:
            continue
        finally:
            if tmp.exists():
                tmp.unlink()
    return None
