"""Exercise 08: anomaly detection with a VAE (lesson 08).

Fill in the three functions, then grade them from the course's folder with
``.venv/bin/vaelab grade exercises/ex08_anomaly.py`` or, in the notebook,
``vaelab.grade.check("ex08")``. Stuck? ``vaelab.grade.hint("ex08")`` gives a hint for the
first failing check, a step further each time you ask.

Each returns one score per image, higher meaning "more unusual", computed without
randomness: use the posterior mean mu as the code (no sampling) and no gradients. A score
is a property of one image: it must not depend on the other images in the batch, and a
batch of one image gives shape (1,). ``model`` is a ``vaelab.models.MLPVAE``
(``model.encode(x)`` gives ``(mu, logvar)``, ``model.decode(z)`` gives ``x_logits``).
"""

import torch
import torch.nn.functional as F  # noqa: F401  (you will likely need it)


def reconstruction_score(model, x: torch.Tensor) -> torch.Tensor:
    """Reconstruction error at the posterior mean (lesson 08, section 1).

    The Bernoulli reconstruction loss of exercise 01 (from logits, summed over each image's
    pixels) of x, decoded from its posterior mean rather than from a sample.

    Args:
        model: a VAE.
        x: (B, C, H, W) images in [0, 1].

    Returns:
        (B,) scores in nats.
    """
    raise NotImplementedError(
        "TODO: encode, decode the mean code, and measure each image's reconstruction loss"
    )


def latent_score(model, x: torch.Tensor) -> torch.Tensor:
    """Latent (un)likelihood: -log N(mu; 0, I), how far the code lies from the prior's bulk.

    Lesson 08, section 1: the negative log-density of the standard normal prior at the
    posterior mean, summed over the latent dimensions, its constant included.

    Args:
        model: a VAE.
        x: (B, C, H, W) images in [0, 1].

    Returns:
        (B,) scores in nats.
    """
    raise NotImplementedError(
        "TODO: encode, then evaluate the prior's negative log-density at the mean code"
    )


def anomaly_score(model, x: torch.Tensor, beta: float = 1.0) -> torch.Tensor:
    """Negative ELBO at the posterior mean (lesson 08, section 1).

    The reconstruction score plus beta times the closed-form KL of the posterior from the
    prior (lesson 04).

    Args:
        model: a VAE.
        x: (B, C, H, W) images in [0, 1].
        beta: weight of the KL term.

    Returns:
        (B,) scores in nats.
    """
    raise NotImplementedError("TODO: the reconstruction score plus beta times the posterior's KL")


# ---- stretch: beyond the lesson (graded, its points counted apart from the exercise's 10)


def threshold_at_fpr(normal_scores: torch.Tensor, fpr: float) -> torch.Tensor:
    """Stretch: the decision threshold of a detector that tolerates a false-positive rate.

    An image is flagged as an anomaly when its score is strictly above the threshold.
    Given the scores of normal images, return the smallest of these scores that flags at
    most a fraction ``fpr`` of them. Lesson 08 reads whole ROC curves; a deployed detector
    needs this one number.

    Edge cases: repeated scores; fpr = 0 (nothing normal may be flagged) and fpr = 1.

    Args:
        normal_scores: (N,) anomaly scores of normal images.
        fpr: the largest fraction of normal images that may be flagged, in [0, 1].

    Returns:
        A 0-d tensor, one of normal_scores.
    """
    raise NotImplementedError(
        "TODO: find the smallest normal score that leaves at most fpr of the normal scores above it"
    )
