"""Quiz for lesson 03: the reparameterisation trick."""

QUESTIONS = [
    {
        "id": "03.sample_vs_rsample",
        "text": (
            "With q = torch.distributions.Normal(mu, sigma), how do z = q.sample() and "
            "z = q.rsample() differ for training?"
        ),
        "options": [
            "rsample is faster, and the gradients are the same",
            "rsample computes mu + sigma * eps with eps drawn separately, so z stays "
            "connected to mu and sigma in the autograd graph; sample gives a z with no "
            "gradient path back",
            "sample keeps the gradient; rsample is meant for inference",
            "They draw from different distributions: rsample from a standard normal",
        ],
        "correct": 1,
        "explanations": [
            "With sample() the gradient through z is not slower, it is missing: no path leads "
            "from z back to mu and sigma.",
            "Right: .sample() runs under torch.no_grad(), so z is a constant for autograd and "
            "the encoder gets no gradient from the reconstruction term. .rsample() is the "
            "reparameterisation trick: the randomness lives in eps, which does not depend on "
            "the parameters.",
            "The other way round: the r stands for reparameterised, and rsample is the one to "
            "train with.",
            "Both draw from N(mu, sigma^2): histograms of many draws look the same. Only the "
            "gradient path differs.",
        ],
    },
    {
        "id": "03.why_sampling_blocks_gradients",
        "text": (
            "Why does no gradient reach mu and sigma when z is drawn directly from "
            "N(mu, sigma^2) by a random number generator?"
        ),
        "options": [
            "The draw is not a recorded function of mu and sigma: autograd has no operation "
            "that links a change in mu to a change in z",
            "PyTorch cannot differentiate through torch.exp",
            "The Gaussian density has no derivative with respect to mu",
            "The expected loss does not depend on mu and sigma",
        ],
        "correct": 0,
        "explanations": [
            "Right: autograd differentiates the operations it records. Writing z = mu + sigma "
            "* eps makes z a recorded, differentiable function of mu and sigma, with all the "
            "randomness moved into eps, which needs no gradient.",
            "exp is differentiable, and the reparameterised sample itself uses it: sigma = "
            "exp(logvar / 2).",
            "The density is smooth in mu and sigma; the score-function estimator even uses "
            "its derivative. The problem is the sampling step, not the density.",
            "It does depend on them: moving mu moves where the codes land and changes the "
            "expected reconstruction. The gradient exists; it needs a way to be estimated.",
        ],
    },
    {
        "id": "03.pathwise_vs_score",
        "text": (
            "The score-function (REINFORCE) estimator also gives an unbiased gradient of "
            "E_q[f(z)] without reparameterising. Why do VAEs use the pathwise (reparameterised) "
            "estimator?"
        ),
        "options": [
            "The pathwise estimator needs no samples at all",
            "The score-function estimator needs f to be linear in z",
            "Its variance is much lower: it uses the derivative of f at each sample, while "
            "the score-function estimator only sees values of f",
            "The score-function estimator is biased",
        ],
        "correct": 2,
        "explanations": [
            "It still draws eps, usually one sample per image per step: it is a Monte-Carlo "
            "estimator too, just one with lower variance.",
            "It works for any f, even a non-differentiable one or a discrete z: that is its "
            "strength. Its weakness is high variance.",
            "Right: the pathwise gradient tells each sample which way to move z; the "
            "score-function estimator weights f's value by the gradient of log q and has to "
            "average out a lot of noise, so it needs many more samples for the same accuracy.",
            "Both are unbiased; they differ in variance, that is, in how many samples a "
            "useful gradient needs. Lesson 03 measures it: over a thousand times the pathwise "
            "variance in 20 dimensions.",
        ],
        "claims": ["03.both_unbiased", "03.gap_at_20"],
    },
]
