"""Quiz for lesson 10: autoregressive decoders, their collapse, and the remedies tried on it."""

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
            "In the lesson's full run, the VAE with the strong PixelCNN decoder, trained at "
            "beta = 1, ends with a KL below a tenth of the MLP decoder's and fewer active units. "
            "What else did that run show?"
        ),
        "options": [
            "A much worse negative ELBO than the MLP decoder, since it lost its code",
            "NaN losses: collapse is a sign that training diverged",
            "A better negative ELBO than the MLP decoder's, and sampled codes from which a "
            "linear probe reads the digit less than half as often as from the MLP's: it models "
            "the digits pixel after pixel without the code",
            "Draws that follow the code: each code gives its own digit every time",
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
            "matched the test digit whose code they were given less than half as often as the "
            "weak decoder's.",
        ],
        "claims": [
            "10.strong_collapses",
            "10.strong_better_elbo",
            "10.strong_probe_z_low",
            "10.weak_draws_follow",
            "10.strong_draws_ignore",
        ],
    },
    {
        "id": "10.remedies",
        "text": (
            "Lesson 06's remedies were tried on the strong PixelCNN that dropped its code. What "
            "did the lesson's full run show?"
        ),
        "options": [
            "KL warm-up rescued it: once the encoder has learned to use the code while the KL "
            "weight was small, it keeps using it at beta = 1",
            "All three rescued it, as they rescue any collapse",
            "Warm-up and cyclical annealing ended collapsed; free bits kept several nats in the "
            "code, but the decoder hardly used them (swapping codes between images cost it fewer "
            "nats than the KL it paid); a weaker decoder is what gave the code back",
            "A smaller latent space, 2 dimensions instead of 20, rescued it",
        ],
        "correct": 2,
        "explanations": [
            "Warm-up ended with a KL below 1 nat, like the plain run. It changes the path: once "
            "beta is back at 1 nothing stops the KL from falling, and this decoder does not need "
            "the code.",
            "Lesson 06's remedies act on the KL term; this collapse comes from a decoder that can "
            "model the digits alone, and only free bits kept any KL, which the decoder hardly "
            "used.",
            "Right: free bits make the first nats of each dimension free, so the encoder keeps "
            "them, but they cannot make the decoder depend on the code. Restricting what the "
            "decoder sees (the weak PixelCNN) did.",
            "With 2 dimensions, and with 64, the strong decoder's KL ended below 1 nat too: "
            "here the decoder's strength decides, not the latent size.",
        ],
        "claims": [
            "10.annealing_collapses",
            "10.free_bits_keeps_kl",
            "10.free_bits_probe_below_weak",
            "10.free_bits_code_worth_little",
            "10.latent_size_collapses",
        ],
    },
]
