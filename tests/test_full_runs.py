"""benchmarks/full_runs.py (make test-full): what fails a run, the table, one real execution."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import full_runs  # noqa: E402


def notebook(tmp_path: Path, *cells: tuple[str, str], name: str = "04_elbo.ipynb") -> Path:
    made = [
        {"cell_type": kind, "id": f"c{i}", "metadata": {}, "source": text}
        | ({"outputs": [], "execution_count": None} if kind == "code" else {})
        for i, (kind, text) in enumerate(cells)
    ]
    kernel = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nb = {"cells": made, "metadata": {"kernelspec": kernel}, "nbformat": 4, "nbformat_minor": 5}
    path = tmp_path / name
    path.write_text(json.dumps(nb), encoding="utf-8")
    return path


PROSE = ("markdown", "The KL rises.<!-- claim: 04.kl_rises --> PSNR gains.<!-- claim: 04.gain -->")


def claim(claim_id, held, margin=None, measured="m"):
    return {"id": claim_id, "held": held, "measured": measured, "margin": margin}


def test_a_run_whose_claims_hold_is_ok_and_reports_the_smallest_margin(tmp_path):
    path = notebook(tmp_path, PROSE)
    run = full_runs.Run("04", "sample", 0, "full")
    run.claims = [
        claim("04.kl_rises", True),
        claim("04.gain", True, 0.25),
        claim("04.x", True, 0.1),
    ]
    full_runs._judge(path, run)
    assert run.ok and (run.held, run.checked) == (3, 3)
    assert (run.smallest_margin, run.smallest_margin_claim) == (0.1, "04.x")


@pytest.mark.parametrize(
    ("claims", "mode", "failure"),
    [
        ([claim("04.kl_rises", False, measured="KL 9 -> 3")], "full", "04.kl_rises does not hold"),
        ([claim("04.kl_rises", None)], "full", "04.kl_rises was not checked by a full run"),
        ([claim("04.kl_rises", True)], "full", "sentence marked 04.gain was not asserted"),
    ],
)
def test_what_fails_a_run(tmp_path, claims, mode, failure):
    path = notebook(tmp_path, PROSE)
    run = full_runs.Run("04", "sample", 0, mode)
    run.claims = claims + ([claim("04.gain", True)] if "04.gain" not in failure else [])
    full_runs._judge(path, run)
    assert not run.ok
    assert any(failure in f for f in run.failures), run.failures


def test_a_full_only_claim_may_go_unchecked_in_a_quick_run(tmp_path):
    path = notebook(tmp_path, PROSE)
    run = full_runs.Run("04", "sample", 0, "FAST")
    run.claims = [claim("04.kl_rises", True), claim("04.gain", None)]
    full_runs._judge(path, run)
    assert run.ok and (run.held, run.checked) == (1, 2)


def test_the_table_has_one_row_per_run_and_says_why_a_run_was_not_made():
    done = full_runs.Run("04", "sample", 0, "full", wall_s=95.2, cpu_s=180.4, checked=2, held=2)
    done.smallest_margin, done.smallest_margin_claim = 0.123, "04.gain"
    slow = full_runs.Run("07", "/work/mnist60k", 0, "full", wall_s=200.0)
    skipped = full_runs.Run("07", "sample", 1, "full", skipped="the lesson ignores the seed")
    lines = full_runs.table([done, slow, skipped]).splitlines()
    assert lines[0].startswith("| lesson | data") and len(lines) == 5
    assert "| 95 " in lines[2] and "| 180 " in lines[2] and "2 / 2" in lines[2]
    assert "12% (04.gain)" in lines[2] and "| ok" in lines[2]
    assert "mnist60k" in lines[3] and "over the 180 s budget" in lines[3]
    assert "not run: the lesson ignores the seed" in lines[4]


def test_seeds_are_run_only_for_lessons_that_read_them(tmp_path):
    assert full_runs.uses_seed(
        notebook(tmp_path, ("code", "torch.manual_seed(vaelab.lesson_seed())"))
    )
    assert not full_runs.uses_seed(notebook(tmp_path, ("code", "torch.manual_seed(0)")))


def test_unknown_lessons_and_missing_data_are_refused_with_the_fix():
    with pytest.raises(SystemExit, match="no lesson 99"):
        full_runs.lesson_paths(["99"])
    with pytest.raises(SystemExit, match="make_mnist_standin.py"):
        full_runs.main(["--data", "/nonexistent", "--lessons", "00"])


def test_make_passes_lessons_seeds_data_and_fast_on():
    result = subprocess.run(
        ["make", "-n", "--no-print-directory", "test-full", "VENV=/nonexistent"]
        + ["LESSONS=04 07", "SEEDS=0 1 2", "DATA=sample /work/mnist60k", "FAST=1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    recipe = result.stdout.replace("\\\n", " ")  # one command, continued over lines
    line = next(x for x in recipe.splitlines() if "full_runs.py" in x)
    assert "--lessons 04 07" in line and "--seeds 0 1 2" in line
    assert "--data sample /work/mnist60k" in line and "--fast" in line


@pytest.mark.slow
def test_a_real_run_reads_the_failing_claim_back_from_the_kernel(tmp_path):
    path = notebook(
        tmp_path,
        PROSE,
        (
            "code",
            "import os\nfrom vaelab import claims\nseed = os.environ['VAELAB_SEED']",
        ),
        ("code", 'claims.above("04.gain", 1.5, 1.0, unit="dB")'),
        ("code", 'claims.hold("04.kl_rises", seed == "0", measured=f"seed {seed}")'),
        ("code", "claims.report(4)"),
    )
    run = full_runs.Run("04", "sample", 3, "full")
    full_runs.execute(path, run, timeout=120)
    assert not run.ok
    assert run.failures[0].startswith("cell 3: ClaimFailed: claim 04.kl_rises does not hold")
    assert [(c["id"], c["held"]) for c in run.claims] == [("04.gain", True), ("04.kl_rises", False)]
    assert run.claims[1]["measured"] == "seed 3"  # the kernel got VAELAB_SEED
    assert run.wall_s > 0 and run.cpu_s > 0
