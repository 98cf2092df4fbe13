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
            "Your kl_divergence(mu, logvar) returns -3.2 nats for one image of a batch. What "
            "does that tell you?"
        ),
        "options": [
            "Nothing alarming: the KL is negative when q(z|x) is narrower than the prior",
            "That image's posterior is unusually far from the prior",
            "Clip logvar to a safe range before computing the KL, and the value will be right",
            "The function has a bug: KL(q || p) is never negative, and zero only when q = p",
        ],
        "correct": 3,
        "explanations": [
            "A narrower q has a positive KL: its -log(sigma^2) term grows as sigma shrinks. No "
            "q gives a negative KL from the prior, narrow, wide or shifted.",
            "Far from the prior means a large positive KL. A negative number is not a distance "
            "at all.",
            "Every real logvar is a valid log-variance and gives a KL of zero or more; clipping "
            "would hide the bug (a flipped sign, or sigma where the variance belongs), not fix it.",
            "Right: the KL divergence of any q from p is at least zero (Gibbs' inequality), "
            "with equality only when the two are the same distribution. Look for a flipped "
            "sign, or for sigma used where the formula has the variance.",
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
            "Training runs smoothly: nothing in the loss breaks or becomes undefined. The "
            "failure shows only when you sample from the prior.",
            "The decoder's gradient comes entirely from the reconstruction term; the KL term "
            "does not involve the decoder at all.",
            "Right: nothing ties q(z|x) to the prior any more. Noise only hurts the "
            "reconstruction, so the encoder makes sigma tiny and places the codes wherever it "
            "likes. Reconstructions stay good, but codes drawn from the prior land where the "
            "decoder was never trained (lesson 05 samples from such a model).",
            "Reconstruction is all this loss optimises, so reconstructions stay as good or "
            "get better; what is lost is the structure that makes prior samples meaningful.",
        ],
    },
    {
        "id": "04.sum_vs_mean",
        "text": (
            "A widely copied VAE example averages the squared error over its 784 pixels and the "
            "KL over its 2 latent dimensions, and checks its model by showing that the "
            "reconstructions carry as much ink (the sum of the pixel values) as the inputs. What "
            "does lesson 04's run of this loss find?"
        ),
        "options": [
            "The model works: reconstructions with the right amount of ink are good ones",
            "Averaging both terms keeps their balance: the loss is the summed one divided by a "
            "constant, with the same optimum",
            "The averages hide a KL weight of 784 / 2 = 392: the latent switches off, every "
            "input gets the same average digit, and the ink check passes anyway",
            "The squared error makes the KL term irrelevant, so the model memorises its "
            "training images",
        ],
        "correct": 2,
        "explanations": [
            "The check passes for the collapsed model and for plain blurred digits too: an "
            "average digit has the average ink, and a blur moves ink without losing any. A "
            "check that a broken model passes checks nothing.",
            "That would be true if both terms were divided by the same number. The squared "
            "error is divided by 784 and the KL by 2, so relative to the summed objective the KL "
            "weighs 392 times more: a different optimum. (Averaging a BCE over the pixels alone "
            "is beta = 784, the slip of section 5.)",
            "Right: written over one denominator, the loss is (sum of squared errors + 392 * "
            "KL) / 784. Lesson 04 trains it: the KL ends near zero with no active unit, and the "
            "reconstructions' ink still matches the inputs' within 15%. Sum over pixels and "
            "latent dimensions, average over images, and choose beta on purpose.",
            "The other way round: the KL term dominates, and it pushes every q(z|x) onto the "
            "prior, so the decoder cannot tell the images apart, let alone memorise them.",
        ],
        "claims": ["04.keras_collapses", "04.pixel_sum_check_blind"],
    },
]
