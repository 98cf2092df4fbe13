"""The grader behind ``vaelab grade`` and ``vaelab.grade.check``, one module per job.

- ``exNN``: the checks of exercise NN (``exercises/exNN_*.py``, lesson NN), each worth
  some points, and ``PROTECTED``, vaelab's own answers that are switched off while the
  exercise is graded;
- ``common``: inputs and known mistakes that several exercises share;
- ``toolkit``: what every check uses: ``Mistake``, the seeded inputs (``Draw``), calls
  into the learner's process (``learner_function``), comparisons with tolerances;
- ``runner``: finds an exercise's checks (it loads ``exNN`` by name) and runs them on a
  file, in a grader worker;
- ``jobs``: grades many files from the asking process (torch-free), through grader
  workers forked from a forkserver;
- ``sandbox``: starts the learner's process, sends it requests and waits for the answers
  within the time limit;
- ``child``: the learner's process: imports the file, calls its functions when asked,
  answers with plain data;
- ``wire``: the frames and the plain data that cross between the two;
- ``report``: the report as text, HTML and a class's gradebook.

The public face is ``vaelab.grade``.
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
# What the forkserver imports once, before it forks learner processes: the learner's side
# and what a child imports again with the grading process's __main__ (vaelab.grade).
FORKSERVER_PRELOAD = [
    "vaelab.grading.child",
    "vaelab.grading.runner",
    *(f"vaelab.grading.{exercise}" for exercise in EXERCISES),
    "vaelab.grade",
]


def new_seed() -> int:
    """A fresh seed for a grading run's inputs."""
    return secrets.randbelow(2**31)


def start_forkserver() -> None:
    """Start the forkserver now (it imports torch and vaelab in its own process), so that
    it gets ready while this process imports them too; the learner processes come from it."""
    import multiprocessing

    if "forkserver" in multiprocessing.get_all_start_methods():
        from multiprocessing import forkserver

        multiprocessing.get_context("forkserver").set_forkserver_preload(FORKSERVER_PRELOAD)
        forkserver.ensure_running()
