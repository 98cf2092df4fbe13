"""The grader behind ``vaelab grade`` and ``vaelab.grade.check``, in three layers.

- ``checks``: what a teacher reads to add a check. ``checks.toolkit`` (``Mistake``,
  ``Checklist``, the seeded inputs ``Draw``, calls into the learner's process,
  comparisons with tolerances), ``checks.common`` (inputs and known mistakes several
  exercises share) and ``checks.exNN``, the checks of exercise NN
  (``exercises/exNN_*.py``, lesson NN) with ``PROTECTED``, vaelab's own answers that are
  switched off while the exercise is graded.
- ``runtime``: the machinery that walls learner code in. ``processes`` (the forkserver),
  ``jobs`` (many files from the asking process, torch-free, through grader workers),
  ``runner`` (an exercise's checks run on one file, in a grader worker), ``sandbox`` (the
  grader's side of the learner's process), ``child`` (the learner's process) and
  ``wire`` (the frames and plain data between the two).
- ``output``: what the results become. ``report`` (text, HTML, a class's gradebook),
  ``hints`` (the next hint on demand), ``summary`` (what a class got wrong) and
  ``gradescope`` (results.json and the autograder zip, whose ``setup.sh`` and
  ``run_autograder`` are files in ``output/templates``).

``records`` holds the typed results all three share (``CheckResult``, ``ExerciseResult``,
``Report``, ``Gradebook``, ``Status``) and imports nothing of vaelab. The runtime imports
the checks and the records; the output layer imports the records (and the checks, only to
list an exercise's checks); the checks import only ``runtime.wire``'s plain-data markers.
No module imports one that imports it back. The public face is ``vaelab.grade``.
"""

from __future__ import annotations

import secrets

EXERCISES = {  # exercise -> the name of its file in exercises/
    "ex01": "ex01_autoencoder",
    "ex02": "ex02_gaussian_encoder",
    "ex03": "ex03_reparameterize",
    "ex04": "ex04_elbo",
    "ex05": "ex05_sampling",
    "ex06": "ex06_posterior_collapse",
    "ex07": "ex07_evaluation",
    "ex08": "ex08_anomaly",
    "ex09": "ex09_disentanglement",
    "ex10": "ex10_decoders_and_priors",
}


def new_seed() -> int:
    """A fresh seed for a grading run's inputs."""
    return secrets.randbelow(2**31)
