"""Reference solutions of every exercise, written out by hand (tests only).

``SOLUTIONS["ex03"]`` is the source of a complete ``ex03_reparameterize.py``; the tests
write these into temporary folders, so no solution file lives in the repository's
``exercises/``. They use torch and the model's layers, never the vaelab functions the
grader protects (``PROTECTED`` in ``vaelab/grading/checks/exNN.py``), which are switched off
while a file is graded: the grader compares them with vaelab's reference. Each function
stands alone (``negative_elbo`` does not call the file's ``kl_divergence``), so that a
mutant of one function (tests/grading/mutants.py) costs only that function's checks.
"""

HEADER = (  # vaelab.losses for the mutants of ex08, which may use the earlier exercises' losses
    "import math\n\nimport torch\nimport torch.nn.functional as F\n\nfrom vaelab import losses\n"
)

SOLUTIONS = {
    "ex01": """
def encode(model, x):
    return model.to_z(model.encoder(x))


def decode(model, z):
    return model.decoder(z)


def reconstruction_loss(x_logits, x):
    per_pixel = F.binary_cross_entropy_with_logits(x_logits, x, reduction="none")
    return per_pixel.flatten(1).sum(1)


def gaussian_reconstruction_loss(x_mean, x_logvar, x):
    per_pixel = 0.5 * (math.log(2 * math.pi) + x_logvar + (x - x_mean) ** 2 * torch.exp(-x_logvar))
    return per_pixel.flatten(1).sum(1)
""",
    "ex02": """
def encode(model, x):
    h = model.encoder(x)
    return model.to_mu(h), model.to_logvar(h)


def std_from_logvar(logvar):
    return torch.exp(0.5 * logvar)


def logvar_from_std(std):
    return 2 * torch.log(std)


def gaussian_entropy(logvar):
    return 0.5 * (1 + math.log(2 * math.pi) + logvar).sum(dim=-1)
""",
    "ex03": """
def reparameterize(mu, logvar, eps=None):
    if eps is None:
        eps = torch.randn_like(mu)
    return mu + torch.exp(0.5 * logvar) * eps


def log_posterior_density(z, mu, logvar):
    terms = math.log(2 * math.pi) + logvar + (z - mu) ** 2 * torch.exp(-logvar)
    return -0.5 * terms.sum(dim=-1)
""",
    "ex04": """
def kl_divergence(mu, logvar):
    return -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(dim=1)


def negative_elbo(x, x_logits, mu, logvar, beta=1.0):
    recon = F.binary_cross_entropy_with_logits(x_logits, x, reduction="none").flatten(1).sum(1)
    kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(dim=1)
    return recon + beta * kl


def kl_between_gaussians(mu_q, logvar_q, mu_p, logvar_p):
    ratio = torch.exp(logvar_q - logvar_p)
    spread = (mu_q - mu_p) ** 2 * torch.exp(-logvar_p)
    return 0.5 * (ratio + spread - 1 - logvar_q + logvar_p).sum(dim=-1)
""",
    "ex05": """
def interpolate(z0, z1, num_steps=10, method="linear"):
    t = torch.linspace(0, 1, num_steps, dtype=z0.dtype, device=z0.device)[:, None]
    if method == "linear":
        return (1 - t) * z0 + t * z1
    u0, u1 = z0 / z0.norm(), z1 / z1.norm()
    omega = torch.arccos((u0 * u1).sum().clamp(-1, 1))
    if omega.abs() < 1e-6:  # the same direction: nothing to turn through
        direction = u0.expand(num_steps, -1)
    else:
        direction = (torch.sin((1 - t) * omega) * u0 + torch.sin(t * omega) * u1) / torch.sin(omega)
    return direction * ((1 - t) * z0.norm() + t * z1.norm())


def sample(model, num_samples, generator=None):
    weight = next(model.parameters())
    with torch.no_grad():
        z = torch.randn(
            num_samples, model.latent_dim, generator=generator, dtype=weight.dtype
        ).to(weight.device)
        return torch.sigmoid(model.decode(z))


def rate_in_bits(mu, logvar):
    kl_nats = 0.5 * (mu**2 + logvar.exp() - 1 - logvar).sum(dim=-1)
    return kl_nats / math.log(2)
""",
    "ex06": """
def active_units(mu, threshold=0.01):
    return int((mu.var(dim=0) > threshold).sum())


def free_bits_kl(kl_per_dim, free_bits):
    return kl_per_dim.clamp(min=free_bits).sum(dim=-1)


def linear_kl_weight(step, warmup_steps):
    if warmup_steps <= 0:
        return 1.0
    return min(1.0, step / warmup_steps)


def cyclical_kl_weight(step, period, ratio=0.5):
    position = (step % period) / period
    return min(1.0, position / ratio)


def logistic_kl_weight(step, midpoint, steepness):
    u = steepness * (step - midpoint)
    if u >= 0:
        return 1 / (1 + math.exp(-u))
    return math.exp(u) / (1 + math.exp(u))
""",
    "ex07": """
def psnr(x, x_hat, max_val=1.0):
    mse = (x - x_hat).pow(2).flatten(1).mean(1)
    return 10 * torch.log10(max_val**2 / mse)


def log_mean_exp(log_w, dim=0):
    return torch.logsumexp(log_w, dim=dim) - math.log(log_w.shape[dim])


def bits_per_dim(nll, x):
    return nll / (x[0].numel() * math.log(2))
""",
    "ex08": """
def reconstruction_score(model, x):
    with torch.no_grad():
        mu, _ = model.encode(x)
        x_logits = model.decode(mu)
        return F.binary_cross_entropy_with_logits(x_logits, x, reduction="none").flatten(1).sum(1)


def latent_score(model, x):
    with torch.no_grad():
        mu, _ = model.encode(x)
        return 0.5 * (mu.pow(2) + math.log(2 * math.pi)).sum(dim=1)


def anomaly_score(model, x, beta=1.0):
    with torch.no_grad():
        mu, logvar = model.encode(x)
        x_logits = model.decode(mu)
        recon = F.binary_cross_entropy_with_logits(x_logits, x, reduction="none").flatten(1).sum(1)
        kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(dim=1)
        return recon + beta * kl


def threshold_at_fpr(normal_scores, fpr):
    ordered = normal_scores.sort().values
    n = len(ordered)
    for t in ordered:
        if (normal_scores > t).sum() <= fpr * n + 1e-9:
            return t
    return ordered[-1]
""",
    "ex09": """
def mutual_information(a, b):
    if a.is_floating_point() or b.is_floating_point():
        raise ValueError(
            "mutual_information counts discrete labels: cut continuous codes into bins first"
        )
    _, ia = torch.unique(a, return_inverse=True)
    _, ib = torch.unique(b, return_inverse=True)
    joint = torch.zeros(int(ia.max()) + 1, int(ib.max()) + 1, dtype=torch.float64)
    joint.index_put_((ia, ib), torch.ones(len(ia), dtype=torch.float64), accumulate=True)
    joint = joint / len(ia)
    p_a, p_b = joint.sum(1, keepdim=True), joint.sum(0, keepdim=True)
    seen = joint > 0
    return (joint[seen] * (joint / (p_a * p_b))[seen].log()).sum()


def mutual_information_gap(mi, entropy):
    top = mi.sort(dim=0, descending=True).values
    return ((top[0] - top[1]) / entropy).mean()


def label_entropy(labels):
    _, counts = torch.unique(labels, return_counts=True)
    p = counts.double() / len(labels)
    return -(p * p.log()).sum()
""",
    "ex10": """
def causal_mask(kernel_size, mask_type):
    if not isinstance(kernel_size, int) or kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be odd and positive, got {kernel_size}")
    if mask_type not in ("A", "B"):
        raise ValueError(f"mask_type must be 'A' or 'B', got {mask_type!r}")
    centre = kernel_size // 2
    mask = torch.zeros(kernel_size, kernel_size)
    mask[:centre] = 1.0
    mask[centre, :centre] = 1.0
    if mask_type == "B":
        mask[centre, centre] = 1.0
    return mask


def log_mixture_prior(z, means, logvars, logits):
    diff = z[:, None, :] - means  # (B, K, D)
    log_n = -0.5 * (math.log(2 * math.pi) + logvars + diff**2 / logvars.exp()).sum(-1)
    return torch.logsumexp(torch.log_softmax(logits, dim=0) + log_n, dim=1)


def mixture_responsibilities(z, means, logvars, logits):
    diff = z[:, None, :] - means
    log_n = -0.5 * (math.log(2 * math.pi) + logvars + diff**2 / logvars.exp()).sum(-1)
    return torch.softmax(torch.log_softmax(logits, dim=0) + log_n, dim=1)
""",
}

NAMES = {
    "ex01": "ex01_autoencoder",
    "ex02": "ex02_gaussian_encoder",
    "ex03": "ex03_reparameterize",
    "ex04": "ex04_elbo",
    "ex05": "ex05_sampling",
    "ex06": "ex06_posterior_collapse",
    "ex07": "ex07_evaluation",
    "ex08": "ex08_anomaly",
    "ex09": "ex09_disentanglement",
    "ex10": "ex10_decoders_and_priors",
}


def source(exercise: str) -> str:
    """The full text of the reference solution file of ``exercise``."""
    return HEADER + SOLUTIONS[exercise]
