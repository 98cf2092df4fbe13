"""Quiz for lesson 07: the conv VAE and honest evaluation."""

import torch

from vaelab import metrics


def half_white_pair() -> tuple[torch.Tensor, torch.Tensor]:
    """x: top half white, bottom half black; x_hat: 0.9 on top, 0.1 below. Each (1, 1, 28, 28)."""
    x = torch.zeros(1, 1, 28, 28)
    x[..., :14, :] = 1.0
    x_hat = torch.where(x > 0.5, 0.9, 0.1)
    return x, x_hat


def pair_psnr(*, max_val: float = 1.0) -> float:
    x, x_hat = half_white_pair()
    return float(metrics.psnr(x, x_hat, max_val=max_val))


def pair_psnr_from_rmse() -> float:
    """The mistake of putting the root-mean-square error where the MSE belongs."""
    x, x_hat = half_white_pair()
    rmse = (x - x_hat).pow(2).mean().sqrt()
    return float(10 * torch.log10(1.0 / rmse))


QUESTIONS = [
    {
        "id": "07.psnr_value",
        "text": (
            "An image x is 28 x 28 with its top half white (1.0) and its bottom half black (0.0). "
            "Its reconstruction x_hat is 0.9 in the top half and 0.1 in the bottom half. What is "
            "the PSNR of x_hat against x, in dB, for images in [0, 1]?"
        ),
        "compute": pair_psnr,
        "tolerance": 0.05,
        "unit": "dB",
        "explanation": (
            "Every pixel is off by 0.1, so the MSE is 0.01 and PSNR = 10 log10(1 / 0.01). "
            "vaelab.metrics.psnr computes 10 log10(max_val^2 / MSE) for each image."
        ),
        "hint": "Find the mean squared error first, then PSNR = 10 log10(max_val^2 / MSE).",
        "mistakes": [
            {
                "compute": pair_psnr_from_rmse,
                "explanation": (
                    "You used the root-mean-square error (0.1) where the mean squared error "
                    "(0.01) belongs."
                ),
            },
            {
                "compute": lambda: pair_psnr(max_val=255.0),
                "explanation": (
                    "That uses max_val = 255, the range of uint8 pixels; these images are in "
                    "[0, 1], so max_val = 1."
                ),
            },
            {
                "compute": lambda: -pair_psnr(),
                "explanation": "The ratio is upside down: PSNR uses max_val^2 / MSE.",
            },
        ],
    },
    {
        "id": "07.psnr_vs_ssim",
        "text": (
            "Model A reconstructs the test set with a higher PSNR than model B, but with a lower "
            "SSIM. How can that be?"
        ),
        "options": [
            "A higher PSNR means worse reconstructions",
            "One of them must be computed wrongly, since the two always agree",
            "They measure different things: PSNR is the per-pixel squared error on a log "
            "scale, while SSIM compares local brightness, contrast and structure",
            "SSIM is in dB as well, but on a different scale",
        ],
        "correct": 2,
        "explanations": [
            "PSNR grows as the squared error falls, so higher is better; the same holds for "
            "SSIM, whose best value is 1.",
            "They often rank models the same way, but not always, because they weigh errors "
            "differently; a disagreement is information, not a bug.",
            "Right: a blurry reconstruction can have a small squared error yet lose the edges "
            "of the strokes, which SSIM penalises. When they disagree, look at the images.",
            "SSIM has no unit and is at most 1; PSNR is in dB. The models rank differently "
            "because the two reward different qualities, not because of units.",
        ],
    },
    {
        "id": "07.iwae",
        "text": (
            "Lesson 07 reports log p(x) with the importance-weighted bound "
            "(vaelab.losses.iwae_bound with 1,000 samples) instead of the ELBO. Why?"
        ),
        "options": [
            "It is an upper bound, which is safer to report",
            "It does not use the encoder, so it measures the decoder alone",
            "It is still a lower bound on log p(x), but tighter than the ELBO (its k = 1 "
            "case), and it approaches log p(x) as the number of samples grows",
            "It computes log p(x) exactly",
        ],
        "correct": 2,
        "explanations": [
            "It is a lower bound, like the ELBO, only tighter: in expectation it never "
            "exceeds log p(x).",
            "It uses the encoder's q(z|x) as the proposal distribution: a poor encoder makes "
            "the bound looser for a given number of samples.",
            "Right: averaging k importance weights p(x, z) / q(z|x) inside the log tightens "
            "the bound, so models are compared on (nearly) their likelihood rather than on "
            "how well their encoder approximates the posterior.",
            "It is a Monte-Carlo estimate that reaches log p(x) only as the number of samples "
            "grows without limit; with 1,000 it is still slightly below.",
        ],
    },
    {
        "id": "07.bottleneck_vae",
        "text": (
            "In lesson 07's bottleneck sweep the conv autoencoder's PSNR keeps rising past 10 "
            "latent dimensions, while the two conv VAEs' PSNR moves by less than a dB from 10 to "
            "256. What explains the VAEs' plateau?"
        ),
        "options": [
            "The VAEs were trained on fewer images than the autoencoder",
            "Every nat of information in the code costs a nat of KL in the loss; past a couple of "
            "dozen nats storing more does not pay, so the KL, and with it the reconstruction, "
            "levels off whatever size is offered",
            "A VAE's decoder cannot read more than 10 latent dimensions",
            "All but about 10 of the dimensions are inactive by the active-units measure",
        ],
        "correct": 1,
        "explanations": [
            "Every model of the sweep trains on the same images, for the same epochs, with the "
            "same seed; only the architecture and the size differ.",
            "Right: the lesson's KL panel shows the information each VAE stores levelling off "
            "at a couple of dozen nats from 64 dimensions on. The autoencoder pays nothing for "
            "its code, so it uses the extra room.",
            "The decoder's first layer is linear in z and reads every dimension; the VAE simply "
            "puts little information into the extra ones.",
            "In the lesson's short runs practically every offered dimension still counts as "
            "active (its posterior mean varies a little); switching the unneeded ones off takes "
            "longer training. The KL, not the unit count, shows the plateau there.",
        ],
    },
]
