"""Install the course into a virtual environment with uv when it can, else with pip.

``make setup`` runs this with the environment's own Python::

    .venv/bin/python tools/install.py                # uv if found or installable, else pip
    .venv/bin/python tools/install.py --installer pip
    .venv/bin/python tools/install.py --torch cpu    # PyTorch's CPU-only wheels

Both installers install the same pinned set (``constraints.txt``) from the same places: uv
does not read pip's configuration, so the index, extra indexes, find-links, certificate and
constraint files that pip is configured with (``pip config list``: files and PIP_*
variables) are passed on to uv, with pip's choice of the best version across all of them.

``--torch cpu`` first installs torch and torchvision from PyTorch's CPU wheel index (no CUDA
libraries: a few hundred MB instead of several GB), then the rest; the pins stay the same
(``torch==2.14.1`` is satisfied by ``2.14.1+cpu``).
"""

from __future__ import annotations

import argparse
import ast
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def say(message: str) -> None:
    print(f"[setup] {message}", flush=True)


def run(command: list[str], env: dict[str, str] | None = None) -> None:
    shown = " ".join(command)
    say(shown if len(shown) < 240 else shown[:237] + "...")
    subprocess.run(command, check=True, cwd=ROOT, env=env)


def pip_settings(python: str) -> dict[str, list[str]]:
    """pip's configured index, extra indexes, find-links, cert and constraint files."""
    try:
        listing = subprocess.run(
            [python, "-m", "pip", "config", "list"], capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return {}
    # As pip reads them: a PIP_* variable (":env:") over the files, a later file over an
    # earlier one (global, user, site).
    found: dict[str, tuple[bool, list[str]]] = {}
    for line in listing.splitlines():
        key, _, value = line.partition("=")
        name = key.rsplit(".", 1)[-1]
        if name not in {"index-url", "extra-index-url", "find-links", "cert", "constraint"}:
            continue
        try:
            value = ast.literal_eval(value)
        except (SyntaxError, ValueError):
            pass
        from_env = key.startswith(":env:")
        if name in found and found[name][0] and not from_env:
            continue
        found[name] = (from_env, str(value).split())
    return {name: values for name, (_, values) in found.items()}


def uv_options(settings: dict[str, list[str]], env: dict[str, str]) -> list[str]:
    """uv's flags for pip's settings (and the certificate, through SSL_CERT_FILE)."""
    options: list[str] = []
    for url in settings.get("index-url", [])[:1]:
        options += ["--index-url", url]
    for url in settings.get("extra-index-url", []):
        options += ["--extra-index-url", url]
    for place in settings.get("find-links", []):
        options += ["--find-links", place]
    for path in settings.get("constraint", []):
        options += ["--constraint", path]
    if settings.get("extra-index-url") or settings.get("find-links"):
        # pip takes the best version from all its sources; uv's default takes the first
        # index that has the package at all.
        options += ["--index-strategy", "unsafe-best-match"]
    for cert in settings.get("cert", [])[:1]:
        env.setdefault("SSL_CERT_FILE", cert)
    return options


def find_uv(python: str, allow_install: bool) -> str | None:
    """uv on PATH or in the environment; else installed into it from the index (None: no)."""
    bindir = Path(python).parent
    for candidate in (os.environ.get("UV"), shutil.which("uv"), bindir / "uv"):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    if not allow_install:
        return None
    say("uv is not on this machine: installing it into the environment (about 20 MB)")
    started = time.perf_counter()
    done = subprocess.run([python, "-m", "pip", "install", "-q", "uv"], cwd=ROOT)
    if done.returncode != 0 or not (bindir / "uv").is_file():
        say("could not install uv: installing with pip instead")
        return None
    say(f"uv installed in {time.perf_counter() - started:.1f} s")
    return str(bindir / "uv")


def reach(index: str) -> None:
    """Stop with one clear line if PyTorch's CPU wheel index cannot be read."""
    import urllib.error
    import urllib.request

    url = index.rstrip("/") + "/torch/"
    try:
        with urllib.request.urlopen(url, timeout=30) as answer:
            answer.read(1)
    except (urllib.error.URLError, OSError) as err:
        raise SystemExit(
            f"[setup] TORCH=cpu needs PyTorch's CPU wheel index, and {url} cannot be read "
            f"({getattr(err, 'reason', err)}). Without it, `make setup` installs the default "
            "build (with CUDA libraries); TORCH_CPU_INDEX=URL names a mirror of that index."
        ) from None


def installed(name: str) -> str:
    """The version of ``name`` in this environment, "" if it is not installed."""
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--installer", choices=["auto", "uv", "pip"], default="auto")
    parser.add_argument("--torch", choices=["default", "cpu"], default="default")
    parser.add_argument("--extras", default="lab,test,book")
    parser.add_argument("--cpu-index", default=os.environ.get("TORCH_CPU_INDEX", CPU_INDEX))
    args = parser.parse_args(argv)

    python = sys.executable
    if sys.prefix == sys.base_prefix:
        parser.error(f"run this with a virtual environment's Python, not {python}")
    constraints = str(ROOT / "constraints.txt")
    target = f".[{args.extras}]" if args.extras else "."

    uv = None if args.installer == "pip" else find_uv(python, allow_install=True)
    if args.installer == "uv" and uv is None:
        parser.error("--installer uv: uv is not on PATH and could not be installed")

    if args.torch == "cpu":
        reach(args.cpu_index)
    env = dict(os.environ)
    started = time.perf_counter()
    if args.torch == "default" and "+cpu" in installed("torch") + installed("torchvision"):
        # 2.14.1+cpu satisfies the pin torch==2.14.1: remove it, or it would stay.
        say("replacing the CPU-only torch with the default build")
        run([python, "-m", "pip", "uninstall", "-q", "-y", "torch", "torchvision"], env)
    if uv:
        settings = pip_settings(python)
        common = [uv, "pip", "install", "--python", python, "-q", "-c", constraints]
        if args.torch == "cpu":
            # Only PyTorch's CPU index for torch and torchvision (and what they need).
            run([*common, "--index-url", args.cpu_index, "torch", "torchvision"], env)
        run([*common, *uv_options(settings, env), "-e", target], env)
    else:
        common = [python, "-m", "pip", "install", "-q", "-c", constraints]
        if args.torch == "cpu":
            run([*common, "--index-url", args.cpu_index, "torch", "torchvision"], env)
        run([*common, "-e", target], env)
    if args.torch == "cpu" and "+cpu" not in installed("torch"):
        raise SystemExit(
            f"[setup] asked for the CPU-only torch, but torch {installed('torch')} is installed "
            f"(not from {args.cpu_index}?)"
        )
    which = "uv" if uv else "pip"
    say(f"installed with {which} in {time.perf_counter() - started:.0f} s (torch: {args.torch})")
    (Path(sys.prefix) / "torch-variant").write_text(args.torch + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
