"""Checks of exercise 08, anomaly scores: ``reconstruction_score``, ``latent_score`` and
``anomaly_score``.

Every value is compared with vaelab's reference functions; the variants beside each
comparison are the known mistakes, with the feedback that names them.
"""

from __future__ import annotations

import math

import torch

from vaelab import anomaly, losses, models
from vaelab.grading.checks.common import batch_mistakes, bce_mistakes, stretch_values
from vaelab.grading.checks.toolkit import (
    Checklist,
    Draw,
    Learner,
    LearnerFunction,
    Mistake,
    as_tensor,
    close,
    culprit,
    expect_close,
    expect_unchanged,
    learner_function,
    needs_working,
)

# vaelab's own answers, switched off in the learner's process while this exercise is graded.
# model.encode and model.decode stay (the exercise asks for them), and so do the losses of
# earlier exercises (losses.bernoulli_nll, losses.kl_divergence) as building blocks.
PROTECTED = (
    "anomaly.reconstruction_score",
    "anomaly.latent_score",
    "anomaly.anomaly_score",
    "losses.log_standard_normal",
    "losses.log_normal",
    "anomaly.threshold_at_fpr",
)

checks = Checklist("ex08")
check = checks.add

SCORES = ("reconstruction_score", "latent_score", "anomaly_score")
REFERENCES = {name: getattr(anomaly, name) for name in SCORES}  # vaelab's own, in this process


def _anomaly_setup(draw: Draw):
    model = draw.model(models.MLPVAE, image_shape=(1, 8, 8), hidden_dim=16, latent_dim=3)
    x = draw.rand(6, 1, 8, 8)
    x[:3] = (x[:3] > 0.6).float()  # some binary images too
    return model, x


def _posterior(model, x):
    with torch.no_grad():
        return model.encode(x)


def _repeatable(fn: LearnerFunction, model, x, name: str) -> torch.Tensor:
    first, second = (as_tensor(o.value, name) for o in fn.many([((model, x), {})] * 2))
    if first.shape == second.shape and not close(first, second):
        raise Mistake(
            f"{name} changes from call to call: use the posterior mean mu as the code, not a "
            "sample (no reparameterize, no randn)."
        )
    return first


def _recon_variants(model, x, extra=None) -> list:
    mu, _ = _posterior(model, x)
    with torch.no_grad():
        x_logits = model.decode(mu)
    return bce_mistakes(x_logits, x, extra=extra)


@check(
    "reconstruction_score.values",
    "reconstruction_score: BCE of x given z = mu, summed per image",
    3,
    (
        "Lesson 08, section 1: the reconstruction score asks how well the decoder can copy "
        "the image from its code.",
        "Which code? The posterior mean: a detector must give the same image the same score, "
        "so no sampling. Decode it to logits.",
        "Then the binary cross-entropy from those logits against the image, summed over each "
        "image's pixels, as in lesson 01.",
    ),
)
def _recon(learner: Learner, draw: Draw):
    score = learner_function(learner, "reconstruction_score")
    model, x = _anomaly_setup(draw)
    want = anomaly.reconstruction_score(model, x)
    expect_close(
        _repeatable(score, model, x, "reconstruction_score"),
        want,
        what="reconstruction_score",
        variants=[
            *_recon_variants(model, x),
            *batch_mistakes(want, "image"),
            (
                "this includes the KL: the reconstruction score is the BCE alone (the KL "
                "belongs to anomaly_score).",
                lambda: anomaly.anomaly_score(model, x),
            ),
        ],
        hint="decode the posterior mean (no sampling) and score the BCE from its logits, "
        "summed per image.",
    )


@check(
    "latent_score.values",
    "latent_score: -log N(mu; 0, I) per image",
    2,
    (
        "Lesson 08, section 1: the latent score looks at the code alone: how typical is mu "
        "under the prior?",
        "It is the negative log-density of the standard normal at mu, summed over the latent "
        "dimensions: a squared term and a constant per dimension.",
        "Higher must mean more unusual: check the sign, and keep the constant 1/2 log(2 pi) "
        "per dimension.",
    ),
)
def _latent(learner: Learner, draw: Draw):
    score = learner_function(learner, "latent_score")
    model, x = _anomaly_setup(draw)
    want = anomaly.latent_score(model, x)
    mu, logvar = _posterior(model, x)
    constant = 0.5 * mu.shape[1] * math.log(2 * math.pi)
    expect_close(
        _repeatable(score, model, x, "latent_score"),
        want,
        what="latent_score",
        variants=[
            (
                "this is log N(mu; 0, I), the log-likelihood: the score is its negative, so "
                "that unusual codes score high.",
                -want,
            ),
            (
                "the constant 1/2 log(2 pi) per dimension is missing. It does not change the "
                "ranking, but the score is the full -log N(mu; 0, I).",
                want - constant,
            ),
            ("the 1/2 is missing: -log N(mu; 0, I) = 1/2 sum(mu^2 + log(2 pi)).", 2 * want),
            (
                "this is the KL of the posterior: the latent score is -log N(mu; 0, I) of the "
                "posterior mean.",
                losses.kl_divergence(mu, logvar, reduction="none"),
            ),
            *batch_mistakes(want, "image"),
        ],
        hint="the negative log-density of the standard normal at the posterior mean, summed "
        "over the latent dimensions.",
    )


def _anomaly_variants(model, x, beta) -> list:
    mu, logvar = _posterior(model, x)
    kl = losses.kl_divergence(mu, logvar, reduction="none")
    recon = anomaly.reconstruction_score(model, x)
    return [
        (
            "this is the ELBO itself, not its negative: lesson 08 names this pitfall. The "
            "ELBO is high for images the model finds likely, so as a score it would rank the "
            "ordinary images above the anomalies. The anomaly score is the loss the model "
            "was trained to minimise, the negative ELBO: reconstruction loss plus beta times "
            "the KL, both positive.",
            -(recon + beta * kl),
        ),
        ("the KL term is missing: add beta * KL.", recon),
        ("the KL enters with the wrong sign: recon + beta * KL.", recon - beta * kl),
        (
            "this adds the latent score: anomaly_score adds the KL of the posterior, "
            "KL(q(z|x) || N(0, I)).",
            lambda: recon + beta * anomaly.latent_score(model, x),
        ),
        *_recon_variants(model, x, extra=lambda r: r + beta * kl),
        *batch_mistakes(recon + beta * kl, "image"),
    ]


@check(
    "anomaly_score.values",
    "anomaly_score: negative ELBO at z = mu",
    2.5,
    (
        "Lesson 08, section 1: the anomaly score is the negative ELBO evaluated at z = mu.",
        "It is the reconstruction score plus beta times the KL of the posterior from the "
        "prior, in closed form (lesson 04) - the KL uses mu and logvar, not the latent "
        "score.",
    ),
)
def _anomaly(learner: Learner, draw: Draw):
    score = learner_function(learner, "anomaly_score")
    model, x = _anomaly_setup(draw)
    got = _repeatable(score, model, x, "anomaly_score")
    want = anomaly.anomaly_score(model, x)
    try:
        expect_close(
            got,
            want,
            what="anomaly_score",
            variants=_anomaly_variants(model, x, 1.0),
            hint="reconstruction score + beta * closed-form KL, with z = mu.",
        )
    except Mistake:
        mu, logvar = _posterior(model, x)
        kl = losses.kl_divergence(mu, logvar, reduction="none")
        blame = culprit(
            learner,
            user="anomaly_score",
            helper="reconstruction_score",
            args=(model, x),
            want_helper=anomaly.reconstruction_score(model, x),
            got=got,
            rebuild=lambda recon: recon + kl,
            want=want,
            variants=_anomaly_variants(model, x, 1.0),
        )
        if blame:
            raise Mistake(blame) from None
        raise


@check(
    "anomaly_score.beta",
    "anomaly_score: beta weights the KL",
    0.5,
    ("beta weights the KL term only, as in lesson 04's loss.",),
)
def _beta(learner: Learner, draw: Draw):
    score = learner_function(learner, "anomaly_score")
    model, x = _anomaly_setup(draw)
    mu, logvar = _posterior(model, x)
    kl = losses.kl_divergence(mu, logvar, reduction="none")
    recon = anomaly.reconstruction_score(model, x)
    got = score(model, x)
    if not close(got, anomaly.anomaly_score(model, x)):
        blame = culprit(
            learner,
            user="anomaly_score",
            helper="reconstruction_score",
            args=(model, x),
            want_helper=recon,
            got=got,
            rebuild=lambda mine: mine + kl,
            want=recon + kl,
        )
        if blame:
            raise Mistake(blame)
        needs_working(False, "anomaly_score")
    for beta in (3.0, 0.0):
        expect_close(
            score(model, x, beta=beta),
            anomaly.anomaly_score(model, x, beta=beta),
            what="anomaly_score",
            case=f"for beta={beta}",
            variants=[
                ("beta is ignored: multiply the KL by beta.", recon + kl),
                ("beta multiplies the reconstruction score: it weights the KL.", beta * recon + kl),
            ],
            hint="recon + beta * KL.",
        )


@check(
    "scores.no_gradients",
    "scores: no gradients tracked, images unchanged",
    1,
    (
        "Scores are for evaluation: nothing will back-propagate through them.",
        "Compute them under torch.no_grad() (or detach the result), and do not change x.",
    ),
    grades=SCORES,
)
def _props(learner: Learner, draw: Draw):
    model, x = _anomaly_setup(draw)
    right = []  # the scores whose values are right: the property pays only with one
    for name in SCORES:
        result = learner_function(learner, name).run(model, x)
        if close(as_tensor(result.value, name), REFERENCES[name](model, x)):
            right.append(name)
        expect_unchanged(result, ("model", "x"), name)
        if any(result.requires_grad):
            raise Mistake(
                f"{name} tracks gradients: scores are for evaluation, so compute them under "
                "torch.no_grad() (or return .detach()); it saves memory on large datasets."
            )
    needs_working(bool(right), "reconstruction_score")  # constant answers get nothing


@check(
    "scores.batch_independent",
    "scores: an image's score does not depend on the batch it comes in (one image too)",
    1,
    (
        "Lesson 08, section 1: the same image always gets the same score. Does that hold "
        "when it is scored alone, or next to other images?",
        "Each score is a property of one image: nothing in it may be normalised, ranked or "
        "averaged across the batch, and a batch of one image still gives shape (1,) (a "
        ".squeeze() drops that dimension).",
    ),
    grades=SCORES,
)
def _batch_independent(learner: Learner, draw: Draw):
    model, x = _anomaly_setup(draw)
    right = []  # the scores whose values are right: the property pays only with one
    for name in SCORES:
        fn = learner_function(learner, name)
        outcomes = fn.many(
            [((model, x), {}), ((model, x), {})]
            + [((model, x[i : i + 1]), {}) for i in range(len(x))]
        )
        batch, again = (as_tensor(o.value, name) for o in outcomes[:2])
        if batch.shape != (len(x),) or not close(batch, again):
            continue  # one value per image, repeatable: the values checks say what is wrong
        if close(batch, REFERENCES[name](model, x)):
            right.append(name)
        for i, outcome in enumerate(outcomes[2:]):
            alone = as_tensor(outcome.value, name)
            if alone.shape != (1,):
                raise Mistake(
                    f"for a single image, {name} has shape {tuple(alone.shape)}; expected "
                    "(1,): a .squeeze() (or an index like [0]) drops the batch dimension of a "
                    "batch of one. Keep one value per image."
                )
            if not close(alone, batch[i : i + 1]):
                raise Mistake(
                    f"an image's {name} depends on the other images in the batch (alone: "
                    f"{float(alone[0]):.4g}, in a batch of {len(x)}: {float(batch[i]):.4g}): a "
                    "detector scores each image on its own, so nothing may be normalised, "
                    "ranked or averaged across the batch."
                )
    needs_working(bool(right), "reconstruction_score")  # constant answers get nothing


# ---------------------------------------------------------------- stretch (issue 22): beyond
# the lesson, graded like the rest, its points counted apart


def _fpr_cases(draw):
    calls = []
    for n in (50, 200, 7):
        scores = draw.randn(n, scale=20.0) + 300
        for fpr in (0.05, 0.1, 0.0, 0.5):
            calls.append(((scores, fpr), {}))
    ties = torch.tensor([5.0, 5.0, 1.0, 2.0, 5.0, 3.0, 4.0, 4.0, 0.5, 6.0])
    calls.append(((ties, 0.2), {}))
    return calls


def _brute(scores, fpr, flag):
    values = sorted(set(scores.tolist()))
    return min(t for t in values if flag(scores, t).double().mean() <= fpr + 1e-12)


def _fpr_mistakes(scores, fpr):
    return [
        (
            "an image counts as flagged when its score is >= the threshold: the exercise "
            "flags scores strictly above it, so the threshold is one score lower.",
            lambda: torch.tensor(_brute(scores, fpr, lambda s, t: s >= t)),
        ),
        (
            "this is the low tail: fpr of the normal scores lie below the threshold. The "
            "false positives are normal images scored high, above it.",
            lambda: torch.tensor(
                max(
                    t
                    for t in sorted(set(scores.tolist()))
                    if (scores < t).double().mean() <= fpr + 1e-12
                )
            ),
        ),
        (
            "the threshold is interpolated between two scores (torch.quantile's default): "
            "use one of the normal scores itself.",
            lambda: torch.quantile(scores.double(), 1 - fpr).to(scores.dtype),
        ),
    ]


stretch_values(
    checks,
    "threshold_at_fpr",
    "threshold_at_fpr: the lowest normal score that flags at most fpr of them",
    (
        "Lesson 08 ranks images by score and reads the ROC curve; a deployed detector needs "
        "one threshold. Which threshold lets only a fraction fpr of normal images through "
        "as false alarms?",
        "Sort the normal scores: the number strictly above a candidate threshold is the "
        "number of false positives it gives.",
        "Among the scores, pick the smallest one that flags at most fpr * N of them; "
        "mind ties, and fpr = 0.",
    ),
    cases=_fpr_cases,
    reference=anomaly.threshold_at_fpr,
    mistakes=_fpr_mistakes,
    what="threshold_at_fpr",
    case_words=lambda scores, fpr: f"for {len(scores)} normal scores and fpr={fpr}",
)
