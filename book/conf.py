"""Sphinx configuration of the course's book: the executed lessons, exercises, quizzes, API.

Build it with ``make book`` (full runs) or ``make book FAST=1`` (VAELAB_FAST runs, as CI).
The two keep separate build folders and execution caches, so they never mix:

- full: ``_build/html``, ``_build/doctrees``, ``_build/jupyter_cache``
- FAST: ``_build/fast/html``, ``_build/fast/doctrees``, ``_build/fast/jupyter_cache``
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE / "_ext"))
sys.path.insert(0, str(ROOT))  # autodoc documents this checkout's vaelab

import vaelab_book  # noqa: E402  (needs the path above)

FAST = os.environ.get("VAELAB_FAST", "").strip().lower() in {"1", "true", "yes", "on"}
BUILD = HERE / "_build" / ("fast" if FAST else "")

# The notebook kernels inherit this process's environment: they import this checkout's
# vaelab. TQDM_DISABLE silences tqdm's text bars; its notebook widget ignores it, and
# vaelab_book drops the widget's frozen copy from the pages instead (fit's log stays).
os.environ["PYTHONPATH"] = os.pathsep.join(
    [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
)
os.environ["TQDM_DISABLE"] = "1"

project = "vaelab"
author = "the vaelab authors"
copyright = "the vaelab authors; MNIST by LeCun, Cortes and Burges (CC BY-SA 3.0)"
html_title = "vaelab: Variational Autoencoders, hands on"

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "vaelab_book",
    "claims",  # _ext/claims.py: each checked sentence marked with the value its run measured
]
exclude_patterns = ["_build", "_generated", "**/.ipynb_checkpoints", "README.md"]
nitpicky = True  # every cross-reference must resolve (make book also passes -n)

# --- MyST and notebook execution -----------------------------------------------------------
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3
nb_execution_mode = "cache"  # jupyter-cache: a lesson re-runs only when its code changes
nb_execution_cache_path = str(BUILD / "jupyter_cache")
nb_execution_timeout = 1800  # seconds per cell; the full lessons train for a few minutes
nb_execution_raise_on_error = True  # an error in a lesson fails the build
nb_execution_show_tb = True
nb_merge_streams = True
# Widgets need a kernel: drop their views. The quizzes carry a static HTML copy (each
# explanation folded away) that shows instead; no widget JavaScript is fetched.
nb_mime_priority_overrides = [("html", "application/vnd.jupyter.widget-view+json", None)]
nb_ipywidgets_js = {}

# --- API reference --------------------------------------------------------------------------
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_default_options = {"undoc-members": False}
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
# Types from other libraries: there is no network to fetch their inventories (intersphinx),
# so references to them stay plain text instead of failing the nitpicky build.
nitpick_ignore_regex = [
    (r"py:.*", r"(torch|nn|np|numpy|matplotlib|plt|mpl|collections|typing|os|pathlib)\..*"),
    (r"py:.*", r"(Tensor|Module|Figure|Axes|Path|PathLike|Callable|Sequence|Iterator|Any)"),
]
# Returned by vaelab.grade's functions but, by that module's __all__, not part of its API.
nitpick_ignore = [
    ("py:class", "vaelab.grade.GradeReport"),
    ("py:class", "vaelab.grading.report.GradeReport"),
]

# --- HTML -----------------------------------------------------------------------------------
html_theme = "sphinx_book_theme"
html_theme_options = {
    "home_page_in_toc": True,
    "show_navbar_depth": 1,
    "show_toc_level": 2,
    "use_download_button": False,  # the sources are not copied (html_copy_source)
    "use_fullscreen_button": False,
    "use_repository_button": False,
    # The top header: the book's title, a link home, and the one search box; the lessons are
    # in the sidebar below it (the theme's default sidebar would repeat the title and search).
    "navbar_start": ["navbar-logo"],
    "navbar_persistent": ["search-button-field"],
}
html_sidebars = {"**": ["sbt-sidebar-nav.html"]}
if FAST:  # the book from quick runs says so on every page
    html_theme_options["announcement"] = vaelab_book.FAST_BANNER
# The theme's light / dark switch starts from the reader's system setting (without this the
# first visit logs "Got invalid theme mode" to the console).
html_context = {"default_mode": "auto"}
html_copy_source = False
html_show_sourcelink = False
html_static_path = ["_static", str(vaelab_book.mathjax_static(HERE / "_build" / "mathjax"))]
html_css_files = ["vaelab.css"]
html_js_files = [("vaelab.js", {"defer": "defer"})]
# MathJax ships with the build (from the sphinx-mathjax-offline wheel): no CDN.
mathjax_path = "mathjax/tex-chtml.js"
mathjax3_config = {"tex": {"inlineMath": [["\\(", "\\)"]], "displayMath": [["\\[", "\\]"]]}}
