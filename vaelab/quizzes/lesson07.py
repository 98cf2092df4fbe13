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
            "latent dimensions, while the two conv VAEs gain much less and end more than 2 dB "
            "behind it at 256. What explains the VAEs' plateau?"
        ),
        "claims": [
            "07.ae_keeps_gaining",
            "07.vae_plateau",
            "07.ae_ahead_at_256",
            "07.kl_levels_off",
            "07.kl_size",
            "07.active_many",
        ],
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
            "(between 15 and 35 nats per image from 64 dimensions on, at the end of the full "
            "run). The autoencoder pays nothing for its code, so it uses the extra room.",
            "The decoder's first layer is linear in z and reads every dimension; the VAE simply "
            "puts little information into the extra ones.",
            "In the lesson's short runs most of the 256 offered dimensions still count as "
            "active (their posterior means vary a little); switching the unneeded ones off takes "
            "longer training. The KL, not the unit count, shows the plateau there.",
        ],
    },
    {
        "id": "07.rate",
        "text": (
            "Lesson 07 reads a VAE's KL, divided by ln 2, as the bits per image needed to send "
            "its code, and puts it beside JPEG's file sizes. What does that number promise?"
        ),
        "claims": ["07.vae_rate_small", "07.jpeg_sharper"],
        "options": [
            "A file of that size that any image viewer can open",
            "The average cost of sending a code drawn from q(z|x) with an ideal bits-back coder "
            "that shares the N(0, I) prior; a better prior could make it smaller, and a practical "
            "coder adds a little overhead",
            "The smallest number of bits any coder could ever use for these digits",
            "The cost of sending the image losslessly",
        ],
        "correct": 1,
        "explanations": [
            "No file was written for the VAE: the KL is the rate a bits-back (or relative "
            "entropy) coder would reach on average, and the receiver needs the decoder's weights.",
            "Right: with this prior that is the rate; averaged over the data the KL is the "
            "mutual information I(x; z) plus KL(q(z) || p(z)), so a prior matching the pooled "
            "codes would pay less. In the lesson's run the VAEs need under a quarter of JPEG's "
            "smallest file, at a lower PSNR than that file.",
            "It is an upper bound for this encoder, not a floor: the mutual information I(x; z), "
            "which a coder with the aggregate posterior as prior would pay, is smaller.",
            "The receiver gets a blurry decoding of the code, not the image: this is lossy "
            "compression, and its distortion is the PSNR on the other axis.",
        ],
    },
]
