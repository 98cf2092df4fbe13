"""Loading a folder of images: ``vaelab.data.load_images`` first (decoding) and cached.

``make`` writes a folder of generated PNGs (coloured shapes from ``vaelab.shapes``: a
tinted shape on black, 1,000 files per subfolder); ``load`` times ``load_images`` on it
twice in fresh processes, once with the cache removed and once reading it, and prints
wall and CPU seconds and images per second for each.

Run::

    .venv/bin/python benchmarks/image_folder.py make /tmp/shapes64 -n 20000 --size 64
    .venv/bin/python benchmarks/image_folder.py load /tmp/shapes64 --image-size 64

Training on the folder, one process against two, is timed with the ``vaelab`` command
itself (see benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

FILES_PER_FOLDER = 1000


def make(folder: Path, *, n: int, size: int, seed: int) -> None:
    """Write n coloured-shape PNGs of size x size pixels into folder/000/, folder/001/, ..."""
    import warnings

    import torch
    from torchvision.io import write_png

    warnings.filterwarnings("ignore", category=DeprecationWarning, module="torchvision")

    from vaelab import shapes

    start = time.perf_counter()
    for first in range(0, n, FILES_PER_FOLDER):
        count = min(FILES_PER_FOLDER, n - first)
        x = shapes.make_shapes(count, seed=seed + first, size=size).x  # (count, 1, S, S)
        g = torch.Generator().manual_seed(seed + first)
        tint = 0.2 + 0.8 * torch.rand(count, 3, 1, 1, generator=g)  # a colour per image
        images = (x * tint * 255).round().to(torch.uint8)  # (count, 3, S, S)
        sub = folder / f"{first // FILES_PER_FOLDER:03d}"
        sub.mkdir(parents=True, exist_ok=True)
        for i, image in enumerate(images):
            write_png(image, str(sub / f"{first + i:06d}.png"))
    print(f"wrote {n} PNGs of {size}x{size} to {folder} in {time.perf_counter() - start:.1f} s")


def _timed_load(folder: Path, image_size: int, workers: int | None) -> dict:
    """load_images in a fresh process (as a user's second run would be): wall and CPU time."""
    code = (
        "import json, time; t0 = time.perf_counter(); from vaelab import data; "
        "t1 = time.perf_counter(); "
        f"x, files = data.load_images({str(folder)!r}, image_size={image_size}, "
        f"num_workers={workers}, progress=False); "
        "t2 = time.perf_counter(); x = x.clone(); "  # in memory (a cached load is memory-mapped)
        "t3 = time.perf_counter(); "
        "print(json.dumps({'n': len(x), 'shape': list(x.shape), 'import': t1 - t0, "
        "'load': t2 - t1, 'copy': t3 - t2}))"
    )
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {**result, "wall": wall, "cpu": cpu}


def load(folder: Path, *, image_size: int, workers: int | None) -> None:
    with open("/proc/loadavg") as f:
        print(f"load average before: {f.read().split()[:3]}")
    shutil.rmtree(folder / ".vaelab-cache", ignore_errors=True)
    for label in ("first (decode)", "second (cache)"):
        r = _timed_load(folder, image_size, workers)
        print(
            f"{label:15s} {r['n']} images {tuple(r['shape'])}: load_images {r['load']:.2f} s "
            f"({r['n'] / r['load']:,.0f} images/s), then {r['copy']:.2f} s to copy into memory; "
            f"the process: {r['wall']:.2f} s wall ({r['import']:.2f} s importing vaelab.data), "
            f"{r['cpu']:.2f} s CPU with its workers"
        )
    with open("/proc/loadavg") as f:
        print(f"load average after: {f.read().split()[:3]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("make", help="write a folder of generated PNGs")
    p.add_argument("folder", type=Path)
    p.add_argument("-n", type=int, default=20000)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p = sub.add_parser("load", help="time load_images, first and cached")
    p.add_argument("folder", type=Path)
    p.add_argument("--image-size", type=int, default=64)
    p.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()
    if args.command == "make":
        make(args.folder, n=args.n, size=args.size, seed=args.seed)
    else:
        load(args.folder, image_size=args.image_size, workers=args.workers)


if __name__ == "__main__":
    main()
