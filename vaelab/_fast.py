"""The CPU fast path of ``vaelab.train.fit``: a hand-derived step for the two MLP models,
and Adam's fused kernel called without ``Optimizer.step``'s per-call Python work.

On two CPU cores a 784-400-20 VAE step spends as much time on autograd's bookkeeping,
small elementwise passes and ``Optimizer.step`` as on its matrix multiplications. For
``MLPVAE`` and ``MLPAutoencoder`` (one hidden layer each side, fixed by their config)
``MLPStep`` writes the forward and the backward out by hand: the same maths as
``vaelab.losses.elbo`` differentiated by autograd, the same eps draws, gradients written
into each parameter's ``.grad``. Any other model, a model with hooks or frozen
parameters, ``amp`` or ``compile``, or a device other than the CPU, uses autograd.

tests/test_fast.py checks these gradients against autograd's, and whole runs against the
autograd path.
"""

from __future__ import annotations

import math
import operator

import torch
from torch import nn

from vaelab import losses

_threshold_backward = torch.ops.aten.threshold_backward  # grad * (h > 0): ReLU's backward


def _has_hooks(model: nn.Module) -> bool:
    """Module or parameter hooks (local or global) that a hand-written step would skip."""
    from torch.nn.modules import module as module_mod

    global_hooks = (
        module_mod._global_forward_hooks,
        module_mod._global_forward_pre_hooks,
        module_mod._global_backward_hooks,
        module_mod._global_backward_pre_hooks,
    )
    if any(global_hooks):
        return True
    for m in model.modules():
        if m._forward_hooks or m._forward_pre_hooks or m._backward_hooks:
            return True
        if getattr(m, "_backward_pre_hooks", None):
            return True
    for p in model.parameters():
        if p._backward_hooks or getattr(p, "_post_accumulate_grad_hooks", None):
            return True
    return False


def mlp_step_applies(model: nn.Module, *, device: torch.device, amp: bool, compile: bool) -> bool:
    """Whether ``MLPStep`` can stand in for autograd for this model and set-up."""
    from vaelab.models import MLPVAE, MLPAutoencoder

    if type(model) not in (MLPVAE, MLPAutoencoder) or amp or compile or device.type != "cpu":
        return False
    params = list(model.parameters())
    if not all(p.requires_grad and p.dtype == torch.float32 for p in params):
        return False
    return not _has_hooks(model)


class MLPStep:
    """Loss terms and gradients of one batch for an ``MLPVAE`` or ``MLPAutoencoder``.

    Forward, with s = 1 / B and ReLU hidden layers::

        h1 = relu(x W1' + b1)
        VAE: mu = h1 Wm' + bm, lv = h1 Wl' + bl, z = mu + exp(lv / 2) * eps
        AE:  z = h1 Wz' + bz
        h2 = relu(z W3' + b3),  l = h2 W4' + b4  (the logits)
        recon = s * sum(softplus(l) - x l)            (Bernoulli)
              = s * sum((x - sigmoid(l))^2 / 2) + const (Gaussian, unit variance)
        kl_d = s * sum_b (mu^2 + exp(lv) - 1 - lv) / 2,  loss = recon + beta * sum_d kl_d
               (with free bits, max(kl_d, free_bits) in the loss)

    Backward, the chain rule layer by layer::

        dl = s * (sigmoid(l) - x)   (Bernoulli; Gaussian: s * (p - x) * p * (1 - p))
        dW4 = dl' h2, db4 = sum_b dl, dh2 = (dl W4) * [h2 > 0]
        dW3 = dh2' z, db3 = sum_b dh2, dz = dh2 W3
        VAE: dmu = dz + beta * s * mu * m
             dlv = dz * eps * sigma / 2 + beta * s * (exp(lv) - 1) / 2 * m
             (m_d = [kl_d >= free_bits], 1 without free bits)
             dh1 = (dmu Wm + dlv Wl) * [h1 > 0]
        AE:  dh1 = (dz Wz) * [h1 > 0]
        dW1 = dh1' x, db1 = sum_b dh1
    """

    def __init__(self, model: nn.Module, *, likelihood: str, free_bits: float):
        self.vae = hasattr(model, "to_mu")
        heads = [model.to_mu, model.to_logvar] if self.vae else [model.to_z]
        self.layers = [model.encoder[1], *heads, model.decoder[0], model.decoder[2]]
        self.likelihood = likelihood
        self.free_bits = float(free_bits)
        self.pixels = model.encoder[1].in_features
        self._bind()

    def _params(self) -> list[nn.Parameter]:
        return [p for layer in self.layers for p in (layer.weight, layer.bias)]

    def _bind(self) -> None:
        """Give every parameter a contiguous ``.grad`` and keep (weights, grads) at hand."""
        params = self._params()
        for p in params:
            if p.grad is None or p.grad.shape != p.shape or not p.grad.is_contiguous():
                p.grad = torch.zeros_like(p, memory_format=torch.contiguous_format)
        self._bound = params
        self._grads = [p.grad for p in params]
        self._weights = [p.detach() for p in params]

    def _tensors(self) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """The cached (weights, grads), bound again if a parameter or its ``.grad`` was
        replaced since the last step (a callback calling ``model.zero_grad()``, say)."""
        params = self._params()
        grads = [p.grad for p in params]
        if not all(map(operator.is_, params, self._bound)) or not all(
            map(operator.is_, grads, self._grads)
        ):
            self._bind()
        return self._weights, self._grads

    @torch.no_grad()
    def __call__(
        self, x: torch.Tensor, *, beta: float, generator: torch.Generator | None
    ) -> losses.ELBOTerms:
        """Write the batch's gradients into ``.grad``; return (loss, recon, kl), batch means.

        The three numbers are Python floats (the step runs on the CPU, where reading a
        scalar costs nothing and saves a handful of tiny tensor operations per step).
        """
        batch = len(x)
        s = 1.0 / batch
        xf = x.reshape(batch, self.pixels)
        weights, grads = self._tensors()
        w1, b1, *head_w, w3, b3, w4, b4 = weights
        gw1, gb1, *head_g, gw3, gb3, gw4, gb4 = grads

        # forward
        h1 = torch.addmm(b1, xf, w1.t()).relu_()
        if self.vae:
            wm, bm, wl, bl = head_w
            mu = torch.addmm(bm, h1, wm.t())
            lv = torch.addmm(bl, h1, wl.t())
            gen_device = generator.device if generator is not None else mu.device
            eps = torch.randn(mu.shape, generator=generator, device=gen_device, dtype=mu.dtype)
            std = lv.mul(0.5).exp_()
            z = torch.addcmul(mu, std, eps)  # mu + sigma * eps, as losses.reparameterize
        else:
            wz, bz = head_w
            z = torch.addmm(bz, h1, wz.t())
        h2 = torch.addmm(b3, z, w3.t()).relu_()
        logits = torch.addmm(b4, h2, w4.t())
        lf = logits.view(-1)

        # loss terms, and the gradient of the loss with respect to the logits
        if self.likelihood == "bernoulli":
            # softplus(l) = max(l, 0) + log(1 + exp(-|l|)) (stable; log is cheaper than log1p
            # on the CPU, and the error, under 1e-7 nats a pixel, is far below the noise), and
            # sum max(l, 0) = (sum |l| + sum l) / 2: one fresh (B, pixels) buffer, not three.
            a = logits.abs()
            sum_abs = a.sum().item()
            sum_soft = a.neg_().exp_().add_(1.0).log_().sum().item()
            recon_sum = (
                sum_soft + 0.5 * (sum_abs + lf.sum().item()) - torch.dot(lf, xf.view(-1)).item()
            )
            dl = logits.sigmoid_().sub_(xf).mul_(s)  # in place: the logits are not needed again
        else:
            p = logits.sigmoid_()  # in place: the logits are not needed again
            diff = p - xf
            recon_sum = 0.5 * diff.pow(2).sum().item() + 0.5 * math.log(2 * math.pi) * xf.numel()
            dl = diff.mul_(p).mul_(1.0 - p).mul_(s)
        recon = recon_sum * s

        if self.vae:
            var = lv.exp()
            terms = (mu * mu).add_(var).sub_(lv)  # 2 KL + 1 per element
            if self.free_bits > 0:
                kl_dim = (terms.sum(0) - batch) * (0.5 * s)  # (D,) batch means
                kl = kl_dim.sum().item()
                kl_in_loss = kl_dim.clamp(min=self.free_bits).sum().item()
                scale = (kl_dim >= self.free_bits).to(mu.dtype).mul_(beta * s)  # (D,)
            else:
                kl = 0.5 * s * (terms.sum().item() - terms.numel())
                kl_in_loss = kl
                scale = beta * s
            loss = recon + beta * kl_in_loss
        else:
            kl = 0.0
            loss = recon

        # backward
        torch.mm(dl.t(), h2, out=gw4)
        torch.sum(dl, 0, out=gb4)
        dh2 = _threshold_backward(torch.mm(dl, w4), h2, 0.0)
        torch.mm(dh2.t(), z, out=gw3)
        torch.sum(dh2, 0, out=gb3)
        dz = torch.mm(dh2, w3)
        if self.vae:
            gwm, gbm, gwl, gbl = head_g
            # d(KL)/d(mu) = mu, d(KL)/d(logvar) = (exp(logvar) - 1) / 2, each times beta * s
            # (and the free-bits mask); dz/dlogvar = sigma * eps / 2.
            if isinstance(scale, float):
                dmu = torch.add(dz, mu, alpha=scale)
                kl_lv = var.sub_(1.0).mul_(0.5 * scale)
            else:
                dmu = torch.addcmul(dz, mu, scale)
                kl_lv = var.sub_(1.0).mul_(scale).mul_(0.5)
            dlv = torch.addcmul(kl_lv, dz, std.mul_(eps), value=0.5)
            torch.mm(dmu.t(), h1, out=gwm)
            torch.sum(dmu, 0, out=gbm)
            torch.mm(dlv.t(), h1, out=gwl)
            torch.sum(dlv, 0, out=gbl)
            dh1 = torch.mm(dmu, wm).addmm_(dlv, wl)
        else:
            gwz, gbz = head_g
            torch.mm(dz.t(), h1, out=gwz)
            torch.sum(dz, 0, out=gbz)
            dh1 = torch.mm(dz, wz)
        dh1 = _threshold_backward(dh1, h1, 0.0)
        torch.mm(dh1.t(), xf, out=gw1)
        torch.sum(dh1, 0, out=gb1)
        return losses.ELBOTerms(loss, recon, kl)


class AdamStep:
    """``optimizer.step()`` for fit's own fused CPU Adam, minus its per-call Python work.

    The first step goes through ``optimizer.step()`` (which creates the state); later
    steps call the same fused kernel with the same state tensors and hyperparameters, so
    the result is bit for bit ``optimizer.step()``'s and ``optimizer.state_dict()`` stays
    valid for checkpoints. After ``optimizer.load_state_dict`` the next step goes through
    ``optimizer.step()`` again and the new state is used from then on. Anything unusual
    (hooks, several groups, amsgrad, a tensor lr, a missing gradient) falls back to
    ``optimizer.step()``.
    """

    def __init__(self, optimizer: torch.optim.Optimizer):
        self.optimizer = optimizer
        self.lists = None
        self._state = self._groups = None

    def _usable(self) -> bool:
        opt = self.optimizer
        if type(opt) is not torch.optim.Adam or len(opt.param_groups) != 1:
            return False
        group = opt.param_groups[0]
        if not group.get("fused") or group.get("amsgrad") or group.get("maximize"):
            return False
        if group.get("capturable") or group.get("differentiable"):
            return False
        if group.get("decoupled_weight_decay") or isinstance(group["lr"], torch.Tensor):
            return False
        if opt._optimizer_step_pre_hooks or opt._optimizer_step_post_hooks:
            return False
        from torch.optim import optimizer as optimizer_mod

        if optimizer_mod._global_optimizer_pre_hooks or optimizer_mod._global_optimizer_post_hooks:
            return False
        return hasattr(torch, "_fused_adam_")

    def _bind(self, params: list[torch.Tensor]) -> None:
        """Keep the state's tensors at hand; make the step counters views of one tensor,
        so that one ``add_`` counts the step for every parameter (``_foreach_add_`` over
        a list of scalars costs as much as a small matmul)."""
        opt = self.optimizer
        state = [opt.state[p] for p in params]
        counters = torch.stack([st["step"].detach() for st in state])
        for i, st in enumerate(state):
            st["step"] = counters[i]
        self.lists = (
            [p.detach() for p in params],
            [st["exp_avg"] for st in state],
            [st["exp_avg_sq"] for st in state],
            [st["step"] for st in state],
            counters,
        )
        self._state, self._groups = opt.state, opt.param_groups

    def __call__(self) -> None:
        opt = self.optimizer
        params = opt.param_groups[0]["params"] if opt.param_groups else []
        if self.lists and (opt.state is not self._state or opt.param_groups is not self._groups):
            self.lists = None  # load_state_dict replaced the state: bind it again
        if self.lists is None:
            opt.step()
            usable = self._usable() and all(
                isinstance(opt.state.get(p, {}).get("step"), torch.Tensor) for p in params
            )
            if usable:
                self._bind(params)
            else:
                self.lists = False
            return
        grads = [p.grad for p in params]
        if self.lists is False or any(gr is None for gr in grads) or not self._usable():
            opt.step()
            return
        group = opt.param_groups[0]
        beta1, beta2 = group["betas"]
        weights, exp_avgs, exp_avg_sqs, steps, counters = self.lists
        counters.add_(1)
        torch._fused_adam_(
            weights,
            grads,
            exp_avgs,
            exp_avg_sqs,
            [],
            steps,
            amsgrad=False,
            lr=float(group["lr"]),
            beta1=float(beta1),
            beta2=float(beta2),
            weight_decay=float(group["weight_decay"]),
            eps=float(group["eps"]),
            maximize=False,
        )
