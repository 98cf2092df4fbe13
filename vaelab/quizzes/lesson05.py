"""Quiz for lesson 05: sampling and the latent space."""

import torch

from vaelab import latent

LATENT_DIM, NORM = 16, 4.0  # two orthogonal codes of norm 4 = sqrt(16), typical for N(0, I)


def midpoint_norm(method: str = "linear") -> float:
    """Norm of the middle of a 3-point path between two orthogonal codes of norm NORM."""
    z0, z1 = torch.zeros(LATENT_DIM), torch.zeros(LATENT_DIM)  # (D,)
    z0[0], z1[1] = NORM, NORM
    path = latent.interpolate(z0, z1, num_steps=3, method=method)  # (3, D)
    return float(path[1].norm())


QUESTIONS = [
    {
        "id": "05.purpose_of_sampling",
        "text": (
            "During training a VAE decodes a random z drawn from q(z|x), not mu itself. What is "
            "that sampling for?"
        ),
        "options": [
            "It augments the data by adding noise to the images",
            "Nothing during training: sampling only matters when generating",
            "It makes the decoder reconstruct x from any code near mu, so each image claims a "
            "region of latent space and nearby codes decode to similar images",
            "It makes training faster",
        ],
        "correct": 2,
        "explanations": [
            "The noise is in latent space, not on pixels: the input image is unchanged. Its "
            "effect is on how the latent space is organised.",
            "Generation samples from the prior, not from q(z|x). Sampling from q during "
            "training is what makes the decoder work on neighbourhoods rather than single "
            "points.",
            "Right: the decoder must cope with the whole neighbourhood that q(z|x) covers, so "
            "the regions between training codes are filled and the latent space becomes "
            "smooth. Sampling also estimates the expectation over q in the ELBO.",
            "Sampling adds noise to the gradients, which if anything slows training down; the "
            "benefit is a smooth, usable latent space.",
        ],
    },
    {
        "id": "05.generate_from_prior",
        "text": "To generate a new digit with a trained VAE, where do you draw z from?",
        "options": [
            "The encoder's output for an image of random noise",
            "q(z|x) of a random training image",
            "Uniformly from the box [-1, 1]^D",
            "The prior N(0, I), then decode (model.sample(n) does both)",
        ],
        "correct": 3,
        "explanations": [
            "The encoder never saw noise images; its codes for them are arbitrary and need "
            "not lie where the prior puts its mass.",
            "That decodes a variation of that particular training image (a noisy "
            "reconstruction), not a new sample from the model.",
            "Uniform codes have the wrong spread: their typical norm is about sqrt(D / 3) "
            "instead of sqrt(D), and they never go beyond 1 in any dimension, so they miss "
            "much of the region the prior covers.",
            "Right: the KL term pulled every q(z|x) towards N(0, I), so the region where the "
            "prior puts its mass is where the decoder learned to draw digits.",
        ],
    },
    {
        "id": "05.lerp_midpoint_norm",
        "text": (
            "Two codes z0 and z1 in a 16-dimensional latent space are orthogonal and each has "
            "norm 4 (samples of N(0, I) in 16 dimensions have norms near sqrt(16) = 4). What is "
            "the norm of the midpoint of the linear interpolation from z0 to z1?"
        ),
        "compute": midpoint_norm,
        "tolerance": 0.01,
        "unit": "",
        "explanation": (
            "The midpoint (z0 + z1) / 2 has norm sqrt(4^2 + 4^2) / 2 = 4 / sqrt(2): well inside "
            "the shell where prior samples live, a length the decoder rarely saw in training. "
            "slerp keeps the norm at 4 along the whole path."
        ),
        "hint": "The midpoint is (z0 + z1) / 2; z0 and z1 are orthogonal, so use Pythagoras.",
        "mistakes": [
            {
                "compute": lambda: midpoint_norm("slerp"),
                "explanation": (
                    "That is the norm of the slerp midpoint, which stays on the sphere; the "
                    "straight line cuts through the inside."
                ),
            },
            {
                "compute": lambda: 2 * midpoint_norm(),
                "explanation": "That is the norm of z0 + z1: halve it for the midpoint.",
            },
        ],
    },
    {
        "id": "05.slerp_vs_lerp",
        "text": (
            "Why do the lessons interpolate between prior samples with slerp rather than along a "
            "straight line when latent_dim is large?"
        ),
        "options": [
            "slerp is needed even for a 2-D latent, where lerp fails badly",
            "A straight line cannot reach z1",
            "slerp is cheaper to compute",
            "In high dimensions, samples of N(0, I) lie near a shell of radius about sqrt(D); "
            "a straight line between two of them cuts through the inside, where codes are "
            "atypical, while slerp keeps a typical radius",
        ],
        "correct": 3,
        "explanations": [
            "In 2-D the norms of prior samples vary widely (there is no thin shell), so "
            "straight lines stay in typical regions and lerp works well; the difference grows "
            "with D.",
            "Linear interpolation includes both ends exactly; the two methods differ in the "
            "path between them.",
            "It is slightly more work (an angle and a few sines); it is used for where its "
            "path goes, not for speed.",
            "Right: the norm of a D-dimensional standard normal sample concentrates near "
            "sqrt(D), and the decoder was trained on such codes. The midpoint of a straight "
            "line between two of them is about sqrt(2) shorter on average, and the factor "
            "varies with the pair: in lesson 05's run between a third and two thirds of the "
            "pairs are shortened by more than sqrt(2).",
        ],
        "claims": ["05.lerp_sags", "05.lerp_shortening_varies", "05.slerp_on_shell"],
    },
]
