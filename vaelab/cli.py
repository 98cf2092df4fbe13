"""The ``vaelab`` command: train, sample, evaluate, info, grade, autograder.

Errors a user can fix (bad arguments, unreadable checkpoints) print one line and exit
with status 2, without a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

__all__ = ["main"]

MODELS = {"mlp": "MLPVAE", "conv": "ConvVAE", "conv-upsample": "UpsampleConvVAE"}


class UsageError(Exception):
    """A problem with the command line or the files it names; printed as one line."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line instead of usage + message
        raise UsageError(f"{message} (see `{self.prog} --help`)")


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


def cmd_train(args) -> int:
    import torch

    from vaelab import data, models, plot, schedules, train

    device = _device(args.device)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    x_train, _ = data.load_mnist("train", limit=args.limit)
    x_test, _ = data.load_mnist("test", limit=args.limit and max(1, args.limit // 4))
    torch.manual_seed(args.seed)
    model = getattr(models, MODELS[args.model])(latent_dim=args.latent_dim).to(device)
    steps_per_epoch = -(-len(x_train) // args.batch_size)
    total_steps = steps_per_epoch * args.epochs
    if args.anneal == "linear":
        beta = schedules.linear_warmup(max(1, total_steps // 2), beta=args.beta)
    elif args.anneal == "cyclical":
        beta = schedules.cyclical(max(1, total_steps // 4), ratio=0.5, beta=args.beta)
    else:
        beta = args.beta
    print(
        f"training {MODELS[args.model]} (latent_dim={args.latent_dim}) on {len(x_train)} images "
        f"of {data.source()}, device {device}"
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
    model.eval()
    train.save_checkpoint(out / "model.pt", model, history=history)
    (out / "history.json").write_text(history.to_json())
    generator = torch.Generator(device=device).manual_seed(args.seed)
    _save_figure(plot.image_grid(model.sample(64, generator=generator).cpu()), out / "samples.png")
    x_show = x_test[:8].to(device)
    _save_figure(
        plot.reconstructions(x_show.cpu(), model.reconstruct(x_show).cpu()),
        out / "reconstructions.png",
    )
    for name in ("model.pt", "history.json", "samples.png", "reconstructions.png"):
        print(f"wrote {out / name}")
    return 0


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

    from vaelab import data, latent, losses, metrics, train

    device = next(model.parameters()).device
    x = x.to(device)
    generator = torch.Generator(device=device).manual_seed(seed)
    terms = train.evaluate(model, x, generator=generator)  # the same numbers fit logs
    results = {key: terms[key] for key in ("loss", "recon", "kl")}
    totals = {"iwae": 0.0, "psnr": 0.0, "ssim": 0.0}
    with torch.no_grad():
        for xb in data.batches(x, batch_size=batch_size):
            x_hat = model.reconstruct(xb)
            iwae = losses.iwae_bound(model, xb, num_samples=num_samples, generator=generator)
            totals["iwae"] += iwae.sum().item()
            totals["psnr"] += metrics.psnr(xb, x_hat, reduction="sum").item()
            totals["ssim"] += metrics.ssim(xb, x_hat, reduction="sum").item()
    results.update({key: value / len(x) for key, value in totals.items()})
    mu, _ = latent.encode_dataset(model, x)
    results["active_units"] = metrics.active_units(mu)
    results["latent_dim"] = model.latent_dim
    return results


def cmd_evaluate(args) -> int:
    from vaelab import data

    device = _device(args.device)
    model, _ = _load(args.checkpoint, device)
    if not hasattr(model, "to_mu"):
        raise UsageError(f"{args.checkpoint} holds a plain autoencoder; evaluate needs a VAE")
    x, _ = data.load_mnist("test", limit=args.limit)
    results = evaluate_model(model, x, num_samples=args.num_samples, seed=args.seed)
    print(f"test set: {len(x)} images of {data.source()}")
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
    from vaelab.grading import gradescope

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

    p = sub.add_parser("train", help="train a VAE on MNIST and write its files")
    p.add_argument("--model", choices=sorted(MODELS), default="mlp")
    p.add_argument("--latent-dim", type=_positive_int, default=20)
    p.add_argument("--epochs", type=_positive_int, default=10)
    p.add_argument("--batch-size", type=_positive_int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--beta", type=_non_negative_float, default=1.0, help="KL weight")
    p.add_argument("--anneal", choices=["linear", "cyclical"], help="KL weight schedule")
    p.add_argument("--free-bits", type=_non_negative_float, default=0.0, help="nats per dim")
    p.add_argument("--limit", type=_positive_int, help="train on this many images")
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
    try:
        args = build_parser().parse_args(argv)
        return args.func(args)
    except UsageError as err:
        print(f"vaelab: error: {err}", file=sys.stderr)
        return 2
    except FloatingPointError as err:  # training diverged: the message names step and causes
        print(f"vaelab: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("vaelab: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
