"""Training: ``fit`` for VAEs and autoencoders, its ``History``, and checkpoints.

``fit`` trains over in-memory tensors (no DataLoader), with BCE from logits, Adam and
evaluation in inference mode. All of its randomness (shuffling, eps, binarisation)
comes from generators seeded by ``seed``, so on the CPU the same seed, initial weights
and data give the same numbers, bit for bit; a run resumed from a checkpoint written by
``fit(..., checkpoint=path)`` continues exactly as if it had never stopped.

On the CPU, ``MLPVAE`` and ``MLPAutoencoder`` train through a hand-derived forward and
backward (``vaelab._fast.MLPStep``: the maths of ``losses.elbo`` differentiated by hand,
about 1.3x faster than autograd on two cores); every other model, and any model with
hooks or frozen parameters, trains through autograd. Both give the same numbers up to
float rounding (tests/test_fast.py).
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

from vaelab import _fast, data, losses
from vaelab.checks import check_images

__all__ = [
    "CHECKPOINT_FORMAT",
    "Checkpoint",
    "History",
    "TrainingDiverged",
    "evaluate",
    "fit",
    "load_checkpoint",
    "save_checkpoint",
]

CHECKPOINT_FORMAT = 1
LIKELIHOODS = ("bernoulli", "gaussian")
EVAL_BATCH_SIZE = 1000
Callback = Callable[[int, "History", nn.Module], Any]


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


# ------------------------------------------------------------------------- the step


def _is_vae(model: nn.Module) -> bool:
    return hasattr(model, "to_mu")


def _objective(
    model: nn.Module,
    x: torch.Tensor,
    *,
    beta: float,
    free_bits: float,
    likelihood: str,
    generator: torch.Generator | None,
) -> losses.ELBOTerms:
    """Loss, reconstruction and KL of one batch (batch means); KL is 0 for autoencoders."""
    if _is_vae(model):
        out = model(x, generator=generator)
        return losses.elbo(out, x, beta=beta, free_bits=free_bits, likelihood=likelihood)
    out = model(x)
    recon = losses.reconstruction_nll(out.x_logits, x, likelihood=likelihood, reduction="mean")
    return losses.ELBOTerms(recon, recon, torch.zeros((), device=x.device, dtype=recon.dtype))


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
        x: (N, C, H, W) images in [0, 1] on the model's device.
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
    """On CUDA, a fused Adam can skip a bad step on the device (its ``found_inf`` input),
    sparing a host sync per step; elsewhere the loss is checked on the host each step."""
    return device.type == "cuda" and bool(optimizer.defaults.get("fused", False))


def _use_hand_step(model: nn.Module, *, device: torch.device, amp: bool, compile: bool) -> bool:
    """Whether fit uses the hand-derived MLP step (tests switch it off to compare)."""
    return _fast.mlp_step_applies(model, device=device, amp=amp, compile=compile)


def _make_adam(params: Iterable[nn.Parameter], lr: float, device: torch.device):
    # Fused Adam is the fastest here on CUDA and on the CPU (measured: fused > foreach >
    # for-loop on 2 CPU cores for the 784-400-20 MLP VAE); other devices get the default.
    fused = device.type in ("cuda", "cpu")
    return torch.optim.Adam(params, lr=lr, fused=True if fused else None)


def _log_header() -> str:
    return f"{'epoch':>5}  {'loss':>9}  {'recon':>9}  {'kl':>9}  {'test_loss':>9}"


def _log_line(history: History) -> str:
    test = f"{history.test_loss[-1]:9.3f}" if history.test_loss else f"{'-':>9}"
    return (
        f"{history.epoch[-1]:>5d}  {history.train_loss[-1]:9.3f}  "
        f"{history.train_recon[-1]:9.3f}  {history.train_kl[-1]:9.3f}  {test}"
    )


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
        train_x: (N, C, H, W) images in [0, 1].
        test_x: (M, C, H, W) images in [0, 1], evaluated after every epoch.
        num_epochs: total epochs (when resuming: including those already done).
        batch_size: examples per step.
        lr: Adam learning rate (ignored when ``optimizer`` is given).
        beta: KL weight, a number or a schedule ``step -> float`` (``vaelab.schedules``);
            the step counts from 0 across epochs.
        free_bits: nats per latent dimension that cost nothing (see ``losses.elbo``).
        likelihood: "bernoulli" (BCE from logits) or "gaussian".
        binarize: dynamic binarisation, fresh 0/1 pixels for every batch.
        seed: seeds every random draw inside fit (shuffling, eps, binarisation). The
            initial weights are the model's: seed with ``torch.manual_seed`` before building it.
        device: where to train; None keeps the model's device. Data moves there once.
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
    if not hasattr(model, "config") or not hasattr(model, "check_inputs"):
        raise ValueError(
            f"fit trains vaelab models (vaelab.models), got {type(model).__name__}; "
            "build one with e.g. vaelab.models.MLPVAE(latent_dim=20)"
        )
    device = torch.device(device) if device is not None else next(model.parameters()).device
    if amp and device.type != "cuda":
        raise ValueError(
            f"amp=True (bf16 autocast) needs a CUDA device, got {device}; "
            "leave amp=False on the CPU"
        )
    image_shape = model.config.image_shape
    check_images(train_x, image_shape, name="train_x")
    if test_x is not None:
        check_images(test_x, image_shape, name="test_x")
    model.to(device)
    train_x = train_x.to(device)
    test_x = test_x.to(device) if test_x is not None else None
    if optimizer is None:
        optimizer = _make_adam(model.parameters(), lr, device)

    # Random streams: shuffling on the CPU (vaelab.data.batches draws there), eps and
    # binarisation on the device, and a fixed stream re-seeded for every evaluation.
    shuffle_gen = torch.Generator().manual_seed(seed)
    noise_gen = torch.Generator(device=device).manual_seed(seed + 1)
    eval_gen = torch.Generator(device=device)
    history, step = History(), 0
    if resume is not None:
        history, step = _resume(
            resume,
            model=model,
            optimizer=optimizer,
            device=device,
            shuffle_gen=shuffle_gen,
            noise_gen=noise_gen,
            expected={"seed": seed, "batch_size": batch_size, "num_train": len(train_x)},
        )
    first_epoch = len(history) + 1
    steps_per_epoch = math.ceil(len(train_x) / batch_size)
    beta_at = beta if callable(beta) else (lambda _step, b=float(beta): b)
    sync_free = _sync_free_nan_check(optimizer, device)
    step_model = torch.compile(model) if compile else model
    autocast = (
        (lambda: torch.autocast(device_type="cuda", dtype=torch.bfloat16))
        if amp
        else contextlib.nullcontext
    )
    lr_now = optimizer.param_groups[0].get("lr") if optimizer.param_groups else None
    # On the CPU: the MLP models' hand-derived step, and Adam's kernel without step()'s
    # Python overhead (vaelab._fast; same maths, checked against autograd in the tests).
    hand_step = (
        _fast.MLPStep(model, likelihood=likelihood, free_bits=free_bits)
        if _use_hand_step(model, device=device, amp=amp, compile=compile)
        else None
    )
    optimizer_step = _fast.AdamStep(optimizer) if device.type == "cpu" else optimizer.step

    bar = None
    if progress and first_epoch <= num_epochs:
        from tqdm.auto import tqdm

        bar = tqdm(
            total=(num_epochs - first_epoch + 1) * steps_per_epoch,
            desc="fit",
            unit="step",
            leave=False,
            dynamic_ncols=True,
        )
    # In a terminal, bar.write keeps the bar below the log; the notebook widget needs no help
    # (its write adds a blank line after every log line there).
    in_terminal = bar is not None and "notebook" not in type(bar).__module__
    write = bar.write if in_terminal else print
    if log and first_epoch <= num_epochs:
        write(_log_header())

    check_inputs, was_training = model.check_inputs, model.training
    model.check_inputs = False  # the data was checked once above: no per-batch sync
    model.train()
    try:
        for epoch in range(first_epoch, num_epochs + 1):
            start = time.perf_counter()
            sums = torch.zeros(3, device=device)  # loss, recon, kl, summed over examples
            host_sums = [0.0, 0.0, 0.0]  # the same, from the hand-derived step (floats)
            found_inf = torch.zeros((), device=device) if sync_free else None
            skipped = torch.zeros((), device=device) if sync_free else None
            beta_now = 0.0
            batch_index = 0
            for batch_index, xb in enumerate(
                data.batches(train_x, batch_size=batch_size, shuffle=True, generator=shuffle_gen)
            ):
                if binarize:
                    xb = data.binarize(xb, generator=noise_gen)
                beta_now = float(beta_at(step))
                if hand_step is not None:  # loss terms (floats) and gradients in one call
                    terms = hand_step(xb, beta=beta_now, generator=noise_gen)
                    if not math.isfinite(terms.loss):
                        raise TrainingDiverged(_diverged_message(epoch, step, batch_index, lr_now))
                    optimizer_step()
                    for i, value in enumerate(terms):
                        host_sums[i] += value * len(xb)
                else:
                    with autocast():
                        terms = _objective(
                            step_model,
                            xb,
                            beta=beta_now,
                            free_bits=free_bits,
                            likelihood=likelihood,
                            generator=noise_gen,
                        )
                    loss = terms.loss.float()
                    if not sync_free and not torch.isfinite(loss):
                        raise TrainingDiverged(_diverged_message(epoch, step, batch_index, lr_now))
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    if sync_free:  # sticky: after a bad step every later step is skipped too
                        torch.logical_or(found_inf, ~torch.isfinite(loss), out=found_inf)
                        optimizer.found_inf, optimizer.grad_scale = found_inf, None
                    optimizer_step()
                    if sync_free:
                        skipped += found_inf
                    parts = [loss.detach(), terms.recon.detach().float(), terms.kl.detach().float()]
                    sums.add_(torch.stack(parts), alpha=len(xb))  # on the device: no sync
                step += 1
                if bar is not None:
                    bar.update()
            if sync_free:
                optimizer.found_inf = None
                num_skipped = int(skipped)
                if num_skipped:
                    raise TrainingDiverged(
                        _diverged_message(
                            epoch, step - num_skipped, batch_index + 1 - num_skipped, lr_now
                        )
                    )
            train_loss, train_recon, train_kl = (
                (total + host) / len(train_x)
                for total, host in zip(sums.tolist(), host_sums, strict=True)  # one sync
            )
            if not math.isfinite(train_loss):  # a non-finite gradient that slipped through
                raise TrainingDiverged(_diverged_message(epoch, step - 1, batch_index, lr_now))
            history.epoch.append(epoch)
            history.train_loss.append(train_loss)
            history.train_recon.append(train_recon)
            history.train_kl.append(train_kl)
            history.beta.append(beta_now)
            if test_x is not None:
                eval_gen.manual_seed(seed + 2)  # the same eps at every evaluation
                result = evaluate(
                    model,
                    test_x,
                    beta=beta_now,
                    free_bits=free_bits,
                    likelihood=likelihood,
                    generator=eval_gen,
                )
                history.test_loss.append(result["loss"])
                history.test_recon.append(result["recon"])
                history.test_kl.append(result["kl"])
                history.test_kl_per_dim.append(result["kl_per_dim"])
            history.seconds.append(time.perf_counter() - start)
            if log:
                write(_log_line(history))
            if bar is not None:
                bar.set_postfix(loss=f"{train_loss:.2f}", refresh=False)
            if checkpoint is not None:
                train_state = {
                    "step": step,
                    "seed": seed,
                    "batch_size": batch_size,
                    "num_train": len(train_x),
                    "shuffle_rng": shuffle_gen.get_state(),
                    "noise_rng": noise_gen.get_state(),
                }
                save_checkpoint(
                    checkpoint,
                    model,
                    optimizer=optimizer,
                    history=history,
                    train_state=train_state,
                )
            stop = [bool(cb(epoch, history, model)) for cb in callbacks]
            if any(stop):
                break
    finally:
        model.check_inputs = check_inputs
        model.train(was_training)
        if sync_free:
            optimizer.found_inf = None
        if bar is not None:
            bar.close()
    return history


def _resume(
    resume: Checkpoint | str | os.PathLike,
    *,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    device: torch.device,
    shuffle_gen: torch.Generator,
    noise_gen: torch.Generator,
    expected: dict[str, int],
) -> tuple[History, int]:
    """Load weights, optimiser state, generator states and step from a checkpoint."""
    if not isinstance(resume, Checkpoint):
        resume = load_checkpoint(resume, map_location=device)
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
    for key, value in expected.items():
        if int(state[key]) != value:
            raise ValueError(
                f"resume with the run's own {key}: the checkpoint was trained with "
                f"{key}={int(state[key])}, this call has {value}"
            )
    model.load_state_dict(resume.model.state_dict())
    optimizer.load_state_dict(resume.optimizer_state)
    shuffle_gen.set_state(state["shuffle_rng"].cpu())
    try:
        noise_gen.set_state(state["noise_rng"].cpu())
    except RuntimeError:  # a checkpoint from another device type: its stream cannot continue
        warnings.warn(
            "the checkpoint's random state is for another device, so the resumed run "
            "draws fresh noise and will not match an uninterrupted run exactly",
            stacklevel=3,
        )
        noise_gen.manual_seed(int(state["seed"]) + 1 + int(state["step"]))
    history = History.from_dict(resume.history.to_dict())
    return history, int(state["step"])
