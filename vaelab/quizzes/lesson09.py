"""Quiz for lesson 09: disentanglement."""

import math

import torch

from vaelab import disentangle

VALUES = 8  # equally likely values of the copied factor


def _mi_of_a_copy() -> float:
    """Mutual information between a factor with VALUES equally likely values and a copy."""
    factor = torch.arange(VALUES).repeat(10)[:, None]  # (N, 1) grid indices
    copy = torch.cat([factor.double(), torch.zeros(len(factor), 1, dtype=torch.float64)], 1)
    return float(disentangle.mutual_information(copy, factor, bins=VALUES)[0, 0])


QUESTIONS = [
    {
        "id": "09.what_is_disentangled",
        "text": "When is a VAE's latent code called disentangled?",
        "options": [
            "When every latent dimension has mean 0 and variance 1 over the data set",
            "When each factor of variation (position, size, rotation, ...) is carried by its "
            "own latent dimension, so that moving one dimension changes one property of the "
            "image and leaves the others alone",
            "When the latent dimensions are independent under the prior",
            "When the reconstructions are sharp",
        ],
        "correct": 1,
        "explanations": [
            "That describes codes matched to the prior. Any rotation of such a code also has "
            "mean 0 and variance 1 in every direction, yet mixes the factors across dimensions.",
            "Right: a traversal of one dimension then shows one factor changing, and a metric "
            "such as MIG finds, for each factor, one dimension that knows much more about it "
            "than any other.",
            "The prior N(0, I) is independent in every dimension by construction, whatever "
            "the encoder learns; it says nothing about how the factors are laid out.",
            "Sharpness is about the decoder and the likelihood. A code can be sharp and "
            "entangled (an autoencoder's usually is) or blurry and disentangled.",
        ],
    },
    {
        "id": "09.beta_tradeoff",
        "text": "What does raising beta from 1 to 4 usually do to a VAE trained on the shapes?",
        "options": [
            "Better reconstructions and a disentangled code, at no cost",
            "Nothing: beta only rescales the loss, and Adam does not care about scale",
            "Worse reconstructions and fewer active dimensions; the code is cheaper in KL, "
            "and it may or may not line its dimensions up with the factors",
            "A larger KL, because beta multiplies it",
        ],
        "correct": 2,
        "explanations": [
            "Each nat of information in z costs beta times more, so the model keeps less of "
            "it: reconstructions get worse, not better.",
            "beta scales only the KL term, not the whole loss, so it changes the balance "
            "between reconstruction and KL, and with it the optimum.",
            "Right: in the lesson's full run the beta-4 code has the lower KL, the worse "
            "reconstruction and fewer active dimensions. The extra pressure towards the "
            "factorised prior pushes out the least useful information first. Whether what is "
            "left is aligned with the factors depends on the data, the training and the seed "
            "(Locatello et al., 2019); measure it, do not assume it.",
            "The weighted term beta * KL is charged more, so training lowers the KL itself.",
        ],
        "claims": ["09.beta_less_kl", "09.beta_worse_recon", "09.beta_fewer_active"],
    },
    {
        "id": "09.mig_shared",
        "text": (
            "Two latent dimensions hold an exact copy of the x position each, and no other "
            "dimension knows anything about x. What is x's normalised gap, its term in MIG?"
        ),
        "options": ["1", "0.5", "0", "It cannot be computed"],
        "correct": 2,
        "explanations": [
            "Each copy alone has all of x's information, but MIG measures the gap between the "
            "best and the second-best dimension, not the best alone.",
            "MIG does not split the information between dimensions: both hold all of it.",
            "Right: both dimensions have mutual information H(x) with x, so the gap is 0. "
            "MIG rewards one dimension per factor, and a factor spread over copies is not "
            "disentangled.",
            "It can: the mutual information of each dimension with x is H(x), and the gap "
            "between them is 0.",
        ],
    },
    {
        "id": "09.mi_of_a_copy",
        "text": (
            "A factor takes 8 equally likely values, and a latent dimension copies it exactly. "
            "What is the mutual information between them, in nats?"
        ),
        "compute": _mi_of_a_copy,
        "tolerance": 0.01,
        "unit": "nats",
        "explanation": (
            "A copy knows everything about the factor, so the mutual information is the "
            "factor's whole entropy: log 8 = 2.08 nats for 8 equally likely values (3 bits). "
            "MIG divides by this entropy, so that factors with more values are comparable."
        ),
        "hint": "What the copy knows is everything: the factor's entropy.",
        "mistakes": [
            {
                "compute": lambda: math.log2(VALUES),
                "explanation": "That is the answer in bits (log base 2); the question asks for "
                "nats (natural log).",
            },
            {
                "compute": lambda: 1.0,
                "explanation": "1 is MIG's normalised value for a perfect copy; the mutual "
                "information itself is in nats and grows with the number of values.",
            },
        ],
    },
]
