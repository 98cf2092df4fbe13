"""The ``vaelab`` command: train, sample, evaluate, info, grade, autograder.

Errors a user can fix (bad arguments, unreadable checkpoints) print one line and exit
with status 2, without a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from vaelab._usage import Parser as _Parser
from vaelab._usage import UsageError

__all__ = ["main"]

MODELS = {"mlp": "MLPVAE", "conv": "ConvVAE", "conv-upsample": "UpsampleConvVAE"}
TEST_FRACTION = 0.05  # of a folder's images, held out for the test numbers
SPLIT_SEED = 0  # the held-out images depend on the folder only, so evaluate finds them again


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def _non_negative_float(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text}")
    return value


def _device(name: str | None):
    import torch

    import vaelab

    if name is None:
        return vaelab.default_device()
    try:
        device = torch.device(name)
    except RuntimeError as err:
        raise UsageError(f"unknown device {name!r}: use cpu, cuda, cuda:1 or mps") from err
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UsageError(f"--device {name}: CUDA is not available on this machine; use cpu")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise UsageError(f"--device {name}: MPS is not available on this machine; use cpu")
    return device


def _load(path: str, device):
    from vaelab import train

    if not Path(path).is_file():
        raise UsageError(f"no checkpoint at {path}")
    try:
        checkpoint = train.load_checkpoint(path, map_location=device)
    except (ValueError, RuntimeError, OSError, KeyError) as err:
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UsageError(f"cannot read checkpoint {path}: {first_line}") from err
    return checkpoint.model.to(device).eval(), checkpoint


def _save_figure(fig, path: Path) -> None:
    fig.savefig(path, dpi=120, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)


def _data_spec(args) -> dict:
    """What ``--data`` names, with the options that shape the images (stored in checkpoints)."""
    from vaelab import data

    if args.data in data.DATASETS:
        if args.image_size not in (None, 28) or args.channels not in (None, 1):
            raise UsageError(
                f"{args.data} images are 28x28 greyscale: leave out --image-size and --channels "
                "(they are for folders of your own images)"
            )
        return {"data": args.data, "limit": args.limit}
    folder = Path(args.data).expanduser()
    if not folder.is_dir():
        what = "a file, not a folder" if folder.exists() else "no folder there"
        raise UsageError(
            f"--data {args.data}: {what}; --data takes a folder of PNG/JPEG images "
            f"or one of {', '.join(sorted(data.DATASETS))}"
        )
    return {
        "data": str(folder.resolve()),
        "image_size": args.image_size,
        "channels": args.channels or 3,
        "limit": args.limit,
    }


def _folder_split(n: int) -> tuple:
    """Indices of the training and held-out images of a folder of n images."""
    import torch

    if n < 2:
        raise UsageError(f"found {n} image; training needs at least 2 (one is held out)")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(SPLIT_SEED))
    num_test = max(1, round(TEST_FRACTION * n))
    return order[num_test:].sort().values, order[:num_test].sort().values


def _load_data(spec: dict, *, train: bool = True, test_limit=None, progress: bool = True):
    """(x_train or None, x_test, description): uint8 images (N, C, H, W) of the data in spec.

    Datasets have their own test split; of a folder, a fixed 5% of the images is held out.
    """
    from vaelab import data

    try:
        if spec["data"] in data.DATASETS:
            x_train = (
                data.load_dataset(spec["data"], "train", limit=spec["limit"]).x if train else None
            )
            x_test = data.load_dataset(spec["data"], "test", limit=test_limit).x
            return x_train, x_test, data.source()
        images = data.load_images(
            spec["data"],
            image_size=spec["image_size"],
            channels=spec["channels"],
            limit=spec["limit"],
            progress=progress,
        )
    except (FileNotFoundError, NotADirectoryError, ValueError) as err:
        raise UsageError(str(err)) from err
    train_idx, test_idx = _folder_split(len(images.x))
    x_train = images.x[train_idx] if train else None
    return x_train, images.x[test_idx[:test_limit]], f"the folder {spec['data']}"


def _build_model(name: str, image_shape: tuple[int, int, int], latent_dim: int):
    from vaelab import models

    if name == "mlp":
        return models.MLPVAE(image_shape=image_shape, latent_dim=latent_dim)
    decoder = "upsample" if name == "conv-upsample" else "transposed"
    config = models.conv_config_for(image_shape, latent_dim=latent_dim, decoder=decoder)
    return getattr(models, MODELS[name])(config)


def cmd_train(args) -> int:
    import torch

    from vaelab import data, distributed, schedules, train

    device = distributed.setup(_device(args.device))  # under torchrun: this process's device
    try:
        spec = _data_spec(args)
        main_process = distributed.is_main()
        named = spec["data"] in data.DATASETS
        with distributed.local_main_first():  # one process per machine fills the data cache
            x_train, x_test, description = _load_data(
                spec,
                test_limit=args.limit and max(1, args.limit // 4) if named else None,
                progress=main_process and not args.no_progress,
            )
        model_name = args.model or ("mlp" if named else "conv")
        image_shape = tuple(x_train.shape[1:])
        torch.manual_seed(args.seed)
        model = _build_model(model_name, image_shape, args.latent_dim).to(device)
        steps_per_epoch = -(-len(x_train) // args.batch_size)
        total_steps = steps_per_epoch * args.epochs
        if args.anneal == "linear":
            beta = schedules.linear_warmup(max(1, total_steps // 2), beta=args.beta)
        elif args.anneal == "cyclical":
            beta = schedules.cyclical(max(1, total_steps // 4), ratio=0.5, beta=args.beta)
        else:
            beta = args.beta
        if main_process:
            processes = distributed.world_size()
            where = f"device {device}" if processes == 1 else f"{processes} processes"
            shape = "x".join(map(str, image_shape))
            print(
                f"training {MODELS[model_name]} (latent_dim={args.latent_dim}) on "
                f"{len(x_train)} images ({shape}) of {description}, {where}"
            )
        history = train.fit(
            model,
            x_train,
            test_x=x_test,
            num_epochs=args.epochs,
            batch_size=args.batch_size,
            lr=args.lr,
            beta=beta,
            free_bits=args.free_bits,
            seed=args.seed,
            device=device,
            progress=not args.no_progress,
        )
        if not main_process:
            return 0
        _write_run(Path(args.out), model, history, x_test, spec=spec, seed=args.seed)
    finally:
        distributed.teardown()
    return 0


def _write_run(out: Path, model, history, x_test, *, spec: dict, seed: int) -> None:
    """The checkpoint (with the data it was trained on), history, samples, reconstructions."""
    import torch

    from vaelab import data, plot, train

    out.mkdir(parents=True, exist_ok=True)
    model.eval()
    device = next(model.parameters()).device
    train.save_checkpoint(out / "model.pt", model, history=history, extra={"data": spec})
    (out / "history.json").write_text(history.to_json())
    generator = torch.Generator(device=device).manual_seed(seed)
    _save_figure(plot.image_grid(model.sample(64, generator=generator).cpu()), out / "samples.png")
    x_show = data.to_float(x_test[:8].to(device))
    _save_figure(
        plot.reconstructions(x_show.cpu(), model.reconstruct(x_show).cpu()),
        out / "reconstructions.png",
    )
    for name in ("model.pt", "history.json", "samples.png", "reconstructions.png"):
        print(f"wrote {out / name}")


def cmd_sample(args) -> int:
    import torch

    from vaelab import plot

    device = _device(args.device)
    model, _ = _load(args.checkpoint, device)
    if not hasattr(model, "sample"):
        raise UsageError(f"{args.checkpoint} holds a plain autoencoder, which cannot sample")
    generator = torch.Generator(device=device).manual_seed(args.seed)
    images = model.sample(args.n, generator=generator).cpu()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    _save_figure(plot.image_grid(images, nrow=min(8, args.n)), out)
    print(f"wrote {args.n} samples to {out}")
    return 0


def evaluate_model(model, x, *, num_samples: int = 100, batch_size: int = 250, seed: int = 0):
    """Test-set numbers for a VAE: ELBO terms, IWAE log-likelihood, PSNR, SSIM, active units."""
    import torch

    from vaelab import data, losses, metrics, train

    device = next(model.parameters()).device
    x = x.to(device)  # uint8 images stay uint8 (N, C, H, W); each batch is scaled to [0, 1]
    generator = torch.Generator(device=device).manual_seed(seed)
    terms = train.evaluate(model, x, generator=generator)  # the same numbers fit logs
    results = {key: terms[key] for key in ("loss", "recon", "kl")}
    totals = {"iwae": 0.0, "psnr": 0.0, "ssim": 0.0}
    mus = []
    with torch.no_grad():
        for xb in data.batches(x, batch_size=batch_size):
            xb = data.to_float(xb)
            mus.append(model.encode(xb)[0])  # (B, D) posterior means
            x_hat = model.reconstruct(xb)
            iwae = losses.iwae_bound(model, xb, num_samples=num_samples, generator=generator)
            totals["iwae"] += iwae.sum().item()
            totals["psnr"] += metrics.psnr(xb, x_hat, reduction="sum").item()
            totals["ssim"] += metrics.ssim(xb, x_hat, reduction="sum").item()
    results.update({key: value / len(x) for key, value in totals.items()})
    results["active_units"] = metrics.active_units(torch.cat(mus))
    results["latent_dim"] = model.latent_dim
    return results


def cmd_evaluate(args) -> int:
    device = _device(args.device)
    model, checkpoint = _load(args.checkpoint, device)
    if not hasattr(model, "to_mu"):
        raise UsageError(f"{args.checkpoint} holds a plain autoencoder; evaluate needs a VAE")
    # The data it was trained on (checkpoints from before --data: MNIST); for a folder, the
    # same files, so the same images are held out.
    spec = (checkpoint.extra or {}).get("data") or {"data": "mnist", "limit": None}
    _, x, description = _load_data(spec, train=False, test_limit=args.limit)
    if tuple(x.shape[1:]) != tuple(model.config.image_shape):
        raise UsageError(
            f"the test images are {tuple(x.shape[1:])} but the model takes "
            f"{tuple(model.config.image_shape)}"
        )
    results = evaluate_model(model, x, num_samples=args.num_samples, seed=args.seed)
    print(f"test set: {len(x)} images of {description}")
    rows = [
        ("test loss (-ELBO)", f"{results['loss']:.2f} nats"),
        ("reconstruction", f"{results['recon']:.2f} nats"),
        ("KL", f"{results['kl']:.2f} nats"),
        (f"IWAE log-likelihood (k={args.num_samples})", f"{results['iwae']:.2f} nats"),
        ("PSNR", f"{results['psnr']:.2f} dB"),
        ("SSIM", f"{results['ssim']:.4f}"),
        ("active units", f"{results['active_units']} of {results['latent_dim']}"),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
        print(f"wrote {args.json}")
    return 0


def cmd_info(args) -> int:
    import platform

    import torch

    import vaelab
    from vaelab import data

    data.load_mnist("test", limit=10)
    try:
        from importlib.metadata import version

        tv = version("torchvision")
    except Exception:  # not installed
        tv = "not installed"
    cuda = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "not available"
    rows = [
        ("vaelab", vaelab.__version__),
        ("python", platform.python_version()),
        ("torch", torch.__version__),
        ("torchvision", tv),
        ("default device", str(vaelab.default_device())),
        ("CUDA", cuda),
        ("CPU threads", str(torch.get_num_threads())),
        ("data", data.source()),
        ("data folder", str(data.default_root())),
        ("FAST mode", str(vaelab.fast_mode())),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    return 0


def cmd_autograder(args) -> int:
    from vaelab.grading.output import gradescope

    try:
        out = gradescope.build_autograder(
            args.out,
            exercises=args.exercises,
            visibility=args.visibility,
            timeout=args.timeout,
            memory_gb=args.memory,
            jobs=args.jobs,
        )
    except ValueError as err:
        raise UsageError(str(err)) from err
    import zipfile

    with zipfile.ZipFile(out) as archive:
        names = archive.namelist()
        fallback = json.loads(archive.read("fallback_results.json"))
    top = [name for name in names if "/" not in name]
    exercises = sorted({test["name"].split()[0] for test in fallback["tests"]})
    print(
        f"wrote {out} ({out.stat().st_size / 2**20:.1f} MiB): {', '.join(top)} and "
        f"vaelab/ ({len(names) - len(top)} files)"
    )
    print(
        f"grades {', '.join(exercises)}: {len(fallback['tests'])} tests, "
        f"{fallback['extra_data']['max_score']:g} points, visibility {args.visibility}"
    )
    print("upload it on the assignment's Configure Autograder page; the README in it says how")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="vaelab", description="Train, sample, evaluate and grade VAEs.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("train", help="train a VAE on MNIST or your images and write its files")
    p.add_argument(
        "--data",
        default="mnist",
        help="mnist, fashion-mnist, or a folder of PNG/JPEG images (subfolders included)",
    )
    p.add_argument(
        "--image-size",
        type=_positive_int,
        help="folders: centre-crop and resize every image to this square size "
        "(default: the images' own size, which must then be the same for all)",
    )
    p.add_argument(
        "--channels", type=int, choices=[1, 3], help="folders: 3 colour (default), 1 greyscale"
    )
    p.add_argument(
        "--model", choices=sorted(MODELS), help="default: mlp for MNIST, conv for folders"
    )
    p.add_argument("--latent-dim", type=_positive_int, default=20)
    p.add_argument("--epochs", type=_positive_int, default=10)
    p.add_argument("--batch-size", type=_positive_int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--beta", type=_non_negative_float, default=1.0, help="KL weight")
    p.add_argument("--anneal", choices=["linear", "cyclical"], help="KL weight schedule")
    p.add_argument("--free-bits", type=_non_negative_float, default=0.0, help="nats per dim")
    p.add_argument("--limit", type=_positive_int, help="use only this many images")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs/latest", help="folder for the files")
    p.add_argument("--device", help="cpu, cuda or mps (default: the best available)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("sample", help="decode samples from the prior into a PNG")
    p.add_argument("checkpoint")
    p.add_argument("-n", type=_positive_int, default=64, help="number of samples")
    p.add_argument("--out", default="samples.png")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device")
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("evaluate", help="test loss, KL, IWAE, PSNR, SSIM, active units")
    p.add_argument("checkpoint")
    p.add_argument("--num-samples", type=_positive_int, default=100, help="IWAE k")
    p.add_argument("--limit", type=_positive_int, help="evaluate on this many test images")
    p.add_argument("--json", help="also write the numbers to this JSON file")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("info", help="versions, device, and which data is in use")
    p.set_defaults(func=cmd_info)

    sub.add_parser("grade", help="grade exercises (see `vaelab grade --help`)", add_help=False)

    p = sub.add_parser("autograder", help="build the Gradescope autograder zip")
    p.add_argument("--out", default="autograder.zip", help="the zip to write")
    p.add_argument(
        "--exercises",
        default="all",
        metavar="LIST",
        help="the exercises to grade, e.g. ex03,ex04 (default all)",
    )
    p.add_argument(
        "--visibility",
        choices=["visible", "hidden", "after_due_date", "after_published"],
        default="visible",
        help="when learners see the tests (default visible)",
    )
    p.add_argument("--timeout", type=float, default=60.0, metavar="S", help="seconds per exercise")
    p.add_argument(
        "--memory",
        type=_non_negative_float,
        default=4.0,
        metavar="GB",
        help="GiB per exercise, 0: no limit",
    )
    p.add_argument(
        "--jobs", type=_positive_int, default=1, metavar="N", help="exercises graded at once"
    )
    p.set_defaults(func=cmd_autograder)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "grade":
        from vaelab import grade

        return grade.main(argv[1:])
    # Under torchrun every process meets the same error; rank 0 alone says it.
    say = print if os.environ.get("RANK", "0") == "0" else (lambda *args, **kwargs: None)
    try:
        args = build_parser().parse_args(argv)
        return args.func(args)
    except UsageError as err:
        say(f"vaelab: error: {err}", file=sys.stderr)
        return 2
    except FloatingPointError as err:  # training diverged: the message names step and causes
        say(f"vaelab: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("vaelab: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
