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
            "halve it before exponentiating. The head predicts logvar because a linear layer "
            "can output any real number and every real number is a valid logvar, while a "
            "variance must stay positive. vaelab.losses.reparameterize computes "
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
            "That is the claim the lesson tests, and in the full run it fails: noisy digits get "
            "no larger a sigma than clean ones. The loss (negative ELBO) notices the noise; "
            "sigma does not.",
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
    {
        "id": "02.variational",
        "text": (
            "Lesson 02 computes the true posterior p(z|x) of its 2-D VAE on a grid and sets it "
            "beside the encoder's Gaussian q(z|x). What is the gap log p(x) - ELBO, and what "
            "does a small gap tell you?"
        ),
        "options": [
            'It is the noise the encoder adds to the codes, which gives "variational" its '
            "name; a small gap means sigma is small",
            "It is KL(q(z|x) || p(z|x)), the distance from the encoder's Gaussian to the true "
            "posterior; a small gap can hide a posterior that is not Gaussian, because this KL "
            "punishes q for mass where p(z|x) has none far more than for missing part of it",
            "It is KL(q(z|x) || p(z)), the ELBO's own KL term; a small gap means the codes sit "
            "close to the prior",
            "It is the reconstruction error; a small gap means the posterior is Gaussian",
        ],
        "correct": 1,
        "explanations": [
            'The encoder\'s sigma is part of q, not the gap. "Variational" comes from '
            "choosing q by optimisation over a family of distributions (here the diagonal "
            "Gaussians), as the calculus of variations optimises over functions.",
            "Right: log p(x) - ELBO = KL(q(z|x) || p(z|x)), which the lesson checks by summing "
            "that KL on the grid. For the blended digit the true posterior is far from any "
            "ellipse, yet the best Gaussian settles on one part of it and leaves a smaller gap "
            "than the Gaussian with the posterior's own mean and variance.",
            "That KL, to the prior, is one of the two terms of the ELBO. The gap compares q "
            "with the true posterior p(z|x) = p(x|z) p(z) / p(x), which Bayes' rule gives and "
            "the grid computes.",
            "The reconstruction term is part of the ELBO itself. The gap is a KL between two "
            "distributions over codes, and the blend shows that a small gap does not make the "
            "posterior Gaussian.",
        ],
        "claims": ["02.gap_is_kl", "02.blend_not_gaussian", "02.best_gaussian_picks_a_mode"],
    },
]
