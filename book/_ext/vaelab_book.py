"""Sources the book generates from the course itself, so that nothing is copied by hand.

Before Sphinx looks for documents, this extension writes (into the book folder, all
git-ignored):

- ``lessons/NN_name.ipynb``: the lesson notebooks, copied from ``notebooks/``;
- ``exercises/exNN_name.md``: one page per exercise, the stub by ``literalinclude``;
- ``quizzes.md``: every lesson's quiz, from ``vaelab.quizzes``, each explanation folded away;
- ``api/index.md`` and ``api/<module>.md``: the API reference, one page per public module of
  ``vaelab``, in the order the course meets them (data, models, losses, train, ...);
- ``_generated/lesson_map.md``: the landing page's table of lessons and exercises.

In the copied lessons, a link to an exercise file (``[...](../exercises/ex05_sampling.py)``,
which JupyterLab opens in its editor) points to that exercise's page instead.

While the pages are written, it makes them read like a finished site (see ``setup``):
widget views with no static form (tqdm's bars) are dropped, inline code that names a
documented ``vaelab`` object links to its API entry, "lesson 06" links to the lesson, and
the quiz instructions speak of the page, not of JupyterLab's buttons. ``_static/vaelab.js``
does the rest in the reader's browser (sidebar buttons on phones, figures at full size,
scroll hints, search snippets).

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

GENERATED = ["lessons", "exercises", "quizzes.md", "api", "_generated"]


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

This exercise belongs to [lesson {lesson.number}, {lesson.title}](../lessons/{lesson.stem}.ipynb).
Read the lesson up to its exercise cell first.

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


# The API reference follows the course: what lesson 00 meets first comes first. A module not
# named here still gets its page, after these, so nothing public goes missing.
API_SECTIONS: list[tuple[str, list[str]]] = [
    (
        "The VAE and its training",
        ["data", "models", "losses", "train", "latent", "plot", "schedules", "metrics"],
    ),
    ("Applications and beyond", ["anomaly", "conditional", "shapes", "disentangle", "priors"]),
    (
        "The course's tools",
        ["zoo", "classifier", "quiz", "grade", "exercises", "claims", "checks", "distributed"],
    ),
]


def api_order() -> list[tuple[str, list[str]]]:
    """``API_SECTIONS`` with every public module placed once: unlisted ones at the end."""
    public = public_modules()
    listed = [f"vaelab.{name}" for _, names in API_SECTIONS for name in names]
    sections = [
        (title, [f"vaelab.{n}" for n in names if f"vaelab.{n}" in public])
        for title, names in API_SECTIONS
    ]
    rest = [name for name in public if name not in listed]
    if rest:
        sections.append(("More modules", rest))
    return [(title, names) for title, names in sections if names]


def lessons_using(found: list[Lesson], notebooks: Path = NOTEBOOKS) -> dict[str, list[str]]:
    """``vaelab.<name>`` -> the numbers of the lessons whose code imports it."""
    uses: dict[str, list[str]] = {}
    for lesson in found:
        nb = json.loads((notebooks / f"{lesson.stem}.ipynb").read_text(encoding="utf-8"))
        imported = set()
        for cell in nb.get("cells", []):
            if cell.get("cell_type") != "code":
                continue
            try:
                tree = ast.parse("".join(cell.get("source", [])))
            except SyntaxError:  # IPython magics: such a cell imports nothing from vaelab here
                continue
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and node.module == "vaelab":
                    imported |= {f"vaelab.{alias.name}" for alias in node.names}
                elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("vaelab."):
                    imported.add(".".join(node.module.split(".")[:2]))
                elif isinstance(node, ast.Import):
                    imported |= {
                        ".".join(a.name.split(".")[:2])
                        for a in node.names
                        if a.name.startswith("vaelab.")
                    }
        for name in imported:
            uses.setdefault(name, []).append(lesson.number)
    return uses


def _summary(module_name: str) -> str:
    module = importlib.import_module(module_name)  # an import error names the module here
    return (module.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")


def api_pages(found: list[Lesson]) -> dict[str, str]:
    """``{"index.md": ..., "losses.md": ...}``: the overview and one page per module."""
    uses = lessons_using(found)
    index = [
        "# API reference",
        "",
        "The companion library's public functions and classes, from their docstrings, one page",
        "per module in the order the course meets them. Every loss takes an explicit",
        "`reduction=` and works in nats; images are `(B, 1, 28, 28)` in `[0, 1]`;",
        "hyper-parameters are keyword-only.",
        "",
    ]
    pages: dict[str, str] = {}
    toctree = []
    for title, names in api_order():
        index += [f"## {title}", "", "| module | what it holds | lessons |", "|---|---|---|"]
        for name in names:
            short = name.split(".", 1)[1]
            used = lesson_list(uses.get(name, [])) or "-"
            summary = _summary(name).replace("|", "\\|")
            index.append(f"| [`{name}`]({short}.md) | {summary} | {used} |")
            pages[f"{short}.md"] = api_module_page(name, uses.get(name, []))
            toctree.append(short)
        index.append("")
    index += [
        "## `vaelab`",
        "",
        "```{eval-rst}",
        ".. automodule:: vaelab",
        "   :members:",
        "```",
        "",
        "```{toctree}",
        ":hidden:",
        ":maxdepth: 1",
        "",
        *toctree,
        "```",
        "",
    ]
    pages["index.md"] = "\n".join(index)
    return pages


def lesson_list(numbers: list[str]) -> str:
    """ "lesson 04", "lessons 04 and 06", "lessons 01, 04 and 06" ("" for none)."""
    if len(numbers) <= 1:
        return "".join(f"lesson {n}" for n in numbers)
    return f"lessons {', '.join(numbers[:-1])} and {numbers[-1]}"


def api_module_page(name: str, used_in: list[str]) -> str:
    lines = [f"# `{name}`", ""]
    if used_in:
        lines += [f"Used in {lesson_list(used_in)}.", ""]
    # autodoc writes reStructuredText, so the directive runs inside eval-rst
    lines += ["```{eval-rst}", f".. automodule:: {name}", "   :members:", "```", ""]
    return "\n".join(lines)


EXERCISE_LINK = re.compile(r"\]\(\.\./exercises/(ex\d\d_\w+)\.py\)")


def lesson_source(path: Path, exercises: Path = EXERCISES) -> bytes:
    """The lesson as the book reads it: links to an exercise file point to its page.

    ``[exercises/ex05_sampling.py](../exercises/ex05_sampling.py)`` opens the file in
    JupyterLab's editor; in the book, ``../exercises/ex05_sampling.md`` is the exercise's page.
    Only markdown cells change, so the execution cache (keyed on the code) stays valid.
    """
    raw = path.read_bytes()
    nb = json.loads(raw)
    changed = False
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "markdown":
            continue
        text = "".join(cell.get("source", []))

        def to_page(match: re.Match) -> str:
            # a link to a stub that is not there stays as it is, and fails the strict build
            if not (exercises / f"{match.group(1)}.py").is_file():
                return match.group(0)
            return f"](../exercises/{match.group(1)}.md)"

        new = EXERCISE_LINK.sub(to_page, text)
        if new != text:
            cell["source"], changed = new, True
    if not changed:
        return raw
    return (json.dumps(nb, indent=1, ensure_ascii=False) + "\n").encode("utf-8")


def generate(book: Path = BOOK) -> list[Lesson]:
    """Write every generated source of the book; return the lessons found."""
    found = lessons()
    notebooks = {f"{x.stem}.ipynb": lesson_source(NOTEBOOKS / f"{x.stem}.ipynb") for x in found}
    _sync_folder(book / "lessons", notebooks, "*.ipynb")
    stubs = {f"{x.exercise.stem}.md": exercise_page(x) for x in found if x.exercise}
    _sync_folder(book / "exercises", stubs, "*.md")
    write_if_changed(book / "quizzes.md", quizzes_page(found))
    _sync_folder(book / "api", api_pages(found), "*.md")
    stale = book / "api.md"  # the one-page reference of earlier builds
    if stale.exists():
        stale.unlink()
    write_if_changed(book / "_generated" / "lesson_map.md", lesson_map(found))
    return found


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


# ----------------------------------------------------------------------------------------
# The pages as a reader sees them

# On every page of the book built from quick runs (``make book FAST=1``, what CI builds).
FAST_BANNER = (
    "<b>Quick runs</b> (<code>VAELAB_FAST=1</code>): each lesson ran briefly on a small subset, "
    "so the numbers are rough and the pictures blurry. For the real ones, build the book with "
    "<code>make book</code> or run the lessons in <code>make lab</code>."
)
# Replaces a lesson's quiz instructions, which describe JupyterLab's buttons.
QUIZ_INSTRUCTIONS = (
    "Click an option to unfold it: it says whether it is right, and why. Every option, right "
    "or wrong, comes with its explanation. Run the lesson to answer the questions yourself."
)
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def _is_mime_bundle(node) -> bool:
    from docutils import nodes

    return isinstance(node, nodes.container) and node.get("nb_element") == "mime_bundle"


def _inside(node, kinds) -> bool:
    parent = node.parent
    while parent is not None:
        if isinstance(parent, kinds):
            return True
        parent = parent.parent
    return False


def lesson_docs(docnames) -> dict[str, str]:
    """``{"05": "lessons/05_sampling_and_latent_space", ...}`` from the book's documents."""
    found = {}
    for docname in docnames:
        match = re.fullmatch(r"lessons/(\d\d)_\w+", docname)
        if match:
            found[match.group(1)] = docname
    return found


# "lesson 06", "Lesson 06's", "lessons 04 and 06", "lessons 01, 04 or 06", "lessons 02-04"
LESSON_MENTION = re.compile(
    r"\b[Ll]essons?\s+\d\d(?:(?:\s*,\s*|\s+and\s+|\s+or\s+|\s+to\s+|\s*[-\u2013]\s*)\d\d)*\b"
)
CALL_ARGUMENTS = re.compile(r"\(.*\)$")
DOTTED_NAME = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)+")


def api_target(text: str, objects: dict, modules: dict) -> tuple[str, str] | None:
    """(docname, anchor) of the documented object that inline code ``text`` names, or None.

    ``vaelab.losses.kl_divergence``, ``losses.kl_divergence`` and ``losses.elbo(out, x)``
    name documented objects; ``model.sample`` (a variable's method) and ``torch.randn`` do
    not. ``objects`` and ``modules`` are the Python domain's tables.
    """
    name = CALL_ARGUMENTS.sub("", text.strip())
    if name != "vaelab" and not DOTTED_NAME.fullmatch(name):
        return None
    full = name if name == "vaelab" or name.startswith("vaelab.") else f"vaelab.{name}"
    if full in modules:
        return modules[full].docname, modules[full].node_id
    if full in objects:
        return objects[full].docname, objects[full].node_id
    return None


def _post_transforms():
    """The post-transforms (run as each page is written, after every page has been read)."""
    from docutils import nodes
    from sphinx import addnodes
    from sphinx.transforms.post_transforms import SphinxPostTransform
    from sphinx.util.nodes import make_refnode

    class DropWidgetViewsWithoutStaticForm(SphinxPostTransform):
        """Drop an output that is a widget view whose only other form is its text repr.

        A widget needs a live kernel. Without one the page would show its text repr, for
        tqdm's bar the frozen ``fit:   0%|          | 0/48`` of the moment it was drawn, long
        after the log of the run it belonged to. Widgets with a static form keep it (the
        quizzes carry their HTML). In JupyterLab the live bar is untouched.
        """

        default_priority = 3  # before MyST-NB's SelectMimeType (4) keeps one form of each

        def run(self, **kwargs) -> None:
            for bundle in list(self.document.findall(_is_mime_bundle)):
                forms = {child.get("mime_type") for child in bundle.children}
                if WIDGET_VIEW in forms and forms <= {WIDGET_VIEW, "text/plain"}:
                    parent = bundle.parent
                    parent.remove(bundle)
                    if not parent.children and "cell_output" in parent.get("classes", []):
                        parent.parent.remove(parent)

    class LinkCourseNames(SphinxPostTransform):
        """Link what a page names: ``losses.kl_divergence`` to its API entry, "lesson 06"
        to the lesson. Titles, code blocks, outputs and existing links stay as they are."""

        default_priority = 15

        def run(self, **kwargs) -> None:
            docname = self.env.docname
            if docname in ("genindex", "search", "py-modindex"):
                return
            builder = self.app.builder
            py = self.env.get_domain("py")
            objects, modules = py.objects, py.modules
            skip = (nodes.reference, addnodes.pending_xref, nodes.title, nodes.raw)
            skip += (addnodes.desc_signature,)  # an API entry's own signature
            for literal in list(self.document.findall(nodes.literal)):
                if isinstance(literal, nodes.literal_block) or _inside(literal, skip):
                    continue
                target = api_target(literal.astext(), objects, modules)
                if target is not None:
                    ref = make_refnode(builder, docname, *target, literal.deepcopy())
                    ref["classes"].append("vaelab-api-link")
                    literal.replace_self(ref)
            lessons = lesson_docs(self.env.found_docs)
            text_skip = (*skip, nodes.literal, nodes.literal_block, nodes.math, nodes.math_block)
            for text in list(self.document.findall(nodes.Text)):
                if isinstance(text.parent, text_skip) or _inside(text, text_skip):
                    continue
                linked = self._link_lessons(str(text), docname, lessons)
                if linked is not None:
                    text.parent.replace(text, linked)

        def _link_lessons(self, text: str, docname: str, lessons: dict[str, str]):
            """``text`` as nodes with its lesson mentions linked; None if it has none.

            The first link covers "lesson 06"; in "lessons 04 and 06" the second covers "06".
            """
            out, at, changed = [], 0, False
            for mention in LESSON_MENTION.finditer(text):
                phrase = mention.group(0)
                pieces, pos = [], 0  # (text, target docname or None)
                for i, number in enumerate(re.finditer(r"\d\d", phrase)):
                    start = 0 if i == 0 else number.start()
                    pieces.append((phrase[pos:start], None))
                    pieces.append((phrase[start : number.end()], lessons.get(number.group(0))))
                    pos = number.end()
                pieces.append((phrase[pos:], None))
                out.append(nodes.Text(text[at : mention.start()]))
                for piece, target in pieces:
                    if target is not None and target != docname:
                        uri = self.app.builder.get_relative_uri(docname, target)
                        link = nodes.reference("", piece, internal=True, refuri=uri)
                        link["classes"].append("vaelab-lesson-link")
                        out.append(link)
                        changed = True
                    else:
                        out.append(nodes.Text(piece))
                at = mention.end()
            out.append(nodes.Text(text[at:]))
            return [n for n in out if not isinstance(n, nodes.Text) or str(n)] if changed else None

    class QuizInstructionsForThePage(SphinxPostTransform):
        """In a lesson's quiz section, a paragraph about JupyterLab's buttons becomes one about
        the page (where each option unfolds to its verdict and explanation)."""

        default_priority = 16

        def run(self, **kwargs) -> None:
            if not self.env.docname.startswith("lessons/"):
                return
            for section in list(self.document.findall(nodes.section)):
                title = section.next_node(nodes.title)
                if title is None or not re.search(r"\bquiz", title.astext(), re.IGNORECASE):
                    continue
                for paragraph in list(section.findall(nodes.paragraph)):
                    text = paragraph.astext()
                    if re.search(r"\bJupyter", text) and re.search(r"\bbuttons?\b", text):
                        paragraph.replace_self(nodes.paragraph("", QUIZ_INSTRUCTIONS))

    return [DropWidgetViewsWithoutStaticForm, LinkCourseNames, QuizInstructionsForThePage]


def _on_config_inited(app, config) -> None:
    generate(Path(app.srcdir))


def setup(app):
    app.connect("config-inited", _on_config_inited)
    for transform in _post_transforms():
        app.add_post_transform(transform)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
