"""`vaelab train --data FOLDER` end to end on PNGs written here; `sample` and `evaluate` on the
result; one clear line for each kind of bad folder."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from vaelab import cli, data, shapes, train


def write_shapes(folder, n: int, *, size: int, seed: int = 0) -> torch.Tensor:
    """n coloured shapes (vaelab.shapes, each tinted a random colour) as PNGs; returns them."""
    x = shapes.make_shapes(n, seed=seed, size=size).x  # (n, 1, size, size) in [0, 1]
    tint = 0.2 + 0.8 * torch.rand(n, 3, 1, 1, generator=torch.Generator().manual_seed(seed))
    images = (x * tint * 255).round().to(torch.uint8)  # (n, 3, size, size)
    for i, image in enumerate(images):
        path = folder / f"part{i % 2}" / f"{i:03d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image.permute(1, 2, 0).numpy()).save(path)
    return images


@pytest.fixture(scope="module")
def folder_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("folder")
    images = write_shapes(root / "shapes", 60, size=32)
    out = root / "run"
    args = ["train", "--data", str(root / "shapes"), "--image-size", "16", "--channels", "3"]
    args += ["--latent-dim", "4", "--epochs", "3", "--batch-size", "8", "--lr", "3e-3"]
    args += ["--out", str(out)]
    assert cli.main([*args, "--no-progress", "--device", "cpu"]) == 0
    return root, out, images


def test_train_on_a_folder_writes_a_checkpoint_history_and_pictures(folder_run, capsys):
    root, out, _ = folder_run
    assert sorted(p.name for p in out.iterdir()) == [
        "history.json",
        "model.pt",
        "reconstructions.png",
        "samples.png",
    ]
    checkpoint = train.load_checkpoint(out / "model.pt")
    assert checkpoint.model.config.image_shape == (3, 16, 16)
    assert type(checkpoint.model).__name__ == "ConvVAE"  # the default for folders
    spec = checkpoint.extra["data"]
    assert spec["data"] == str((root / "shapes").resolve()) and spec["image_size"] == 16
    history = json.loads((out / "history.json").read_text())
    assert len(history["train_loss"]) == 3 and all(np.isfinite(history["test_loss"]))
    assert history["test_loss"][-1] < history["test_loss"][0]  # it learns
    samples = np.asarray(Image.open(out / "samples.png"))
    assert samples.ndim == 3 and samples.shape[2] in (3, 4)  # a colour picture
    # The cache written next to the data is what a second load reads.
    assert (root / "shapes" / ".vaelab-cache").is_dir()


def test_the_held_out_images_are_the_same_for_train_and_evaluate(folder_run):
    root, _, _ = folder_run
    spec = {"data": str(root / "shapes"), "image_size": 16, "channels": 3, "limit": None}
    x_train, x_test, _ = cli._load_data(spec, progress=False)
    _, again, _ = cli._load_data(spec, train=False)
    assert len(x_test) == 3 and len(x_train) == 57 and torch.equal(x_test, again)
    assert x_train.dtype == torch.uint8
    everything, _ = data.load_images(root / "shapes", image_size=16, progress=False)
    rows = {bytes(image.numpy()) for image in everything}
    assert {bytes(image.numpy()) for image in torch.cat([x_train, x_test])} == rows


def test_sample_and_evaluate_work_on_the_folder_model(folder_run, capsys):
    root, out, _ = folder_run
    png = root / "more.png"
    assert cli.main(["sample", str(out / "model.pt"), "-n", "9", "--out", str(png)]) == 0
    assert np.asarray(Image.open(png)).ndim == 3
    capsys.readouterr()
    report = root / "eval.json"
    args = ["evaluate", str(out / "model.pt"), "--num-samples", "5", "--json", str(report)]
    assert cli.main(args) == 0
    printed = capsys.readouterr().out
    assert "test set: 3 images of the folder" in printed
    numbers = json.loads(report.read_text())
    assert np.isfinite(numbers["loss"]) and 0 < numbers["ssim"] <= 1


def one_line_failure(args, capsys) -> str:
    assert cli.main(["train", *args, "--epochs", "1", "--device", "cpu", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return err


def test_bad_folders_on_the_command_line_are_one_line_each(tmp_path, capsys):
    err = one_line_failure(["--data", str(tmp_path / "nowhere")], capsys)
    assert "no folder there" in err and "mnist" in err

    sizes = tmp_path / "sizes"
    write_shapes(sizes, 3, size=16)
    write_shapes(sizes / "big", 2, size=24)
    err = one_line_failure(["--data", str(sizes)], capsys)
    assert "come in 2 sizes" in err and "--image-size" in err

    err = one_line_failure(["--data", str(sizes), "--image-size", "20"], capsys)
    assert "smaller than image_size=20" in err

    mixed = tmp_path / "mixed"
    write_shapes(mixed, 2, size=16)
    Image.fromarray(np.zeros((16, 16), dtype=np.uint8)).save(mixed / "grey.png")
    err = one_line_failure(["--data", str(mixed)], capsys)
    assert "mixes greyscale and colour" in err and "--channels 1" in err

    err = one_line_failure(["--data", "mnist", "--image-size", "64"], capsys)
    assert "28x28 greyscale" in err
