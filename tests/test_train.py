"""vaelab.train: fit, History, checkpoints; real training on a small MNIST subset."""

from __future__ import annotations

import json
import math
import os
import pickle

import pytest
import torch
import torch.nn.functional as F
from torch.distributions import Normal, kl_divergence

from vaelab import data, losses, models, schedules, train

NUM_TRAIN = 1024
NUM_TEST = 256


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """These models are tiny: one thread is as fast, and far steadier on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def mnist():
    x = data.load_mnist("train", limit=NUM_TRAIN).x
    x_test = data.load_mnist("test", limit=NUM_TEST).x
    return x, x_test


def small_vae(seed: int = 0, **overrides) -> models.MLPVAE:
    torch.manual_seed(seed)
    return models.MLPVAE(hidden_dim=overrides.pop("hidden_dim", 128), latent_dim=4, **overrides)


def quiet(**kw):
    return {"progress": False, "log": False, **kw}


def numbers(history: train.History) -> dict:
    """History without wall times, for exact comparisons."""
    d = history.to_dict()
    d.pop("seconds")
    return d


def test_vae_loss_falls_and_test_numbers_match_independent_oracle(mnist):
    x, x_test = mnist
    model = small_vae()
    h = train.fit(model, x, test_x=x_test, num_epochs=4, batch_size=64, **quiet())
    assert h.epoch == [1, 2, 3, 4]
    assert all(a > b for a, b in zip(h.train_loss, h.train_loss[1:], strict=False)), h.train_loss
    assert h.test_loss[-1] < h.test_loss[0] - 20
    assert 100 < h.test_loss[-1] < 250  # nats per image, not summed over the set or per pixel
    for loss, recon, kl in zip(h.train_loss, h.train_recon, h.train_kl, strict=True):
        assert loss == pytest.approx(recon + kl, rel=1e-5)  # beta = 1
    assert len(h.test_kl_per_dim[-1]) == 4
    # Independent oracle for the test KL per dimension: torch.distributions on the encoder.
    assert model.training  # fit restores the mode it found
    with torch.no_grad():
        mu, logvar = model.encode(x_test)
        q = Normal(mu, torch.exp(0.5 * logvar))
        expected = kl_divergence(q, Normal(torch.zeros_like(mu), torch.ones_like(mu))).mean(0)
    assert h.test_kl_per_dim[-1] == pytest.approx(expected.tolist(), rel=1e-4, abs=1e-5)
    assert h.test_kl[-1] == pytest.approx(float(expected.sum()), rel=1e-4)
    assert h.test_loss[-1] == pytest.approx(h.test_recon[-1] + h.test_kl[-1], rel=1e-6)
    assert model.check_inputs  # restored after the hot loop


def test_autoencoder_trains_on_reconstruction_only(mnist):
    x, x_test = mnist
    torch.manual_seed(0)
    model = models.MLPAutoencoder(hidden_dim=128, latent_dim=2)
    h = train.fit(model, x, test_x=x_test, num_epochs=3, batch_size=64, beta=5.0, **quiet())
    assert h.train_kl == [0.0] * 3 and h.test_kl == [0.0] * 3
    assert h.train_loss == h.train_recon and h.test_loss == h.test_recon  # beta has no effect
    assert h.test_kl_per_dim[-1] == [0.0, 0.0]
    assert h.train_loss[-1] < h.train_loss[0]
    with torch.no_grad():
        x_logits = model(x_test).x_logits
    expected = F.binary_cross_entropy_with_logits(x_logits, x_test, reduction="sum") / len(x_test)
    assert h.test_recon[-1] == pytest.approx(float(expected), rel=1e-5)


@pytest.mark.parametrize("cls", [models.MLPVAE, models.MLPAutoencoder, models.ConvVAE])
def test_fit_calls_the_models_own_forward_once_per_batch(mnist, cls):
    """A wrapper patched onto one instance's forward runs for every batch: no hidden path."""
    x, _ = mnist
    torch.manual_seed(0)
    model = cls(latent_dim=4, **({"hidden_dim": 64} if "MLP" in cls.__name__ else {}))
    calls, hooked = [], []
    original = model.forward

    def counting_forward(xb, *args, **kwargs):
        calls.append(len(xb))
        return original(xb, *args, **kwargs)

    model.forward = counting_forward
    model.register_forward_hook(lambda module, args, out: hooked.append(1))
    train.fit(model, x[:300], num_epochs=2, batch_size=64, **quiet())
    assert calls == [64, 64, 64, 64, 44] * 2  # 300 images: 4 full batches and one of 44
    assert len(hooked) == len(calls)


def test_a_patched_forward_changes_what_is_trained(mnist):
    """A forward that scales the logits trains a different model, as it would in a hand loop."""
    x, _ = mnist
    plain = train.fit(small_vae(), x, num_epochs=1, **quiet())
    model = small_vae()
    original = model.forward

    def damped(xb, **kwargs):
        out = original(xb, **kwargs)
        return out._replace(x_logits=0.5 * out.x_logits)

    model.forward = damped
    patched = train.fit(model, x, num_epochs=1, **quiet())
    assert patched.train_loss[0] != pytest.approx(plain.train_loss[0], rel=1e-3)


def test_loss_fn_equal_to_elbo_gives_the_default_history(mnist):
    x, x_test = mnist
    kw = dict(test_x=x_test, num_epochs=2, batch_size=100, beta=schedules.linear_warmup(15))
    default = train.fit(small_vae(), x, **kw, **quiet())
    calls = []

    def elbo_loss(out, xb, beta):
        calls.append(beta)
        return losses.elbo(out, xb, beta=beta).loss

    same = train.fit(small_vae(), x, loss_fn=elbo_loss, **kw, **quiet())
    assert len(calls) == 2 * 11  # once per batch: 1024 images in batches of 100
    assert calls[:3] == [0.0, 1 / 15, 2 / 15]  # this step's KL weight
    assert numbers(same) == numbers(default)  # bit for bit, recon and KL columns included


def test_loss_fn_per_image_losses_are_averaged_over_the_batch(mnist):
    """A per-image loss written like ex04's negative_elbo trains to the reference numbers."""
    x, x_test = mnist

    def negative_elbo(out, xb, beta):
        recon = F.binary_cross_entropy_with_logits(out.x_logits, xb, reduction="none")
        kl = -0.5 * (1 + out.logvar - out.mu.pow(2) - out.logvar.exp())
        return recon.flatten(1).sum(1) + beta * kl.sum(1)  # (B,)

    kw = dict(test_x=x_test, num_epochs=2, batch_size=64, **quiet())
    default = train.fit(small_vae(), x, **kw)
    mine = train.fit(small_vae(), x, loss_fn=negative_elbo, **kw)
    for key in ("train_loss", "train_recon", "train_kl", "test_loss"):
        assert getattr(mine, key) == pytest.approx(getattr(default, key), rel=1e-4), key


def test_loss_fn_is_what_is_minimised_and_the_log_shows_the_true_terms(mnist):
    x, _ = mnist
    h = train.fit(
        small_vae(), x, num_epochs=2, loss_fn=lambda out, xb, beta: 0.0 * out.mu.sum(), **quiet()
    )
    assert h.train_loss == [0.0, 0.0]
    assert h.train_recon[0] > 300 and h.train_kl[0] > 0  # measured, not what was minimised


def test_loss_fn_of_an_autoencoder_gets_the_logits(mnist):
    x, _ = mnist
    seen = []

    def loss(x_logits, xb, beta):
        seen.append(type(x_logits))
        return F.mse_loss(torch.sigmoid(x_logits), xb, reduction="none").flatten(1).sum(1)

    torch.manual_seed(0)
    h = train.fit(models.MLPAutoencoder(latent_dim=2), x, num_epochs=2, loss_fn=loss, **quiet())
    assert set(seen) == {torch.Tensor}
    assert h.train_loss[-1] < h.train_loss[0]
    for squared_error, bce in zip(h.train_loss, h.train_recon, strict=True):
        assert squared_error < bce / 2  # the log's recon column is the BCE, not the loss


def test_loss_fn_with_the_wrong_shape_is_a_clear_error(mnist):
    x, _ = mnist
    with pytest.raises(ValueError, match=r"per-image losses of shape \(64,\) or their mean"):
        train.fit(
            small_vae(),
            x,
            num_epochs=1,
            batch_size=64,
            loss_fn=lambda out, xb, beta: out.x_logits,  # (B, 1, 28, 28)
            **quiet(),
        )


def test_beta_schedule_is_called_per_global_step_and_recorded(mnist):
    x, _ = mnist
    calls = []
    warmup = schedules.linear_warmup(40)

    def schedule(step: int) -> float:
        calls.append(step)
        return warmup(step)

    batch_size, num_epochs = 128, 3
    h = train.fit(
        small_vae(), x, num_epochs=num_epochs, batch_size=batch_size, beta=schedule, **quiet()
    )
    steps_per_epoch = math.ceil(len(x) / batch_size)
    assert calls == list(range(num_epochs * steps_per_epoch))  # 0-based, global across epochs
    assert h.beta == [warmup((e + 1) * steps_per_epoch - 1) for e in range(num_epochs)]
    assert h.beta == [7 / 40, 15 / 40, 23 / 40]
    assert h.test_loss == [] and h.test_kl_per_dim == []  # no test_x, no test numbers


def test_constant_beta_weights_the_kl(mnist):
    x, _ = mnist
    h = train.fit(small_vae(), x, num_epochs=1, beta=3.0, **quiet())
    assert h.beta == [3.0]
    assert h.train_loss[0] == pytest.approx(h.train_recon[0] + 3.0 * h.train_kl[0], rel=1e-5)


def test_free_bits_clamp_the_kl_in_the_loss_only(mnist):
    x, x_test = mnist
    free_bits = 10.0  # far above what 4 dims reach in 2 epochs: every dim is clamped
    h = train.fit(small_vae(), x, test_x=x_test, num_epochs=2, free_bits=free_bits, **quiet())
    assert all(kl < free_bits for kl in h.test_kl_per_dim[-1])
    for loss, recon, kl in zip(h.train_loss, h.train_recon, h.train_kl, strict=True):
        assert loss == pytest.approx(recon + 4 * free_bits, rel=1e-5)
        assert 0 < kl < 4 * free_bits  # the reported KL is the true one, never clamped
    assert h.test_loss[-1] == pytest.approx(h.test_recon[-1] + 4 * free_bits, rel=1e-6)
    plain = train.fit(small_vae(), x, num_epochs=2, **quiet())
    assert plain.train_kl[-1] != h.train_kl[-1]


def test_same_seed_is_bit_identical_and_seed_matters(mnist):
    x, x_test = mnist
    kw = dict(test_x=x_test, num_epochs=2, binarize=True, beta=schedules.cyclical(10), **quiet())
    a, b = small_vae(), small_vae()
    h1 = train.fit(a, x, seed=7, **kw)
    h2 = train.fit(b, x, seed=7, **kw)
    assert numbers(h1) == numbers(h2)
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(p, q)
    h3 = train.fit(small_vae(), x, seed=8, **kw)
    assert h3.train_loss != h1.train_loss


@pytest.mark.slow
def test_resume_from_checkpoint_equals_uninterrupted_run(mnist, tmp_path):
    x, x_test = mnist
    kw = dict(
        test_x=x_test,
        batch_size=100,  # a final partial batch in every epoch
        binarize=True,
        beta=schedules.linear_warmup(25),
        free_bits=0.05,
        seed=3,
        **quiet(),
    )
    full_model = small_vae()
    full = train.fit(full_model, x, num_epochs=4, **kw)

    path = tmp_path / "run.pt"
    stopped = train.fit(small_vae(), x, num_epochs=2, checkpoint=path, **kw)
    assert len(stopped) == 2
    other_init = small_vae(seed=99)  # the checkpoint's weights replace these
    resumed = train.fit(other_init, x, num_epochs=4, resume=path, checkpoint=path, **kw)
    assert numbers(resumed) == numbers(full)
    for p, q in zip(full_model.parameters(), other_init.parameters(), strict=True):
        assert torch.equal(p, q)
    ckpt = train.load_checkpoint(path)  # rewritten after every epoch
    assert ckpt.history.epoch == [1, 2, 3, 4] and ckpt.train_state["step"] == 4 * 11

    with pytest.raises(ValueError, match="seed"):
        train.fit(small_vae(), x, num_epochs=5, resume=path, **{**kw, "seed": 4})
    with pytest.raises(ValueError, match="same architecture"):
        train.fit(models.MLPVAE(latent_dim=3), x, num_epochs=5, resume=path, **kw)


@pytest.mark.parametrize("sync_free", [False, True])
def test_nan_loss_stops_and_keeps_last_finite_weights(mnist, monkeypatch, sync_free):
    x, _ = mnist
    if sync_free:  # the CUDA path (fused Adam skips the step on the device), run on the CPU
        monkeypatch.setattr(train, "_sync_free_nan_check", lambda optimizer, device: True)
    model = small_vae()
    before_bad_step = {}

    def schedule(step: int) -> float:
        if step == 5:  # called before step 5's forward: the weights after 5 good steps
            before_bad_step.update({k: v.clone() for k, v in model.state_dict().items()})
            return float("nan")
        return 1.0

    with pytest.raises(train.TrainingDiverged, match=r"epoch 1, step 5 .*learning rate") as info:
        train.fit(model, x, num_epochs=2, batch_size=64, beta=schedule, **quiet())
    assert isinstance(info.value, FloatingPointError)
    assert "logvar" in str(info.value) and "[0, 1]" in str(info.value)
    state = model.state_dict()
    for k, v in before_bad_step.items():
        assert torch.isfinite(state[k]).all()
        assert torch.equal(state[k], v), k
    assert model.check_inputs


def test_huge_learning_rate_diverges_with_a_clear_error(mnist):
    x, _ = mnist
    model = small_vae()
    with pytest.raises(FloatingPointError, match="learning rate is too high"):
        train.fit(model, x, num_epochs=3, lr=1e12, **quiet())
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_inputs_checked_once_up_front_not_per_batch(mnist, monkeypatch):
    x, _ = mnist
    per_batch_checks = []
    original = models.check_images
    monkeypatch.setattr(
        models, "check_images", lambda *a, **k: per_batch_checks.append(1) or original(*a, **k)
    )
    train.fit(small_vae(), x, num_epochs=1, **quiet())
    assert per_batch_checks == []


@pytest.mark.parametrize(
    "bad, message",
    [
        (lambda x: (x * 255).long(), "dtype int64"),
        (lambda x: (x * 255).to(torch.uint8).view(len(x), -1), "reshape"),
        (lambda x: x * 255, r"values in \[0, 1\]"),
        (lambda x: x.view(len(x), -1), "reshape"),
        (lambda x: x.squeeze(1), "channel"),
    ],
)
def test_bad_training_data_gives_a_clear_error(mnist, bad, message):
    x, _ = mnist
    with pytest.raises(ValueError, match=message):
        train.fit(small_vae(), bad(x[:64]), num_epochs=1, **quiet())
    with pytest.raises(ValueError, match="test_x"):
        train.fit(small_vae(), x[:64], test_x=bad(x[:64]), num_epochs=1, **quiet())


def test_uint8_images_train_exactly_like_the_same_images_as_floats(mnist):
    x, x_test = mnist
    x8, x8_test = (x * 255).round().to(torch.uint8), (x_test * 255).round().to(torch.uint8)
    assert torch.equal(data.to_float(x8), x)  # the same images
    as_float = train.fit(small_vae(), x, test_x=x_test, num_epochs=2, **quiet())
    as_uint8 = train.fit(small_vae(), x8, test_x=x8_test, num_epochs=2, **quiet())
    assert numbers(as_uint8) == numbers(as_float)  # scaled per batch, bit for bit


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"num_epochs": 0}, "num_epochs"),
        ({"batch_size": 0}, "batch_size"),
        ({"lr": -1.0}, "lr"),
        ({"beta": "linear"}, "schedule"),
        ({"free_bits": -1.0}, "free_bits"),
        ({"likelihood": "poisson"}, "likelihood"),
        ({"amp": True}, "CUDA"),
    ],
)
def test_bad_hyperparameters_give_a_clear_error(mnist, kw, message):
    x, _ = mnist
    with pytest.raises(ValueError, match=message):
        train.fit(small_vae(), x[:64], **{"num_epochs": 1, **quiet(), **kw})


def test_callbacks_see_each_epoch_and_can_stop(mnist):
    x, _ = mnist
    seen = []

    def cb(epoch, history, model):
        seen.append((epoch, len(history), model.training))
        return epoch == 2

    h = train.fit(small_vae(), x[:256], num_epochs=5, callbacks=[cb], **quiet())
    assert seen == [(1, 1, True), (2, 2, True)]
    assert h.epoch == [1, 2]


def test_log_lines_and_silence(mnist, capsys):
    x, x_test = mnist
    train.fit(small_vae(), x[:256], test_x=x_test, num_epochs=2, progress=False)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["epoch", "loss", "recon", "kl", "test_loss"]
    assert [line.split()[0] for line in lines[1:]] == ["1", "2"]
    assert len({len(line) for line in lines}) == 1  # fixed-width columns
    train.fit(small_vae(), x[:256], num_epochs=1, progress=False, log=False)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_history_round_trips_through_dict_and_json(mnist, tmp_path):
    x, x_test = mnist
    h = train.fit(small_vae(), x[:256], test_x=x_test, num_epochs=2, **quiet())
    assert train.History.from_dict(h.to_dict()) == h
    text = h.to_json(tmp_path / "h.json")
    assert json.loads((tmp_path / "h.json").read_text()) == json.loads(text)
    assert train.History.from_dict(json.loads(text)) == h
    with pytest.raises(ValueError, match="unknown History fields"):
        train.History.from_dict({**h.to_dict(), "accuracy": [1.0]})


def test_checkpoint_round_trip(mnist, tmp_path):
    x, _ = mnist
    model = small_vae()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    h = train.fit(model, x[:256], num_epochs=1, optimizer=optimizer, **quiet())
    path = train.save_checkpoint(
        tmp_path / "sub" / "m.pt", model, optimizer=optimizer, history=h, extra={"note": "hi"}
    )
    ckpt = train.load_checkpoint(path)
    assert ckpt.model.spec() == model.spec() and type(ckpt.model) is models.MLPVAE
    assert not ckpt.model.training
    for (k, v), w in zip(model.state_dict().items(), ckpt.model.state_dict().values(), strict=True):
        assert torch.equal(v, w), k
    assert ckpt.history == h and ckpt.extra == {"note": "hi"} and ckpt.train_state is None
    fresh = torch.optim.Adam(ckpt.model.parameters(), lr=1e-3)
    fresh.load_state_dict(ckpt.optimizer_state)
    assert fresh.state_dict()["state"][0]["step"] == optimizer.state_dict()["state"][0]["step"]
    with pytest.raises(ValueError, match="cannot resume"):
        train.fit(small_vae(), x[:256], num_epochs=2, resume=ckpt, **quiet())


def test_crash_mid_write_leaves_previous_checkpoint_intact(tmp_path, monkeypatch):
    path = tmp_path / "m.pt"
    first = small_vae(seed=1)
    train.save_checkpoint(path, first, extra={"version": 1})
    real_save = torch.save

    def crash(obj, f, *args, **kwargs):
        real_save(obj, f, *args, **kwargs)  # bytes reach the temporary file...
        f.seek(0)
        f.truncate(100)
        raise OSError("disk full")  # ...then the write dies half-way

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(OSError, match="disk full"):
        train.save_checkpoint(path, small_vae(seed=2), extra={"version": 2})
    monkeypatch.undo()
    ckpt = train.load_checkpoint(path)
    assert ckpt.extra == {"version": 1}
    for v, w in zip(first.state_dict().values(), ckpt.model.state_dict().values(), strict=True):
        assert torch.equal(v, w)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.pt"]  # no temporary file left


class _RunsCodeOnLoad:
    """A pickle that would create a file when unpickled without weights_only."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_pickled_code_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    payload = {"format": 1, "model": small_vae().spec(), "state_dict": {}}
    payload["extra"] = _RunsCodeOnLoad(str(marker))
    torch.save(payload, path)
    with pytest.raises(ValueError, match="not a vaelab checkpoint.*weights_only"):
        train.load_checkpoint(path)
    assert not marker.exists()
    with open(tmp_path / "plain.pkl", "wb") as f:
        pickle.dump(_RunsCodeOnLoad(str(marker)), f)
    with pytest.raises(ValueError):
        train.load_checkpoint(tmp_path / "plain.pkl")
    assert not marker.exists()


def test_missing_truncated_and_foreign_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        train.load_checkpoint(tmp_path / "nope.pt")
    good = train.save_checkpoint(tmp_path / "good.pt", small_vae())
    blob = good.read_bytes()
    (tmp_path / "cut.pt").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        train.load_checkpoint(tmp_path / "cut.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint at all")
    with pytest.raises(ValueError, match="truncated or corrupt"):
        train.load_checkpoint(tmp_path / "junk.pt")
    torch.save({"weights": torch.zeros(3)}, tmp_path / "foreign.pt")
    with pytest.raises(ValueError, match="not a vaelab checkpoint"):
        train.load_checkpoint(tmp_path / "foreign.pt")
