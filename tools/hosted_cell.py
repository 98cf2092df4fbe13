"""The first code cell of every lesson: open it in a hosted notebook, install the course there.

Each lesson gets one cell of its own, right after its title cell (cell id ``hosted-install``):
a comment with the lesson's "open in a hosted notebook" address (Google Colab, from the
repository named in pyproject.toml's ``[project.urls]``) and the exercise's two ways in, and
code that installs the course with pip when ``vaelab`` cannot be imported (in a hosted
notebook) and does nothing where it can (a checkout, ``pip install vaelab``, CI). It ends by
importing ``vaelab.exercises``, which registers the ``%%exercise`` cell magic.

No other cell is touched. Run it again after merging lesson changes; it is idempotent::

    python tools/hosted_cell.py            # insert or update the cell in every lesson
    python tools/hosted_cell.py --check    # exit 1, naming the lessons, if any is out of date
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
CELL_ID = "hosted-install"


def repository() -> str:
    """The course's public repository, e.g. https://github.com/OWNER/NAME (pyproject.toml)."""
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    found = re.search(r'^Repository = "(https://github\.com/[\w.-]+/[\w.-]+)"$', text, re.M)
    url = found.group(1) if found else ""
    if not url:
        raise SystemExit("pyproject.toml: [project.urls] Repository must be a GitHub address")
    return url


def cell_source(notebook: Path, repo: str) -> str:
    owner_name = repo.removeprefix("https://github.com/")
    colab = (
        f"https://colab.research.google.com/github/{owner_name}/blob/main/notebooks/{notebook.name}"
    )
    number = notebook.name[:2]
    exercise = sorted((ROOT / "exercises").glob(f"ex{number}_*.py"))
    lines = [
        "# Open this lesson in a hosted notebook (Google Colab):",
        f"# {colab}",
        "# There this cell installs the course first; where vaelab is installed already",
        "# (your clone, `pip install`), it does nothing.",
    ]
    if exercise:
        lines += [
            f"# The exercise: fill in exercises/{exercise[0].name} (if it is missing,",
            f'# vaelab.exercises.get("ex{number}") writes it here), or write its functions in a',
            f"# cell whose first line is `%%exercise ex{number}`: that saves them to the file and",
            "# grades them.",
        ]
    lines += [
        "import importlib.util",
        "import subprocess",
        "import sys",
        "",
        'if importlib.util.find_spec("vaelab") is None:',
        f'    course = "vaelab @ git+{repo}"',
        '    subprocess.run([sys.executable, "-m", "pip", "install", "-q", course], check=True)',
        "import vaelab.exercises  # noqa: E402, F401  (the %%exercise cell magic)",
    ]
    return "\n".join(lines)


def new_cell(source: str) -> dict:
    return {
        "cell_type": "code",
        "execution_count": None,
        "id": CELL_ID,
        "metadata": {},
        "outputs": [],
        "source": source.splitlines(keepends=True),
    }


def updated(notebook: Path, repo: str) -> tuple[str, str]:
    """(the notebook's text now, its text with the cell inserted or brought up to date)."""
    text = notebook.read_text(encoding="utf-8")
    nb = json.loads(text)
    cell = new_cell(cell_source(notebook, repo))
    cells = nb["cells"]
    mine = [i for i, c in enumerate(cells) if c.get("id") == CELL_ID]
    for i in reversed(mine[1:]):
        del cells[i]
    if mine:
        cells[mine[0]] = cell
    else:
        title = 1 if cells and cells[0]["cell_type"] == "markdown" else 0
        cells.insert(title, cell)
    return text, json.dumps(nb, indent=1, ensure_ascii=False, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="only report, change nothing")
    parser.add_argument("notebooks", nargs="*", type=Path, default=NOTEBOOKS)
    args = parser.parse_args(argv)
    repo = repository()
    stale = []
    for notebook in args.notebooks:
        before, after = updated(notebook, repo)
        if before != after:
            stale.append(notebook.name)
            if not args.check:
                notebook.write_text(after, encoding="utf-8")
    if args.check and stale:
        print(f"the hosted-notebook cell is missing or out of date in: {', '.join(stale)}")
        print("fix: python tools/hosted_cell.py")
        return 1
    print(f"{'out of date' if args.check else 'updated'}: {len(stale)} of {len(args.notebooks)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
