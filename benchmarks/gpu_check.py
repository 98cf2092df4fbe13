"""Every CUDA path of vaelab, checked in one run, ending in one table (``make gpu-check``).

Checks, each timed: ``default_device``; ``fit`` plain, with ``amp`` (bf16 autocast), with
``compile`` and with both, each against the plain run's numbers; the NaN stop (on CUDA,
fused Adam skips a bad step on the device and ``fit`` reads the count once per epoch);
resuming from a checkpoint; the shapes renderer against the CPU's; every lesson in FAST
mode on the GPU (four at a time); and the throughput benchmark, ``fit`` against the
tutorial pipeline, both on the GPU.

Run: ``make gpu-check`` (or ``.venv/bin/python benchmarks/gpu_check.py``), about 5
minutes on one GPU. Without CUDA it says so and exits with status 2; ``--device cpu``
runs the same checks on the CPU (amp excluded, no lessons, a 2-epoch benchmark) to test
the script itself. Exit status 0 when every check passed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

import vaelab
from vaelab import data, models, shapes, train

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_TIMEOUT_S = 240
QUIET = {"progress": False, "log": False}


class Table:
    """Rows of (check, ok, seconds, detail), printed as a Markdown table."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, bool, float, str]] = []

    def run(self, name: str, check: Callable[[], str]) -> None:
        start = time.perf_counter()
        try:
            detail, ok = check(), True
        except Exception as err:  # a failed check is a row, not the end of the run
            detail, ok = f"{type(err).__name__}: {err}"[:300], False
        self.rows.append((name, ok, time.perf_counter() - start, detail))
        print(f"{'ok  ' if ok else 'FAIL'} {name} ({self.rows[-1][2]:.1f} s): {detail}", flush=True)

    def markdown(self) -> str:
        lines = ["| check | result | seconds | detail |", "|---|---|---|---|"]
        for name, ok, seconds, detail in self.rows:
            detail = detail.replace("|", "/").replace("\n", " ")
            lines.append(f"| {name} | {'ok' if ok else 'FAIL'} | {seconds:.1f} | {detail} |")
        return "\n".join(lines)


def small_vae() -> models.MLPVAE:
    torch.manual_seed(0)
    return models.MLPVAE(hidden_dim=256, latent_dim=10)


def fit_run(x, x_test, device, **kw) -> tuple[train.History, models.MLPVAE]:
    model = small_vae()
    history = train.fit(
        model, x, test_x=x_test, num_epochs=3, batch_size=128, device=device, **QUIET, **kw
    )
    return history, model


def check_fit(x, x_test, device, plain: dict, **kw) -> str:
    """Train 3 epochs; the first call (no options) keeps its history as the yardstick."""
    history, model = fit_run(x, x_test, device, **kw)
    assert next(model.parameters()).device.type == device.type, "the model left the device"
    assert history.test_loss[-1] < history.test_loss[0], history.test_loss
    reference = plain.setdefault("history", history).test_loss[-1]
    loss = history.test_loss[-1]
    assert abs(loss - reference) < 2.0, f"test loss {loss:.2f} vs plain fp32 {reference:.2f}"
    rate = len(x) * len(history) / sum(history.seconds)
    return f"test loss {loss:.2f} (plain fp32 {reference:.2f}), {rate:,.0f} img/s"


def check_default_device(chosen: torch.device, on_gpu: bool) -> str:
    if on_gpu:
        assert chosen.type == "cuda", f"default_device() chose {chosen} on a CUDA machine"
    return f"chose {chosen}"


def check_nan_stop(x, device) -> str:
    model = small_vae()
    before: dict[str, torch.Tensor] = {}

    def schedule(step: int) -> float:
        if step == 5:  # called before step 5's forward: the weights after 5 good steps
            before.update({k: v.clone() for k, v in model.state_dict().items()})
            return float("nan")
        return 1.0

    try:
        train.fit(model, x, num_epochs=2, batch_size=64, beta=schedule, device=device, **QUIET)
    except train.TrainingDiverged as err:
        assert "step 5 " in str(err), str(err)
    else:
        raise AssertionError("fit did not stop on a NaN loss")
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), f"{key} changed after the NaN step"
    return "stopped at step 5; weights are those from before it"


def check_resume(x, x_test, device) -> str:
    kw = dict(test_x=x_test, batch_size=100, binarize=True, seed=3, device=device, **QUIET)
    full = train.fit(small_vae(), x, num_epochs=4, **kw)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "run.pt"
        train.fit(small_vae(), x, num_epochs=2, checkpoint=path, **kw)
        resumed = train.fit(small_vae(), x, num_epochs=4, resume=path, **kw)
    gap = max(abs(a - b) for a, b in zip(full.test_loss, resumed.test_loss, strict=True))
    assert gap < 1e-3, f"resumed test losses differ by up to {gap:.2e}"
    return f"4 epochs straight vs 2 + 2 resumed: test losses agree to {gap:.1e}"


def check_shapes(device) -> str:
    factors = shapes.make_shapes(512, seed=0).factors
    on_cpu = shapes.render(factors)
    on_device = shapes.render(factors.to(device)).cpu()
    gap = (on_cpu - on_device).abs().max().item()
    assert gap < 1e-5, f"renders differ by {gap:.2e}"
    return f"512 shapes, largest pixel difference to the CPU render {gap:.1e}"


def run_notebook(path: Path, out_dir: Path) -> tuple[bool, float, str]:
    env = {**os.environ, "VAELAB_FAST": "1", "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    command = [
        sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
        f"--ExecutePreprocessor.timeout={NOTEBOOK_TIMEOUT_S}", "--output-dir", str(out_dir),
        str(path),
    ]  # fmt: skip
    done = subprocess.run(command, cwd=path.parent, env=env, capture_output=True, text=True)
    tail = done.stderr.strip().splitlines()[-1:] if done.returncode else []
    return done.returncode == 0, time.perf_counter() - start, " ".join(tail)[:200]


def check_lessons(table: Table) -> None:
    notebooks = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    with tempfile.TemporaryDirectory() as folder, ThreadPoolExecutor(4) as pool:
        results = pool.map(lambda nb: (nb, *run_notebook(nb, Path(folder))), notebooks)
        for nb, ok, seconds, detail in results:
            table.rows.append((f"lesson {nb.stem} (FAST)", ok, seconds, detail or "ran"))
            print(f"{'ok  ' if ok else 'FAIL'} lesson {nb.stem} ({seconds:.1f} s) {detail}")


def check_benchmark(device, epochs: int) -> str:
    sys.path.insert(0, str(Path(__file__).parent))
    import train_throughput as bench

    m = bench.measure(device=device, num_epochs=epochs)
    ratio = m["fit_rate"] / m["tutorial_rate"]
    text = (
        f"fit {m['fit_rate']:,.0f} img/s, tutorial {m['tutorial_rate']:,.0f} img/s ({ratio:.1f}x); "
        f"test loss {m['test_fit']:.2f} vs {m['test_tutorial']:.2f} nats after {epochs} epochs"
    )
    assert m["test_fit"] - m["test_tutorial"] <= 1, text
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--device", default="cuda", help="cuda (default), or cpu to test this script"
    )
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("gpu-check: no CUDA device here (torch.cuda.is_available() is False); nothing run")
        return 2
    on_gpu = device.type == "cuda"
    name = torch.cuda.get_device_name(device) if on_gpu else "CPU"
    print(f"vaelab {vaelab.__version__}, torch {torch.__version__}, {name}", flush=True)
    x = data.load_mnist("train", limit=4096).x
    x_test = data.load_mnist("test", limit=1000).x
    table = Table()
    chosen = vaelab.default_device()
    table.run("default_device()", lambda: check_default_device(chosen, on_gpu))
    plain: dict = {}
    variants = [("fit (fp32)", {}), ("fit compile=True", {"compile": True})]
    if on_gpu:
        variants[1:1] = [("fit amp=True (bf16)", {"amp": True})]
        variants.append(("fit amp + compile", {"amp": True, "compile": True}))
    for label, options in variants:
        table.run(label, lambda options=options: check_fit(x, x_test, device, plain, **options))
    table.run("NaN stop", lambda: check_nan_stop(x, device))
    table.run("resume from a checkpoint", lambda: check_resume(x, x_test, device))
    table.run("shapes.render", lambda: check_shapes(device))
    if on_gpu:
        check_lessons(table)
    table.run("throughput benchmark", lambda: check_benchmark(device, 10 if on_gpu else 2))
    print()
    print(table.markdown())
    failed = [row[0] for row in table.rows if not row[1]]
    passed = len(table.rows) - len(failed)
    print(f"\n{passed} of {len(table.rows)} checks passed; failed: {', '.join(failed) or 'none'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
