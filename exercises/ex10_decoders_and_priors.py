"""Exercise 10: a PixelCNN's causal mask, and the log-density of a mixture prior (lesson 10).

``causal_mask`` is taught in lesson 10, ``log_mixture_prior`` in lesson 11 (section 2).
Fill in the two functions, then grade them from the course's folder with
``.venv/bin/vaelab grade exercises/ex10_decoders_and_priors.py`` or, in the notebook,
``vaelab.grade.check("ex10")``. Stuck? ``vaelab.grade.hint("ex10")`` gives a hint for the
first failing check, a step further each time you ask.
"""

import torch


def causal_mask(kernel_size: int, mask_type: str) -> torch.Tensor:
    """The mask a masked convolution (PixelCNN) multiplies its weights by.

    Pixels are ordered in raster order: row by row, top to bottom, and left to right within a
    row. A mask entry is 1 where the kernel may look (a pixel that comes before the centre)
    and 0 where it may not (a pixel that comes after it). The centre itself depends on the
    type: "A" (the first layer, whose input is the image: pixel i must not see x_i) excludes
    it, "B" (later layers) includes it.

    Edge cases: kernel_size 1 gives [[0.]] for "A" and [[1.]] for "B". Raise a ValueError for
    an even or non-positive kernel_size (there is no centre) and for a mask_type other than
    "A" or "B".

    Args:
        kernel_size: k, odd.
        mask_type: "A" or "B".

    Returns:
        (k, k) float tensor of 0s and 1s (dtype torch.float32).
    """
    raise NotImplementedError(
        "TODO: mark which kernel positions come before the centre in raster order, and "
        "decide what the centre itself is for each type"
    )


def log_mixture_prior(
    z: torch.Tensor, means: torch.Tensor, logvars: torch.Tensor, logits: torch.Tensor
) -> torch.Tensor:
    """log p(z) under a mixture of K diagonal Gaussians (the mixture-of-Gaussians prior).

    p(z) = sum_k pi_k N(z; means_k, diag(exp(logvars_k))), with mixture weights
    pi = softmax(logits): the logits are unnormalised, and adding the same number to all of
    them must not change the result. ``logvars`` are log-variances: the standard deviation
    is exp(logvars / 2).

    Edge cases: K = 1 is a single Gaussian. Codes far from every component (say z = 1000)
    must give a finite, very negative number, not -inf or nan: work with logarithms
    throughout and combine the components with a log-sum-exp. Float32 and float64 inputs
    both work, and the result keeps their dtype. Gradients must reach means, logvars and
    logits (torch operations only), and no input is changed in place.

    Args:
        z: (B, D) codes.
        means: (K, D) component means.
        logvars: (K, D) component log-variances.
        logits: (K,) unnormalised mixture logits.

    Returns:
        (B,) log-densities in nats.
    """
    raise NotImplementedError(
        "TODO: the log-density of each code under the mixture, staying in logarithms from "
        "the Gaussians' log-densities to the end"
    )


# ---- stretch: beyond the lesson (graded, its points counted apart from the exercise's 10)


def mixture_responsibilities(
    z: torch.Tensor, means: torch.Tensor, logvars: torch.Tensor, logits: torch.Tensor
) -> torch.Tensor:
    """Stretch: which component of the mixture prior each code comes from, p(k | z).

    Bayes' rule on lesson 10's mixture prior, pi = softmax(logits): the weighted density
    of each component at z, normalised over the K components.

    Edge cases: codes far from every component (where every density rounds to 0) still
    give rows that sum to 1; a batch of one; float32 or float64, kept.

    Args:
        z: (B, D) codes.
        means, logvars: (K, D) the components' means and log-variances.
        logits: (K,) unnormalised mixture weights.

    Returns:
        (B, K) probabilities, each row summing to 1.
    """
    raise NotImplementedError(
        "TODO: weigh each component's density at z by its mixing weight and normalise over "
        "the components, in log space"
    )
