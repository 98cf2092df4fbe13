"""Which checks an exercise has, and running them on a learner's file.

The checks of exercise NN live in ``vaelab.grading.exNN``; this module loads that module
by name when it is asked for them, so no exercise module imports it (no import circles).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import torch

from vaelab.grading.toolkit import Check, Mistake, hint_for, out_of_memory, shorten

EXERCISES = {
    "ex01": "ex01_autoencoder",
    "ex02": "ex02_gaussian_encoder",
    "ex03": "ex03_reparameterize",
    "ex04": "ex04_elbo",
    "ex05": "ex05_sampling",
    "ex06": "ex06_posterior_collapse",
    "ex07": "ex07_evaluation",
    "ex08": "ex08_anomaly",
}
CHECK_MODULES = [f"vaelab.grading.{exercise}" for exercise in EXERCISES]


def checks_for(exercise: str) -> list[Check]:
    """The checks of one exercise, in order ("ex03" -> [Check, ...])."""
    if exercise not in EXERCISES:
        raise KeyError(f"no checks for {exercise!r}; known: {sorted(EXERCISES)}")
    return list(importlib.import_module(f"vaelab.grading.{exercise}").checks)


def import_file(path: str | Path) -> ModuleType:
    """Import a learner's file as a fresh module; a Mistake says why it could not be imported."""
    path = Path(path)
    name = f"learner_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise Mistake(f"{path.name} cannot be imported as a Python file.")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent))
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as e:
        raise Mistake(
            f"{path.name} has a syntax error on line {e.lineno}: {e.msg}. Fix it and grade again."
        ) from None
    except SystemExit as e:
        raise Mistake(f"{path.name} called sys.exit({e.code!r}) while being imported.") from None
    except BaseException as e:  # an import error, a NameError at top level, ...
        where = ""
        frames = [f for f in traceback.extract_tb(e.__traceback__) if f.filename == str(path)]
        if frames:
            where = f" (line {frames[-1].lineno})"
        memory = out_of_memory(e)
        if memory:
            raise Mistake(f"importing {path.name}{where} {memory}") from None
        raise Mistake(
            f"importing {path.name} failed{where}: {type(e).__name__}: {shorten(str(e))}"
            f"{hint_for(str(e))}"
        ) from None
    return module


def run_check(item: Check, module: ModuleType) -> dict:
    """Run one check: a result dict with name, points, max_points, passed, feedback."""
    torch.manual_seed(0)
    try:
        note = item.run(module)
        passed, feedback = True, note if isinstance(note, str) else "ok"
    except Mistake as e:
        passed, feedback = False, str(e)
    except SystemExit as e:
        passed, feedback = False, f"your code called sys.exit({e.code!r}) during this check."
    except BaseException as e:  # an output so odd that checking it failed
        passed = False
        feedback = f"could not check the result ({type(e).__name__}: {shorten(str(e), 200)})."
    return {
        "name": item.name,
        "points": item.points if passed else 0.0,
        "max_points": item.points,
        "passed": passed,
        "feedback": feedback,
    }


def plan(exercise: str) -> list[dict]:
    """The checks of ``exercise`` as (name, max_points) records, before running any."""
    return [{"name": c.name, "max_points": c.points} for c in checks_for(exercise)]


def run_exercise(exercise: str, path: str | Path, emit: Callable[[dict], None]) -> None:
    """Grade one file: emit the plan, then each check's start and result, then "done"."""
    items = checks_for(exercise)
    emit({"plan": plan(exercise)})
    try:
        module = import_file(path)
    except Mistake as e:
        emit({"error": str(e)})
        return
    for item in items:
        emit({"start": item.name})
        emit({"result": run_check(item, module)})
    emit({"done": True})
