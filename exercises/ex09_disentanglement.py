"""Exercise 09: measuring disentanglement, the mutual information and MIG (lesson 09).

Fill in both functions, then grade them from the course's folder with
``.venv/bin/vaelab grade exercises/ex09_disentanglement.py`` or, in the notebook,
``vaelab.grade.check("ex09")``. Stuck? ``vaelab.grade.hint("ex09")`` gives a hint for the
first failing check, a step further each time you ask.
"""

import torch


def mutual_information(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """The empirical mutual information I(a; b) of two discrete labellings, in nats.

    Lesson 09, section 5: the mutual information computed from the joint histogram of the
    N pairs (a[i], b[i]), with every probability estimated by counting (the plug-in
    estimate), and the natural logarithm. It is 0 when a and b are independent in the data
    and equals the entropy of b when a determines b.

    Edge cases: the labels may be any integers (negative ones, gaps between the values); a
    labelling with a single value gives 0. Continuous values, such as latent codes, have to
    be cut into bins first, as the lesson does: raise a ValueError when ``a`` or ``b`` is
    floating-point, instead of counting every distinct number as a label of its own. Do not
    change ``a`` or ``b`` in place.

    Args:
        a: (N,) integer labels.
        b: (N,) integer labels.

    Returns:
        A 0-d float tensor (float64 keeps every digit of the counts), in nats.
    """
    raise NotImplementedError(
        "TODO: count how often each pair of labels occurs and how often each label occurs "
        "on its own, turn the counts into probabilities, then add up the lesson's sum over "
        "the pairs that do occur"
    )


def mutual_information_gap(mi: torch.Tensor, entropy: torch.Tensor) -> torch.Tensor:
    """The mutual information gap (MIG) of a latent code, from its mutual informations.

    Lesson 09, section 5 (Chen et al., 2018): for each factor, the gap between the latent
    dimension that knows most about it and the runner-up, as a share of the factor's
    entropy; MIG is the mean of these shares over the factors.

    Edge cases: when two dimensions tie for the most information about a factor, that
    factor's gap is 0. Do not change ``mi`` or ``entropy`` in place.

    Args:
        mi: (D, K) mutual information between each of D >= 2 latent dimensions (rows) and
            each of K factors (columns), in nats.
        entropy: (K,) the entropy of each factor, in nats, > 0.

    Returns:
        A 0-d tensor in mi's dtype; between 0 and 1 when no mutual information exceeds its
        factor's entropy.
    """
    raise NotImplementedError(
        "TODO: for every factor, find the largest and the second largest mutual information "
        "over the latent dimensions, divide their difference by the factor's entropy, and "
        "average over the factors"
    )


# ---- stretch: beyond the lesson (graded, its points counted apart from the exercise's 10)


def label_entropy(labels: torch.Tensor) -> torch.Tensor:
    """Stretch: the entropy H of a factor, what MIG divides each gap by.

    The plug-in entropy of a labelling, in nats: each label's probability estimated by
    counting. Lesson 09 takes the factors' entropies as given; compute them.

    Edge cases: any integer labels (negative ones, gaps); a single value gives 0.

    Args:
        labels: (N,) integer labels.

    Returns:
        A 0-d tensor, in nats.
    """
    raise NotImplementedError(
        "TODO: count each label that occurs, turn the counts into probabilities, then add "
        "up minus p log p"
    )
