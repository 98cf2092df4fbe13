"""vaelab.conditional: shapes, labels in both forms, gradients, sampling a chosen class."""

import pytest
import torch
import torch.nn.functional as F

from vaelab import conditional, losses, models


def _model(**overrides):
    torch.manual_seed(0)
    config = dict(image_shape=(1, 8, 8), hidden_dim=16, latent_dim=3, num_classes=4)
    return conditional.ConditionalVAE(**{**config, **overrides})


@pytest.mark.parametrize("batch", [1, 5])
def test_shapes_and_elbo(batch):
    model = _model()
    x, y = torch.rand(batch, 1, 8, 8), torch.arange(batch) % 4
    out = model(x, y)
    assert isinstance(out, models.VAEOutput)
    assert out.x_logits.shape == x.shape
    assert out.mu.shape == out.logvar.shape == out.z.shape == (batch, 3)
    terms = losses.elbo(out, x)
    terms.loss.backward()
    for layer in (model.to_mu, model.to_logvar, model.decoder[0]):
        assert layer.weight.grad is not None and layer.weight.grad.abs().sum() > 0


def test_integer_and_one_hot_labels_agree():
    model = _model()
    x, y = torch.rand(6, 1, 8, 8), torch.tensor([0, 1, 2, 3, 2, 1])
    eps = torch.randn(6, 3)
    a = model(x, y, eps=eps)
    b = model(x, F.one_hot(y, 4).float(), eps=eps)
    for t, u in zip(a, b, strict=True):
        torch.testing.assert_close(t, u)


def test_encoder_and_decoder_see_the_label():
    model = _model()
    x = torch.rand(2, 1, 8, 8)
    z = torch.randn(2, 3)
    y0, y1 = torch.zeros(2, dtype=torch.long), torch.ones(2, dtype=torch.long)
    assert not torch.allclose(model.encode(x, y0)[0], model.encode(x, y1)[0])
    assert not torch.allclose(model.decode(z, y0), model.decode(z, y1))


def test_matches_an_mlp_vae_built_by_hand():
    # encoder input [x, one_hot(y)], decoder input [z, one_hot(y)]: check the concatenation
    model = _model()
    x, y = torch.rand(3, 1, 8, 8), torch.tensor([3, 0, 1])
    y1 = F.one_hot(y, 4).float()
    h = torch.relu(model.encoder[0](torch.cat([x.flatten(1), y1], 1)))
    mu, logvar = model.encode(x, y)
    torch.testing.assert_close(mu, model.to_mu(h))
    torch.testing.assert_close(logvar, model.to_logvar(h))
    z = torch.randn(3, 3)
    hidden = torch.relu(model.decoder[0](torch.cat([z, y1], 1)))
    torch.testing.assert_close(model.decode(z, y), model.decoder[2](hidden).view(3, 1, 8, 8))


def test_sample_a_chosen_class_is_repeatable():
    model = _model()
    gen = torch.Generator().manual_seed(1)
    first = model.sample(5, 2, generator=gen)
    gen.manual_seed(1)
    second = model.sample(5, torch.full((5,), 2), generator=gen)
    assert first.shape == (5, 1, 8, 8) and 0 <= first.min() and first.max() <= 1
    torch.testing.assert_close(first, second)
    assert model.reconstruct(torch.rand(2, 1, 8, 8), torch.tensor([0, 1])).shape == (2, 1, 8, 8)


def test_learns_to_draw_the_requested_class():
    # Two "classes" of 8x8 images: top half lit, or bottom half lit.
    torch.manual_seed(0)
    model = _model(num_classes=2)
    x = torch.zeros(64, 1, 8, 8)
    y = torch.arange(64) % 2
    x[y == 0, :, :4] = 1.0
    x[y == 1, :, 4:] = 1.0
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(150):
        loss = losses.elbo(model(x, y), x).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    top = model.sample(10, 0)
    bottom = model.sample(10, 1)
    assert top[..., :4, :].mean() > 0.8 > 0.2 > top[..., 4:, :].mean()
    assert bottom[..., 4:, :].mean() > 0.8 > 0.2 > bottom[..., :4, :].mean()


@pytest.mark.parametrize(
    "y, message",
    [
        (torch.tensor([0, 4]), "labels must be in 0..3"),
        (torch.tensor([0.0, 1.0]), "integer labels"),
        (torch.zeros(2, 5), "one-hot y of shape"),
        (torch.tensor([0, 1, 2]), "one label per example"),
    ],
)
def test_bad_labels_name_the_problem(y, message):
    model = _model()
    with pytest.raises(ValueError, match=message):
        model(torch.rand(2, 1, 8, 8), y)


def test_bad_images_are_refused():
    with pytest.raises(ValueError, match="values in"):
        _model()(torch.full((2, 1, 8, 8), 255.0), torch.tensor([0, 1]))
