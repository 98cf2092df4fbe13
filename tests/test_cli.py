"""The `vaelab` command end to end: train writes its files, sample/evaluate read them, errors
are one clear line with a non-zero exit."""

import json
import subprocess
import sys

import pytest
import torch

from vaelab import cli


def run(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "vaelab.cli", *args], capture_output=True, text=True, cwd=cwd
    )


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    code = cli.main(
        [
            "train",
            "--epochs",
            "2",
            "--limit",
            "600",
            "--latent-dim",
            "4",
            "--out",
            str(out),
            "--no-progress",
            "--device",
            "cpu",
        ]
    )
    assert code == 0
    return out


def test_train_writes_checkpoint_pngs_and_history(trained_run, capsys):
    for name in ("model.pt", "history.json", "samples.png", "reconstructions.png"):
        assert (trained_run / name).stat().st_size > 0, name
    history = json.loads((trained_run / "history.json").read_text())
    assert len(history["train_loss"]) == 2
    assert history["test_loss"][1] < history["test_loss"][0]
    assert (trained_run / "samples.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_sample_and_evaluate_read_the_checkpoint(trained_run, capsys):
    png = trained_run / "more.png"
    assert cli.main(["sample", str(trained_run / "model.pt"), "-n", "16", "--out", str(png)]) == 0
    assert png.read_bytes()[:4] == b"\x89PNG"
    report = trained_run / "eval.json"
    args = ["evaluate", str(trained_run / "model.pt"), "--limit", "100", "--num-samples", "20"]
    assert cli.main([*args, "--json", str(report)]) == 0
    printed = capsys.readouterr().out
    for label in ("test loss", "IWAE", "PSNR", "SSIM", "active units"):
        assert label in printed
    numbers = json.loads(report.read_text())
    # The importance-weighted bound is at least the ELBO (up to Monte-Carlo noise).
    assert numbers["iwae"] > -numbers["loss"] - 1.0
    assert 0 <= numbers["active_units"] <= 4 and 0 < numbers["ssim"] <= 1


def test_info_names_versions_device_and_data():
    result = run("info")
    assert result.returncode == 0, result.stderr
    for label in ("torch", "default device", "data"):
        assert label in result.stdout
    assert torch.__version__ in result.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "--epochs", "0"], "positive integer"),
        (["train", "--model", "gan"], "invalid choice"),
        (["train", "--device", "cuda:7"] if not torch.cuda.is_available() else ["nope"], ""),
        (["sample", "missing.pt"], "no checkpoint at missing.pt"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_arguments_give_one_line_and_non_zero_exit(
    args, message, tmp_path, capsys, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    assert cli.main(args) != 0
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    assert message in err


def test_unreadable_checkpoint_is_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"this is not a checkpoint")
    assert cli.main(["evaluate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("vaelab: error: cannot read checkpoint") and len(err.splitlines()) == 1
