"""The processes grading runs in: a forkserver that has torch, vaelab and the checks
imported once, and from it the grader workers and the learners' processes.

This module imports nothing heavy; ``start_forkserver`` starts the forkserver in a process
of its own, which does the imports there.
"""

from __future__ import annotations

from vaelab.grading import EXERCISES

# What the forkserver imports once, before it forks learner processes: the learner's side
# and what a child imports again with the grading process's __main__ (vaelab.grade).
FORKSERVER_PRELOAD = [
    "vaelab.grading.runtime.child",
    "vaelab.grading.runtime.runner",
    *(f"vaelab.grading.checks.{exercise}" for exercise in EXERCISES),
    "vaelab.grade",
]


def start_forkserver() -> None:
    """Start the forkserver now (it imports torch and vaelab in its own process), so that
    it gets ready while this process imports them too; the learner processes come from it."""
    import multiprocessing

    if "forkserver" in multiprocessing.get_all_start_methods():
        from multiprocessing import forkserver

        multiprocessing.get_context("forkserver").set_forkserver_preload(FORKSERVER_PRELOAD)
        forkserver.ensure_running()
