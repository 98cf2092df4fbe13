"""Quiz for lesson 04: the ELBO."""

import math

import torch

from vaelab import losses

MU, SIGMA = 1.0, 0.5  # q = N(1, 0.5^2), one latent dimension


def kl_q_from_prior(logvar: float | None = None) -> float:
    """KL(N(MU, exp(logvar)) || N(0, 1)) in nats; logvar defaults to log(SIGMA^2)."""
    logvar = 2 * math.log(SIGMA) if logvar is None else logvar
    mu, lv = torch.tensor([[MU]]), torch.tensor([[logvar]])  # (B, D) = (1, 1)
    return float(losses.kl_divergence(mu, lv))


def kl_prior_from_q() -> float:
    """The reverse, KL(N(0, 1) || q), which is not what the ELBO uses."""
    prior = torch.distributions.Normal(0.0, 1.0)
    q = torch.distributions.Normal(MU, SIGMA)
    return float(torch.distributions.kl_divergence(prior, q))


QUESTIONS = [
    {
        "id": "04.kl_value",
        "text": (
            "What is the KL divergence of q = N(1, 0.5^2) from the prior p = N(0, 1), that is "
            "KL(q || p), for one latent dimension with mu = 1 and sigma = 0.5? Give it in nats."
        ),
        "compute": kl_q_from_prior,
        "tolerance": 0.01,
        "unit": "nats",
        "explanation": (
            "KL = 1/2 (mu^2 + sigma^2 - 1 - log sigma^2) = 1/2 (1 + 0.25 - 1 - log 0.25). "
            "vaelab.losses.kl_divergence(mu, logvar) computes it with logvar = log(0.25)."
        ),
        "hint": (
            "Use the closed form 1/2 (mu^2 + sigma^2 - 1 - log sigma^2), with sigma^2 = 0.25, "
            "not 0.5."
        ),
        "mistakes": [
            {
                "compute": lambda: kl_q_from_prior(logvar=SIGMA),
                "explanation": "You used 0.5 as logvar, but 0.5 is sigma: logvar = log(0.5^2).",
            },
            {
                "compute": lambda: kl_q_from_prior(logvar=math.log(SIGMA)),
                "explanation": (
                    "You used log(sigma) where log(sigma^2) belongs: the variance is 0.25."
                ),
            },
            {
                "compute": lambda: -kl_q_from_prior(),
                "explanation": "A KL divergence is never negative: check the sign.",
            },
            {
                "compute": kl_prior_from_q,
                "explanation": (
                    "That is KL(p || q), the divergence the other way round. KL is not symmetric, "
                    "and the ELBO uses KL(q(z|x) || p(z))."
                ),
            },
        ],
    },
    {
        "id": "04.kl_sign",
        "text": (
            "mu and logvar have shape (B, D). Which line computes the closed-form "
            "KL(q(z|x) || N(0, I)) of each image?"
        ),
        "options": [
            "0.5 * torch.sum(1 + logvar - mu**2 - logvar.exp(), dim=1)",
            "-0.5 * torch.sum(1 + logvar - mu**2 - logvar.exp().sqrt(), dim=1)",
            "-0.5 * torch.mean(1 + logvar - mu**2 - logvar.exp())",
            "-0.5 * torch.sum(1 + logvar - mu**2 - logvar.exp(), dim=1)",
        ],
        "correct": 3,
        "explanations": [
            "The sign is flipped: this is minus the KL, never above zero. Minimising it "
            "rewards posteriors far from the prior, and the loss falls without bound.",
            "exp(logvar).sqrt() is sigma, but the formula needs the variance exp(logvar). "
            "This version is no KL: it can go negative (logvar = 2 gives about -0.14 per "
            "dimension).",
            "A mean over the batch and the dimensions gives one number for the batch, D times "
            "smaller than the sum over dimensions: next to a reconstruction summed over "
            "pixels, the KL term is too weak.",
            "Right: for each dimension 1/2 (mu^2 + sigma^2 - 1 - log sigma^2) with sigma^2 = "
            "exp(logvar), summed over the D dimensions: one non-negative number per image, "
            "zero only when q equals the prior.",
        ],
    },
    {
        "id": "04.why_kl",
        "text": (
            "What happens if you train a VAE on the reconstruction term alone, dropping the KL "
            "term?"
        ),
        "options": [
            "Training diverges at once",
            "The decoder gets no gradient, since the gradients come from the KL term",
            "It behaves like a plain autoencoder: variances shrink and the means drift "
            "anywhere, so codes drawn from N(0, I) decode to poor samples",
            "Reconstructions get much worse",
        ],
        "correct": 2,
        "explanations": [
            "Training runs smoothly, and the reconstruction loss even falls faster. The "
            "failure shows only when you sample from the prior.",
            "The decoder's gradient comes entirely from the reconstruction term; the KL term "
            "does not involve the decoder at all.",
            "Right: nothing ties q(z|x) to the prior any more. Noise only hurts the "
            "reconstruction, so the encoder makes sigma tiny and places the codes wherever it "
            "likes. Reconstructions stay good; generation from the prior fails.",
            "Reconstruction is all this loss optimises, so reconstructions stay as good or "
            "get better; what is lost is the structure that makes prior samples meaningful.",
        ],
    },
    {
        "id": "04.sum_vs_mean",
        "text": (
            "You compute the reconstruction as F.binary_cross_entropy_with_logits(x_logits, x) "
            "with the default reduction='mean' (averaged over every pixel in the batch) and add "
            "the KL summed over latent dimensions and averaged over the batch. What goes wrong?"
        ),
        "options": [
            "The KL term is ignored",
            "Nothing: scaling a loss by a constant does not change its minimum",
            "The reconstruction term is 784 times smaller than the per-image sum, so the KL "
            "weighs 784 times more: blurry reconstructions and collapsed latent dimensions",
            "The loss becomes negative",
        ],
        "correct": 2,
        "explanations": [
            "The other way round: the reconstruction term shrinks, so the KL dominates.",
            "That is true for the whole loss, but here only one of the two terms is scaled, "
            "which changes the balance between them and therefore the optimum.",
            "Right: the ELBO's log-likelihood is a sum over the 28 * 28 = 784 pixels. "
            "Averaging over pixels divides that term by 784 but leaves the KL alone, like "
            "training with beta = 784. vaelab sums over pixels and averages over images.",
            "BCE and KL are both non-negative, so the sum stays positive; the problem is "
            "their relative weight, not the sign.",
        ],
    },
]
