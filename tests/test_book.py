"""The book: sources generated from the course, and the built FAST site's links.

The generator tests run anywhere. The ``book`` tests read the site that ``make book FAST=1``
built (``make test`` builds it first): every internal link and anchor resolves, nothing is
loaded from another host, every lesson is there with its outputs.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

ROOT = Path(__file__).resolve().parents[1]
LESSONS = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))

sys.path.insert(0, str(ROOT / "book" / "_ext"))
import vaelab_book  # noqa: E402


def notebook(title: str) -> dict:
    cells = [
        {"cell_type": "markdown", "id": "a", "metadata": {}, "source": [f"# {title}\n", "text"]},
        {"cell_type": "code", "id": "b", "metadata": {}, "source": ["1 + 1"], "outputs": []},
    ]
    return {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def test_a_new_lesson_appears_in_the_map_with_its_exercise(tmp_path):
    notebooks, exercises = tmp_path / "notebooks", tmp_path / "exercises"
    notebooks.mkdir()
    exercises.mkdir()
    (notebooks / "04_elbo.ipynb").write_text(json.dumps(notebook("04 · The ELBO")))
    (notebooks / "10_new_idea.ipynb").write_text(json.dumps(notebook("10 · A new idea")))
    (notebooks / "scratch.ipynb").write_text(json.dumps(notebook("not a lesson")))
    (exercises / "ex10_new_idea.py").write_text('"""Exercise 10: new (lesson 10)."""\n')
    found = vaelab_book.lessons(notebooks, exercises)
    assert [(x.number, x.stem, x.title) for x in found] == [
        ("04", "04_elbo", "The ELBO"),
        ("10", "10_new_idea", "A new idea"),
    ]
    assert found[0].exercise is None and found[1].exercise == exercises / "ex10_new_idea.py"
    table = vaelab_book.lesson_map(found)
    assert "| 10 | [A new idea](lessons/10_new_idea.ipynb) |" in table
    assert "[`ex10_new_idea.py`](exercises/ex10_new_idea.md)" in table


def test_every_lesson_and_exercise_of_the_course_gets_a_page():
    found = vaelab_book.lessons()
    assert [x.stem for x in found] == LESSONS
    stubs = sorted((ROOT / "exercises").glob("ex[0-9][0-9]_*.py"))
    assert sorted(x.exercise for x in found if x.exercise) == stubs
    page = vaelab_book.exercise_page(found[4])
    assert page.startswith("# Exercise 04: ")
    assert "exercises/ex04_elbo.py" in page and 'vaelab.grade.check("ex04")' in page
    assert "```{literalinclude} ../../exercises/ex04_elbo.py" in page
    assert "- `kl_divergence`: " in page  # the functions to write, from the stub's docstrings


def test_quiz_page_has_every_question_from_the_bank():
    from vaelab import quiz

    page = vaelab_book.quizzes_page(vaelab_book.lessons())
    for q in quiz.questions():
        assert quiz.static_html(q.id) in page


def test_api_reference_has_a_page_per_public_module_in_the_course_order():
    pages = vaelab_book.api_pages(vaelab_book.lessons())
    modules = vaelab_book.public_modules()
    assert {"vaelab.losses", "vaelab.train", "vaelab.quiz", "vaelab.plot"} <= set(modules)
    assert not any(m.split(".")[-1].startswith("_") for m in modules)
    ordered = [name for _, names in vaelab_book.api_order() for name in names]
    assert sorted(ordered) == sorted(modules)  # every module once, none twice
    assert ordered[:4] == ["vaelab.data", "vaelab.models", "vaelab.losses", "vaelab.train"]
    for name in modules:
        short = name.split(".", 1)[1]
        assert f".. automodule:: {name}\n   :members:" in pages[f"{short}.md"]
        assert f"[`{name}`]({short}.md)" in pages["index.md"]
    index = pages["index.md"]
    assert (
        index.index("vaelab.data`]") < index.index("vaelab.losses`]") < index.index("vaelab.zoo`]")
    )
    assert ".. automodule:: vaelab\n" in index  # the package's own functions
    # "Used in": the lessons whose code imports the module
    assert re.search(r"\nUsed in lessons [\d, ]*04[\d, and]*\.\n", pages["losses.md"])
    assert vaelab_book.lesson_list(["04"]) == "lesson 04"
    assert vaelab_book.lesson_list(["01", "04", "06"]) == "lessons 01, 04 and 06"
    assert "Used in" not in pages["distributed.md"]


def test_a_lesson_copy_links_its_exercise_to_the_exercise_page(tmp_path):
    exercises = tmp_path / "exercises"
    exercises.mkdir()
    (exercises / "ex05_sampling.py").write_text("")
    nb = notebook("05 · Sampling")
    link = "[exercises/ex05_sampling.py](../exercises/ex05_sampling.py)"
    missing = "[exercises/ex09_missing.py](../exercises/ex09_missing.py)"
    nb["cells"][0]["source"] = [f"Open {link}, or {missing}."]
    nb["cells"][1]["source"] = [f"# {link}"]  # code: never touched (the cache keys on it)
    path = tmp_path / "05_sampling.ipynb"
    path.write_text(json.dumps(nb))
    copy = json.loads(vaelab_book.lesson_source(path, exercises))
    assert copy["cells"][0]["source"] == (
        "Open [exercises/ex05_sampling.py](../exercises/ex05_sampling.md), or " + missing + "."
    )
    assert copy["cells"][1]["source"] == [f"# {link}"]
    path.write_text(json.dumps(notebook("00 · No exercise")))
    assert vaelab_book.lesson_source(path, exercises) == path.read_bytes()  # unchanged: as is


class Entry:
    def __init__(self, docname, node_id):
        self.docname, self.node_id = docname, node_id


def test_inline_code_that_names_a_documented_object_finds_its_entry():
    objects = {
        "vaelab.losses.kl_divergence": Entry("api/losses", "vaelab.losses.kl_divergence"),
        "vaelab.train.fit": Entry("api/train", "vaelab.train.fit"),
    }
    modules = {"vaelab.zoo": Entry("api/zoo", "module-vaelab.zoo")}
    target = vaelab_book.api_target
    assert target("losses.kl_divergence", objects, modules) == (
        "api/losses",
        "vaelab.losses.kl_divergence",
    )
    assert target("vaelab.losses.kl_divergence", objects, modules)[0] == "api/losses"
    assert target("train.fit(beta=...)", objects, modules)[0] == "api/train"
    assert target("vaelab.zoo", objects, modules) == ("api/zoo", "module-vaelab.zoo")
    for not_ours in ("model.sample", "torch.randn(2)", "kl_divergence", "x.shape", "fit"):
        assert target(not_ours, objects, modules) is None, not_ours


def test_lesson_mentions_are_found_with_every_number():
    found = [m.group(0) for m in vaelab_book.LESSON_MENTION.finditer(
        "as in lesson 06, Lesson 01's model, lessons 02-04 and lessons 04 and 05; not lessons."
    )]  # fmt: skip
    assert found == ["lesson 06", "Lesson 01", "lessons 02-04", "lessons 04 and 05"]
    docs = ["lessons/05_sampling", "lessons/06_collapse", "api/losses", "index"]
    assert vaelab_book.lesson_docs(docs) == {
        "05": "lessons/05_sampling",
        "06": "lessons/06_collapse",
    }


def test_write_if_changed_keeps_an_unchanged_file_untouched(tmp_path):
    path = tmp_path / "a" / "page.md"
    assert vaelab_book.write_if_changed(path, "text")
    os.utime(path, (1, 1))
    assert not vaelab_book.write_if_changed(path, "text")
    assert path.stat().st_mtime == 1  # Sphinx sees no change: nothing is re-read or re-run
    assert vaelab_book.write_if_changed(path, "new text")
    assert path.read_text() == "new text"


def test_mathjax_ships_with_the_book(tmp_path):
    pytest.importorskip("sphinx")
    dest = vaelab_book.mathjax_static(tmp_path)
    script = (dest / "mathjax" / "tex-chtml.js").read_text(encoding="utf-8")
    assert 'VERSION="3.' in script
    fonts = list((dest / "mathjax" / "output/chtml/fonts/woff-v2").glob("*.woff"))
    assert len(fonts) > 10


def test_make_lab_allows_root_only_for_root_and_passes_extra_arguments():
    result = subprocess.run(
        ["make", "-n", "--no-print-directory", "lab", "VENV=/nonexistent", "LAB_ARGS=--port=1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    line = next(x for x in result.stdout.splitlines() if "jupyter lab" in x)
    assert line.endswith("--port=1")
    assert ("--allow-root" in line) == (os.geteuid() == 0)


# ----------------------------------------------------------------------------------------
# The built site (make book FAST=1)


class Links(HTMLParser):
    """Every href/src of a page, and every id it defines."""

    def __init__(self):
        super().__init__()
        self.links: list[tuple[str, str]] = []  # (tag, url)
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("id", "name") and value:
                self.ids.add(value)
            if name in ("href", "src") and value:
                self.links.append((tag, value))


def parse(path: Path) -> Links:
    parser = Links()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def pages(site: Path) -> list[Path]:
    """The site's pages (not the theme's template snippets under _static/)."""
    return sorted(p for p in site.rglob("*.html") if "_static" not in p.relative_to(site).parts)


@pytest.mark.book
def test_every_internal_link_and_anchor_resolves(site):
    parsed = {path: parse(path) for path in pages(site)}
    broken = []
    for page, links in parsed.items():
        for tag, url in links.links:
            scheme = urlparse(url).scheme
            if scheme in ("http", "https", "mailto", "data", "javascript") or url.startswith("//"):
                continue
            parts = urlparse(url)  # drops ?v=... cache busters
            target, fragment = parts.path, parts.fragment
            path = (page.parent / unquote(target)).resolve() if target else page
            if path.is_dir():
                path = path / "index.html"
            where = f"{page.relative_to(site)}: <{tag}> {url}"
            if not path.is_file():
                broken.append(f"{where} (no file)")
            elif fragment and path.suffix == ".html":
                ids = parsed[path].ids if path in parsed else parse(path).ids
                if unquote(fragment) not in ids:
                    broken.append(f"{where} (no id {fragment!r})")
    assert not broken, "\n".join(broken)


@pytest.mark.book
def test_nothing_is_loaded_from_another_host(site):
    fetched = []
    for page in pages(site):
        for tag, url in parse(page).links:
            remote = urlparse(url).scheme in ("http", "https") or url.startswith("//")
            if remote and tag in ("script", "img", "iframe", "source", "video", "audio"):
                fetched.append(f"{page.relative_to(site)}: <{tag}> {url}")
        text = page.read_text(encoding="utf-8")
        for match in re.finditer(
            r"""<link[^>]*rel="stylesheet"[^>]*href="(https?:)?//[^"]*""", text
        ):
            fetched.append(f"{page.relative_to(site)}: {match.group(0)}")
    for css in site.rglob("*.css"):
        for match in re.finditer(
            r"""@import\s+url\((['"]?)(https?:)?//|url\((['"]?)https?://""",
            css.read_text(encoding="utf-8", errors="replace"),
        ):
            fetched.append(f"{css.relative_to(site)}: {match.group(0)}")
    assert not fetched, "\n".join(fetched)


@pytest.mark.book
def test_every_lesson_has_a_page_with_its_outputs(site):
    for stem in LESSONS:
        text = (site / "lessons" / f"{stem}.html").read_text(encoding="utf-8")
        assert text.count('class="cell_output') >= 3, f"{stem}: outputs missing"
        assert "<img" in text, f"{stem}: no figure"
        assert "Traceback" not in text, f"{stem}: an error in the output"
    quiz_html = (site / "lessons" / "00_setup_and_data.html").read_text(encoding="utf-8")
    assert 'id="quiz-00-pixel_scaling"' in quiz_html  # the quiz, static, in its lesson
    assert "application/vnd.jupyter.widget-view+json" not in quiz_html
    for name in (
        "quizzes.html",
        "api/index.html",
        "api/losses.html",
        "genindex.html",
        "search.html",
    ):
        assert (site / name).is_file(), name
