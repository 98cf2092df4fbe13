"""Quiz for lesson 10: autoregressive decoders and learned priors."""

from vaelab import models

KERNEL_SIZE = 5


QUESTIONS = [
    {
        "id": "10.mask_type",
        "text": (
            "A PixelCNN's first masked convolution is applied to the image itself. Why must its "
            "mask be of type A (centre excluded) rather than type B (centre included)?"
        ),
        "options": [
            "Type B would let the output at a pixel see the rows below it",
            "With the centre kept, the logit of pixel i would see x_i itself: the network "
            "could copy its input, reach a loss near zero in training, and be useless for "
            "sampling, where x_i is not known yet",
            "Type A has fewer weights, so the first layer trains faster",
            "Type B is only allowed with a 3 x 3 kernel",
        ],
        "correct": 1,
        "explanations": [
            "Both types zero every row below the centre; they differ only at the centre pixel.",
            "Right: the first layer's input at pixel i is x_i, the very value to predict. The "
            "lesson's pitfall trains both versions: the type-B one reaches a test loss far "
            "below the type-A one by copying. Later layers may use type B because their input "
            "at pixel i was computed from pixels before i only.",
            "One weight fewer per kernel makes no difference to speed; the centre is excluded "
            "for correctness, not cost.",
            "Both types exist for any odd kernel size; the lesson uses a 7 x 7 type-A layer "
            "followed by 3 x 3 type-B layers.",
        ],
    },
    {
        "id": "10.mask_count",
        "text": (
            "How many entries of a 5 x 5 type-B mask are 1 (raster order: the rows above the "
            "centre, the pixels left of it, and the centre)?"
        ),
        "compute": lambda: float(models.causal_mask(KERNEL_SIZE, "B").sum()),
        "tolerance": 0.4,
        "unit": "",
        "explanation": (
            "Two full rows above the centre (10), the two pixels left of the centre (2) and the "
            "centre itself (1): 13. Type A has 12, half of the 24 non-centre pixels."
        ),
        "hint": "Count the rows above the centre, then the centre row up to and including it.",
        "mistakes": [
            {
                "compute": lambda: float(models.causal_mask(KERNEL_SIZE, "A").sum()),
                "explanation": "That is type A: type B also keeps the centre.",
            },
            {
                "compute": lambda: float(models.causal_mask(KERNEL_SIZE, "B").sum() + 2),
                "explanation": (
                    "The pixels right of the centre come later in raster order; they are zeroed."
                ),
            },
        ],
    },
    {
        "id": "10.strong_decoder",
        "text": (
            "In the lesson, the VAE with the strong PixelCNN decoder, trained at beta = 1, ends "
            "with a KL near zero and no active units. What else did its run show?"
        ),
        "options": [
            "A much worse negative ELBO than the MLP decoder, since it lost its code",
            "NaN losses: collapse is a sign that training diverged",
            "A negative ELBO at least as good as the MLP decoder's, and codes from which a "
            "linear probe cannot tell the digits apart: it models the digits pixel after pixel "
            "without the code",
            "Samples in which each code z gives the same digit every time",
        ],
        "correct": 2,
        "explanations": [
            "The other way round: its negative ELBO is better than the MLP decoder's. Each "
            "pixel is predicted from the earlier ones, which needs no code; that is why the "
            "code is dropped without a loss.",
            "Nothing diverged: the losses are finite and fall. Collapse is an optimum the "
            "objective can prefer (lesson 06), here because the decoder is strong.",
            "Right: a decoder that can model the images alone gains little from z, and every "
            "nat in z costs a nat of KL, so q(z|x) returns to the prior. Shrinking what the "
            "decoder sees (the weak PixelCNN) makes the code worth its KL again.",
            "That describes the weak decoder, which uses its code. The strong decoder's draws "
            "do not follow the code of the digit they were drawn from.",
        ],
    },
    {
        "id": "10.learned_prior",
        "text": (
            "You replace the N(0, I) prior of a 2-D VAE by a learned mixture of Gaussians, "
            "trained with the model. Which of these is right?"
        ),
        "options": [
            "The KL can still be computed in closed form, as in lesson 04",
            "Its parameters train only if they are passed to the optimiser, for instance as a "
            "submodule of the model; the KL is estimated by Monte Carlo, log q(z|x) - log p(z) "
            "at the sampled z; and log-likelihoods and samples must use this prior, not N(0, I)",
            "Samples should still be drawn from N(0, I), since that is what the encoder was "
            "pushed towards",
            "A learned prior always loses a few nats of test log-likelihood, because the prior "
            "has more parameters",
        ],
        "correct": 1,
        "explanations": [
            "The KL between a Gaussian and a mixture of Gaussians has no closed form; the "
            "lesson estimates it by Monte Carlo (losses.elbo(..., prior=model.prior)).",
            "Right: the prior is part of the model. In the lesson, scoring the mixture-prior VAE "
            "against N(0, I) instead reported a worse log-likelihood than the model has.",
            "The encoder was pushed towards the learned prior, not towards N(0, I): sampling "
            "from N(0, I) lands in the holes the learned prior avoids.",
            "The other way round in the lesson: both learned priors reached a higher test "
            "log-likelihood than N(0, I) (the 'vs N(0, I)' column), with lower KL and fewer "
            "draws in holes; Tomczak and Welling (2018) report gains with the VampPrior too.",
        ],
    },
]
