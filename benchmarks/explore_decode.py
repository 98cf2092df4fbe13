"""The latent explorer in headless Chromium: time per decode, and the bytes it adds to a page.

For each decoder (the MLP VAE of lessons 05-06 and 11, the conv VAEs of lesson 07) the page
loads the explorer's bundle, builds the decoder from the spec ``vaelab.explore`` writes, and
times ``decode(z)`` for fresh random codes (after a warm-up), as a drag would call it. The goal
is under 4 ms per decode, so that a drag keeps 60 frames per second with room to draw.

Also: the size of one explorer's self-contained HTML (what a book page gains per explorer), and
the wall and CPU time of the whole run. Weights are random (timing and size do not depend on
training).

    .venv/bin/python benchmarks/explore_decode.py            # the table
    .venv/bin/python benchmarks/explore_decode.py --json out.json

With ``--onnx DIR`` it also times onnxruntime-web (wasm, one thread) on the same decoders
exported by ``torch.onnx``: DIR holds ``node_modules/onnxruntime-web`` (``npm install
onnxruntime-web`` there), and Python needs ``onnx`` and ``onnxscript``. That comparison is how
the explorer's runtime was chosen; the explorer itself ships neither.
"""

from __future__ import annotations

import argparse
import base64
import functools
import io
import json
import os
import resource
import sys
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vaelab import explore, models  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
DECODERS = {
    "MLP 2-d (784-400-2)": lambda: models.MLPVAE(latent_dim=2),
    "MLP 20-d (784-400-20)": lambda: models.MLPVAE(latent_dim=20),
    "conv, transposed (lesson 07)": lambda: models.ConvVAE(latent_dim=20),
    "conv, upsample + conv": lambda: models.UpsampleConvVAE(latent_dim=20),
}

TIME_JS = """async ([spec, reps]) => {
  const url = URL.createObjectURL(new Blob([window.BUNDLE], {type: 'text/javascript'}));
  const mod = await import(url);
  const decoder = mod.makeDecoder(spec);
  const codes = Array.from({length: 64}, () =>
      Float32Array.from({length: spec.latent_dim}, () => 3 * (Math.random() - 0.5)));
  for (let i = 0; i < 50; i++) decoder.decode(codes[i % 64]);  // warm-up: the JIT compiles
  // One decode at a time, as a drag calls it. The page's clock ticks in steps of 0.1 ms (no
  // cross-origin isolation), and on a loaded machine a block of several decodes is usually
  // cut by the scheduler: the minimum is the decoder's own time, the median what a reader gets.
  const times = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    decoder.decode(codes[i % 64]);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const n = times.length;
  return {min: times[0], median: times[n >> 1], p90: times[Math.floor(n * 0.9)]};
}"""

TIME_ORT = """async ([model64, latentDim, reps]) => {
  const ort = window.ort;
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.wasmPaths = '/ort/';
  const bytes = Uint8Array.from(atob(model64), c => c.charCodeAt(0));
  const session = await ort.InferenceSession.create(bytes, {executionProviders: ['wasm']});
  const name = session.inputNames[0];
  const run = () => session.run({[name]: new ort.Tensor('float32',
      Float32Array.from({length: latentDim}, () => 3 * (Math.random() - 0.5)), [1, latentDim])});
  for (let i = 0; i < 50; i++) await run();
  const times = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await run();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return {median: times[reps >> 1], p90: times[Math.floor(reps * 0.9)]};
}"""


class _Decoder(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, z):
        return torch.sigmoid(self.model.decoder(z))


def onnx_bytes(model) -> bytes:
    buffer = io.BytesIO()
    torch.onnx.export(
        _Decoder(model).eval(), (torch.zeros(1, model.latent_dim),), buffer, dynamo=True
    )
    return buffer.getvalue()


def descendants_cpu() -> float:
    """CPU seconds (user + system) of this process's living descendants, from /proc (Linux)."""
    parent, ticks = {}, {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(stat.parent.name)
        parent[pid], ticks[pid] = int(fields[1]), int(fields[11]) + int(fields[12])
    me, total = os.getpid(), 0
    for pid in ticks:
        p = parent.get(pid)
        while p and p != me:
            p = parent.get(p)
        if p == me:
            total += ticks[pid]
    return total / os.sysconf("SC_CLK_TCK")


def serve(directory: Path):
    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=directory))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=400)
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--onnx", type=Path, help="a folder with node_modules/onnxruntime-web")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    wall, cpu = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
    bundle = (explore.ASSETS / "explore.js").read_text()
    rows = []
    httpd = None
    if args.onnx:
        ort_dir = args.onnx / "node_modules" / "onnxruntime-web" / "dist"
        site = Path(args.onnx)
        (site / "ort").mkdir(exist_ok=True)
        for f in ort_dir.glob("ort-wasm-simd-threaded.*"):
            target = site / "ort" / f.name
            if not target.exists():
                target.write_bytes(f.read_bytes())
        (site / "index.html").write_text(
            "<!doctype html><script src='node_modules/onnxruntime-web/dist/ort.min.js'></script>"
        )
        httpd = serve(site)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page()
        if httpd:
            page.goto(f"http://127.0.0.1:{httpd.server_address[1]}/index.html")
        page.evaluate("b => { window.BUNDLE = b; }", bundle)
        for name, make in DECODERS.items():
            torch.manual_seed(0)
            model = make().eval()
            spec = explore.decoder_spec(model)
            row = {
                "decoder": name,
                "parameters": sum(p.numel() for p in model.decoder.parameters()),
            }
            row["js_ms"] = page.evaluate(TIME_JS, [spec, args.reps])
            widget = explore.sliders(model) if model.latent_dim != 2 else None
            if widget is None:
                codes = torch.randn(2000, 2)
                widget = explore.latent_map(model, codes, torch.randint(0, 10, (2000,)))
            row["html_bytes"] = len(widget.to_html().encode())
            if httpd:
                model_bytes = onnx_bytes(model)
                row["onnx_model_bytes"] = len(model_bytes)
                row["ort_ms"] = page.evaluate(
                    TIME_ORT, [base64.b64encode(model_bytes).decode(), model.latent_dim, args.reps]
                )
            rows.append(row)
        browser_cpu = descendants_cpu()  # Chromium and Playwright's driver, before they exit
        browser.close()
    if httpd:
        httpd.shutdown()
        wasm = sum(f.stat().st_size for f in (args.onnx / "ort").glob("*.wasm"))
        js = (args.onnx / "node_modules/onnxruntime-web/dist/ort.min.js").stat().st_size
        print(f"onnxruntime-web: wasm {wasm / 1e6:.1f} MB + ort.min.js {js / 1e3:.0f} kB")
    used = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(f"explorer bundle: {len(bundle.encode()) / 1e3:.1f} kB (minified JS)")
    print(
        f"{'decoder':30s} {'params':>7s} {'JS min':>8s} {'median':>8s} {'p90':>8s} {'page':>8s}",
        end="",
    )
    print(f" {'ORT median':>11s} {'ORT p90':>8s}" if httpd else "")
    for r in rows:
        js = r["js_ms"]
        line = f"{r['decoder']:30s} {r['parameters']:7d} "
        line += " ".join(f"{js[k]:6.2f}ms" for k in ("min", "median", "p90"))
        line += f" {r['html_bytes'] / 1e3:5.0f} kB"
        if "ort_ms" in r:
            line += f" {r['ort_ms']['median']:9.3f}ms {r['ort_ms']['p90']:6.3f}ms"
        print(line)
    cpu_s = used.ru_utime + used.ru_stime - cpu.ru_utime - cpu.ru_stime
    cpu_s += children.ru_utime + children.ru_stime
    print(
        f"wall {time.perf_counter() - wall:.1f} s, CPU {cpu_s:.1f} s in Python, "
        f"{browser_cpu:.1f} s in Chromium and Playwright's driver"
    )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
