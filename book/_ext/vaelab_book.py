"""Sources the book generates from the course itself, so that nothing is copied by hand.

Before Sphinx looks for documents, this extension writes (into the book folder, all
git-ignored):

- ``lessons/NN_name.ipynb``: the lesson notebooks, copied from ``notebooks/``;
- ``exercises/exNN_name.md``: one page per exercise, the stub by ``literalinclude``;
- ``quizzes.md``: every lesson's quiz, from ``vaelab.quizzes``, each explanation folded away;
- ``api.md``: the API reference, one ``automodule`` per public module of ``vaelab``;
- ``_generated/lesson_map.md``: the landing page's table of lessons and exercises.

A file is rewritten only when its text changes, so Sphinx (which compares modification
times) re-reads, and MyST-NB re-executes, only what really changed. A lesson added to
``notebooks/`` appears everywhere with no edit here.
"""

from __future__ import annotations

import ast
import importlib
import json
import pkgutil
import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BOOK = ROOT / "book"
NOTEBOOKS = ROOT / "notebooks"
EXERCISES = ROOT / "exercises"

GENERATED = ["lessons", "exercises", "quizzes.md", "api.md", "_generated"]


@dataclass(frozen=True)
class Lesson:
    number: str  # "04"
    stem: str  # "04_elbo"
    title: str  # "The ELBO: the objective a VAE maximises"
    exercise: Path | None  # exercises/ex04_elbo.py, or None


def lessons(notebooks: Path = NOTEBOOKS, exercises: Path = EXERCISES) -> list[Lesson]:
    """The lessons in order, from the notebooks' file names and first headings."""
    found = []
    for path in sorted(notebooks.glob("[0-9][0-9]_*.ipynb")):
        number = path.name[:2]
        nb = json.loads(path.read_text(encoding="utf-8"))
        title = _first_heading(nb) or path.stem[3:].replace("_", " ")
        title = re.sub(rf"^{number}\s*[·:.-]\s*", "", title)
        stubs = sorted(exercises.glob(f"ex{number}_*.py"))
        found.append(Lesson(number, path.stem, title, stubs[0] if stubs else None))
    return found


def _first_heading(nb: dict) -> str | None:
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "markdown":
            for line in "".join(cell.get("source", [])).splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return None


def write_if_changed(path: Path, text: str | bytes) -> bool:
    """Write ``text`` to ``path`` unless it already holds exactly that; True when written."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    if path.exists() and path.read_bytes() == data:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return True


def _sync_folder(folder: Path, files: dict[str, str | bytes], pattern: str) -> None:
    """Make ``folder`` hold exactly ``files`` among those matching ``pattern``."""
    for name, text in files.items():
        write_if_changed(folder / name, text)
    if folder.exists():
        for stale in folder.glob(pattern):
            if stale.name not in files:
                stale.unlink()


# ----------------------------------------------------------------------------------------
# Pages


def lesson_map(found: list[Lesson]) -> str:
    rows = ["| # | lesson | graded exercise |", "|---|---|---|"]
    for lesson in found:
        exercise = (
            f"[`{lesson.exercise.name}`](exercises/{lesson.exercise.stem}.md)"
            if lesson.exercise
            else "-"
        )
        link = f"[{lesson.title}](lessons/{lesson.stem}.ipynb)"
        rows.append(f"| {lesson.number} | {link} | {exercise} |")
    return "\n".join(rows) + "\n"


def _functions(stub: Path) -> list[tuple[str, str]]:
    """(name, one-line summary) of each public function in an exercise stub."""
    tree = ast.parse(stub.read_text(encoding="utf-8"))
    found = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
            summary = (ast.get_docstring(node) or "").strip().split("\n")[0]
            found.append((node.name, summary))
    return found


def exercise_page(lesson: Lesson) -> str:
    stub = lesson.exercise
    assert stub is not None
    doc = ast.get_docstring(ast.parse(stub.read_text(encoding="utf-8"))) or ""
    heading = doc.strip().split("\n")[0].rstrip(".") or stub.stem
    heading = re.sub(r"\s*\(lesson \d+\)$", "", heading)
    key = stub.stem.split("_")[0]  # ex04
    rows = "\n".join(f"- `{name}`: {summary}" for name, summary in _functions(stub))
    return f"""# {heading}

This exercise belongs to lesson {lesson.number},
[{lesson.title}](../lessons/{lesson.stem}.ipynb). Read the lesson up to its exercise cell
first.

## What to write

Each function's body raises `NotImplementedError` until you fill it in; its docstring says
what to compute and with which shapes.

{rows}

## How to grade it

From the course's folder (the one holding `.venv/` and `exercises/`):

```bash
.venv/bin/vaelab grade exercises/{stub.name}
```

or in the lesson's notebook:

```python
vaelab.grade.check("{key}")
```

Each function is checked against `vaelab`'s reference implementation, on shapes, values and
gradients, in a separate process with a time limit. The report says what is wrong ("KL has
the wrong sign", "no gradient reaches `logvar`"), not only that something is. Grade as often
as you like.

## The file

```{{literalinclude}} ../../exercises/{stub.name}
:language: python
```
"""


def quizzes_page(found: list[Lesson]) -> str:
    from vaelab import quiz

    parts = [
        "# Quizzes",
        "",
        "Every lesson ends with a few questions. In JupyterLab they are buttons with a Check",
        "button; here each option opens, when you click it, to say whether it is right and why.",
        "Numeric questions fold away a hint and the answer, computed by `vaelab`.",
        "",
    ]
    titles = {lesson.number: lesson for lesson in found}
    for number in sorted({f"{q.lesson:02d}" for q in quiz.questions()}):
        lesson = titles.get(number)
        name = f"[{lesson.title}](lessons/{lesson.stem}.ipynb)" if lesson else f"lesson {number}"
        parts += [f"## Lesson {number}", "", f"From {name}.", ""]
        for q in quiz.questions(number):
            parts += ["```{raw} html", quiz.static_html(q.id), "```", ""]
    return "\n".join(parts)


def public_modules() -> list[str]:
    """``vaelab.<name>`` for every module a learner imports (no ``_private`` ones, no CLI)."""
    import vaelab

    names = [
        info.name
        for info in pkgutil.iter_modules(vaelab.__path__)
        if not info.name.startswith("_") and not info.ispkg and info.name != "cli"
    ]
    return [f"vaelab.{name}" for name in sorted(names)]


def api_page() -> str:
    parts = [
        "# API reference",
        "",
        "The companion library's public functions and classes, from their docstrings. Every",
        "loss takes an explicit `reduction=` and works in nats; images are `(B, 1, 28, 28)` in",
        "`[0, 1]`; hyper-parameters are keyword-only.",
        "",
        "```{eval-rst}",
        ".. automodule:: vaelab",
        "   :members:",
        "```",
        "",
    ]
    for name in public_modules():
        importlib.import_module(name)  # an import error names the module here, not in Sphinx
        # autodoc writes reStructuredText, so the directive runs inside eval-rst
        parts += [f"## `{name}`", "", "```{eval-rst}", f".. automodule:: {name}", "   :members:"]
        parts += ["```", ""]
    return "\n".join(parts)


def generate(book: Path = BOOK) -> list[Lesson]:
    """Write every generated source of the book; return the lessons found."""
    found = lessons()
    notebooks = {f"{x.stem}.ipynb": (NOTEBOOKS / f"{x.stem}.ipynb").read_bytes() for x in found}
    _sync_folder(book / "lessons", notebooks, "*.ipynb")
    stubs = {f"{x.exercise.stem}.md": exercise_page(x) for x in found if x.exercise}
    _sync_folder(book / "exercises", stubs, "*.md")
    write_if_changed(book / "quizzes.md", quizzes_page(found))
    write_if_changed(book / "api.md", api_page())
    write_if_changed(book / "_generated" / "lesson_map.md", lesson_map(found))
    return found


def _on_config_inited(app, config) -> None:
    generate(Path(app.srcdir))


def setup(app):
    app.connect("config-inited", _on_config_inited)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


# ----------------------------------------------------------------------------------------
# MathJax, shipped with the build

MATHJAX_PARTS = [
    "tex-chtml.js",  # TeX in, HTML + CSS out, with the menu
    "output/chtml/fonts/woff-v2",  # its fonts
    "input/tex/extensions",  # TeX packages it loads on first use (\boldsymbol, \color, ...)
    "ui",  # the menu's lazy parts
    "a11y",  # accessibility options of the menu
    "sre",  # the speech rule engine they use
]


def mathjax_source() -> Path:
    """The MathJax 3 folder inside the sphinx-mathjax-offline wheel."""
    from importlib import metadata

    try:
        dist = metadata.distribution("sphinx-mathjax-offline")
    except metadata.PackageNotFoundError:
        raise RuntimeError(
            "the book ships MathJax from the sphinx-mathjax-offline package, which is not "
            "installed: run `make setup` (the book extra), or pip install -e '.[book]'"
        ) from None
    folder = Path(dist.locate_file("sphinx-mathjax-offline/static/mathjax"))
    if not (folder / "tex-chtml.js").is_file():
        raise RuntimeError(f"no tex-chtml.js in {folder}: reinstall sphinx-mathjax-offline")
    return folder


def mathjax_static(dest: Path) -> Path:
    """Copy the parts of MathJax the pages use into ``dest/mathjax``; return ``dest``.

    ``dest`` goes into ``html_static_path``, so the files end up in ``_static/mathjax``.
    """
    source = mathjax_source()
    for part in MATHJAX_PARTS:
        path = source / part
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        for file in files:
            write_if_changed(dest / "mathjax" / file.relative_to(source), file.read_bytes())
    return dest
