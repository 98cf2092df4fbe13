"""vaelab.models: shapes, the VAE interface, determinism, gradients and input errors."""

import pytest
import torch

from vaelab import models

VAES = [models.MLPVAE, models.ConvVAE, models.UpsampleConvVAE]
AUTOENCODERS = [models.MLPAutoencoder, models.ConvAutoencoder]


@pytest.mark.parametrize("cls", VAES)
@pytest.mark.parametrize("batch, latent_dim", [(1, 2), (5, 20)])
def test_vae_shapes(cls, batch, latent_dim):
    torch.manual_seed(0)
    model = cls(latent_dim=latent_dim)
    x = torch.rand(batch, 1, 28, 28)
    out = model(x)
    assert isinstance(out, models.VAEOutput)
    assert out.x_logits.shape == x.shape
    for t in (out.mu, out.logvar, out.z):
        assert t.shape == (batch, latent_dim)
    mu, logvar = model.encode(x)
    assert torch.equal(mu, out.mu) and torch.equal(logvar, out.logvar)
    assert model.decode(out.z).shape == x.shape
    samples = model.sample(3)
    assert samples.shape == (3, 1, 28, 28) and 0 <= samples.min() and samples.max() <= 1
    recon = model.reconstruct(x)
    assert recon.shape == x.shape and 0 <= recon.min() and recon.max() <= 1


@pytest.mark.parametrize("cls", AUTOENCODERS)
def test_autoencoder_shapes(cls):
    model = cls(latent_dim=2)
    x = torch.rand(4, 1, 28, 28)
    out = model(x)
    assert isinstance(out, models.AEOutput)
    assert out.x_logits.shape == x.shape and out.z.shape == (4, 2)
    assert torch.equal(model.encode(x), out.z)
    assert model.reconstruct(x).shape == x.shape


def test_reference_mlp_vae_layers():
    model = models.MLPVAE()  # 784 -> 400 -> (20, 20) -> 400 -> 784
    shapes = {name: tuple(p.shape) for name, p in model.named_parameters()}
    assert shapes["to_mu.weight"] == (20, 400) and shapes["to_logvar.weight"] == (20, 400)
    assert shapes["encoder.1.weight"] == (400, 28 * 28)
    assert shapes["decoder.2.weight"] == (28 * 28, 400)


def test_conv_vae_has_three_conv_and_three_transposed_layers():
    conv = models.ConvVAE()
    kinds = [type(m).__name__ for m in conv.modules()]
    assert kinds.count("Conv2d") == 3 and kinds.count("ConvTranspose2d") == 3
    upsample = models.UpsampleConvVAE()
    kinds = [type(m).__name__ for m in upsample.modules()]
    assert kinds.count("ConvTranspose2d") == 0 and kinds.count("Upsample") == 3
    assert upsample.config.decoder == "upsample"


@pytest.mark.parametrize("shape", [(1, 32, 32), (3, 64, 48), (1, 28, 28)])
def test_conv_models_follow_the_image_shape(shape):
    model = models.ConvVAE(image_shape=shape, latent_dim=3)
    x = torch.rand(2, *shape)
    assert model(x).x_logits.shape == x.shape
    ae = models.ConvAutoencoder(image_shape=shape, latent_dim=3, decoder="upsample")
    assert ae(x).x_logits.shape == x.shape


def test_forward_is_repeatable_with_eps_or_generator_and_eval_is_deterministic():
    model = models.MLPVAE(latent_dim=4).eval()
    x = torch.rand(3, 1, 28, 28)
    a = model(x, generator=torch.Generator().manual_seed(1))
    b = model(x, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a.z, b.z) and torch.equal(a.x_logits, b.x_logits)
    eps = torch.zeros(3, 4)
    assert torch.equal(model(x, eps=eps).z, model.encode(x)[0])  # eps = 0 gives z = mu
    assert torch.equal(model.reconstruct(x), model.reconstruct(x))
    s1 = model.sample(4, generator=torch.Generator().manual_seed(5))
    s2 = model.sample(4, generator=torch.Generator().manual_seed(5))
    assert torch.equal(s1, s2)


@pytest.mark.parametrize("cls", VAES)
def test_gradients_reach_every_parameter(cls):
    from vaelab import losses

    model = cls(latent_dim=3)
    x = torch.rand(2, 1, 28, 28)
    losses.elbo(model(x), x).loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_spec_rebuilds_the_same_architecture():
    for model in (models.MLPVAE(latent_dim=7, hidden_dim=50), models.UpsampleConvVAE(latent_dim=3)):
        clone = models.build(model.spec())
        assert type(clone) is type(model) and clone.config == model.config
        clone.load_state_dict(model.state_dict())  # same parameter names and shapes
    with pytest.raises(ValueError, match="unknown model"):
        models.build({"name": "GAN", "config": {}})


@pytest.mark.parametrize(
    "bad, message",
    [
        (torch.rand(4, 1, 28, 28) * 255, "values in \\[0, 1\\].*divide by 255"),
        (torch.randint(0, 256, (4, 1, 28, 28), dtype=torch.uint8), "dtype uint8.*divide by 255"),
        (torch.rand(4, 784), "got \\(4, 784\\).*view\\(-1, 1, 28, 28\\)"),
        (torch.rand(1, 28, 28), "unsqueeze\\(0\\)"),
        (torch.rand(4, 28, 28), "unsqueeze\\(1\\)"),
        (torch.full((2, 1, 28, 28), float("nan")), "NaN"),
        ([[0.0]], "torch.Tensor"),
    ],
)
def test_bad_input_names_the_problem_and_the_fix(bad, message):
    for model in (models.MLPVAE(), models.ConvAutoencoder()):
        with pytest.raises(ValueError, match=message):
            model(bad)


def test_bad_latent_is_refused():
    model = models.MLPVAE(latent_dim=2)
    with pytest.raises(ValueError, match="shape \\(B, 2\\)"):
        model.decode(torch.zeros(3, 5))
    with pytest.raises(ValueError, match="unsqueeze"):
        model.decode(torch.zeros(2))
    with pytest.raises(ValueError, match="latent_dim"):
        models.MLPVAE(latent_dim=0)


def test_models_follow_the_device_and_dtype_of_their_parameters():
    model = models.MLPVAE(latent_dim=2).double()
    assert model.sample(2).dtype == torch.float64
    assert model(torch.rand(2, 1, 28, 28, dtype=torch.float64)).z.dtype == torch.float64
