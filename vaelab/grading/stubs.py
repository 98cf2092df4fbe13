"""The exercise stubs as shipped: in the wheel (``vaelab/_stubs/``) or the checkout
(``exercises/``), and written out into a learner's working folder on request.

``vaelab.exercises.get`` is the public name; ``vaelab.grade.check`` writes a stub out when it
finds no file to grade. Imports nothing of vaelab but ``vaelab.grading``.
"""

from __future__ import annotations

import os
from pathlib import Path

from vaelab.grading import EXERCISES

__all__ = ["get", "stub"]

_PACKAGE = Path(__file__).resolve().parent.parent  # vaelab/


def _key(exercise: str | int) -> str:
    """ "ex03" for "ex03", 3, "03" or "ex03_reparameterize"; a clear error for anything else."""
    text = str(exercise).strip().lower()
    digits = text[2:] if text.startswith("ex") else text
    digits = digits.split("_", 1)[0]
    key = f"ex{int(digits):02d}" if digits.isdigit() else text
    if key not in EXERCISES:
        raise ValueError(
            f'no exercise {exercise!r}: the exercises are {", ".join(EXERCISES)} (e.g. "ex03")'
        )
    return key


def stub(exercise: str | int) -> Path:
    """The shipped stub of ``exercise``: ``vaelab/_stubs/`` in an installed package, the
    repository's ``exercises/`` in a checkout."""
    key = _key(exercise)
    for folder in (_PACKAGE / "_stubs", _PACKAGE.parent / "exercises"):
        path = folder / f"{EXERCISES[key]}.py"
        if path.is_file():
            return path
    raise FileNotFoundError(
        f"the stub of {key} is missing from this install of vaelab ({_PACKAGE}); "
        "reinstall the course: pip install --force-reinstall vaelab"
    )


def get(exercise: str | int, folder: str | os.PathLike | None = None) -> Path:
    """Write the stub of ``exercise`` to ``exercises/<name>.py`` in ``folder`` (default: the
    working folder) and return its path.

    A file already there is never overwritten: if it is the untouched stub, its path is
    returned; if it differs (your work), ``FileExistsError`` says so and how to start over.
    """
    source = stub(exercise)
    target = Path(folder or Path.cwd()) / "exercises" / source.name
    text = source.read_text(encoding="utf-8")
    if target.exists():
        if target.is_file() and target.read_text(encoding="utf-8") == text:
            return target
        raise FileExistsError(
            f"{target} already exists and differs from the stub (your work?): it is left as "
            f"it is. To start over from the stub, rename or delete that file first."
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with open(target, "x", encoding="utf-8") as file:  # "x": never replaces a file
            file.write(text)
    except FileExistsError:
        return get(exercise, folder)  # written meanwhile: the checks above decide
    print(f"wrote the stub of {_key(exercise)} to {target}: fill it in, then grade it")
    return target
