# ruff: noqa: E501  (each trick is source code)
"""Submissions that try to get points without doing the work (tests only).

``TRICKS``: id -> ``Trick(file, source, fakes, feedback, points)``: the exercise file's
name and source, the functions whose checks must all score 0 (all of them when
``fakes`` is None), a text every such check's feedback must hold (None: any feedback),
and the total points the file must get. ``REFERENCE_SOLUTIONS``: the course's old
reference solutions, which called vaelab's own functions.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Trick:
    file: str
    source: str
    fakes: tuple[str, ...] | None  # functions whose every check must score 0 (None: all)
    feedback: str | None  # what each of their checks' feedback says
    points: float  # the file's total


KL = "calls vaelab's own `losses.kl_divergence`: write the formula yourself."
BCE = "calls vaelab's own `losses.bernoulli_nll`: write the formula yourself."
REPARAM = "calls vaelab's own `losses.reparameterize`: write the formula yourself."
SOURCE = "reads vaelab's own source (vaelab/losses.py), which grading does not allow"

ELBO_WITH = """
def kl_divergence(mu, logvar):
    return {kl}(mu, logvar, reduction="none")


def negative_elbo(x, x_logits, mu, logvar, beta=1.0):
    return {bce}(x_logits, x, reduction="none") + beta * {kl}(mu, logvar, reduction="none")
"""

HONEST_KL = """

def kl_divergence(mu, logvar):
    return -0.5 * (1 + logvar - mu**2 - logvar.exp()).sum(dim=1)
"""
HONEST_ELBO = """

def negative_elbo(x, x_logits, mu, logvar, beta=1.0):
    bce = torch.nn.functional.binary_cross_entropy_with_logits(x_logits, x, reduction="none")
    return bce.flatten(1).sum(1) + beta * (-0.5 * (1 + logvar - mu**2 - logvar.exp()).sum(dim=1))
"""

TRICKS = {
    # ---- calling the reference, every way of reaching it
    "ex04-from-import": Trick(
        "ex04_elbo.py",
        "from vaelab.losses import bernoulli_nll, kl_divergence as reference_kl\n"
        + ELBO_WITH.format(kl="reference_kl", bce="bernoulli_nll"),
        ("kl_divergence",),
        KL,
        0,
    ),
    "ex04-module-attribute": Trick(
        "ex04_elbo.py",
        "import vaelab.losses\n"
        + ELBO_WITH.format(kl="vaelab.losses.kl_divergence", bce="vaelab.losses.bernoulli_nll"),
        ("kl_divergence",),
        KL,
        0,
    ),
    "ex04-importlib": Trick(
        "ex04_elbo.py",
        "import importlib\n\nref = importlib.import_module('vaelab.losses')\n"
        + ELBO_WITH.format(kl="ref.kl_divergence", bce="ref.bernoulli_nll"),
        ("kl_divergence",),
        KL,
        0,
    ),
    "ex04-dunder-import": Trick(
        "ex04_elbo.py",
        "ref = __import__('vaelab.losses', fromlist=['kl_divergence'])\n"
        + ELBO_WITH.format(kl="ref.kl_divergence", bce="ref.bernoulli_nll"),
        ("kl_divergence",),
        KL,
        0,
    ),
    "ex04-other-reference-functions": Trick(  # kl_per_dim, and the KL inside anomaly_score
        "ex04_elbo.py",
        """import torch
from vaelab import anomaly, losses


def kl_divergence(mu, logvar):
    return losses.kl_per_dim(mu, logvar).sum(dim=1)


class _Model:  # decodes to confident logits for all-ones images: the BCE is ~0
    def __init__(self, mu, logvar):
        self.pair = (mu, logvar)

    def encode(self, x):
        return self.pair

    def decode(self, z):
        return torch.full((z.shape[0], 1, 1, 1), 1e4, dtype=z.dtype)


def negative_elbo(x, x_logits, mu, logvar, beta=1.0):
    kl = anomaly.anomaly_score(_Model(mu, logvar), torch.ones(mu.shape[0], 1, 1, 1, dtype=mu.dtype))
    bce = torch.nn.functional.binary_cross_entropy_with_logits(x_logits, x, reduction="none")
    return bce.flatten(1).sum(1) + beta * kl
""",
        ("kl_divergence", "negative_elbo"),
        "calls vaelab's own `losses.",  # kl_per_dim; bernoulli_nll inside anomaly_score
        0,
    ),
    "ex03-from-import": Trick(
        "ex03_reparameterize.py",
        "from vaelab.losses import reparameterize as ref\n\n\n"
        "def reparameterize(mu, logvar, eps=None):\n    return ref(mu, logvar, eps=eps)\n",
        None,
        REPARAM,
        0,
    ),
    "ex03-importlib": Trick(
        "ex03_reparameterize.py",
        "import importlib\n\n\n"
        "def reparameterize(mu, logvar, eps=None):\n"
        "    return importlib.import_module('vaelab.losses').reparameterize(mu, logvar, eps=eps)\n",
        None,
        REPARAM,
        0,
    ),
    "ex03-dunder-import": Trick(
        "ex03_reparameterize.py",
        "def reparameterize(mu, logvar, eps=None):\n"
        "    ref = __import__('vaelab.losses', fromlist=['reparameterize'])\n"
        "    return ref.reparameterize(mu, logvar, eps=eps)\n",
        None,
        REPARAM,
        0,
    ),
    "ex03-name-in-models": Trick(  # the same function, imported by vaelab.models
        "ex03_reparameterize.py",
        "from vaelab.models import reparameterize as ref\n\n\n"
        "def reparameterize(mu, logvar, eps=None):\n    return ref(mu, logvar, eps=eps)\n",
        None,
        REPARAM,
        0,
    ),
    "ex03-through-a-model": Trick(  # a VAE's forward draws z with the reference
        "ex03_reparameterize.py",
        """from vaelab import models


class _Parts:
    def __init__(self, mu, logvar):
        self.pair = (mu, logvar)

    def encode(self, x):
        return self.pair

    def decoder(self, z):
        return z


def reparameterize(mu, logvar, eps=None):
    return models.MLPVAE.forward(_Parts(mu, logvar), mu, eps=eps).z
""",
        None,
        REPARAM,
        0,
    ),
    "ex06-from-import": Trick(
        "ex06_posterior_collapse.py",
        """from vaelab.losses import free_bits_kl as fb
from vaelab.metrics import active_units as au
from vaelab.schedules import cyclical_kl_weight as cyc, linear_kl_weight as lin


def active_units(mu, threshold=0.01):
    return au(mu, threshold=threshold)


def free_bits_kl(kl_per_dim, free_bits):
    return fb(kl_per_dim, free_bits)


def linear_kl_weight(step, warmup_steps):
    return lin(step, warmup_steps)


def cyclical_kl_weight(step, period, ratio=0.5):
    return cyc(step, period, ratio)
""",
        None,
        "calls vaelab's own `",
        0,
    ),
    "ex06-schedule-factories": Trick(  # schedules.linear_warmup and cyclical wrap the references
        "ex06_posterior_collapse.py",
        """from vaelab import schedules


def active_units(mu, threshold=0.01):
    return int((mu.var(dim=0) > threshold).sum())


def free_bits_kl(kl_per_dim, free_bits):
    return kl_per_dim.clamp(min=free_bits).sum(dim=-1)


def linear_kl_weight(step, warmup_steps):
    return schedules.linear_warmup(warmup_steps)(step)


def cyclical_kl_weight(step, period, ratio=0.5):
    return schedules.cyclical(period, ratio=ratio)(step)
""",
        ("linear_kl_weight", "cyclical_kl_weight"),
        "calls vaelab's own `schedules.",
        6,
    ),
    "ex07-importlib-and-dunder-import": Trick(
        "ex07_evaluation.py",
        """import importlib


def psnr(x, x_hat, max_val=1.0):
    metrics = importlib.import_module("vaelab.metrics")
    return metrics.psnr(x, x_hat, max_val=max_val, reduction="none")


def log_mean_exp(log_w, dim=0):
    return __import__("vaelab.losses", fromlist=["x"]).log_mean_exp(log_w, dim=dim)
""",
        None,
        "calls vaelab's own `",
        0,
    ),
    # ---- getting a fresh copy of the reference
    "ex04-reload-at-import": Trick(
        "ex04_elbo.py",
        "import importlib\n\nimport vaelab.losses\n\nfresh = importlib.reload(vaelab.losses)\n"
        + ELBO_WITH.format(kl="fresh.kl_divergence", bce="fresh.bernoulli_nll"),
        None,
        SOURCE,  # the import fails with this
        0,
    ),
    "ex04-fresh-module-from-the-file": Trick(
        "ex04_elbo.py",
        """import importlib.util

import torch
import vaelab.losses


def kl_divergence(mu, logvar):
    spec = importlib.util.spec_from_file_location("copy_of_losses", vaelab.losses.__file__)
    copy = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(copy)
    return copy.kl_divergence(mu, logvar, reduction="none")
"""
        + HONEST_ELBO,
        ("kl_divergence",),
        SOURCE,
        5,
    ),
    "ex04-source-run-here": Trick(
        "ex04_elbo.py",
        """import inspect
import sys

import torch
import vaelab.losses


def negative_elbo(x, x_logits, mu, logvar, beta=1.0):
    namespace = {}
    exec(inspect.getsource(sys.modules["vaelab.losses"]), namespace)
    recon = namespace["bernoulli_nll"](x_logits, x, reduction="none")
    return recon + beta * namespace["kl_divergence"](mu, logvar, reduction="none")
"""
        + HONEST_KL,
        ("negative_elbo",),
        "vaelab's source is not available while your file is graded",
        5,
    ),
    "ex04-another-python": Trick(
        "ex04_elbo.py",
        """import subprocess
import sys

import torch


def kl_divergence(mu, logvar):
    code = (
        "import sys, torch; from vaelab import losses; "
        "mu, lv = torch.load(sys.stdin.buffer); "
        "torch.save(losses.kl_divergence(mu, lv, reduction='none'), sys.stdout.buffer)"
    )
    import io

    buffer = io.BytesIO()
    torch.save((mu, logvar), buffer)
    out = subprocess.run([sys.executable, "-c", code], input=buffer.getvalue(), capture_output=True)
    return torch.load(io.BytesIO(out.stdout))


def negative_elbo(x, x_logits, mu, logvar, beta=1.0):
    recon = torch.nn.functional.binary_cross_entropy_with_logits(x_logits, x, reduction="none")
    return recon.flatten(1).sum(1) + beta * kl_divergence(mu, logvar)
""",
        None,
        "starts another program (subprocess), which grading does not allow",
        0,
    ),
    "ex04-fish-for-the-original": Trick(  # gc, __wrapped__, __closure__: nothing to find
        "ex04_elbo.py",
        """import gc

from vaelab import losses


def _original(name):
    fn = getattr(losses, name)
    for attribute in ("__wrapped__", "__closure__"):
        inner = getattr(fn, attribute, None)
        if callable(inner):
            return inner
    for obj in gc.get_objects():
        if callable(obj) and getattr(obj, "__name__", "") == name and obj is not fn:
            return obj
    return fn


def kl_divergence(mu, logvar):
    return _original("kl_divergence")(mu, logvar, reduction="none")


def negative_elbo(x, x_logits, mu, logvar, beta=1.0):
    recon = _original("bernoulli_nll")(x_logits, x, reduction="none")
    return recon + beta * kl_divergence(mu, logvar)
""",
        None,
        "inspects the grading process's objects (gc), which grading does not allow",
        0,
    ),
    "ex04-restore-the-code": Trick(
        "ex04_elbo.py",
        """import torch
from vaelab import losses


def _formula(mu, logvar, *, reduction="mean"):
    return -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(dim=-1)


def kl_divergence(mu, logvar):
    losses.kl_divergence.__code__ = _formula.__code__
    return losses.kl_divergence(mu, logvar, reduction="none")


def negative_elbo(x, x_logits, mu, logvar, beta=1.0):
    recon = torch.nn.functional.binary_cross_entropy_with_logits(x_logits, x, reduction="none")
    return recon.flatten(1).sum(1) + beta * kl_divergence(mu, logvar)
""",
        None,
        "replaces a function's code, which grading does not allow",
        0,
    ),
    # ---- faking the comparison
    "ex04-patched-comparisons": Trick(
        "ex04_elbo.py",
        """import torch

torch.allclose = lambda *args, **kwargs: True
torch.isclose = lambda a, b, *args, **kwargs: torch.ones_like(a, dtype=torch.bool)
torch.equal = lambda *args, **kwargs: True
torch.testing.assert_close = lambda *args, **kwargs: None


def kl_divergence(mu, logvar):
    return torch.zeros(mu.shape[0], dtype=mu.dtype, requires_grad=True)


def negative_elbo(x, x_logits, mu, logvar, beta=1.0):
    return torch.zeros(x.shape[0], dtype=x.dtype, requires_grad=True)
""",
        None,
        None,
        0,
    ),
    "ex03-patched-comparisons": Trick(
        "ex03_reparameterize.py",
        """import torch

torch.allclose = lambda *args, **kwargs: True
torch.isclose = lambda a, b, *args, **kwargs: torch.ones_like(a, dtype=torch.bool)
torch.equal = lambda *args, **kwargs: True
torch.testing.assert_close = lambda *args, **kwargs: None


def reparameterize(mu, logvar, eps=None):
    return torch.zeros_like(mu)
""",
        None,
        None,
        0,
    ),
    "ex04-patched-tensor-methods": Trick(
        "ex04_elbo.py",
        """import torch

for _name in ("__eq__", "__ne__", "allclose", "isclose", "equal", "__sub__", "__rsub__", "abs", "max"):
    setattr(torch.Tensor, _name, lambda self, *args, **kwargs: torch.zeros(()))
torch.Tensor.__bool__ = lambda self: True


def kl_divergence(mu, logvar):
    return torch.zeros(mu.shape[0], dtype=mu.dtype)


def negative_elbo(x, x_logits, mu, logvar, beta=1.0):
    return torch.zeros(x.shape[0], dtype=x.dtype)
""",
        None,
        None,
        0,
    ),
    "ex04-tensor-subclass-equal-to-anything": Trick(
        "ex04_elbo.py",
        """import torch


class Anything(torch.Tensor):
    def __eq__(self, other):
        return True

    __ne__ = lambda self, other: False

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", "")
        if name in ("allclose", "equal"):
            return True
        if name == "isclose":
            return torch.ones(args[0].shape, dtype=torch.bool)
        return super().__torch_function__(func, types, args, kwargs or {})


def kl_divergence(mu, logvar):
    return torch.zeros(mu.shape[0], dtype=mu.dtype).as_subclass(Anything)


def negative_elbo(x, x_logits, mu, logvar, beta=1.0):
    return torch.zeros(x.shape[0], dtype=x.dtype).as_subclass(Anything)
""",
        None,
        None,
        0,
    ),
    "ex04-patched-autograd": Trick(  # right values with no graph, gradients made up
        "ex04_elbo.py",
        """import torch
import torch.nn.functional as F

_inputs = []


def _fake_backward(self, *args, **kwargs):
    for leaf in _inputs:
        if leaf.requires_grad:
            leaf.grad = torch.ones_like(leaf)


torch.Tensor.backward = _fake_backward
torch.autograd.backward = lambda *args, **kwargs: _fake_backward(None)
torch.autograd.grad = lambda outputs, inputs, *a, **k: tuple(torch.ones_like(i) for i in inputs)


def kl_divergence(mu, logvar):
    _inputs[:] = [mu, logvar]
    with torch.no_grad():
        kl = -0.5 * (1 + logvar - mu**2 - logvar.exp()).sum(dim=1)
    return kl.requires_grad_(True)


def negative_elbo(x, x_logits, mu, logvar, beta=1.0):
    _inputs[:] = [x_logits, mu, logvar]
    with torch.no_grad():
        recon = F.binary_cross_entropy_with_logits(x_logits, x, reduction="none").flatten(1).sum(1)
        kl = -0.5 * (1 + logvar - mu**2 - logvar.exp()).sum(dim=1)
    return (recon + beta * kl).requires_grad_(True)
""",
        (),  # the values are right; only the two gradient checks fail
        None,
        8,
    ),
    # ---- the grader's own code and records
    "ex04-patches-the-grader": Trick(  # the checks run in the grading process, not here
        "ex04_elbo.py",
        """import torch
from vaelab.grading.checks import ex04, toolkit
from vaelab.grading.runtime import child, runner, wire

toolkit.close = lambda *args, **kwargs: True
toolkit.expect_close = lambda got, *args, **kwargs: got
toolkit.Mistake = type("Mistake", (Exception,), {})
runner.run_check = lambda item, *a, **k: {"name": item.name, "points": item.points, "max_points": item.points, "passed": True, "feedback": "ok"}
ex04.checks.clear()
wire.plain = lambda value, tensors=None, depth=0: torch.zeros(7)


def kl_divergence(mu, logvar):
    return torch.zeros(mu.shape[0], dtype=mu.dtype)


def negative_elbo(x, x_logits, mu, logvar, beta=1.0):
    return torch.zeros(x.shape[0], dtype=x.dtype)
""",
        None,
        None,
        0,
    ),
    "ex04-patches-the-reply": Trick(  # hides the reference call from the reply: it was reported as it happened
        "ex04_elbo.py",
        """import sys

import torch
from vaelab import losses
from vaelab.grading.runtime import child

sys.audit = lambda *args: None
_handle = child.handle


def _quiet(module, request):
    reply = _handle(module, request)
    reply.pop("error", None)
    return reply


child.handle = _quiet


def kl_divergence(mu, logvar):
    try:
        return losses.kl_divergence(mu, logvar, reduction="none")
    except BaseException:
        return torch.zeros(mu.shape[0], dtype=mu.dtype)


def negative_elbo(x, x_logits, mu, logvar, beta=1.0):
    recon = torch.nn.functional.binary_cross_entropy_with_logits(x_logits, x, reduction="none")
    return recon.flatten(1).sum(1) + beta * kl_divergence(mu, logvar)
""",
        ("kl_divergence", "negative_elbo"),
        KL,
        0,
    ),
    "ex04-fake-records": Trick(  # results printed and written where the old grader read them
        "ex04_elbo.py",
        """import glob
import json
import tempfile

import torch

RECORD = {"result": {"name": "kl_divergence: closed form, one value per example", "points": 2.5, "max_points": 2.5, "passed": True, "feedback": "ok"}}
print(json.dumps(RECORD))
print(json.dumps({"points": 10, "max_points": 10, "passed": True}))
for path in glob.glob(tempfile.gettempdir() + "/vaelab-grade-*/*"):
    with open(path, "a") as f:
        f.write(json.dumps(RECORD) + "\\n" + json.dumps({"done": True}) + "\\n")


def kl_divergence(mu, logvar):
    return torch.zeros(mu.shape[0], dtype=mu.dtype)


def negative_elbo(x, x_logits, mu, logvar, beta=1.0):
    return torch.zeros(x.shape[0], dtype=x.dtype)
""",
        None,
        None,
        0,
    ),
    "ex04-fake-replies-on-every-descriptor": Trick(
        "ex04_elbo.py",
        """import os
import struct

import torch

_fake = b'{"points": 10, "max_points": 10}'
for fd in range(3, 64):
    try:
        os.write(fd, struct.pack(">I", len(_fake) + 1) + b"R" + _fake)
    except OSError:
        pass


def kl_divergence(mu, logvar):
    return torch.zeros(mu.shape[0], dtype=mu.dtype)


def negative_elbo(x, x_logits, mu, logvar, beta=1.0):
    return torch.zeros(x.shape[0], dtype=x.dtype)
""",
        None,
        None,
        0,
    ),
    "ex04-sends-a-pickle-that-runs-code": Trick(  # the grader loads answers weights-only
        "ex04_elbo.py",
        """import io
import os

import torch
from vaelab.grading.runtime import wire


class Payload:
    def __reduce__(self):
        return (os.system, ("echo the grader ran my code > /tmp/vaelab-grader-pwned",))


def _dumps(obj):
    buffer = io.BytesIO()
    torch.save(Payload(), buffer)
    return buffer.getvalue()


wire.dumps = _dumps


def kl_divergence(mu, logvar):
    return -0.5 * (1 + logvar - mu**2 - logvar.exp()).sum(dim=1)
"""
        + HONEST_ELBO,
        None,
        "could not be read",
        0,
    ),
    "ex04-looks-for-the-seed": Trick(  # frames hold no seed; gc is refused
        "ex04_elbo.py",
        """import gc
import sys

import torch


def _search():
    found = []
    frame = sys._getframe()
    while frame is not None:
        found += [v for v in frame.f_locals.values() if isinstance(v, int)]
        frame = frame.f_back
    found += [o for o in gc.get_objects() if type(o).__name__ == "Draw"]
    return found


def kl_divergence(mu, logvar):
    _search()
    return torch.zeros(mu.shape[0], dtype=mu.dtype)


def negative_elbo(x, x_logits, mu, logvar, beta=1.0):
    _search()
    return torch.zeros(x.shape[0], dtype=x.dtype)
""",
        None,
        "inspects the grading process's objects (gc)",
        0,
    ),
}

# The course's reference solutions before grading protected the references: every function
# calls vaelab's own (but ex02's logvar_from_std, which has no vaelab counterpart).
REFERENCE_HEADER = (
    "import torch\n\nfrom vaelab import anomaly, disentangle, latent, losses, metrics, schedules\n"
)
REFERENCE_SOLUTIONS = {
    "ex01": """
def encode(model, x):
    return model.encode(x)


def decode(model, z):
    return model.decode(z)


def reconstruction_loss(x_logits, x):
    return losses.bernoulli_nll(x_logits, x, reduction="none")
""",
    "ex02": """
def encode(model, x):
    return model.encode(x)


def std_from_logvar(logvar):
    return losses.reparameterize(torch.zeros_like(logvar), logvar, eps=torch.ones_like(logvar))


def logvar_from_std(std):
    return 2 * torch.log(std)
""",
    "ex03": """
def reparameterize(mu, logvar, eps=None):
    return losses.reparameterize(mu, logvar, eps=eps)
""",
    "ex04": """
def kl_divergence(mu, logvar):
    return losses.kl_divergence(mu, logvar, reduction="none")


def negative_elbo(x, x_logits, mu, logvar, beta=1.0):
    recon = losses.bernoulli_nll(x_logits, x, reduction="none")
    return recon + beta * losses.kl_divergence(mu, logvar, reduction="none")
""",
    "ex05": """
def interpolate(z0, z1, num_steps=10, method="linear"):
    return latent.interpolate(z0, z1, num_steps=num_steps, method=method)


def sample(model, num_samples, generator=None):
    return model.sample(num_samples, generator=generator)
""",
    "ex06": """
def active_units(mu, threshold=0.01):
    return metrics.active_units(mu, threshold=threshold)


def free_bits_kl(kl_per_dim, free_bits):
    return losses.free_bits_kl(kl_per_dim, free_bits)


def linear_kl_weight(step, warmup_steps):
    return schedules.linear_kl_weight(step, warmup_steps)


def cyclical_kl_weight(step, period, ratio=0.5):
    return schedules.cyclical_kl_weight(step, period, ratio)
""",
    "ex07": """
def psnr(x, x_hat, max_val=1.0):
    return metrics.psnr(x, x_hat, max_val=max_val, reduction="none")


def log_mean_exp(log_w, dim=0):
    return losses.log_mean_exp(log_w, dim=dim)
""",
    "ex08": """
def reconstruction_score(model, x):
    return anomaly.reconstruction_score(model, x)


def latent_score(model, x):
    return anomaly.latent_score(model, x)


def anomaly_score(model, x, beta=1.0):
    return anomaly.anomaly_score(model, x, beta=beta)
""",
    "ex09": """
def mutual_information(a, b):
    codes = a[:, None].double()
    return disentangle.mutual_information(codes, b[:, None], bins=len(a.unique()))[0, 0]


def mutual_information_gap(mi, entropy):
    return disentangle.mutual_information_gap(mi, entropy)
""",
}
