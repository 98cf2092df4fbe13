"""Reference solutions of every exercise, built from vaelab's own functions (tests only).

``SOLUTIONS["ex03"]`` is the source of a complete ``ex03_reparameterize.py``; the tests
write these into temporary folders, so no solution file lives in the repository's
``exercises/``.
"""

HEADER = (
    "import math\n\nimport torch\nimport torch.nn.functional as F\n\n"
    "from vaelab import anomaly, latent, losses, metrics, schedules\n"
)

SOLUTIONS = {
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
    "ex10": """
from vaelab import models, priors


def causal_mask(kernel_size, mask_type):
    return models.causal_mask(kernel_size, mask_type)


def log_mixture_prior(z, means, logvars, logits):
    return priors.log_mixture_density(z, means, logvars, logits)
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
    "ex10": "ex10_decoders_and_priors",
}


def source(exercise: str) -> str:
    """The full text of the reference solution file of ``exercise``."""
    return HEADER + SOLUTIONS[exercise]
