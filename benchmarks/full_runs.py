"""Run the lessons in full, with every claim assertion, and print one table (make test-full).

Each lesson is executed top to bottom in a fresh kernel (nbclient), without VAELAB_FAST,
once per data set and seed asked for; its claims (``vaelab.claims``) are read back from the
kernel at the end. A run fails on a cell error, on a claim that does not hold, and on a
sentence marked ``<!-- claim: ID -->`` that the run did not assert::

    .venv/bin/python benchmarks/full_runs.py                      # every lesson, bundled sample
    .venv/bin/python benchmarks/full_runs.py --lessons 04 07 --seeds 0 1 2
    .venv/bin/python benchmarks/full_runs.py --data sample /work/mnist60k
    .venv/bin/python benchmarks/full_runs.py --fast               # the same table, quick runs

``--data`` takes ``sample`` (the loader's default: the bundled sample, or full MNIST where it
is in ~/.cache/vaelab) or a folder holding torchvision's ``MNIST/raw`` files, such as the
60,000-image stand-in that ``benchmarks/make_mnist_standin.py`` writes. A seed other than the
first is run only for lessons that read ``vaelab.lesson_seed()``; for the others the table
says so, and the run fails, since their claims were not checked under that seed.

The table also goes to ``test-artifacts/full-runs.md`` and ``.json`` (``--out``), with the
machine's load: wall time on a busy machine says little, so CPU time (the kernel's) is given
next to it. Each kernel's own stderr goes to ``test-artifacts/full-runs-logs/``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from claims_ledger import read_lesson  # noqa: E402

BUDGET_S = {"full": 180, "FAST": 30}  # per lesson, on a quiet 2-core CPU (the guide's)
PROBE_TAG = "VAELAB-FULL-RUNS:"
# Run in the lesson's kernel once its cells are done (or one failed): what the run used and
# every claim it checked, the failing one included (the ledger records it before raising).
PROBE = f"""
import json as _json
from vaelab import claims as _claims
try:
    from vaelab import data as _data
    _source = _data.source()
except Exception as _err:
    _source = f"unknown ({{_err}})"
_report = _claims.report()._repr_mimebundle_()[_claims.MIME_TYPE]
print({PROBE_TAG!r} + _json.dumps({{"source": _source, "claims": _report["claims"]}}))
"""


@dataclass
class Run:
    """One lesson executed once: what it checked and how long it took."""

    lesson: str  # "04"
    data: str  # "sample" or a folder
    seed: int
    mode: str  # "full" or "FAST"
    source: str = ""  # what the loader says it used (data.source())
    wall_s: float = 0.0
    cpu_s: float = 0.0  # the kernel's user + system time
    checked: int = 0
    held: int = 0
    smallest_margin: float | None = None
    smallest_margin_claim: str = ""
    claims: list[dict] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    skipped: str = ""  # why this run was not made

    @property
    def ok(self) -> bool:
        return not self.failures and not self.skipped


def uses_seed(path: Path) -> bool:
    """Whether the lesson's code reads VAELAB_SEED through vaelab.lesson_seed()."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    return any(
        "lesson_seed(" in "".join(cell["source"])
        for cell in nb["cells"]
        if cell["cell_type"] == "code"
    )


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _environment(data: str, seed: int, fast: bool) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("VAELAB_FAST", None)
    if fast:
        env["VAELAB_FAST"] = "1"
    env["VAELAB_SEED"] = str(seed)
    if data == "sample":
        env.pop("VAELAB_DATA", None)
    else:
        env["VAELAB_DATA"] = str(Path(data).expanduser().resolve())
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    env["TQDM_DISABLE"] = "1"  # no progress bars in a log
    env["MPLBACKEND"] = "Agg"
    return env


def _error_text(error: Exception) -> str:
    """The last line of a cell error: "ClaimFailed: claim 07.x does not hold ..."."""
    name = getattr(error, "ename", type(error).__name__)
    value = getattr(error, "evalue", str(error))
    return f"{name}: {value}".strip()


def execute(path: Path, run: Run, timeout: int, log: Path | None = None) -> None:
    """Execute the lesson at ``path`` in a fresh kernel; fill ``run`` in.

    The kernel's own stderr (its start-up notices, a crash's last words) goes to ``log``.
    """
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    env = _environment(run.data, run.seed, run.mode == "FAST")
    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}
    )
    probe = nbformat.v4.new_code_cell(PROBE)
    cpu = _children_cpu()
    if log is None:
        _run_cells(client, nb, probe, {"env": env}, run)
    else:
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("w", encoding="utf-8") as stderr:
            _run_cells(client, nb, probe, {"env": env, "stderr": stderr}, run)
    run.cpu_s = _children_cpu() - cpu  # the kernel, reaped when setup_kernel shut it down
    text = "".join(o.get("text", "") for o in probe.get("outputs", []) if o.get("name") == "stdout")
    found = re.search(re.escape(PROBE_TAG) + r"(.*)", text)
    if found:
        probed = json.loads(found.group(1))
        run.source, run.claims = probed["source"], probed["claims"]
    _judge(path, run)


def _run_cells(client, nb, probe, kernel_options: dict, run: Run) -> None:
    """Every cell in order, stopping at the first error; then the probe, in the same kernel."""
    from nbclient.exceptions import CellExecutionError, CellTimeoutError

    start = time.perf_counter()
    with client.setup_kernel(**kernel_options):
        try:
            for index, cell in enumerate(nb.cells):
                client.execute_cell(cell, index)
        except (CellExecutionError, CellTimeoutError) as error:
            first_line = (_error_text(error).splitlines() or [""])[0]
            run.failures.append(f"cell {index}: {first_line[:300]}")
        run.wall_s = time.perf_counter() - start
        nb.cells.append(probe)  # nbclient stores outputs by cell index
        try:
            client.execute_cell(probe, len(nb.cells) - 1)
        except Exception as error:  # the kernel died: no ledger to read
            run.failures.append(f"could not read the claims back: {_error_text(error)[:200]}")


def _judge(path: Path, run: Run) -> None:
    """Count the claims, find the smallest margin, and fail what must fail."""
    run.checked = len(run.claims)
    run.held = sum(1 for c in run.claims if c["held"] is True)
    margins = [(c["margin"], c["id"]) for c in run.claims if c.get("margin") is not None]
    if margins:
        run.smallest_margin, run.smallest_margin_claim = min(margins)
    for claim in run.claims:
        if claim["held"] is False:
            run.failures.append(f"claim {claim['id']} does not hold: {claim['measured']}")
        elif claim["held"] is None and run.mode == "full":
            run.failures.append(f"claim {claim['id']} was not checked by a full run")
    reported = {c["id"] for c in run.claims}
    ledger = read_lesson(path)
    for claim_id in sorted(set(ledger.marks) - reported):
        if not any(f"claim {claim_id} " in f for f in run.failures):
            run.failures.append(f"the sentence marked {claim_id} was not asserted by this run")


# ----------------------------------------------------------------------------------------
# The table


HEADER = (
    "lesson",
    "data",
    "seed",
    "mode",
    "wall s",
    "CPU s",
    "claims held / checked",
    "smallest margin",
    "result",
)


def _row(run: Run) -> tuple[str, ...]:
    margin = (
        f"{run.smallest_margin:.0%} ({run.smallest_margin_claim})"
        if run.smallest_margin is not None
        else "-"
    )
    if run.skipped:
        result = f"not run: {run.skipped}"
    elif run.failures:
        result = "FAILED: " + "; ".join(run.failures)
    else:
        over = run.wall_s > BUDGET_S[run.mode]
        result = "ok" + (f" (over the {BUDGET_S[run.mode]} s budget)" if over else "")
    data = "sample" if run.data == "sample" else Path(run.data).name
    return (
        run.lesson,
        data,
        str(run.seed),
        run.mode,
        "-" if run.skipped else f"{run.wall_s:.0f}",
        "-" if run.skipped else f"{run.cpu_s:.0f}",
        "-" if run.skipped else f"{run.held} / {run.checked}",
        margin,
        result,
    )


def table(runs: list[Run]) -> str:
    """The runs as a Markdown table (readable as plain text too)."""
    rows = [HEADER, *(_row(r) for r in runs)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER))]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
        for row in rows
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (1 min), {five:.1f} (5 min) on {os.cpu_count()} CPUs"


def write_report(runs: list[Run], out: Path, command: str, loads: tuple[str, str]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    sources = sorted({f"{r.data}: {r.source}" for r in runs if r.source})
    markdown = [
        "# Full runs of the lessons, with their claims",
        "",
        f"`{command}` on {platform.node()} ({platform.processor() or platform.machine()}); "
        f"{loads[0]} at the start, {loads[1]} at the end.",
        "",
        table(runs),
        "",
        ("Data: " + "; ".join(sources)) if sources else "",
        "",
        "The margin is how far the measured value is from the claim's bound, as a fraction "
        "of the larger of the two (claims.above/below); yes/no claims (claims.hold) have none.",
        "",
    ]
    for run in runs:
        if run.claims:
            markdown += [f"## Lesson {run.lesson}, {run.data}, seed {run.seed} ({run.mode})", ""]
            for c in run.claims:
                status = {True: "holds", False: "does NOT hold", None: "not checked"}[c["held"]]
                margin = "" if c.get("margin") is None else f", margin {c['margin']:.0%}"
                markdown.append(f"- `{c['id']}`: {status}: {c['measured']}{margin}")
            markdown.append("")
    out.with_suffix(".md").write_text("\n".join(markdown), encoding="utf-8")
    meta = {"command": command, "load_start": loads[0], "load_end": loads[1]}
    payload = {"meta": meta, "runs": [asdict(r) | {"ok": r.ok} for r in runs]}
    out.with_suffix(".json").write_text(json.dumps(payload, indent=1), encoding="utf-8")


# ----------------------------------------------------------------------------------------


def lesson_paths(numbers: list[str]) -> list[Path]:
    found = {p.name[:2]: p for p in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))}
    if not numbers:
        return list(found.values())
    wanted = [f"{int(n):02d}" for n in numbers]
    missing = [n for n in wanted if n not in found]
    if missing:
        raise SystemExit(
            f"no lesson {', '.join(missing)} in {NOTEBOOKS}: choose among {', '.join(found)}"
        )
    return [found[n] for n in wanted]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lessons", nargs="*", default=[], help="lesson numbers (default: all)")
    parser.add_argument("--seeds", nargs="*", type=int, default=[0], help="VAELAB_SEED values")
    parser.add_argument(
        "--data", nargs="*", default=["sample"], help="'sample' and/or MNIST folders"
    )
    parser.add_argument("--fast", action="store_true", help="quick runs (VAELAB_FAST=1)")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "test-artifacts" / "full-runs", help="report stem"
    )
    args = parser.parse_args(argv)
    for data in args.data:
        if data != "sample" and not (Path(data).expanduser() / "MNIST" / "raw").is_dir():
            raise SystemExit(
                f"{data} holds no MNIST/raw folder: write the 60,000-image stand-in with "
                f".venv/bin/python benchmarks/make_mnist_standin.py {data}"
            )
    paths = lesson_paths(args.lessons)
    mode = "FAST" if args.fast else "full"
    command = "benchmarks/full_runs.py " + " ".join(sys.argv[1:] if argv is None else argv)
    load_start = _load()
    print(f"{len(paths)} lessons x {len(args.data)} data x {len(args.seeds)} seeds, {mode} runs")
    runs: list[Run] = []
    for data in args.data:
        for seed_no, seed in enumerate(args.seeds):
            for path in paths:
                run = Run(path.name[:2], data, seed, mode)
                if seed_no > 0 and not uses_seed(path):
                    run.skipped = "the lesson does not read vaelab.lesson_seed()"
                else:
                    name = f"{run.lesson}-{run.mode}-{Path(data).name}-seed{seed}.log"
                    log = args.out.parent / "full-runs-logs" / name
                    execute(path, run, args.timeout, log)
                runs.append(run)
                print(" | ".join(_row(run)), flush=True)
    print()
    print(table(runs))
    write_report(runs, args.out, command, (load_start, _load()))
    print(f"\n(also in {args.out.with_suffix('.md')} and .json)")
    failed = [r for r in runs if not r.ok]
    if failed:
        print(f"\n{len(failed)} of {len(runs)} runs failed or were not made", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
