"""Quiz for lesson 06: posterior collapse."""

from vaelab import schedules

WARMUP_STEPS, STEP = 1000, 300


QUESTIONS = [
    {
        "id": "06.always_uses_latent",
        "text": "Does a trained VAE always make use of its latent code z?",
        "options": [
            "Yes, as long as latent_dim is at least 2",
            "No, and an unused dimension always means a bug in the code",
            "No: with a decoder that models the images well on its own, or a large KL weight, "
            "the optimum can set q(z|x) to the prior for some or all dimensions, which then "
            "carry no information (posterior collapse)",
            "Yes: the ELBO guarantees that every latent dimension carries information about x",
        ],
        "correct": 2,
        "explanations": [
            "The number of dimensions does not force their use: even with 2 dimensions a "
            "large beta or a powerful decoder can leave z ignored.",
            "Collapse is an optimum of the objective, not a coding error: with a heavy beta or "
            "a decoder that does without z, dimensions stay at the prior (lesson 06's beta = 30 "
            "run leaves at most one of ten active). Nor does an unused dimension come from a "
            "plain beta = 1 VAE on MNIST in these lessons: the zoo's 20-dimensional VAE keeps "
            "all or nearly all 20 active in lesson 06's full run, and after lesson 07's short "
            "runs most of 256 offered dimensions are still active.",
            "Right: the KL term charges for every nat of information z carries about x. If "
            "the decoder (for example an autoregressive one) can explain x without z, or beta "
            "makes each nat expensive, ignoring z is the cheaper optimum.",
            "The ELBO does the opposite of guaranteeing it: a dimension that does not improve "
            "the reconstruction by more than its KL costs is better left at the prior.",
        ],
        "claims": ["06.heavy_beta_collapses", "06.zoo_20d_active", "07.active_many"],
    },
    {
        "id": "06.diagnose_collapse",
        "text": (
            "After training with latent_dim = 20, the test KL per dimension is 2 to 4 nats for 6 "
            "dimensions and below 0.01 nats for the other 14. What does this tell you?"
        ),
        "options": [
            "The 14 low-KL dimensions are the most informative, because a low KL means a "
            "precise posterior",
            "Six dimensions are active; the other 14 have posteriors equal to the prior and "
            "carry no information about x: the model uses fewer dimensions than it was given",
            "Training diverged",
            "Increase beta to wake up the 14 unused dimensions",
        ],
        "correct": 1,
        "explanations": [
            "The other way round: a precise posterior (small sigma, a mean that depends on x) "
            "is far from the prior and has a large KL.",
            "Right: a KL near zero means q(z|x) is about N(0, 1) whatever x is, so the "
            "decoder cannot learn anything from that dimension; active_units and "
            "kl_per_dim_bars show it. Not every VAE does this: lesson 06 counts all or nearly "
            "all 20 units active for the zoo's plain beta = 1, 20-d VAE on MNIST, so a split "
            "like this one points to a heavier beta, a stronger decoder, or a longer training "
            "run that switched the unneeded dimensions off.",
            "Divergence shows as NaN or exploding losses, not as a clean split into used and "
            "unused dimensions.",
            "A larger beta makes each nat of KL more expensive and pushes more dimensions "
            "into collapse; to use more of them, lower beta, warm the KL weight up, or use "
            "free bits.",
        ],
        "claims": ["06.zoo_20d_active"],
    },
    {
        "id": "06.free_bits",
        "text": (
            "You train with free bits, 0.5 nats per dimension (elbo(..., free_bits=0.5)). What "
            "does the loss do with a dimension whose batch-mean KL is 0.2 nats?"
        ),
        "options": [
            "It removes that dimension from the model",
            "It reports a KL of 0.5 nats for that dimension in the training log",
            "It adds a penalty that pushes that dimension's KL up to 0.5",
            "It counts that dimension's KL as 0.5, a constant: below the threshold there is "
            "no KL gradient, so the encoder may use up to 0.5 nats there for free",
        ],
        "correct": 3,
        "explanations": [
            "Nothing is removed: the dimension is still sampled and decoded. Free bits only "
            "change how its KL is charged in the loss.",
            "vaelab's elbo returns the true KL for logging (ELBOTerms.kl is never clamped); "
            "only the loss uses the clamped value.",
            "max(KL_d, 0.5) is flat below 0.5: its gradient is zero, pushing the KL neither "
            "up nor down.",
            "Right: the loss uses max(KL_d, 0.5) for each dimension d. The clamp is flat "
            "below 0.5, so the KL term stops pulling that dimension towards the prior, and "
            "the reconstruction alone decides how much information it carries.",
        ],
    },
    {
        "id": "06.warmup_weight",
        "text": (
            "With a linear KL warm-up over 1,000 steps (vaelab.schedules.linear_warmup(1000)), "
            "what is the KL weight beta at step 300, counting steps from 0?"
        ),
        "compute": lambda: schedules.linear_kl_weight(STEP, WARMUP_STEPS),
        "tolerance": 0.005,
        "unit": "",
        "explanation": (
            "The weight rises in equal steps from 0 at step 0 to 1 at step 1,000, so step 300 "
            "has 300 / 1000. Early on the reconstruction dominates, and the encoder learns to put "
            "information into z before the KL term starts to charge for it. That changes the "
            "path, not where training ends: in lesson 06, warmed up to a final beta of 30, the "
            "encoder used z early on and still ended collapsed."
        ),
        "claims": ["06.annealing_path", "06.annealing_ends_collapsed"],
        "hint": "The weight grows linearly from 0 at step 0 to 1 at step 1,000.",
        "mistakes": [
            {
                "compute": lambda: 1 - schedules.linear_kl_weight(STEP, WARMUP_STEPS),
                "explanation": "A warm-up raises the KL weight from 0 to 1; it does not lower it.",
            },
        ],
    },
]
