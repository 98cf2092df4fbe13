"""vaelab._fast: the hand-derived MLP step and the direct Adam call, against autograd and
torch.optim.Adam.step as oracles."""

from __future__ import annotations

import copy

import pytest
import torch

from vaelab import _fast, data, losses, models, train

LIKELIHOODS = ("bernoulli", "gaussian")


def _autograd_terms(model, x, *, beta, free_bits, likelihood, seed):
    generator = torch.Generator().manual_seed(seed)
    model.zero_grad(set_to_none=True)
    if hasattr(model, "to_mu"):
        terms = losses.elbo(
            model(x, generator=generator), x, beta=beta, free_bits=free_bits, likelihood=likelihood
        )
    else:
        recon = losses.reconstruction_nll(model(x).x_logits, x, likelihood=likelihood)
        terms = losses.ELBOTerms(recon, recon, torch.zeros(()))
    terms.loss.backward()
    return terms, {name: p.grad.clone() for name, p in model.named_parameters()}


@pytest.mark.parametrize("likelihood", LIKELIHOODS)
@pytest.mark.parametrize("cls", [models.MLPVAE, models.MLPAutoencoder])
@pytest.mark.parametrize("free_bits", [0.0, "mixed"])
def test_hand_step_gradients_and_terms_equal_autograd(cls, likelihood, free_bits):
    torch.manual_seed(0)
    x = torch.rand(37, 1, 12, 10)  # odd batch and image sizes, grey levels
    model = cls(image_shape=(1, 12, 10), hidden_dim=50, latent_dim=6)
    with torch.no_grad():  # spread the posterior so dimensions carry different KL
        if hasattr(model, "to_mu"):
            model.to_mu.weight.mul_(torch.linspace(0.1, 8.0, 6)[:, None])
    if free_bits == "mixed":  # a threshold between the dimensions' KLs: some clamped, some not
        with torch.no_grad():
            if hasattr(model, "to_mu"):
                mu, logvar = model.encode(x)
                kl_dim = losses.kl_per_dim(mu, logvar).mean(0)
                low, high = kl_dim.sort().values[2:4]
                free_bits = float(low + high) / 2  # well clear of every dimension's KL
                assert (kl_dim < free_bits).any() and (kl_dim > free_bits).any()
            else:
                free_bits = 0.5
    beta = 0.7
    ref, ref_grads = _autograd_terms(
        model, x, beta=beta, free_bits=free_bits, likelihood=likelihood, seed=3
    )
    step = _fast.MLPStep(model, likelihood=likelihood, free_bits=free_bits)
    terms = step(x, beta=beta, generator=torch.Generator().manual_seed(3))
    for got, want in zip(terms, ref, strict=True):
        assert isinstance(got, float)
        assert got == pytest.approx(want.item(), rel=1e-5, abs=1e-5)
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.shape == p.shape, name
        scale = ref_grads[name].abs().max().item()
        assert scale > 0, name
        torch.testing.assert_close(p.grad, ref_grads[name], rtol=0, atol=1e-5 * scale + 1e-9)


def test_hand_step_eps_stream_matches_the_model_forward():
    """The hand step draws eps exactly as MLPVAE.forward does: same z, so same training."""
    torch.manual_seed(1)
    model = models.MLPVAE(hidden_dim=32, latent_dim=3)
    x = torch.rand(8, 1, 28, 28)
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    _fast.MLPStep(model, likelihood="bernoulli", free_bits=0.0)(x, beta=1.0, generator=g1)
    model(x, generator=g2)
    assert torch.equal(g1.get_state(), g2.get_state())


def test_direct_adam_is_bit_identical_to_optimizer_step():
    torch.manual_seed(0)
    params = [torch.nn.Parameter(torch.randn(7, 5)), torch.nn.Parameter(torch.randn(5))]
    twins = [torch.nn.Parameter(p.detach().clone()) for p in params]
    opt = torch.optim.Adam(params, lr=3e-3, betas=(0.8, 0.95), weight_decay=0.01, fused=True)
    ref = torch.optim.Adam(twins, lr=3e-3, betas=(0.8, 0.95), weight_decay=0.01, fused=True)
    step = _fast.AdamStep(opt)
    for i in range(6):
        grads = [torch.randn_like(p) for p in params]
        for p, t, g in zip(params, twins, grads, strict=True):
            p.grad, t.grad = g.clone(), g.clone()
        if i == 3:  # a changed learning rate is picked up
            for o in (opt, ref):
                o.param_groups[0]["lr"] = 1e-2
        step()
        ref.step()
        for p, t in zip(params, twins, strict=True):
            assert torch.equal(p, t), i
    assert step.lists  # the direct path was taken after the first step
    a, b = opt.state_dict()["state"], ref.state_dict()["state"]
    for k in a:
        for key in ("step", "exp_avg", "exp_avg_sq"):
            assert torch.equal(a[k][key], b[k][key]), (k, key)


def test_direct_adam_follows_a_loaded_state_dict():
    """opt.load_state_dict mid-run replaces the state tensors: the direct call must use the
    new ones (bit for bit what Adam.step does after the same load)."""
    torch.manual_seed(0)
    params = [torch.nn.Parameter(torch.randn(6, 4)), torch.nn.Parameter(torch.randn(4))]
    twins = [torch.nn.Parameter(p.detach().clone()) for p in params]
    opt = torch.optim.Adam(params, lr=1e-2, fused=True)
    ref = torch.optim.Adam(twins, lr=1e-2, fused=True)
    step = _fast.AdamStep(opt)
    saved = None
    for i in range(7):
        grads = [torch.randn_like(p) for p in params]
        for p, t, g in zip(params, twins, grads, strict=True):
            p.grad, t.grad = g.clone(), g.clone()
        if i == 2:
            saved = copy.deepcopy(ref.state_dict())
        if i == 5:  # roll both optimisers' moments back to step 2
            opt.load_state_dict(copy.deepcopy(saved))  # load_state_dict does not copy
            ref.load_state_dict(copy.deepcopy(saved))
        step()
        ref.step()
        for p, t in zip(params, twins, strict=True):
            assert torch.equal(p, t), i
    assert step.lists
    for k, st in opt.state_dict()["state"].items():
        assert st["step"].item() == 4  # 2 before the save, then steps 5 and 6
        for key in ("exp_avg", "exp_avg_sq"):
            assert torch.equal(st[key], ref.state_dict()["state"][k][key])


def test_direct_adam_counts_steps_per_parameter():
    params = [torch.nn.Parameter(torch.ones(3)), torch.nn.Parameter(torch.ones(2, 2))]
    opt = torch.optim.Adam(params, lr=0.1, fused=True)
    step = _fast.AdamStep(opt)
    for _ in range(5):
        for p in params:
            p.grad = torch.ones_like(p)
        step()
    steps = [opt.state[p]["step"] for p in params]
    assert [s.item() for s in steps] == [5.0, 5.0]
    assert all(s.shape == () for s in steps)


def test_hand_step_rebinds_gradients_a_callback_cleared():
    """model.zero_grad() sets every .grad to None between steps: the next hand step must
    give the parameters fresh gradients, equal to autograd's."""
    torch.manual_seed(0)
    x = torch.rand(16, 1, 8, 8)
    model = models.MLPVAE(image_shape=(1, 8, 8), hidden_dim=24, latent_dim=3)
    step = _fast.MLPStep(model, likelihood="bernoulli", free_bits=0.0)
    step(x, beta=1.0, generator=torch.Generator().manual_seed(1))
    model.zero_grad(set_to_none=True)
    step(x, beta=1.0, generator=torch.Generator().manual_seed(2))
    got = {name: p.grad.clone() for name, p in model.named_parameters()}
    _, want = _autograd_terms(model, x, beta=1.0, free_bits=0.0, likelihood="bernoulli", seed=2)
    for name, grad in want.items():
        torch.testing.assert_close(got[name], grad, rtol=0, atol=1e-5 * grad.abs().max().item())


def test_direct_adam_falls_back_for_other_optimisers():
    p = torch.nn.Parameter(torch.ones(3))
    sgd = torch.optim.SGD([p], lr=0.5)
    step = _fast.AdamStep(sgd)
    for _ in range(2):
        p.grad = torch.ones(3)
        step()
    assert step.lists is False
    assert torch.equal(p.detach(), torch.zeros(3))


class _SubclassVAE(models.MLPVAE):
    pass


def test_hand_step_applies_only_where_it_is_exact():
    cpu = torch.device("cpu")

    def applies(model, **kw):
        return _fast.mlp_step_applies(
            model, device=kw.get("device", cpu), amp=kw.get("amp", False), compile=False
        )

    assert applies(models.MLPVAE(latent_dim=2))
    assert applies(models.MLPAutoencoder(latent_dim=2))
    assert not applies(models.ConvVAE(latent_dim=2))
    assert not applies(_SubclassVAE(latent_dim=2))  # a subclass may change forward
    assert not applies(models.MLPVAE(latent_dim=2), device=torch.device("meta"))
    hooked = models.MLPVAE(latent_dim=2)
    hooked.decoder[0].register_forward_hook(lambda *a: None)
    assert not applies(hooked)
    frozen = models.MLPVAE(latent_dim=2)
    frozen.encoder[1].weight.requires_grad_(False)
    assert not applies(frozen)
    assert not applies(models.MLPVAE(latent_dim=2).double())


@pytest.fixture(scope="module")
def mnist_small():
    return data.load_mnist("train", limit=512).x, data.load_mnist("test", limit=128).x


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"likelihood": "gaussian"},
        {"free_bits": 0.2, "binarize": True},
        {"clear_grads": True},  # a callback sets every .grad to None between epochs
    ],
)
@pytest.mark.parametrize("cls", [models.MLPVAE, models.MLPAutoencoder])
def test_fit_with_hand_step_matches_fit_with_autograd(mnist_small, monkeypatch, cls, kw):
    x, x_test = mnist_small
    kw = dict(kw)
    if kw.pop("clear_grads", False):
        kw["callbacks"] = [lambda epoch, history, model: model.zero_grad(set_to_none=True)]
    runs = {}
    for hand in (True, False):
        monkeypatch.setattr(train, "_use_hand_step", lambda model, hand=hand, **_: hand)
        torch.manual_seed(0)
        model = cls(hidden_dim=64, latent_dim=4)
        history = train.fit(
            model, x, test_x=x_test, num_epochs=3, batch_size=50, progress=False, log=False, **kw
        )
        runs[hand] = (history, model.state_dict())
    (h_hand, s_hand), (h_auto, s_auto) = runs[True], runs[False]
    for key in ("train_loss", "train_recon", "train_kl", "test_loss", "test_kl"):
        torch.testing.assert_close(
            torch.tensor(getattr(h_hand, key)),
            torch.tensor(getattr(h_auto, key)),
            rtol=1e-4,
            atol=1e-4,
        )
    for name in s_hand:
        torch.testing.assert_close(s_hand[name], s_auto[name], rtol=1e-3, atol=1e-4)


def test_fit_uses_the_hand_step_for_mlp_models_on_the_cpu(mnist_small, monkeypatch):
    x, _ = mnist_small
    calls = []
    original = _fast.MLPStep.__call__
    monkeypatch.setattr(
        _fast.MLPStep, "__call__", lambda self, *a, **k: calls.append(1) or original(self, *a, **k)
    )
    train.fit(
        models.MLPVAE(latent_dim=2), x, num_epochs=1, batch_size=128, progress=False, log=False
    )
    assert len(calls) == 4
    train.fit(models.ConvVAE(latent_dim=2), x[:64], num_epochs=1, progress=False, log=False)
    assert len(calls) == 4  # the conv model trains through autograd
