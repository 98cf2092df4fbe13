"""Training throughput: ``vaelab.train.fit`` against the usual tutorial pipeline.

Both train the reference MLP VAE (784-400-20, batch 128, Adam 1e-3, BCE summed over
pixels + KL, 10 epochs) from the same initial weights on the same 8,000/2,000 split,
interleaved epoch by epoch in one run so that a busy machine slows both alike:

- ``fit``: the model's own forward and autograd, as in every run of ``fit``, with
  in-memory tensors, BCE from logits, fused Adam and inference-mode evaluation;
- tutorial: ``DataLoader`` over a torchvision-style dataset that turns every image into
  a PIL image and back with ``transforms.ToTensor()``, sigmoid + ``binary_cross_entropy``.

Between epochs it also times the step's own matrix multiplications alone (the 13 matmuls
of one forward and backward at batch 128), which gives the machine's ceiling for this
step in GFLOP/s and images/s. It prints images/s for each pipeline, their ratio, the
share of the ceiling each reaches, and each model's test loss after training. Targets:
``fit`` at least 3x the tutorial's images/s, test loss within 1 nat of the tutorial's.

Run: ``.venv/bin/python benchmarks/train_throughput.py`` (a few minutes on 2 cores);
``--device cuda`` runs both pipelines on a GPU (``make gpu-check`` does).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn

from vaelab import data, models, train

BATCH_SIZE = 128
NUM_EPOCHS = 10
LR = 1e-3
SEED = 0
NUM_TRAIN, NUM_TEST = 8000, 2000
PIXELS, HIDDEN_DIM, LATENT_DIM = 28 * 28, 400, 20

# (M, K, N) of every matmul in one training step of the 784-400-20-400-784 VAE at batch B:
# M x K times K x N, with the operand layouts autograd uses ("t" = a transposed view).
LINEARS = [  # (in_features, out_features, needs grad w.r.t. its input)
    (PIXELS, HIDDEN_DIM, False),  # encoder: x -> h (x is data: no input gradient)
    (HIDDEN_DIM, LATENT_DIM, True),  # to_mu
    (HIDDEN_DIM, LATENT_DIM, True),  # to_logvar
    (LATENT_DIM, HIDDEN_DIM, True),  # decoder: z -> h
    (HIDDEN_DIM, PIXELS, True),  # decoder: h -> x_logits
]


def step_flops(batch_size: int) -> int:
    """Multiply-add FLOPs of one forward + backward: 2 * M * K * N summed over the matmuls."""
    total = 0
    for fan_in, fan_out, input_grad in LINEARS:
        total += 2 * batch_size * fan_in * fan_out  # forward
        total += 2 * batch_size * fan_in * fan_out  # weight gradient
        if input_grad:
            total += 2 * batch_size * fan_in * fan_out  # input gradient
    return total


class StepMatmuls:
    """The step's own matmuls on random operands, in autograd's layouts."""

    def __init__(self, batch_size: int, device: torch.device):
        g = torch.Generator().manual_seed(0)
        self.calls, self.device = [], device
        for fan_in, fan_out, input_grad in LINEARS:
            a = torch.randn(batch_size, fan_in, generator=g).to(device)  # layer input (B, in)
            w = torch.randn(fan_out, fan_in, generator=g).to(device)  # weight (out, in)
            grad = torch.randn(batch_size, fan_out, generator=g).to(device)  # output gradient
            empty = lambda *shape: torch.empty(*shape, device=device)  # noqa: E731
            self.calls.append((a, w.t(), empty(batch_size, fan_out)))  # forward
            self.calls.append((grad.t(), a, empty(fan_out, fan_in)))  # weight gradient
            if input_grad:
                self.calls.append((grad, w, empty(batch_size, fan_in)))  # input gradient

    def run(self, repeats: int) -> float:
        """Seconds per step (matmuls only), averaged over ``repeats`` steps in one block.

        One block as long as an epoch, like the pipelines' own timings, so that on a busy
        machine the ceiling is not a best-case window compared against whole-epoch averages.
        """
        for a, b, out in self.calls:  # warm up
            torch.mm(a, b, out=out)
        synchronize(self.device)
        start = time.perf_counter()
        for _ in range(repeats):
            for a, b, out in self.calls:
                torch.mm(a, b, out=out)
        synchronize(self.device)
        return (time.perf_counter() - start) / repeats


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work (CUDA runs asynchronously), so timings are real."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# ---------------------------------------------------------------- tutorial pipeline


class TutorialMNIST(torch.utils.data.Dataset):
    """What ``torchvision.datasets.MNIST`` does per item: uint8 array -> PIL -> transform."""

    def __init__(self, images_u8: torch.Tensor, transform):
        self.images = images_u8.numpy()  # (N, 28, 28) uint8
        self.transform = transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int):
        from PIL import Image

        img = Image.fromarray(self.images[index], mode="L")
        return self.transform(img), 0


class TutorialVAE(nn.Module):
    """The pytorch/examples VAE (its layer names kept), sigmoid inside the decoder."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(PIXELS, HIDDEN_DIM)
        self.fc21 = nn.Linear(HIDDEN_DIM, LATENT_DIM)
        self.fc22 = nn.Linear(HIDDEN_DIM, LATENT_DIM)
        self.fc3 = nn.Linear(LATENT_DIM, HIDDEN_DIM)
        self.fc4 = nn.Linear(HIDDEN_DIM, PIXELS)

    def forward(self, x):
        h1 = F.relu(self.fc1(x.view(-1, PIXELS)))
        mu, logvar = self.fc21(h1), self.fc22(h1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return torch.sigmoid(self.fc4(F.relu(self.fc3(z)))), mu, logvar


TUTORIAL_TO_VAELAB = {
    "fc1": "encoder.1",
    "fc21": "to_mu",
    "fc22": "to_logvar",
    "fc3": "decoder.0",
    "fc4": "decoder.2",
}


def copy_weights(src: nn.Module, dst: nn.Module, mapping: dict[str, str]) -> None:
    """Copy Linear layers between the two naming schemes (same shapes)."""
    src_state = src.state_dict()
    new_state = {}
    for a, b in mapping.items():
        for kind in ("weight", "bias"):
            new_state[f"{b}.{kind}"] = src_state[f"{a}.{kind}"].clone()
    dst.load_state_dict(new_state)


def tutorial_loss(recon_x, x, mu, logvar):
    """BCE summed over pixels + KL, averaged over the batch (per-image nats)."""
    bce = F.binary_cross_entropy(recon_x, x.view(-1, PIXELS), reduction="sum")
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return (bce + kld) / len(x)


def tutorial_epoch(model, loader, optimizer, device: torch.device) -> tuple[int, float]:
    model.train()
    count, start = 0, time.perf_counter()
    for x, _ in loader:
        x = x.to(device)  # the tutorial's way: each batch copied to the device as it comes
        optimizer.zero_grad()
        recon_x, mu, logvar = model(x)
        loss = tutorial_loss(recon_x, x, mu, logvar)
        loss.backward()
        optimizer.step()
        count += len(x)
    synchronize(device)
    return count, time.perf_counter() - start


# ------------------------------------------------------------------------------- run


def cpu_times() -> list[int] | None:
    """Aggregate CPU jiffies from /proc/stat (Linux), to report time stolen by a VM's host."""
    try:
        with open("/proc/stat") as f:
            return [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None


def measure(
    *, device: torch.device, num_epochs: int = NUM_EPOCHS, amp: bool = False, compile: bool = False
) -> dict:
    """Train both pipelines on ``device``, interleaved; the figures as a dict."""
    from torchvision import transforms  # slow import: only in the benchmark

    train_set = data.load_mnist("train", limit=NUM_TRAIN)
    test_x = data.load_mnist("test", limit=NUM_TEST).x.to(device)
    images_u8 = (train_set.x.squeeze(1) * 255).round().to(torch.uint8)  # back to raw pixels
    print(
        f"data: {data.source()}, {len(train_set.x)} train / {len(test_x)} test images; "
        f"torch {torch.__version__}, device {device}, {torch.get_num_threads()} threads"
    )

    torch.manual_seed(SEED)
    fit_model = models.MLPVAE(hidden_dim=HIDDEN_DIM, latent_dim=LATENT_DIM)
    tutorial_model = TutorialVAE()
    copy_weights(fit_model, tutorial_model, {b: a for a, b in TUTORIAL_TO_VAELAB.items()})
    tutorial_model.to(device)
    tutorial_opt = torch.optim.Adam(tutorial_model.parameters(), lr=LR)
    loader = torch.utils.data.DataLoader(
        TutorialMNIST(images_u8, transforms.ToTensor()), batch_size=BATCH_SIZE, shuffle=True
    )
    matmuls = StepMatmuls(BATCH_SIZE, device)
    steps_per_epoch = -(-len(train_set.x) // BATCH_SIZE)

    tutorial_rates: list[float] = []
    ceiling_s: list[float] = [matmuls.run(steps_per_epoch)]
    tutorial_time = [0.0, 0]

    def interleave(epoch: int, history: train.History, model: nn.Module) -> None:
        count, seconds = tutorial_epoch(tutorial_model, loader, tutorial_opt, device)
        tutorial_rates.append(count / seconds)
        tutorial_time[0] += seconds
        tutorial_time[1] += count
        ceiling_s.append(matmuls.run(steps_per_epoch))
        print(
            f"epoch {epoch:>2}: fit {len(train_set.x) / history.seconds[-1]:>8,.0f} images/s, "
            f"tutorial {tutorial_rates[-1]:>7,.0f} images/s, "
            f"ceiling {BATCH_SIZE / ceiling_s[-1]:>8,.0f} images/s",
            flush=True,
        )

    times_before = cpu_times()
    torch.manual_seed(SEED)  # the tutorial's shuffling and eps draw from the global RNG
    history = train.fit(
        fit_model,
        train_set.x,
        num_epochs=num_epochs,
        batch_size=BATCH_SIZE,
        lr=LR,
        seed=SEED,
        device=device,
        amp=amp,
        compile=compile,
        progress=False,
        log=False,
        callbacks=[interleave],
    )
    times_after = cpu_times()

    # The same evaluation (inference mode, the same eps) for both trained models.
    tutorial_as_vaelab = models.MLPVAE(hidden_dim=HIDDEN_DIM, latent_dim=LATENT_DIM)
    copy_weights(tutorial_model, tutorial_as_vaelab, TUTORIAL_TO_VAELAB)
    test = {}
    for name, model in (("fit", fit_model), ("tutorial", tutorial_as_vaelab.to(device))):
        generator = torch.Generator(device=device).manual_seed(SEED)
        test[name] = train.evaluate(model, test_x, generator=generator)["loss"]

    ceiling_step_s = statistics.median(ceiling_s)
    steal = None
    if times_before and times_after and len(times_after) > 7:
        spent = [b - a for a, b in zip(times_before, times_after, strict=True)]
        steal = spent[7] / max(1, sum(spent))  # the 8th field: time the host ran others
    return {
        "epochs": num_epochs,
        "fit_rate": statistics.median(len(train_set.x) / s for s in history.seconds),
        "fit_rate_all": len(train_set.x) * len(history.seconds) / sum(history.seconds),
        "tutorial_rate": statistics.median(tutorial_rates),
        "tutorial_rate_all": tutorial_time[1] / tutorial_time[0],
        "ceiling_rate": BATCH_SIZE / ceiling_step_s,
        "ceiling_best": BATCH_SIZE / min(ceiling_s),
        "gflops": step_flops(BATCH_SIZE) / ceiling_step_s / 1e9,
        "test_fit": test["fit"],
        "test_tutorial": test["tutorial"],
        "steal": steal,
    }


def meets_targets(m: dict) -> bool:
    """At least 3x the tutorial's images/s, and a test loss within 1 nat of the tutorial's."""
    return m["fit_rate"] >= 3 * m["tutorial_rate"] and abs(m["test_fit"] - m["test_tutorial"]) <= 1


def report(m: dict) -> list[tuple[str, str]]:
    ratio = m["fit_rate"] / m["tutorial_rate"]
    gap = m["test_fit"] - m["test_tutorial"]
    rows = [
        ("fit images/s (median epoch)", f"{m['fit_rate']:,.0f}"),
        ("fit images/s (all epochs)", f"{m['fit_rate_all']:,.0f}"),
        ("tutorial images/s (median epoch)", f"{m['tutorial_rate']:,.0f}"),
        ("tutorial images/s (all epochs)", f"{m['tutorial_rate_all']:,.0f}"),
        ("ratio fit / tutorial", f"{ratio:.2f}x (target >= 3x)"),
        ("step FLOPs per image", f"{step_flops(BATCH_SIZE) / BATCH_SIZE / 1e6:.2f} MFLOP"),
        (
            "matmul ceiling (median)",
            f"{m['gflops']:.1f} GFLOP/s = {m['ceiling_rate']:,.0f} images/s",
        ),
        ("matmul ceiling (best block)", f"{m['ceiling_best']:,.0f} images/s"),
        ("fit share of ceiling", f"{m['fit_rate'] / m['ceiling_rate']:.0%}"),
        ("tutorial share of ceiling", f"{m['tutorial_rate'] / m['ceiling_rate']:.0%}"),
        (f"test loss after {m['epochs']} epochs: fit", f"{m['test_fit']:.2f} nats"),
        (f"test loss after {m['epochs']} epochs: tutorial", f"{m['test_tutorial']:.2f} nats"),
        ("test loss gap (fit - tutorial)", f"{gap:+.2f} nats (target within 1)"),
    ]
    if m["steal"] is not None:
        rows.append(("CPU time stolen by the host (VMs)", f"{m['steal']:.1%}"))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=NUM_EPOCHS)
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    parser.add_argument("--amp", action="store_true", help="fit with bf16 autocast (CUDA)")
    parser.add_argument("--compile", action="store_true", help="fit through torch.compile")
    args = parser.parse_args(argv)
    m = measure(
        device=torch.device(args.device), num_epochs=args.epochs, amp=args.amp, compile=args.compile
    )
    rows = report(m)
    width = max(len(k) for k, _ in rows)
    print()
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    ok = meets_targets(m)
    print("targets met" if ok else "targets NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
