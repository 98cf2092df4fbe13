"""Write a 60,000-image stand-in for full MNIST, to time and check the lessons' full runs.

Online learners get full MNIST (60,000 training images); this machine has only the bundled
test split. The stand-in is those 10,000 images shifted by one pixel (a different direction
for each of six copies) in torchvision's ``MNIST/raw`` layout, with the real test split as
its test set::

    .venv/bin/python benchmarks/make_mnist_standin.py /tmp/mnist60k
    VAELAB_DATA=/tmp/mnist60k make test-full

It is for timing and robustness only: its training images are near-copies of the test images,
so its test numbers are optimistic.
"""

from __future__ import annotations

import argparse
import gzip
import shutil
import struct
from pathlib import Path

import torch

from vaelab import data

SHIFTS = [(0, 1), (1, 0), (0, -1), (-1, 0), (1, 1), (-1, -1)]  # (rows, cols) per copy


def write_idx(path: Path, tensor: torch.Tensor) -> None:
    """An IDX file of unsigned bytes, gzipped, as MNIST ships it."""
    header = struct.pack(">HBB", 0, 0x08, tensor.dim()) + struct.pack(
        f">{tensor.dim()}I", *tensor.shape
    )
    with gzip.open(path, "wb") as f:
        f.write(header + tensor.to(torch.uint8).contiguous().numpy().tobytes())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", type=Path, help="folder to write MNIST/raw into")
    root = parser.parse_args().root
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    source = Path(data.__file__).parent / "_data"
    images = data.read_idx(source / "t10k-images-idx3-ubyte.gz")  # (10000, 28, 28) uint8
    labels = data.read_idx(source / "t10k-labels-idx1-ubyte.gz")  # (10000,)
    shifted = [torch.roll(images, shifts=shift, dims=(1, 2)) for shift in SHIFTS]
    write_idx(raw / "train-images-idx3-ubyte.gz", torch.cat(shifted))  # (60000, 28, 28)
    write_idx(raw / "train-labels-idx1-ubyte.gz", labels.repeat(len(SHIFTS)))
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        shutil.copy(source / name, raw / name)
    print(f"wrote {len(SHIFTS) * len(images):,} training images to {raw}")


if __name__ == "__main__":
    main()
