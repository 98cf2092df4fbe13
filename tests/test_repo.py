"""The front page and the plumbing: README snippets run, commands exist, notebooks are stripped."""

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_readme_python_snippets_run(tmp_path):
    for snippet in re.findall(r"```python\n(.*?)```", README, flags=re.S):
        result = subprocess.run(
            [sys.executable, "-c", snippet], cwd=tmp_path, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stderr


def test_readme_commands_are_makefile_targets():
    targets = set(re.findall(r"^([a-z-]+):", (ROOT / "Makefile").read_text(), flags=re.M))
    for command in re.findall(r"`make ([a-z-]+)`|^make ([a-z-]+)", README, flags=re.M):
        name = command[0] or command[1]
        assert name in targets, f"README names `make {name}`, which the Makefile lacks"
    assert {"lab", "test", "setup", "lint"} <= targets


def test_pins_and_ci_entry_point():
    pins = (ROOT / "constraints.txt").read_text()
    assert "torch==2.14.1" in pins and "torchvision==0.29.1" in pins
    # make setup installs through tools/install.py, with uv or pip, both with the pins.
    assert "tools/install.py" in (ROOT / "Makefile").read_text()
    install = (ROOT / "tools" / "install.py").read_text()
    assert 'ROOT / "constraints.txt"' in install and install.count('"-c", constraints') == 2
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_every_notebook_is_in_the_lesson_map_and_stored_without_outputs():
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        assert f"`{path.stem}`" in README, f"{path.name} is missing from the README's lesson map"
        nb = json.loads(path.read_text())
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                assert not cell.get("outputs") and not cell.get("execution_count"), (
                    f"{path.name} has stored outputs: strip them (jupyter nbconvert "
                    "--clear-output --inplace)"
                )


def test_importing_vaelab_stays_light():
    code = (
        "import sys, vaelab; from vaelab import data, models, losses, metrics; "
        "print('torchvision' in sys.modules, 'matplotlib' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"], "import torchvision/matplotlib lazily"


def test_every_subpackage_and_the_data_ship_with_the_package():
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    for folder in (ROOT / "vaelab").rglob("*"):
        if folder.is_dir() and folder.name != "__pycache__" and any(folder.iterdir()):
            name = ".".join(folder.relative_to(ROOT).parts)
            assert name in listed, f"add {name!r} to [tool.setuptools] packages in pyproject.toml"
    assert config["package-data"]["vaelab._data"] == ["*.gz"]


def test_readme_vaelab_commands_parse():
    from vaelab import cli

    commands = re.findall(r"^\.venv/bin/vaelab ([^#\n]*)", README, flags=re.M)
    assert len(commands) >= 6
    for command in commands:
        argv = command.split()
        if argv[0] == "grade":
            continue  # grade has its own parser, exercised in tests/test_grade.py
        cli.build_parser().parse_args(argv)  # raises on an unknown option or subcommand


def _vaelab_imports() -> dict[str, set[str]]:
    """Every module of vaelab/ -> the vaelab modules it imports, at module or function level."""
    import ast

    package = ROOT / "vaelab"
    modules = {}
    for path in package.rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = (path, parts[-1] == "__init__")

    def resolve(name: str) -> str | None:
        """The module ``name`` loads: itself, or the closest package above it."""
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for name, (path, is_package) in modules.items():
        here = name if is_package else name.rpartition(".")[0]
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: from . import x, from ..losses import y
                    anchor = here.split(".")[: len(here.split(".")) - node.level + 1]
                    base = ".".join([*anchor, *([base] if base else [])])
                # `from vaelab import losses` loads vaelab.losses; `from vaelab.losses import
                # kl_divergence` loads vaelab.losses
                targets |= {f"{base}.{alias.name}" for alias in node.names} | {base}
        graph[name] = {
            found
            for target in targets
            if target.split(".")[0] == "vaelab" and (found := resolve(target)) not in (None, name)
        }
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle in ``graph`` (a list of modules, first = last), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return None


def test_cycle_finder_finds_a_circle_through_a_function_level_import():
    graph = {"vaelab.a": {"vaelab.b"}, "vaelab.b": {"vaelab.c"}, "vaelab.c": {"vaelab.a"}}
    assert _cycle(graph) == ["vaelab.a", "vaelab.b", "vaelab.c", "vaelab.a"]
    assert _cycle({"vaelab.a": {"vaelab.b"}, "vaelab.b": set()}) is None


def test_no_module_of_vaelab_imports_one_that_imports_it_back():
    graph = _vaelab_imports()
    assert "vaelab.grade" in graph and graph["vaelab.grade"], "the import graph is empty?"
    assert "vaelab.losses" in graph["vaelab.anomaly"]  # from vaelab.losses import ...
    cycle = _cycle(graph)
    assert cycle is None, "import circle: " + " -> ".join(cycle or [])
