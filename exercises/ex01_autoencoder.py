"""Exercise 01: an autoencoder's forward pass and its reconstruction loss (lesson 01).

Fill in the three functions, then grade them from the course's folder with
``.venv/bin/vaelab grade exercises/ex01_autoencoder.py`` or, in the notebook,
``vaelab.grade.check("ex01")``. Stuck? ``vaelab.grade.hint("ex01")`` (or
``.venv/bin/vaelab grade --hint ex01``) gives a hint for the first failing check, a step
further each time you ask.

``model`` is a ``vaelab.models.MLPAutoencoder`` with three parts:
``model.encoder`` (image -> hidden features), ``model.to_z`` (features -> code) and
``model.decoder`` (code -> x_logits of the image's shape).
"""

import torch
import torch.nn.functional as F  # noqa: F401  (you will likely need it)


def encode(model, x: torch.Tensor) -> torch.Tensor:
    """Map images to their codes: the encoder's half of the autoencoder (lesson 01, section 1).

    The code is the output of the layer that makes it, as it is: no activation after it.

    Args:
        model: a ``vaelab.models.MLPAutoencoder``.
        x: (B, C, H, W) images in [0, 1].

    Returns:
        z: (B, D) codes, one point in latent space per image.
    """
    raise NotImplementedError(
        "TODO: run the images through the encoder, then through the layer that makes the code"
    )


def decode(model, z: torch.Tensor) -> torch.Tensor:
    """Map codes back to images, as logits (lesson 01, section 1).

    No sigmoid: the loss works on logits, which is stable; whoever wants pixel intensities
    applies the sigmoid.

    Args:
        model: a ``vaelab.models.MLPAutoencoder``.
        z: (B, D) codes.

    Returns:
        x_logits: (B, C, H, W), one logit per pixel.
    """
    raise NotImplementedError("TODO: turn the codes back into logits with the decoder alone")


def reconstruction_loss(x_logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """The Bernoulli reconstruction loss of each image, in nats (lesson 01, section 2).

    The binary cross-entropy between each pixel of x and the decoder's prediction for it,
    computed from the logits (stable for confident logits such as +-120, where the sigmoid
    rounds to exactly 0 or 1), summed over all pixels and channels of an image (not
    averaged) for one value per image (not reduced over the batch).

    Edge cases: any image shape (B, C, H, W), colour and non-square images too, and a batch
    of one image, which still gives shape (1,); float32 or float64, kept in the result.
    Pixels may be grey (between 0 and 1), not only 0 or 1.

    Args:
        x_logits: (B, C, H, W) decoder output before the sigmoid.
        x: (B, C, H, W) target images in [0, 1].

    Returns:
        (B,) losses in nats.
    """
    raise NotImplementedError(
        "TODO: compute the cross-entropy of every pixel from the logits without reducing it, "
        "then add it up over everything but the batch dimension"
    )


# ---- stretch: beyond the lesson (graded, its points counted apart from the exercise's 10)


def gaussian_reconstruction_loss(
    x_mean: torch.Tensor, x_logvar: torch.Tensor, x: torch.Tensor
) -> torch.Tensor:
    """Stretch: the reconstruction loss of a decoder that predicts each pixel's variance too.

    Lesson 01 scores each pixel with a Bernoulli. A Gaussian decoder instead predicts, for
    every pixel, a mean and a log-variance; the loss is the negative log-likelihood
    -log N(x; x_mean, exp(x_logvar)) of the image, in nats, with every constant included.
    The lesson does not derive it: start from the density of a normal distribution.

    Edge cases: any image shape (B, C, H, W), a batch of one too; float32 or float64,
    kept; log-variances down to -6 (no variance that underflows to 0).

    Args:
        x_mean: (B, C, H, W) predicted pixel means.
        x_logvar: (B, C, H, W) predicted pixel log-variances.
        x: (B, C, H, W) target images.

    Returns:
        (B,) losses in nats, one per image.
    """
    raise NotImplementedError(
        "TODO: the negative log of each pixel's normal density, added up over each image"
    )
