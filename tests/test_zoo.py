"""vaelab.zoo in FAST mode with a temporary cache: train once, load fast, score digits."""

from __future__ import annotations

import math
import time

import pytest
import torch
from torch.distributions import Categorical

from vaelab import classifier, data, models, train, zoo


@pytest.fixture(autouse=True)
def fast_tmp_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("VAELAB_FAST", "1")
    monkeypatch.setenv("VAELAB_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small models: steadier on a busy machine
    yield
    torch.set_num_threads(threads)


def test_unknown_name_lists_the_choices():
    with pytest.raises(ValueError, match="mlp_vae_20d"):
        zoo.get("gan")


@pytest.mark.slow
@pytest.mark.parametrize(
    "name, cls, latent_dim",
    [
        ("mlp_vae_2d", models.MLPVAE, 2),
        ("mlp_vae_20d", models.MLPVAE, 20),
        ("mlp_ae_2d", models.MLPAutoencoder, 2),
        ("conv_vae", models.ConvVAE, 20),
    ],
)
def test_trains_once_then_loads_from_the_cache(name, cls, latent_dim, monkeypatch):
    rng = torch.get_rng_state()
    model = zoo.get(name, progress=False, retrain=True)
    assert torch.equal(torch.get_rng_state(), rng)  # the caller's global RNG is left alone
    assert type(model) is cls and model.latent_dim == latent_dim and not model.training
    files = list(zoo.cache_dir().glob(f"{name}-fast-*.pt"))
    assert len(files) == 1 and str(zoo.cache_dir()).endswith("cache/zoo")
    assert model.zoo_info["fast"] and model.zoo_info["num_train"] == zoo.FAST_NUM_TRAIN
    assert math.isfinite(model.zoo_info["test_loss"])

    def no_training(*args, **kwargs):
        raise AssertionError("a cached model must not be trained again")

    monkeypatch.setattr(train, "fit", no_training)
    start = time.perf_counter()
    again = zoo.get(name, progress=False)
    assert time.perf_counter() - start < 1.0
    for (k, v), w in zip(model.state_dict().items(), again.state_dict().values(), strict=True):
        assert torch.equal(v, w), k
    # It reconstructs better than an untrained model of the same architecture.
    x = data.load_mnist("test", limit=200).x
    torch.manual_seed(1)
    untrained = cls(latent_dim=latent_dim)
    assert _recon_error(again, x) < _recon_error(untrained, x)


def _recon_error(model, x) -> float:
    return float((model.reconstruct(x) - x).pow(2).mean())


def test_corrupt_cache_file_is_retrained(monkeypatch):
    model = zoo.get("mlp_ae_2d", progress=False)
    (path,) = zoo.cache_dir().glob("mlp_ae_2d-fast-*.pt")
    path.write_bytes(path.read_bytes()[:200])
    with pytest.warns(UserWarning, match="retraining mlp_ae_2d"):
        again = zoo.get("mlp_ae_2d", progress=False)
    for v, w in zip(model.state_dict().values(), again.state_dict().values(), strict=True):
        assert torch.equal(v, w)  # seeded training: the same model again
    assert train.load_checkpoint(path).model.spec() == model.spec()


def test_fast_and_full_mode_use_different_cache_keys(monkeypatch):
    setup = zoo.SETUPS["mlp_vae_2d"]
    spec = models.MLPVAE(latent_dim=2).spec()
    fast = zoo._key("mlp_vae_2d", setup, zoo._epochs(setup, 1000, True), spec, "s", 1000)
    full = zoo._key("mlp_vae_2d", setup, zoo._epochs(setup, 8000, False), spec, "s", 8000)
    other_data = zoo._key("mlp_vae_2d", setup, zoo._epochs(setup, 8000, False), spec, "t", 8000)
    assert len({fast, full, other_data}) == 3
    assert zoo._epochs(setup, 60000, False) < zoo._epochs(setup, 8000, False)


@pytest.fixture(scope="module")
def digits():
    return data.load_mnist("test", limit=500)


@pytest.mark.slow
def test_classifier_and_score_digits(digits):
    model = zoo.get("classifier", progress=False)
    assert isinstance(model, classifier.DigitClassifier) and not model.training
    assert model.zoo_info["test_accuracy"] > 0.8  # FAST: 1,000 images, 6 epochs
    proba = model.predict_proba(digits.x)
    assert proba.shape == (500, 10)
    assert torch.allclose(proba.sum(dim=1), torch.ones(500), atol=1e-5)
    assert classifier.accuracy(model, digits.x, digits.y) > 0.8

    scores = zoo.score_digits(digits.x, model=model)
    counts = torch.tensor(scores["class_counts"])
    assert counts.sum() == 500 and scores["num_images"] == 500
    assert torch.equal(counts, torch.bincount(proba.argmax(dim=1), minlength=10))
    oracle = Categorical(probs=counts.double() / 500).entropy() / math.log(10)
    assert scores["evenness"] == pytest.approx(float(oracle))
    assert scores["evenness"] > 0.95  # a stratified sample of all ten digits
    assert scores["confidence"] == pytest.approx(float(proba.max(dim=1).values.mean()))

    ones = digits.x[digits.y == 1]
    one_scores = zoo.score_digits(ones, model=model)
    assert one_scores["evenness"] < 0.3 and one_scores["confidence"] > 0.7
    blank = zoo.score_digits(torch.full((50, 1, 28, 28), 0.5), model=model)
    assert blank["evenness"] == 0.0  # one class for identical images
    with pytest.raises(ValueError, match="divide by 255"):
        zoo.score_digits(digits.x * 255, model=model)


@pytest.mark.slow
def test_the_beta0_vae_is_trained_without_the_kl_term(monkeypatch):
    betas = []
    real_fit = train.fit

    def recording_fit(*args, **kwargs):
        betas.append(kwargs["beta"])
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(train, "fit", recording_fit)
    beta0 = zoo.get("mlp_vae_20d_beta0", progress=False, retrain=True)
    beta1 = zoo.get("mlp_vae_20d", progress=False, retrain=True)
    assert betas == [0.0, 1.0] and beta0.zoo_info["beta"] == 0.0
    assert type(beta0) is models.MLPVAE and beta0.latent_dim == 20
    (path0,) = zoo.cache_dir().glob("mlp_vae_20d_beta0-fast-*.pt")
    (path1,) = zoo.cache_dir().glob("mlp_vae_20d-fast-*.pt")
    assert path0.name.split("-")[-1] != path1.name.split("-")[-1]  # different keys
    # Nothing holds the beta = 0 posteriors near the prior: they drift far from it.
    x = data.load_mnist("test", limit=500).x
    kl = {m: train.evaluate(m, x)["kl"] for m in (beta0, beta1)}
    assert kl[beta0] > 2 * kl[beta1], kl


def test_a_seed_trains_and_caches_a_model_of_its_own(monkeypatch):
    monkeypatch.setattr(zoo, "_epochs", lambda setup, num_train, fast: 1)  # quick
    default = zoo.get("mlp_ae_2d", progress=False, retrain=True)
    files = set(zoo.cache_dir().glob("mlp_ae_2d-fast-*.pt"))
    seed_0 = zoo.get("mlp_ae_2d", progress=False, seed=0)  # the set-up's seed: the same file
    assert set(zoo.cache_dir().glob("mlp_ae_2d-fast-*.pt")) == files
    seed_1 = zoo.get("mlp_ae_2d", progress=False, seed=1)
    assert len(set(zoo.cache_dir().glob("mlp_ae_2d-fast-*.pt")) - files) == 1
    for v, w in zip(default.state_dict().values(), seed_0.state_dict().values(), strict=True):
        assert torch.equal(v, w)
    differ = [
        not torch.equal(v, w)
        for v, w in zip(default.state_dict().values(), seed_1.state_dict().values(), strict=True)
    ]
    assert all(differ)  # other initial weights, another training run
    again = zoo.get("mlp_ae_2d", progress=False, seed=1)  # cached now
    for v, w in zip(seed_1.state_dict().values(), again.state_dict().values(), strict=True):
        assert torch.equal(v, w)
