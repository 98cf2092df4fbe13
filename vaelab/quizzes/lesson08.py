"""Quiz for lesson 08: applications."""

import torch

from vaelab import metrics

NORMAL_SCORES = [1.0, 2.0, 3.0, 4.0]
ANOMALY_SCORES = [3.5, 5.0, 6.0]


def example_auroc() -> float:
    """AUROC of the scores above, anomalies labelled 1."""
    scores = torch.tensor(NORMAL_SCORES + ANOMALY_SCORES)  # (N,)
    labels = torch.tensor([0] * len(NORMAL_SCORES) + [1] * len(ANOMALY_SCORES))  # (N,)
    return metrics.auroc(scores, labels)


QUESTIONS = [
    {
        "id": "08.auroc_value",
        "text": (
            "An anomaly detector gives four normal images the scores 1, 2, 3 and 4 and three "
            "anomalies the scores 3.5, 5 and 6 (higher means more anomalous). What is its AUROC?"
        ),
        "compute": example_auroc,
        "tolerance": 0.005,
        "unit": "",
        "explanation": (
            "AUROC is the share of (anomaly, normal) pairs in which the anomaly scores higher. "
            "Of the 3 x 4 = 12 pairs only (3.5, 4) is in the wrong order, so it is 11 / 12; "
            "vaelab.metrics.auroc computes it from ranks."
        ),
        "hint": (
            "Count, over all pairs of one anomaly and one normal image, how often the anomaly "
            "scores higher."
        ),
        "mistakes": [
            {
                "compute": lambda: 1 - example_auroc(),
                "explanation": (
                    "That is 1 - AUROC: you counted the pairs where the normal image scores higher."
                ),
            },
        ],
    },
    {
        "id": "08.auroc_meaning",
        "text": "A detector has an AUROC of 0.5 on a test set of normal and anomalous images. "
        "What does that mean?",
        "options": [
            "50% of its predictions are correct",
            "It is always wrong",
            "It catches 50% of the anomalies at its threshold",
            "Its scores rank a random anomaly above a random normal image only half the time: "
            "no better than chance",
        ],
        "correct": 3,
        "explanations": [
            "Accuracy depends on a threshold and on the class balance: with 10% anomalies, "
            "calling everything normal is 90% accurate. AUROC does not reward that.",
            "A detector that is always wrong (every anomaly below every normal image) has an "
            "AUROC of 0, and flipping its score gives a perfect 1.",
            "AUROC needs no threshold: it summarises the true- and false-positive rates over "
            "all thresholds. A detection rate belongs to one threshold.",
            "Right: AUROC is the probability that a random anomaly outscores a random normal "
            "image; 0.5 is what scores that carry no information achieve.",
        ],
    },
    {
        "id": "08.anomaly_score",
        "text": (
            "A VAE trained on normal digits scores anomalies. Why add the latent likelihood of "
            "the code (or use the whole ELBO) rather than the reconstruction error alone?"
        ),
        "options": [
            "VAEs cannot reconstruct test images, only training images",
            "The reconstruction error needs labels; the latent likelihood does not",
            "The reconstruction error is the same for every image, so it cannot rank them",
            "Some anomalies are reconstructed well (simple shapes are easy for any decoder) "
            "but their codes land in unlikely regions of the latent space; the latent term "
            "catches those",
        ],
        "correct": 3,
        "explanations": [
            "A VAE trained on normal digits reconstructs unseen normal digits well; that "
            "generalisation is what makes a higher error on anomalies informative.",
            "Neither needs labels: both come from a VAE trained on normal images only. Labels "
            "are used afterwards, to measure the AUROC.",
            "It varies a lot between images, which is why it works as a score at all; it just "
            "misses some kinds of anomaly.",
            "Right: the two terms look at different things. Reconstruction error measures how "
            "well the decoder copies x; the latent term measures how typical x's code is "
            "under the prior. Together they miss fewer kinds of anomaly.",
        ],
    },
]
