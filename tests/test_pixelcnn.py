"""The PixelCNN decoder: masks, causality by brute-force gradients, the VAE interface, sampling."""

import math

import pytest
import torch

from vaelab import losses, models, train


def _dependence(fn, x: torch.Tensor) -> torch.Tensor:
    """(P, P) bool: entry [i, j] says whether output pixel i changes with input pixel j.

    Brute force: one backward pass per output pixel; pixels in raster order, channels summed.
    """
    x = x.clone().requires_grad_(True)
    out = fn(x)  # (1, C_out, H, W)
    height, width = out.shape[-2:]
    rows = []
    for i in range(height * width):
        (grad,) = torch.autograd.grad(out[0, :, i // width, i % width].sum(), x, retain_graph=True)
        rows.append(grad[0].abs().sum(dim=0).flatten() > 0)  # (P,) over input pixels
    return torch.stack(rows)


def test_causal_mask_values():
    a = models.causal_mask(3, "A")
    b = models.causal_mask(3, "B")
    assert a.tolist() == [[1, 1, 1], [1, 0, 0], [0, 0, 0]]
    assert b.tolist() == [[1, 1, 1], [1, 1, 0], [0, 0, 0]]
    assert models.causal_mask(1, "A").tolist() == [[0]]
    assert models.causal_mask(1, "B").tolist() == [[1]]
    for k in (3, 5, 7):
        mask = models.causal_mask(k, "A")
        assert mask.dtype == torch.float32 and mask.shape == (k, k)
        assert mask.sum() == (k * k - 1) // 2  # every pixel before the centre, in raster order
        assert torch.equal(models.causal_mask(k, "B") - mask, torch.zeros(k, k).index_put_(
            (torch.tensor(k // 2), torch.tensor(k // 2)), torch.tensor(1.0)))  # fmt: skip


@pytest.mark.parametrize("kernel_size, mask_type, message", [
    (4, "A", "odd"), (0, "B", "odd"), (3, "C", "'A'"), (3, "a", "'A'"),
])  # fmt: skip
def test_causal_mask_refuses_bad_arguments(kernel_size, mask_type, message):
    with pytest.raises(ValueError, match=message):
        models.causal_mask(kernel_size, mask_type)


@pytest.mark.parametrize("mask_type", ["A", "B"])
@pytest.mark.parametrize("kernel_size, in_ch, out_ch", [(3, 1, 4), (5, 3, 2), (7, 2, 2)])
def test_masked_conv_output_never_sees_later_pixels(mask_type, kernel_size, in_ch, out_ch):
    torch.manual_seed(0)
    conv = models.MaskedConv2d(in_ch, out_ch, kernel_size, mask_type=mask_type)
    size = 6
    dep = _dependence(conv, torch.randn(1, in_ch, size, size))
    p = size * size
    i, j = torch.meshgrid(torch.arange(p), torch.arange(p), indexing="ij")
    allowed = j < i if mask_type == "A" else j <= i  # raster order
    assert not (dep & ~allowed).any(), "an output pixel depends on a later (or, A: its own) pixel"
    # and the mask is not stricter than it must be: inside the window, every earlier pixel counts
    ri, ci, rj, cj = i // size, i % size, j // size, j % size
    window = ((ri - rj).abs() <= kernel_size // 2) & ((ci - cj).abs() <= kernel_size // 2)
    assert torch.equal(dep, allowed & window)


def _decoder(**overrides):
    torch.manual_seed(0)
    config = models.PixelCNNConfig(image_shape=(1, 8, 8), latent_dim=3, hidden_dim=16, **overrides)
    return models.PixelCNNDecoder(config), config


@pytest.mark.parametrize("conditioning", ["spatial", "global"])
@pytest.mark.parametrize("num_layers, kernel_size", [(1, 3), (3, 5), (4, 7)])
def test_whole_decoder_is_causal(conditioning, num_layers, kernel_size):
    decoder, config = _decoder(
        num_layers=num_layers,
        kernel_size=kernel_size,
        hidden_channels=6,
        conditioning=conditioning,
    )
    z = torch.randn(1, 3)
    dep = _dependence(lambda x: decoder(z, x), torch.rand(1, 1, 8, 8))
    p = 64
    i, j = torch.meshgrid(torch.arange(p), torch.arange(p), indexing="ij")
    assert not (dep & (j >= i)).any(), "the logit of pixel i depends on pixel i or a later one"
    assert dep.any(dim=1)[1:].all()  # every pixel after the first sees some earlier pixel
    rows_seen = (i // 8 - j // 8)[dep]
    assert rows_seen.max() == config.receptive_rows()


def test_small_decoder_sees_only_its_four_neighbours():
    decoder, _ = _decoder(num_layers=1, kernel_size=3, hidden_channels=4)
    dep = _dependence(lambda x: decoder(torch.zeros(1, 3), x), torch.rand(1, 1, 8, 8))
    r, c = 4, 4
    seen = {(j // 8, j % 8) for j in dep[r * 8 + c].nonzero().flatten().tolist()}
    assert seen == {(3, 3), (3, 4), (3, 5), (4, 3)}


@pytest.mark.parametrize("conditioning", ["spatial", "global"])
def test_z_reaches_every_pixel(conditioning):
    decoder, _ = _decoder(conditioning=conditioning, hidden_channels=4)
    z = torch.randn(2, 3, requires_grad=True)
    logits = decoder(z, torch.rand(2, 1, 8, 8))
    for i in range(64):
        (grad,) = torch.autograd.grad(logits[0, 0, i // 8, i % 8], z, retain_graph=True)
        assert grad[0].abs().sum() > 0 and grad[1].abs().sum() == 0  # its own code only


# ---------------------------------------------------------------- the VAE


def _vae(**overrides):
    torch.manual_seed(0)
    settings = dict(latent_dim=4, hidden_dim=32, hidden_channels=8, num_layers=2)
    return models.PixelCNNVAE(**{**settings, **overrides})


@pytest.mark.parametrize("image_shape", [(1, 28, 28), (3, 12, 10)])
def test_vae_interface_and_shapes(image_shape):
    model = _vae(image_shape=image_shape)
    x = (torch.rand(5, *image_shape) < 0.3).float()
    out = model(x)
    assert isinstance(out, models.VAEOutput)
    assert out.x_logits.shape == x.shape
    assert out.mu.shape == out.logvar.shape == out.z.shape == (5, 4)
    mu, logvar = model.encode(x)
    assert torch.equal(mu, out.mu) and torch.equal(logvar, out.logvar)
    assert torch.equal(model.decode(out.z, x), out.x_logits)
    recon = model.reconstruct(x)
    assert recon.shape == x.shape and 0 <= recon.min() and recon.max() <= 1


def test_samples_are_binary_images_and_repeatable():
    model = _vae(image_shape=(2, 7, 5)).eval()
    a = model.sample(3, generator=torch.Generator().manual_seed(0))
    b = model.sample(3, generator=torch.Generator().manual_seed(0))
    assert a.shape == (3, 2, 7, 5) and torch.equal(a, b)
    assert set(a.unique().tolist()) <= {0.0, 1.0}


def test_decode_without_the_image_says_what_to_do():
    model = _vae()
    with pytest.raises(ValueError, match="decode\\(z, x\\).*sample"):
        model.decode(torch.zeros(2, 4))


def test_config_errors_name_the_setting():
    with pytest.raises(ValueError, match="hidden_kernel_size"):
        models.PixelCNNVAE(hidden_kernel_size=4)
    with pytest.raises(ValueError, match="num_layers"):
        models.PixelCNNVAE(num_layers=0)
    with pytest.raises(ValueError, match="conditioning"):
        models.PixelCNNVAE(conditioning="both")


def test_spec_rebuilds_the_same_model():
    model = _vae(conditioning="global", kernel_size=5)
    rebuilt = models.build(model.spec())
    assert type(rebuilt) is models.PixelCNNVAE and rebuilt.config == model.config
    rebuilt.load_state_dict(model.state_dict())
    x = (torch.rand(3, 1, 28, 28) < 0.3).float()
    eps = torch.randn(3, 4)
    assert torch.equal(rebuilt(x, eps=eps).x_logits, model(x, eps=eps).x_logits)
    assert "mask" not in " ".join(model.state_dict())  # masks are rebuilt, not stored


@pytest.mark.parametrize("conditioning", ["spatial", "global"])
def test_sampling_draws_each_pixel_from_its_conditional(conditioning):
    """Re-scoring a sample in one teacher-forced pass over the whole image must give back
    every coin flip (so the row crop that sampling uses changes nothing)."""
    model = _vae(image_shape=(1, 9, 7), num_layers=2, kernel_size=3, conditioning=conditioning)
    model.eval()
    assert model.config.receptive_rows() == 2  # < 9 rows: the crop is really used
    n, seed = 8, 3
    x = model.sample(n, generator=torch.Generator().manual_seed(seed))
    # the same random stream: z first, then one (n, C) uniform draw per pixel, in raster order
    generator = torch.Generator().manual_seed(seed)
    z = torch.randn(n, 4, generator=generator)
    u = torch.stack([torch.rand(n, 1, generator=generator) for _ in range(63)], dim=-1)
    u = u.view(n, 1, 9, 7)
    probs = torch.sigmoid(model.decode(z, x))  # (n, 1, 9, 7), pixel i from pixels < i of x
    assert torch.equal(x, (u < probs).float())
    assert 0 < x.mean() < 1
    given = model.sample(n, z=z, generator=torch.Generator().manual_seed(0))
    assert given.shape == x.shape
    with pytest.raises(ValueError, match="num_samples=3"):
        model.sample(3, z=z)


def test_iwae_bound_scores_the_image_with_the_autoregressive_decoder():
    model = _vae().eval()
    x = (torch.rand(3, 1, 28, 28) < 0.3).float()
    k = 5
    got = losses.iwae_bound(model, x, num_samples=k, generator=torch.Generator().manual_seed(1))
    mu, logvar = model.encode(x)
    eps = torch.randn(k, 3, 4, generator=torch.Generator().manual_seed(1))
    log_w = []
    for i in range(k):
        z = mu + torch.exp(0.5 * logvar) * eps[i]
        log_w.append(
            -losses.bernoulli_nll(model.decode(z, x), x, reduction="none")
            + losses.log_standard_normal(z)
            - losses.log_normal(z, mu, logvar)
        )
    expected = torch.logsumexp(torch.stack(log_w), dim=0) - math.log(k)
    assert torch.allclose(got, expected.detach(), atol=1e-4)


def test_fit_trains_it_and_the_loss_falls():
    model = _vae(num_layers=2, hidden_channels=8)
    torch.manual_seed(1)
    x = (torch.rand(64, 1, 28, 28) < 0.15).float()
    history = train.fit(model, x, test_x=x[:32], num_epochs=3, batch_size=32, lr=3e-3,
                        progress=False, log=False)  # fmt: skip
    assert history.test_loss[-1] < history.test_loss[0]
    for p in model.parameters():
        assert p.grad is not None
