"""Quiz for lesson 02: the probabilistic encoder."""

import math

import torch

from vaelab import losses


def sigma_from_logvar() -> float:
    """sigma for mu = 0, logvar = -2: the sample z = mu + sigma * eps with eps = 1."""
    mu, logvar = torch.zeros(1, 1), torch.full((1, 1), -2.0)  # (B, D) = (1, 1)
    return float(losses.reparameterize(mu, logvar, eps=torch.ones(1, 1)))


QUESTIONS = [
    {
        "id": "02.latent_stores",
        "text": "For one input image, what does a VAE's encoder describe?",
        "options": [
            "A Gaussian distribution over codes, q(z|x) = N(mu, diag(exp(logvar))): a region "
            "of latent space rather than a single point",
            "A single point, as in an autoencoder, with noise added to the image",
            "The distribution of all the images in the dataset",
            "A distribution over the pixel values of the reconstruction",
        ],
        "correct": 0,
        "explanations": [
            "Right: the encoder outputs mu and logvar (latent_dim numbers each), the centre "
            "and spread of the codes that could have produced x. The posterior ellipses draw "
            "exactly these regions.",
            "The noise is added in latent space, through the distribution's spread, not to "
            "the image; mu alone is only the centre of the distribution.",
            "q(z|x) is conditioned on this one image x. The prior p(z) = N(0, I) is the "
            "distribution meant to cover the codes of all images; the KL term pulls each "
            "q(z|x) towards it.",
            "That is the decoder's output p(x|z), Bernoulli probabilities from x_logits. The "
            "encoder's distribution is over latent codes z.",
        ],
    },
    {
        "id": "02.why_logvar",
        "text": (
            "Why does the encoder output the log-variance logvar rather than the standard "
            "deviation sigma?"
        ),
        "options": [
            "Because with logvar the KL term becomes zero",
            "Because sampling with sigma would not be differentiable",
            "A linear layer can output any real number, and every real number is a valid "
            "logvar: exp(logvar) is always a positive variance",
            "Because the decoder needs the log-variance as an input",
        ],
        "correct": 2,
        "explanations": [
            "The KL term -1/2 sum(1 + logvar - mu^2 - exp(logvar)) is zero only when mu = 0 "
            "and logvar = 0 (sigma = 1); how sigma is parameterised does not change its "
            "value.",
            "z = mu + sigma * eps is just as differentiable in sigma; the reparameterisation "
            "trick works with either. The reason is the positivity constraint.",
            "Right: sigma must be positive, but the to_logvar layer is unconstrained. "
            "Predicting log sigma^2 removes the constraint, and tiny and large variances are "
            "equally easy to reach; sigma = exp(logvar / 2), and the KL uses logvar and "
            "exp(logvar) directly.",
            "The decoder only sees the sample z = mu + sigma * eps; it never receives logvar.",
        ],
    },
    {
        "id": "02.logvar_to_std",
        "text": (
            "For one latent dimension the encoder outputs mu = 0 and logvar = -2. What is the "
            "standard deviation sigma of that dimension of q(z|x)?"
        ),
        "compute": sigma_from_logvar,
        "tolerance": 0.005,
        "unit": "",
        "explanation": (
            "sigma = exp(logvar / 2) = exp(-1): logvar is the log of the variance sigma^2, so "
            "halve it before exponentiating. vaelab.losses.reparameterize computes "
            "z = mu + exp(logvar / 2) * eps, which is sigma itself for mu = 0 and eps = 1."
        ),
        "hint": "logvar is log(sigma^2): undo the log, then take the square root.",
        "mistakes": [
            {
                "compute": lambda: math.exp(-2.0),
                "explanation": "exp(-2), about 0.135, is the variance sigma^2, not sigma.",
            },
            {
                "compute": lambda: -2.0,
                "explanation": (
                    "-2 is logvar itself, and a standard deviation cannot be negative. Mixing up "
                    "logvar and sigma is a classic VAE bug."
                ),
            },
        ],
    },
    {
        "id": "02.sigma_uncertainty",
        "text": (
            "A VAE's encoder gives each image a sigma, and tutorials say a VAE \"captures "
            'uncertainty". Lesson 02 measures sigma on test digits, on the same digits with '
            "noise or with their bottom half hidden, and on shapes the model never saw. What "
            "does it find?"
        ),
        "options": [
            "Sigma grows for every unusual input, so it is a reliable out-of-distribution alarm",
            "Sigma grows when half the digit is hidden, but not for noisy digits; for shapes it "
            "never saw, it has no dependable answer",
            "Sigma is the same for every input, since the prior is the same for every image",
            "Sigma shrinks for every unusual input, because the KL term pulls it down",
        ],
        "correct": 1,
        "explanations": [
            "That is the claim the lesson tests, and it fails: noisy digits get no larger a "
            "sigma than clean ones. The loss (negative ELBO) notices the noise; sigma does not.",
            "Right: sigma says how spread the encoder's guess for a code is, and it widens when "
            "the input is ambiguous in a way training has seen (less of the digit). Nothing "
            "trained the encoder to widen it for inputs unlike its training data: it maps every "
            "input to some mu and sigma, and for the shapes that sigma depends on the model.",
            "Each image gets its own sigma, from the to_logvar head; the prior N(0, I) is the "
            "same for all, but q(z|x) is not.",
            "Hiding half the digit makes sigma grow. The KL term pulls each q(z|x) towards the "
            "prior, whose sigma is 1: if anything it widens posteriors, it does not shrink them.",
        ],
        "claims": [
            "02.sigma_grows_when_hidden",
            "02.sigma_blind_to_noise",
            "02.loss_flags_noise",
        ],
    },
]
