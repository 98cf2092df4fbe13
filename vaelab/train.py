"""Training: ``fit`` for VAEs and autoencoders, its ``History``, and checkpoints.

``fit`` runs the loop you would write yourself: for every batch, the model's forward
(``model(x)``), the loss, ``zero_grad``, ``backward``, ``optimizer.step()``, and a log line
per epoch. It is quick because of general means, not shortcuts: the data sits in memory
as tensors (no DataLoader), the reconstruction loss is BCE from logits, Adam is the fused
kernel, evaluation runs in inference mode, and on CUDA ``amp`` (bf16) and ``compile`` are
one flag away.

All of its randomness (shuffling, eps, binarisation) comes from generators seeded by
``seed``, so on the CPU the same seed, initial weights and data give the same numbers,
bit for bit; a run resumed from a checkpoint written by ``fit(..., checkpoint=path)``
continues exactly as if it had never stopped.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import pickle
import re
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch import nn

from vaelab import data, distributed, losses
from vaelab.checks import check_images

__all__ = [
    "CHECKPOINT_FORMAT",
    "Checkpoint",
    "History",
    "LossFn",
    "TrainingDiverged",
    "default_loss",
    "evaluate",
    "fit",
    "load_checkpoint",
    "save_checkpoint",
]

CHECKPOINT_FORMAT = 1
LIKELIHOODS = ("bernoulli", "gaussian")
EVAL_BATCH_SIZE = 1000
Callback = Callable[[int, "History", nn.Module], Any]
# loss_fn(out, x, beta): out is the model's output (a VAEOutput; for an autoencoder, its
# x_logits); returns per-image losses (B,), their mean, or an ELBOTerms of batch means.
LossFn = Callable[[Any, torch.Tensor, float], "torch.Tensor | losses.ELBOTerms"]


class TrainingDiverged(FloatingPointError):
    """The loss became NaN or inf; the model keeps its weights from before that step."""


# --------------------------------------------------------------------------- history


@dataclass
class History:
    """Per-epoch training record; every number is per example, in nats.

    ``train_*`` are batch means averaged over the epoch (weighted by batch size) of the
    objective actually minimised: ``loss = recon + beta * kl`` (with free bits, the clamped
    KL; ``kl`` itself is never clamped). ``test_*`` use the same objective with the
    epoch-end ``beta`` over the whole test set (so ``test_recon + test_kl`` is the negative
    ELBO); they stay empty without ``test_x``. Autoencoders report ``kl = 0``.
    """

    epoch: list[int] = field(default_factory=list)  # 1-based
    train_loss: list[float] = field(default_factory=list)
    train_recon: list[float] = field(default_factory=list)
    train_kl: list[float] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)
    test_recon: list[float] = field(default_factory=list)
    test_kl: list[float] = field(default_factory=list)
    test_kl_per_dim: list[list[float]] = field(default_factory=list)  # per epoch, D floats
    beta: list[float] = field(default_factory=list)  # KL weight at the epoch's last step
    seconds: list[float] = field(default_factory=list)  # wall time of the epoch (train + test)

    def __len__(self) -> int:
        return len(self.epoch)

    def to_dict(self) -> dict[str, list]:
        """Plain lists, ready for JSON or a checkpoint."""
        return asdict(self)

    def to_json(self, path: str | os.PathLike | None = None) -> str:
        """The history as JSON text; also written to ``path`` when given."""
        text = json.dumps(self.to_dict(), indent=1)
        if path is not None:
            Path(path).write_text(text + "\n")
        return text

    @classmethod
    def from_dict(cls, d: dict) -> History:
        """Inverse of ``to_dict`` (also accepts ``json.loads(history.to_json())``)."""
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown History fields {sorted(unknown)}; expected {sorted(names)}")
        return cls(**{k: [list(v) if isinstance(v, list) else v for v in d[k]] for k in d})


# ------------------------------------------------------------------------ checkpoints


class Checkpoint(NamedTuple):
    """What ``load_checkpoint`` returns. ``train_state`` is set by ``fit(checkpoint=...)``:
    the step, epoch and generator states that make ``fit(resume=...)`` exact."""

    model: nn.Module  # rebuilt from its spec, in eval mode
    optimizer_state: dict | None
    history: History | None
    extra: dict | None
    train_state: dict | None = None


def _atomic_save(payload: dict, path: str | os.PathLike) -> None:
    """torch.save to a temporary file in the same folder, flushed to disk, then renamed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)  # atomic: readers see the old file or the new one, never half
    finally:
        if tmp.exists():
            tmp.unlink()


def save_checkpoint(
    path: str | os.PathLike,
    model: nn.Module,
    *,
    optimizer: torch.optim.Optimizer | None = None,
    history: History | None = None,
    extra: dict | None = None,
    train_state: dict | None = None,
) -> Path:
    """Write model spec, weights, optimiser state and history atomically (temp file + rename).

    Args:
        path: file to write; a crash mid-write leaves any previous file there intact.
        model: a vaelab model (it needs ``spec()``).
        optimizer: its state is saved for resuming.
        history: the ``History`` so far.
        extra: plain data only (numbers, strings, lists, dicts, tensors), so the file
            loads with ``weights_only=True``.
        train_state: set by ``fit``; what resuming needs besides the optimiser state.

    Returns:
        The path written.
    """
    if not hasattr(model, "spec"):
        raise ValueError(
            f"save_checkpoint needs a vaelab model with spec(), got {type(model).__name__}"
        )
    payload = {
        "format": CHECKPOINT_FORMAT,
        "model": model.spec(),
        "state_dict": model.state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "history": history.to_dict() if history is not None else None,
        "extra": extra,
        "train_state": train_state,
    }
    _atomic_save(payload, path)
    return Path(path)


def _build(spec: dict) -> nn.Module:
    """``models.build``, plus the zoo's digit classifier."""
    from vaelab import classifier, models

    if isinstance(spec, dict) and spec.get("name") == classifier.DigitClassifier.__name__:
        return classifier.build(spec)
    return models.build(spec)


def _corrupt_message(path: Path, err: Exception) -> str:
    lines = [line for line in str(err).splitlines() if line.strip()]
    detail = f"{type(err).__name__}: {lines[-1].strip() if lines else ''}"
    return (
        f"{path} is truncated or corrupt, or not a vaelab checkpoint: "
        f"torch.load(weights_only=True) cannot read it ({detail}); "
        "write it again with vaelab.train.save_checkpoint"
    )


def load_checkpoint(
    path: str | os.PathLike, *, map_location: str | torch.device = "cpu"
) -> Checkpoint:
    """Load a checkpoint written by ``save_checkpoint`` with ``torch.load(weights_only=True)``.

    Files that carry arbitrary pickled objects (code, custom classes) are refused.

    Args:
        path: the checkpoint file.
        map_location: device for the weights and the rebuilt model.

    Returns:
        ``Checkpoint(model, optimizer_state, history, extra, train_state)``; the model is in
        eval mode on ``map_location``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}: check the path (a file, not a folder)")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        refused = re.search(r"Unsupported global: GLOBAL (\S+)", str(err))
        if refused:
            raise ValueError(
                f"{path} is not a vaelab checkpoint: it contains pickled objects "
                f"({refused.group(1)}) that torch.load(weights_only=True) refuses to load, since "
                "unpickling them could run code. vaelab checkpoints hold only tensors and plain "
                "data; do not load this file unless you trust where it came from"
            ) from None
        raise ValueError(_corrupt_message(path, err)) from None
    except Exception as err:  # truncated zip, random bytes, ...
        raise ValueError(_corrupt_message(path, err)) from None
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        got = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
        raise ValueError(
            f"{path} is not a vaelab checkpoint: expected a dict with format {CHECKPOINT_FORMAT}, "
            f"got {got!r}"
        )
    missing = {"model", "state_dict"} - set(payload)
    if missing:
        raise ValueError(f"{path} is not a vaelab checkpoint: it lacks {sorted(missing)}")
    model = _build(payload["model"])
    try:
        model.load_state_dict(payload["state_dict"])
    except RuntimeError as err:
        raise ValueError(f"{path}: the weights do not fit the model spec: {err}") from None
    model.to(map_location).eval()
    history = payload.get("history")
    return Checkpoint(
        model=model,
        optimizer_state=payload.get("optimizer"),
        history=History.from_dict(history) if history is not None else None,
        extra=payload.get("extra"),
        train_state=payload.get("train_state"),
    )


# ---------------------------------------------------------------------- the objective


def _is_vae(model: nn.Module) -> bool:
    return hasattr(model, "to_mu")


def default_loss(model: nn.Module, *, free_bits: float = 0.0, likelihood: str = "bernoulli"):
    """The loss ``fit`` minimises when given no ``loss_fn``.

    For a VAE, ``losses.elbo`` (the negative ELBO with KL weight ``beta`` and free bits);
    for an autoencoder, the reconstruction loss alone (its KL column reads 0).

    Returns:
        ``loss_fn(out, x, beta) -> losses.ELBOTerms`` of batch means, in nats per image.
    """
    if _is_vae(model):

        def vae_loss(out, x: torch.Tensor, beta: float) -> losses.ELBOTerms:
            return losses.elbo(out, x, beta=beta, free_bits=free_bits, likelihood=likelihood)

        return vae_loss

    def autoencoder_loss(x_logits: torch.Tensor, x: torch.Tensor, beta: float):
        recon = losses.reconstruction_nll(x_logits, x, likelihood=likelihood, reduction="mean")
        return losses.ELBOTerms(recon, recon, torch.zeros_like(recon))

    return autoencoder_loss


def _loss_terms(
    loss_fn: LossFn, out, x: torch.Tensor, beta: float, *, vae: bool, likelihood: str
) -> losses.ELBOTerms:
    """Call ``loss_fn`` on one batch: the loss to minimise, and recon and KL to log.

    A ``loss_fn`` that returns only a loss gets its batch's reconstruction and KL measured
    here (without gradient), so the log shows what the model does whatever it minimises.
    """
    result = loss_fn(out if vae else out.x_logits, x, beta)
    if isinstance(result, losses.ELBOTerms):
        return result
    if not isinstance(result, torch.Tensor) or result.shape not in ((), (len(x),)):
        got = tuple(result.shape) if isinstance(result, torch.Tensor) else type(result).__name__
        raise ValueError(
            f"loss_fn must return per-image losses of shape ({len(x)},) or their mean (a "
            f"scalar tensor), got {got}; return losses.ELBOTerms to log recon and KL of your own"
        )
    with torch.no_grad():
        recon = losses.reconstruction_nll(out.x_logits, x, likelihood=likelihood)
        kl = losses.kl_per_dim(out.mu, out.logvar).mean(dim=0).sum() if vae else 0 * recon
    return losses.ELBOTerms(result.mean(), recon, kl)


@torch.inference_mode()
def evaluate(
    model: nn.Module,
    x: torch.Tensor,
    *,
    beta: float = 1.0,
    free_bits: float = 0.0,
    likelihood: str = "bernoulli",
    batch_size: int = EVAL_BATCH_SIZE,
    generator: torch.Generator | None = None,
) -> dict[str, Any]:
    """Loss, reconstruction and KL per example over a whole dataset, in eval mode.

    Args:
        model: a vaelab VAE or autoencoder.
        x: (N, C, H, W) images on the model's device, floats in [0, 1] or uint8 (scaled
            per batch).
        beta, free_bits: as in training; free bits clamp the dataset's mean KL per dimension.
        generator: for the eps draws (on x's device); repeatable evaluations.

    Returns:
        {"loss", "recon", "kl": floats, "kl_per_dim": D floats (zeros for an autoencoder)}.
    """
    was_training = model.training
    model.eval()
    try:
        recon_sum = torch.zeros((), device=x.device, dtype=torch.float64)
        kl_dim_sum = torch.zeros(model.latent_dim, device=x.device, dtype=torch.float64)
        for xb in data.batches(x, batch_size=batch_size):
            xb = data.to_float(xb)  # uint8 0..255 -> [0, 1], on the device
            if _is_vae(model):
                out = model(xb, generator=generator)
                recon = losses.reconstruction_nll(
                    out.x_logits, xb, likelihood=likelihood, reduction="sum"
                )
                kl_dim_sum += losses.kl_per_dim(out.mu, out.logvar).sum(dim=0)  # (D,)
            else:
                out = model(xb)
                recon = losses.reconstruction_nll(
                    out.x_logits, xb, likelihood=likelihood, reduction="sum"
                )
            recon_sum += recon
    finally:
        model.train(was_training)
    n = len(x)
    kl_per_dim = kl_dim_sum / n  # (D,)
    kl = kl_per_dim.sum()
    kl_in_loss = losses.free_bits_kl(kl_per_dim, free_bits) if free_bits > 0 else kl
    recon = recon_sum / n
    values = torch.stack([recon + beta * kl_in_loss, recon, kl]).tolist()  # one sync
    return {
        "loss": values[0],
        "recon": values[1],
        "kl": values[2],
        "kl_per_dim": kl_per_dim.tolist(),
    }


# ------------------------------------------------------ what surrounds the training step


def _check_hparams(*, num_epochs, batch_size, lr, beta, free_bits, likelihood) -> None:
    if not isinstance(num_epochs, int) or num_epochs < 1:
        raise ValueError(f"num_epochs must be a positive int, got {num_epochs!r}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    if not lr > 0:
        raise ValueError(f"lr must be > 0, got {lr!r}")
    if not callable(beta) and not (isinstance(beta, (int, float)) and beta >= 0):
        raise ValueError(
            f"beta must be a number >= 0 or a schedule step -> float (see vaelab.schedules), "
            f"got {beta!r}"
        )
    if not free_bits >= 0:
        raise ValueError(f"free_bits must be >= 0 nats per dimension, got {free_bits!r}")
    if likelihood not in LIKELIHOODS:
        raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {likelihood!r}")


def _check_data(x, image_shape: tuple[int, ...], *, name: str) -> None:
    """Images as floats in [0, 1] or as uint8 (always in range: their shape is checked)."""
    if isinstance(x, torch.Tensor) and x.dtype == torch.uint8:
        check_images(x[:1].float(), image_shape, name=name, values=False)
    else:
        check_images(x, image_shape, name=name)


def _place(model: nn.Module, train_x, test_x, device, amp: bool):
    """Check the model and the data once, and move both to the training device (under
    torchrun: this process's device, joining the process group)."""
    if not hasattr(model, "config") or not hasattr(model, "check_inputs"):
        raise ValueError(
            f"fit trains vaelab models (vaelab.models), got {type(model).__name__}; "
            "build one with e.g. vaelab.models.MLPVAE(latent_dim=20)"
        )
    device = distributed.setup(device if device is not None else next(model.parameters()).device)
    if amp and device.type != "cuda":
        raise ValueError(
            f"amp=True (bf16 autocast) needs a CUDA device, got {device}; "
            "leave amp=False on the CPU"
        )
    _check_data(train_x, model.config.image_shape, name="train_x")
    if test_x is not None:
        _check_data(test_x, model.config.image_shape, name="test_x")
        test_x = test_x.to(device) if distributed.is_main() else test_x  # rank 0 evaluates
    return model.to(device), train_x.to(device), test_x, device


def _make_adam(params: Iterable[nn.Parameter], lr: float, device: torch.device):
    # Fused Adam (one kernel for all parameters) is the fastest here on CUDA and on the CPU
    # (measured on 2 CPU cores: fused > foreach > for-loop); other devices get the default.
    fused = device.type in ("cuda", "cpu")
    return torch.optim.Adam(params, lr=lr, fused=True if fused else None)


class _RandomStreams:
    """fit's generators: shuffling (on the CPU, where ``data.batches`` draws), eps and
    binarisation (on the device), and evaluation (re-seeded for every evaluation)."""

    def __init__(self, seed: int, device: torch.device):
        self.seed = seed
        self.shuffle = torch.Generator().manual_seed(seed)  # the same order in every process
        # Under torchrun each process draws its own noise (process 0 the one-process stream).
        self.noise = torch.Generator(device=device).manual_seed(
            seed + 1 + 10_000 * distributed.rank()
        )
        self.eval = torch.Generator(device=device)

    def for_evaluation(self) -> torch.Generator:
        return self.eval.manual_seed(self.seed + 2)  # the same eps at every evaluation


@contextlib.contextmanager
def _training_mode(model: nn.Module):
    """Train mode, without the model's per-batch input checks (fit checked the data once)."""
    check_inputs, was_training = model.check_inputs, model.training
    model.check_inputs = False
    model.train()
    try:
        yield
    finally:
        model.check_inputs = check_inputs
        model.train(was_training)


def _diverged_message(epoch: int, step: int, batch: int, lr: float | None) -> str:
    lr_text = f"lr={lr:g}" if lr is not None else "the learning rate"
    return (
        f"training diverged at epoch {epoch}, step {step} (batch {batch} of the epoch): the loss "
        "is NaN or inf. Likely causes: the learning rate is too high "
        f"({lr_text}; try 10x smaller); logvar exploding, so exp(logvar) overflows (a smaller lr "
        "helps, or clamp logvar); or data not in [0, 1] (divide by 255 or use vaelab.data). "
        "The model keeps its weights from before this step."
    )


def _sync_free_nan_check(optimizer: torch.optim.Optimizer, device: torch.device) -> bool:
    return device.type == "cuda" and bool(optimizer.defaults.get("fused", False))


class _DivergenceGuard:
    """Stops training on a NaN or inf loss; the weights stay those from before that step.

    On the CPU the loss is checked before every step. On CUDA with fused Adam, reading the
    loss on the host every step would make the CPU wait for the GPU; there, Adam is told on
    the device to skip a bad step (its ``found_inf`` input; once set, every later step of
    the epoch is skipped too), and the count of skipped steps is read once per epoch.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, device: torch.device):
        self.optimizer = optimizer
        self.lr = optimizer.param_groups[0].get("lr") if optimizer.param_groups else None
        self.on_device = _sync_free_nan_check(optimizer, device)
        self.found_inf = torch.zeros((), device=device)
        self.skipped = torch.zeros((), device=device)

    def check(self, loss: torch.Tensor, *, epoch: int, step: int, batch: int) -> None:
        if self.on_device:
            return
        bad = distributed.any_across((~torch.isfinite(loss)).float())  # all stop together
        if bad:
            raise TrainingDiverged(_diverged_message(epoch, step, batch, self.lr))

    def step(self, loss: torch.Tensor) -> None:
        """``optimizer.step()``, skipped on the device after a bad loss (CUDA, fused Adam)."""
        if self.on_device:
            torch.logical_or(self.found_inf, ~torch.isfinite(loss), out=self.found_inf)
            distributed.any_across(self.found_inf)  # every process skips the same steps
            self.optimizer.found_inf, self.optimizer.grad_scale = self.found_inf, None
        self.optimizer.step()
        if self.on_device:
            self.skipped += self.found_inf

    def end_of_epoch(self, train_loss: float, *, epoch: int, step: int, batch: int) -> None:
        """Raise if a step was skipped or a non-finite gradient slipped into the weights."""
        skipped = int(self.skipped) if self.on_device else 0
        if skipped:
            raise TrainingDiverged(
                _diverged_message(epoch, step - skipped, batch + 1 - skipped, self.lr)
            )
        if not math.isfinite(train_loss):
            raise TrainingDiverged(_diverged_message(epoch, step - 1, batch, self.lr))

    def close(self) -> None:
        if self.on_device:
            self.optimizer.found_inf = None


class _Progress:
    """The progress bar (tqdm; the notebook widget in Jupyter) and the per-epoch log."""

    def __init__(self, *, total_steps: int, progress: bool, log: bool):
        self.bar, self.log = None, log
        if progress and total_steps > 0:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total_steps, desc="fit", unit="step", leave=False)
        # In a terminal, bar.write keeps the bar below the log; the notebook widget needs no
        # help (its write adds a blank line after every log line there).
        in_terminal = self.bar is not None and "notebook" not in type(self.bar).__module__
        self.write = self.bar.write if in_terminal else print
        if log and total_steps > 0:
            self.write(f"{'epoch':>5}  {'loss':>9}  {'recon':>9}  {'kl':>9}  {'test_loss':>9}")

    def step(self) -> None:
        if self.bar is not None:
            self.bar.update()

    def epoch(self, history: History) -> None:
        h = history
        if self.log:
            test = f"{h.test_loss[-1]:9.3f}" if h.test_loss else f"{'-':>9}"
            self.write(
                f"{h.epoch[-1]:>5d}  {h.train_loss[-1]:9.3f}  "
                f"{h.train_recon[-1]:9.3f}  {h.train_kl[-1]:9.3f}  {test}"
            )
        if self.bar is not None:
            self.bar.set_postfix(loss=f"{h.train_loss[-1]:.2f}", refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _record_epoch(history: History, epoch: int, means: list[float], beta: float) -> None:
    history.epoch.append(epoch)
    history.train_loss.append(means[0])
    history.train_recon.append(means[1])
    history.train_kl.append(means[2])
    history.beta.append(beta)


def _record_test(history: History, result: dict[str, Any]) -> None:
    history.test_loss.append(result["loss"])
    history.test_recon.append(result["recon"])
    history.test_kl.append(result["kl"])
    history.test_kl_per_dim.append(result["kl_per_dim"])


def _save_resumable(path, model, optimizer, history, *, step, rng, batch_size, num_train):
    """A checkpoint with what ``fit(resume=...)`` needs to continue this run exactly,
    written by rank 0 with every process's noise stream."""
    noise_states = distributed.all_gather_objects(rng.noise.get_state())  # one per process
    if not distributed.is_main():
        return
    train_state = {
        "step": step,
        "seed": rng.seed,
        "batch_size": batch_size,
        "num_train": num_train,
        "shuffle_rng": rng.shuffle.get_state(),
        "noise_rng": noise_states[0],
        "noise_rng_per_process": noise_states,
    }
    save_checkpoint(path, model, optimizer=optimizer, history=history, train_state=train_state)


def _shards(train_x: torch.Tensor, *, batch_size: int, rng, binarize: bool, weight):
    """Every shuffled batch, or under torchrun this process's share of it, as floats in
    [0, 1] on the device; yields (x, how many images of the global batch x counts for)."""
    shuffled = data.batches(train_x, batch_size=batch_size, shuffle=True, generator=rng.shuffle)
    for xb in shuffled:
        part = distributed.shard(xb)  # the whole batch in one process
        weight.value = part.weight  # applied to this shard's gradients (distributed.wrap)
        x = data.to_float(part.x)  # uint8 0..255 -> [0, 1], on the device
        if binarize:
            x = data.binarize(x, generator=rng.noise)
        yield x, part.size


def _test_numbers(model, test_x, *, beta: float, rng, free_bits: float, likelihood: str):
    """Evaluate on the test set in rank 0 alone; every process gets its numbers."""
    result = None
    if distributed.is_main():
        result = evaluate(
            model,
            test_x,
            beta=beta,
            free_bits=free_bits,
            likelihood=likelihood,
            generator=rng.for_evaluation(),
        )
    return distributed.broadcast_object(result)


# -------------------------------------------------------------------------------- fit


def fit(
    model: nn.Module,
    train_x: torch.Tensor,
    *,
    test_x: torch.Tensor | None = None,
    num_epochs: int,
    batch_size: int = 128,
    lr: float = 1e-3,
    beta: float | Callable[[int], float] = 1.0,
    free_bits: float = 0.0,
    likelihood: str = "bernoulli",
    loss_fn: LossFn | None = None,
    binarize: bool = False,
    seed: int = 0,
    device: str | torch.device | None = None,
    callbacks: Sequence[Callback] = (),
    progress: bool = True,
    log: bool = True,
    optimizer: torch.optim.Optimizer | None = None,
    checkpoint: str | os.PathLike | None = None,
    resume: Checkpoint | str | os.PathLike | None = None,
    amp: bool = False,
    compile: bool = False,
) -> History:
    """Train a VAE (negative ELBO) or a plain autoencoder (reconstruction loss) with Adam.

    Args:
        model: a vaelab model; VAEs have ``to_mu``, autoencoders are trained on
            reconstruction only (KL reported as 0). Its weights are trained in place.
        train_x: (N, C, H, W) images, floats in [0, 1] or uint8 in 0..255 (kept as uint8 on
            the device, a quarter of the memory, and scaled batch by batch).
        test_x: (M, C, H, W) images, the same kinds, evaluated after every epoch.
        num_epochs: total epochs (when resuming: including those already done).
        batch_size: examples per step.
        lr: Adam learning rate (ignored when ``optimizer`` is given).
        beta: KL weight, a number or a schedule ``step -> float`` (``vaelab.schedules``);
            the step counts from 0 across epochs.
        free_bits: nats per latent dimension that cost nothing (see ``losses.elbo``); used
            by the default loss and by evaluation.
        likelihood: "bernoulli" (BCE from logits) or "gaussian".
        loss_fn: your own objective, ``loss_fn(out, x, beta)`` with the model's output
            (a ``VAEOutput``; for an autoencoder its ``x_logits``), the batch and this
            step's KL weight, returning per-image losses (B,) or their mean. None:
            ``default_loss`` (``losses.elbo``). The log's recon and KL columns and the
            test numbers are always the model's own reconstruction loss and KL.
        binarize: dynamic binarisation, fresh 0/1 pixels for every batch.
        seed: seeds every random draw inside fit (shuffling, eps, binarisation). The
            initial weights are the model's: seed with ``torch.manual_seed`` before building it.
        device: where to train; None keeps the model's device. Data moves there once.
            Under torchrun, "cuda" means GPU number LOCAL_RANK (``distributed.setup``).
        callbacks: each called as ``cb(epoch, history, model)`` after every epoch;
            returning True stops training.
        progress: a tqdm progress bar (the notebook widget inside Jupyter); False is silent.
        log: print one line per epoch (``epoch  loss  recon  kl  test_loss``) under a header.
        optimizer: your own optimiser over ``model.parameters()``; default fused Adam(lr).
        checkpoint: write a checkpoint here after every epoch, with what ``resume`` needs.
        resume: a ``Checkpoint`` or path written by ``checkpoint=``: continue from its last
            epoch with the same weights, optimiser state, step and random streams, giving
            the numbers of an uninterrupted run. Use the same data, batch_size and seed.
        amp: bf16 autocast (CUDA only).
        compile: run the model through ``torch.compile``.

    Under ``torchrun --nproc_per_node N`` (and ``--nnodes``) fit joins the process group
    (NCCL on GPUs, gloo on the CPU) and trains with DistributedDataParallel: every process
    takes its share of each batch of ``batch_size`` images and the averaged gradients give
    the step one process would take on the whole batch. Rank 0 alone prints, evaluates
    (every process gets its numbers) and writes the checkpoint, which every process can
    resume from. Callbacks run in every process; rank 0's answer decides whether to stop.

    Returns:
        The ``History``, one entry per epoch (including resumed ones).

    Raises:
        TrainingDiverged: (a FloatingPointError) on a NaN or inf loss; the model keeps its
            weights from before that step.
    """
    _check_hparams(
        num_epochs=num_epochs,
        batch_size=batch_size,
        lr=lr,
        beta=beta,
        free_bits=free_bits,
        likelihood=likelihood,
    )
    model, train_x, test_x, device = _place(model, train_x, test_x, device, amp)
    optimizer = optimizer or _make_adam(model.parameters(), lr, device)
    loss_fn = loss_fn or default_loss(model, free_bits=free_bits, likelihood=likelihood)
    beta_at = beta if callable(beta) else (lambda _step, b=float(beta): b)
    rng = _RandomStreams(seed, device)
    history, step = History(), 0
    if resume is not None:
        history, step = _resume(
            resume,
            model=model,
            optimizer=optimizer,
            rng=rng,
            batch_size=batch_size,
            num_train=len(train_x),
        )
    vae = _is_vae(model)
    weight = distributed.ShardWeight()  # set for every batch by _shards
    forward = distributed.wrap(model, device, weight)  # DistributedDataParallel under torchrun
    forward = torch.compile(forward) if compile else forward
    autocast = (
        (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if amp else contextlib.nullcontext
    )
    guard = _DivergenceGuard(optimizer, device)
    steps_left = (num_epochs - len(history)) * math.ceil(len(train_x) / batch_size)
    main = distributed.is_main()  # the one process that prints, evaluates and writes
    progress = _Progress(total_steps=steps_left, progress=progress and main, log=log and main)
    with _training_mode(model), contextlib.closing(progress), contextlib.closing(guard):
        for epoch in range(len(history) + 1, num_epochs + 1):
            start = time.perf_counter()
            totals = torch.zeros(3, device=device)  # loss, recon, kl, summed over images
            batch, beta_now = 0, 0.0
            shuffled = _shards(
                train_x, batch_size=batch_size, rng=rng, binarize=binarize, weight=weight
            )
            for batch, (x, count) in enumerate(shuffled):
                beta_now = float(beta_at(step))
                with autocast():
                    out = forward(x, generator=rng.noise) if vae else forward(x)
                    terms = _loss_terms(loss_fn, out, x, beta_now, vae=vae, likelihood=likelihood)
                guard.check(terms.loss, epoch=epoch, step=step, batch=batch)
                optimizer.zero_grad(set_to_none=True)
                terms.loss.backward()
                guard.step(terms.loss)  # optimizer.step()
                totals.add_(torch.stack([t.detach().float() for t in terms]), alpha=count)
                step += 1
                progress.step()
            means = (distributed.sum_across(totals) / len(train_x)).tolist()  # one sync per epoch
            guard.end_of_epoch(means[0], epoch=epoch, step=step, batch=batch)
            _record_epoch(history, epoch, means, beta_now)
            if test_x is not None:
                eval_kw = {"free_bits": free_bits, "likelihood": likelihood}
                result = _test_numbers(model, test_x, beta=beta_now, rng=rng, **eval_kw)
                _record_test(history, result)
            history.seconds.append(time.perf_counter() - start)
            progress.epoch(history)
            if checkpoint is not None:
                _save_resumable(
                    checkpoint,
                    model,
                    optimizer,
                    history,
                    step=step,
                    rng=rng,
                    batch_size=batch_size,
                    num_train=len(train_x),
                )
            stop = any([bool(cb(epoch, history, model)) for cb in callbacks])  # call every one
            if distributed.broadcast_flag(stop):  # rank 0's answer, in every process
                break
    distributed.wait_for_all()  # rank 0's files are written when fit returns anywhere
    return history


def _resume(
    resume: Checkpoint | str | os.PathLike,
    *,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    rng: _RandomStreams,
    batch_size: int,
    num_train: int,
) -> tuple[History, int]:
    """Load weights, optimiser state, generator states and step from a checkpoint."""
    if not isinstance(resume, Checkpoint):
        resume = load_checkpoint(resume, map_location=rng.noise.device)
    if resume.train_state is None or resume.optimizer_state is None or resume.history is None:
        raise ValueError(
            "this checkpoint cannot resume training: it lacks the optimiser or training state; "
            "write resumable checkpoints with fit(..., checkpoint=path)"
        )
    if resume.model.spec() != model.spec():
        raise ValueError(
            f"the checkpoint holds {resume.model.spec()}, but the model to train is "
            f"{model.spec()}; build the same architecture (vaelab.models.build(spec))"
        )
    state = resume.train_state
    expected = {"seed": rng.seed, "batch_size": batch_size, "num_train": num_train}
    for key, value in expected.items():
        if int(state[key]) != value:
            raise ValueError(
                f"resume with the run's own {key}: the checkpoint was trained with "
                f"{key}={int(state[key])}, this call has {value}"
            )
    model.load_state_dict(resume.model.state_dict())
    optimizer.load_state_dict(resume.optimizer_state)
    rng.shuffle.set_state(state["shuffle_rng"].cpu())
    per_process = state.get("noise_rng_per_process") or [state["noise_rng"]]
    try:
        if len(per_process) == distributed.world_size():  # else: a fresh stream per process
            rng.noise.set_state(per_process[distributed.rank()].cpu())
    except RuntimeError:  # a checkpoint from another device type: its stream cannot continue
        warnings.warn(
            "the checkpoint's random state is for another device, so the resumed run "
            "draws fresh noise and will not match an uninterrupted run exactly",
            stacklevel=3,
        )
        rng.noise.manual_seed(
            int(state["seed"]) + 1 + int(state["step"]) + 10_000 * distributed.rank()
        )
    history = History.from_dict(resume.history.to_dict())
    return history, int(state["step"])
