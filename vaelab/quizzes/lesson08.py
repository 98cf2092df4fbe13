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
        "claims": [
            "08.recon_scores_work",
            "08.elbo_close_to_recon",
            "08.kl_small_part",
            "08.latent_weaker",
            "08.latent_near_chance",
        ],
        "text": (
            "Lesson 08 trains a VAE on nine digits and scores test images of all ten three ways: "
            "the negative ELBO, the reconstruction error alone, and the latent term alone (how "
            "typical the code mu is under the prior N(0, I)). Which describes what it measured "
            "for the held-out digit?"
        ),
        "options": [
            "The latent term alone is the best score: an unfamiliar digit gets a code far from "
            "the origin, where the prior is unlikely",
            "None of the three beats chance: a VAE cannot flag a digit it has never seen",
            "The negative ELBO and the reconstruction error rank the held-out digit well above "
            "chance and come out close; the latent term alone is far weaker, close to chance",
            "All three give the same AUROC, because they come from the same model",
        ],
        "correct": 2,
        "explanations": [
            "The lesson measured the opposite: the encoder has no confident, specific code for "
            "a shape it never saw and tends to place it near the middle of the prior, where "
            "codes look typical. A likely-looking code does not mean a likely image.",
            "Both reconstruction-based scores reach an AUROC well above 0.5 (the checks assert "
            "more than 0.6): the decoder draws the digits it was trained on better than one it "
            "never saw.",
            "Right: for these images the reconstruction term is much larger than the KL, so the "
            "negative ELBO (at z = mu) and the reconstruction error rank the images almost alike, "
            "while the code alone carries little signal (in the full run its AUROC is within "
            "0.15 of 0.5). That is why the lesson scores with "
            "the whole ELBO, not with the latent term alone.",
            "They look at different things (the whole ELBO, its reconstruction part, the code "
            "alone) and their AUROCs differ: the latent-only score is the weakest by far.",
        ],
    },
    {
        "id": "08.synthetic_labels",
        "text": (
            "You have 100 labelled digits and thousands of unlabelled ones. You train a "
            "conditional VAE on the 100 labelled digits and add 1,000 of its samples, with their "
            "labels, to the classifier's training set. What does lesson 08 measure for this?"
        ),
        "claims": [
            "08.samples_same_labels_no_gain",
            "08.samples_more_labels_help",
            "08.samples_help_most_when_scarce",
        ],
        "options": [
            "A large gain: 1,000 more labelled examples are 10 times the data",
            "No gain: the samples can only restate what the same 100 labels taught the generator; "
            "samples from a conditional VAE trained on many more labels do help, and the gain is "
            "those extra labels passed on",
            "The samples cannot be used at all, because they have no labels",
            "A gain that grows with the number of real labels the classifier already has",
        ],
        "correct": 1,
        "explanations": [
            "They are more examples but not more information: everything they say about the "
            "digits came from the same 100 labels. In the lesson's full run they did not raise the "
            "mean accuracy by even a point.",
            "Right: in the lesson's full run, samples of a generator trained on the same labels "
            "gave no gain, while samples of the conditional VAE trained on all the "
            "labelled images gave more than 5 points with 100 labels. Count the generator's "
            "labels when you report how many labels you used.",
            "A conditional VAE draws the digit you ask for, so every sample comes with the label "
            "it was asked for (section 4 checks the samples with an independent judge).",
            "The lesson's full run measured the opposite for the generator that did help: its "
            "gain was large with 100 labels and shrank with 1,000, once the classifier had labels "
            "of its own.",
        ],
    },
]
