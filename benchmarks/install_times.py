"""`make setup` with pip and with uv on cold caches, side by side: wall and CPU time, sizes.

Each installer gets a copy of the repository in a scratch folder (never the working
environment), its own empty pip and uv caches (PIP_CACHE_DIR, UV_CACHE_DIR: nothing else on
the machine is touched), and runs ``make setup INSTALLER=...`` from scratch. Printed as one
table and written to test-artifacts/install-times.{md,json}::

    python3 benchmarks/install_times.py                 # pip, then uv
    python3 benchmarks/install_times.py --installers uv --keep
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def size_of(path: Path) -> int:
    """Bytes on disk under ``path`` (hard links counted once, as ``du`` does)."""
    out = subprocess.run(["du", "-sb", str(path)], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[0])


def copy_repo(dest: Path) -> None:
    """The tracked and untracked-but-not-ignored files of the working tree (no .venv)."""
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, files):
        source = ROOT / os.fsdecode(name)
        if source.is_file() and not source.is_symlink():
            (dest / os.fsdecode(name)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / os.fsdecode(name))


def measure(installer: str, scratch: Path, keep: bool) -> dict:
    repo, caches = scratch / f"repo-{installer}", scratch / f"cache-{installer}"
    for path in (repo, caches):
        shutil.rmtree(path, ignore_errors=True)
    repo.mkdir(parents=True)
    copy_repo(repo)
    env = dict(os.environ, PIP_CACHE_DIR=str(caches / "pip"), UV_CACHE_DIR=str(caches / "uv"))
    env.pop("PYTHONPATH", None)
    env.pop("VIRTUAL_ENV", None)
    # uv on PATH would be used as is; hide it so that both start from the same machine.
    env["PATH"] = os.pathsep.join(
        p for p in env["PATH"].split(os.pathsep) if not (Path(p) / "uv").exists()
    )
    load_before = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        ["make", "setup", f"INSTALLER={installer}", f"PYTHON={sys.executable}"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    row = {
        "installer": installer,
        "ok": done.returncode == 0,
        "wall_s": round(wall, 1),
        "cpu_s": round(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 1),
        "load": [round(load_before, 1), round(os.getloadavg()[0], 1)],
        "venv_bytes": size_of(repo / ".venv") if (repo / ".venv").exists() else None,
        "cache_bytes": size_of(caches) if caches.exists() else 0,
        "log_tail": (done.stdout + done.stderr)[-3000:],
    }
    if row["ok"]:
        py = repo / ".venv/bin/python"
        row["torch"] = subprocess.run(
            [
                str(py),
                "-c",
                "import torch, torchvision; print(torch.__version__, torchvision.__version__)",
            ],
            capture_output=True,
            text=True,
        ).stdout.strip()
        site = subprocess.run(
            [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
        ).stdout.strip()
        row["sizes"] = {
            name: size_of(Path(site) / name)
            for name in ("torch", "nvidia", "triton", "torchvision")
            if (Path(site) / name).exists()
        }
    if not keep:
        shutil.rmtree(repo, ignore_errors=True)
        shutil.rmtree(caches, ignore_errors=True)
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--installers", nargs="+", default=["pip", "uv"])
    parser.add_argument("--scratch", default=os.path.join(tempfile.gettempdir(), "vaelab-install"))
    parser.add_argument("--keep", action="store_true", help="keep the environments and caches")
    args = parser.parse_args()
    rows = []
    for installer in args.installers:
        print(f"make setup INSTALLER={installer} (cold caches) ...", flush=True)
        rows.append(measure(installer, Path(args.scratch), args.keep))
        r = rows[-1]
        print(f"  ok={r['ok']} wall {r['wall_s']} s, cpu {r['cpu_s']} s", flush=True)
        if not r["ok"]:
            print(r["log_tail"])
    gb = 1e9
    lines = [
        f"make setup on cold caches ({platform.node()}, {os.cpu_count()} cores; load: the "
        "1-minute load average before and after each run)",
        "",
        "| installer | wall (s) | CPU (s) | load | .venv (GB) | torch+nvidia+triton | cache (GB) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        heavy = sum(r.get("sizes", {}).get(k, 0) for k in ("torch", "nvidia", "triton"))
        venv = f"{r['venv_bytes'] / gb:.2f}" if r["venv_bytes"] else "-"
        lines.append(
            f"| {r['installer']}{'' if r['ok'] else ' (failed)'} | {r['wall_s']} | {r['cpu_s']} "
            f"| {r['load'][0]} -> {r['load'][1]} "
            f"| {venv} | {heavy / gb:.2f} | {r['cache_bytes'] / gb:.2f} |"
        )
    text = "\n".join(lines)
    print(text)
    out = ROOT / "test-artifacts"
    out.mkdir(exist_ok=True)
    (out / "install-times.md").write_text(text + "\n", encoding="utf-8")
    (out / "install-times.json").write_text(json.dumps(rows, indent=2), encoding="utf-8")
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
