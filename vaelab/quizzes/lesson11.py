"""Quiz for lesson 11: the aggregate posterior, holes in the prior, learned priors."""

QUESTIONS = [
    {
        "id": "11.learned_prior",
        "text": (
            "You replace the N(0, I) prior of a 2-D VAE by a learned mixture of Gaussians, "
            "trained with the model. Which of these is right?"
        ),
        "options": [
            "The KL can still be computed in closed form, as in lesson 04",
            "Its parameters train only if they are passed to the optimiser, for instance as a "
            "submodule of the model; the KL is estimated by Monte Carlo, log q(z|x) - log p(z) "
            "at the sampled z; and log-likelihoods and samples must use this prior, not N(0, I)",
            "Samples should still be drawn from N(0, I), since the decoder was trained on codes "
            "that the KL term pulled towards N(0, I)",
            "A learned prior always loses a few nats of test log-likelihood, because the prior "
            "has more parameters",
        ],
        "correct": 1,
        "explanations": [
            "The KL between a Gaussian and a mixture of Gaussians has no closed form; the "
            "lesson estimates it by Monte Carlo (losses.elbo(..., prior=model.prior)).",
            "Right: the prior is part of the model. In the lesson, scoring the mixture-prior VAE "
            "against N(0, I) instead reported a worse log-likelihood than the model has.",
            "With a learned prior the KL term pulls the posteriors towards the learned prior, not "
            "towards N(0, I), and the decoder was trained on the codes that came of it. Drawing "
            "from N(0, I) decodes codes from another distribution: the lesson's pitfall shows what "
            "that does to the log-likelihood.",
            "Its parameters are trained on the same objective as the rest of the model, so having "
            "more of them does not cost likelihood by itself. In the lesson's full run (a 2-D "
            "VAE) neither learned prior moved the test log-likelihood by more than a few nats "
            "either way; "
            "Tomczak and Welling (2018) report clear gains with the VampPrior for larger latents "
            "and longer training.",
        ],
        "claims": ["11.wrong_prior_worse", "11.loglik_gain_small"],
    },
    {
        "id": "11.holes",
        "text": (
            "A VAE with the N(0, I) prior is trained on digits. What is a 'hole' in its latent "
            "space, and why does it matter for samples?"
        ),
        "options": [
            "A latent dimension whose KL is zero: it carries nothing, so samples ignore it",
            "A region where the prior puts mass but the codes of the training images (the "
            "aggregate posterior q(z)) rarely go: sampling draws codes there, and the decoder was "
            "seldom trained on codes like them",
            "A region where q(z) is denser than the prior: too many training codes crowd there, "
            "so the samples there all look alike",
            "A code for which the decoder returns NaN",
        ],
        "correct": 1,
        "explanations": [
            "That is an inactive unit (lesson 06), a dimension at the prior everywhere. A hole is "
            "a region of the latent space, and it exists in a 2-D code whose two units are both "
            "active.",
            "Right: nothing makes the aggregate posterior fill the prior, since the KL term pulls "
            "each q(z|x) towards the prior only part of the way. In the lesson's 2-D VAE more "
            "than 1 in 100 of the prior's draws land where q(z) is less than a tenth of p(z); "
            "the VampPrior, which follows the codes, puts far fewer of its draws there.",
            "Where q(z) is denser than the prior the decoder has seen many codes: those draws are "
            "decoded from familiar territory. The trouble is where the prior is denser than q(z).",
            "The decoder returns finite numbers for any code; in a hole it returns an image, just "
            "not one it learned to draw from codes like that.",
        ],
        "claims": ["11.holes_share", "11.vamp_fewer_holes"],
    },
    {
        "id": "11.diffusion_bound",
        "text": "How is a diffusion model (Ho et al., 2020) related to a VAE?",
        "options": [
            "Not at all: a diffusion model is trained adversarially, like a GAN",
            "It is trained on a variational bound of the same kind as the ELBO: a fixed "
            "'encoder' adds noise step by step, a learned 'decoder' removes it, and the bound has "
            "one KL term per step",
            "It is a VAE with a 2-D latent space",
            "It gives the exact log-likelihood, like a normalizing flow",
        ],
        "correct": 1,
        "explanations": [
            "No discriminator is involved: the network is trained to undo small steps of added "
            "noise, and the objective is (a reweighted version of) a variational bound.",
            "Right: Ho et al. (2020) and Kingma et al. (2021) write the loss as an ELBO whose "
            "latent variables are the noisy images. The 'encoder' has no parameters, so nothing "
            "like posterior collapse can happen, and sampling takes one network pass per step.",
            "Its latent variables are noisy images as large as the data, one per step, not a "
            "small code.",
            "Like a VAE it has a bound on log p(x), not the exact value; a flow's invertible "
            "layers give the exact one.",
        ],
    },
]
