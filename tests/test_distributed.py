"""fit under torchrun on the CPU (gloo): two processes give one process's weights at the
same global batch, resume as one process does, and the command trains a VAE in two
processes with one printer and one checkpoint."""

import json
import os
import subprocess
import sys
from pathlib import Path

import distributed_worker  # tests/ is on sys.path under pytest
import numpy as np
import pytest
import torch
from PIL import Image

from vaelab import distributed, shapes, train

HERE = Path(__file__).parent
REPO = HERE.parent
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]


def run(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    result = subprocess.run(args, capture_output=True, text=True, env=env, timeout=300, **kwargs)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.mark.slow
def test_two_processes_give_the_weights_of_one_at_the_same_global_batch(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir(), two.mkdir()
    distributed_worker.main(one)  # in this process: one process
    run([*TORCHRUN, str(HERE / "distributed_worker.py"), str(two)])
    single = torch.load(one / "straight.pt")
    initial = distributed_worker.autoencoder().state_dict()
    assert all((single[k] - initial[k]).abs().max() > 1e-3 for k in single)  # it trained
    for name in ("straight.pt", "resumed.pt"):
        weights = torch.load(two / name)
        for key, value in single.items():
            # The same steps; only the order of float additions differs.
            torch.testing.assert_close(weights[key], value, rtol=1e-4, atol=1e-5, msg=key)
    # Resuming in two processes continues exactly like the uninterrupted two-process run.
    straight, resumed = torch.load(two / "straight.pt"), torch.load(two / "resumed.pt")
    assert all(torch.equal(straight[k], resumed[k]) for k in straight)
    histories = json.loads((two / "histories.json").read_text())
    single_history = json.loads((one / "histories.json").read_text())
    np.testing.assert_allclose(
        histories["straight"]["train_loss"], single_history["straight"]["train_loss"], rtol=1e-5
    )
    assert histories["resumed"]["train_loss"] == histories["straight"]["train_loss"]
    # A NaN loss in one process stops every process at the same step.
    messages = [(two / f"diverged-{rank}.txt").read_text() for rank in (0, 1)]
    assert messages[0] == messages[1] and "step 3" in messages[0]


@pytest.mark.slow
def test_the_command_trains_a_vae_in_two_processes(tmp_path):
    folder = tmp_path / "shapes"
    folder.mkdir()
    x = shapes.make_shapes(40, size=16).x  # (40, 1, 16, 16) in [0, 1]
    for i, image in enumerate((x * 255).round().to(torch.uint8)):
        Image.fromarray(image[0].numpy()).save(folder / f"{i:02d}.png")
    out = tmp_path / "run"
    args = ["-m", "vaelab.cli", "train", "--data", str(folder), "--channels", "1"]
    args += ["--model", "mlp", "--latent-dim", "2", "--epochs", "2", "--batch-size", "8"]
    result = run([*TORCHRUN, *args, "--out", str(out), "--device", "cpu", "--no-progress"])
    assert result.stdout.count("training MLPVAE") == 1  # rank 0 alone prints
    assert "2 processes" in result.stdout
    assert sorted(p.name for p in out.iterdir()) == [
        "history.json",
        "model.pt",
        "reconstructions.png",
        "samples.png",
    ]
    history = json.loads((out / "history.json").read_text())
    assert len(history["train_loss"]) == 2
    assert all(np.isfinite(history[key]).all() for key in ("train_loss", "test_loss", "train_kl"))
    assert train.load_checkpoint(out / "model.pt").model.config.image_shape == (1, 16, 16)


def test_one_process_is_rank_0_of_1_and_a_shard_is_the_whole_batch(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert not distributed.launched() and distributed.is_main()
    assert distributed.world_size() == 1 and distributed.rank() == 0
    xb = torch.arange(5)
    part = distributed.shard(xb)
    assert part.x is xb and part.size == 5 and part.weight == 1.0
    assert distributed.process_device("cuda").index is None  # not under torchrun: as asked


def test_shards_split_every_batch_and_weights_make_the_mean_exact(monkeypatch):
    xb = torch.arange(7.0)
    monkeypatch.setattr(distributed, "world_size", lambda: 3)
    parts = []
    for r in range(3):
        monkeypatch.setattr(distributed, "rank", lambda r=r: r)
        parts.append(distributed.shard(xb))
    assert torch.equal(torch.cat([p.x for p in parts]), xb)
    # The mean over ranks of (weight x shard mean) is the global batch's mean.
    weighted = sum(p.weight * p.x.mean() for p in parts) / 3
    assert torch.isclose(weighted, xb.mean())
    monkeypatch.setattr(distributed, "rank", lambda: 2)
    lonely = distributed.shard(torch.arange(2.0))  # 2 rows, 3 processes: rank 2 gets none
    assert lonely.size == 0 and lonely.weight == 0.0 and len(lonely.x) == 1


def test_under_torchrun_cuda_means_the_local_gpu(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "8")
    monkeypatch.setenv("LOCAL_RANK", "5")
    assert distributed.process_device("cuda") == torch.device("cuda", 5)
    assert distributed.process_device("cuda:2") == torch.device("cuda", 2)  # explicit: kept
    assert distributed.process_device("cpu") == torch.device("cpu")
