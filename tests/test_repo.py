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
    assert "-c constraints.txt" in (ROOT / "Makefile").read_text()
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
