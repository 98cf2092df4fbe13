"""Exercise 01: an autoencoder's forward pass and its reconstruction loss (lesson 01).

Fill in the three functions, then grade them from the course's folder with
``.venv/bin/vaelab grade exercises/ex01_autoencoder.py`` or, in the notebook,
``vaelab.grade.check("ex01")``.

``model`` is a ``vaelab.models.MLPAutoencoder`` with three parts:
``model.encoder`` (image -> hidden features), ``model.to_z`` (features -> code) and
``model.decoder`` (code -> x_logits of the image's shape).
"""

import torch
import torch.nn.functional as F  # noqa: F401  (you will likely need it)


def encode(model, x: torch.Tensor) -> torch.Tensor:
    """Map images to their codes: the encoder, then the ``to_z`` layer.

    Args:
        model: a ``vaelab.models.MLPAutoencoder``.
        x: (B, C, H, W) images in [0, 1].

    Returns:
        z: (B, D) codes, one point in latent space per image.
    """
    raise NotImplementedError("TODO: z = model.to_z(model.encoder(x))")


def decode(model, z: torch.Tensor) -> torch.Tensor:
    """Map codes back to images, as logits (no sigmoid: the loss applies it, stably).

    Args:
        model: a ``vaelab.models.MLPAutoencoder``.
        z: (B, D) codes.

    Returns:
        x_logits: (B, C, H, W), one logit per pixel.
    """
    raise NotImplementedError("TODO: x_logits = model.decoder(z)")


def reconstruction_loss(x_logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy between the images and the decoder's logits, per image.

    The lesson calls it the Bernoulli reconstruction loss: BCE from logits, summed over
    all pixels of an image (not averaged), one value per image (not summed over the batch).

    Args:
        x_logits: (B, C, H, W) decoder output before the sigmoid.
        x: (B, C, H, W) target images in [0, 1].

    Returns:
        (B,) losses in nats.
    """
    raise NotImplementedError(
        "TODO: F.binary_cross_entropy_with_logits(..., reduction='none'), summed per image"
    )
