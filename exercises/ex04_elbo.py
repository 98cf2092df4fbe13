"""Exercise 04: the ELBO, the objective a VAE maximises (lesson 04).

Fill in both functions, then grade them from the course's folder with
``.venv/bin/vaelab grade exercises/ex04_elbo.py`` or, in the notebook,
``vaelab.grade.check("ex04")``. Stuck? ``vaelab.grade.hint("ex04")`` gives a hint for the
first failing check, a step further each time you ask.

Both return one value per example, shape (B,): reducing over the batch is the training
loop's job, not theirs.
"""

import torch
import torch.nn.functional as F  # noqa: F401  (you will likely need it)


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, diag(exp(logvar))) || N(0, I)) per example, in closed form.

    The closed-form Gaussian KL of lesson 04, section 2, summed over the latent dimensions
    (the last dimension of mu), one value per example, never negative.

    Edge cases: any batch shape (B, D), a batch of one too, which gives (1,); float32 or
    float64, kept in the result; logvar from -120 to 80 gives a finite, exact KL (use the
    log-variance itself wherever the formula has log sigma^2).

    Args:
        mu: (B, D) posterior means.
        logvar: (B, D) posterior log-variances.

    Returns:
        (B,) KL divergences in nats, each >= 0.
    """
    raise NotImplementedError(
        "TODO: add up the closed-form KL term of each latent dimension, for each example"
    )


def negative_elbo(
    x: torch.Tensor,
    x_logits: torch.Tensor,
    mu: torch.Tensor,
    logvar: torch.Tensor,
    beta: float = 1.0,
) -> torch.Tensor:
    """The loss to minimise: reconstruction plus beta times the KL, per example (lesson 04).

    Reconstruction: the Bernoulli reconstruction loss of exercise 01, from the decoder's
    logits, summed over all pixels of each image. KL: as in ``kl_divergence``. beta = 1
    gives the negative ELBO; other values give the beta-VAE's loss.

    Edge cases: confident logits (+-120) give a finite, exact loss; any image shape and
    latent size.

    Args:
        x: (B, C, H, W) target images in [0, 1].
        x_logits: (B, C, H, W) decoder output before the sigmoid (logits, any real number).
        mu, logvar: (B, D) the posterior's parameters.
        beta: weight of the KL term.

    Returns:
        (B,) losses in nats.
    """
    raise NotImplementedError("TODO: each image's reconstruction loss plus beta times its KL")


# ---- stretch: beyond the lesson (graded, its points counted apart from the exercise's 10)


def kl_between_gaussians(
    mu_q: torch.Tensor, logvar_q: torch.Tensor, mu_p: torch.Tensor, logvar_p: torch.Tensor
) -> torch.Tensor:
    """Stretch: KL(q || p) between two diagonal Gaussians, what a learned prior needs.

    KL(N(mu_q, diag(exp(logvar_q))) || N(mu_p, diag(exp(logvar_p)))) per example, summed
    over the latent dimensions. Lesson 04's closed form is the case mu_p = 0, logvar_p = 0;
    here the prior has its own mean and variance (lesson 10's learned priors). Derive it.

    Edge cases: any (B, D), a batch of one too; float32 or float64, kept; 0 when q = p.

    Args:
        mu_q, logvar_q: (B, D) the posterior's parameters.
        mu_p, logvar_p: (B, D) the prior's parameters.

    Returns:
        (B,) KL divergences in nats, each >= 0.
    """
    raise NotImplementedError(
        "TODO: derive the KL of two normals for one dimension, then add up the dimensions"
    )
