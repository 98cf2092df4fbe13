"""The course without the repository: the built wheel alone runs a lesson, check cell included.

The wheel is built from this checkout and installed, without its dependencies, into a fresh
virtual environment that borrows torch and Jupyter from the running one (a path appended
after its own site-packages: the running environment's editable vaelab is not on it, since
that path's .pth files are not run). One lesson is copied alone into an empty folder and
executed there in FAST mode by a kernel of the fresh environment: the bundled MNIST sample,
the quizzes, the zoo, the exercise stub (written to ``exercises/`` by the check cell, then
graded "not started") and the grader all come from the installed package.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LESSON = "03_reparameterization.ipynb"

pytestmark = pytest.mark.slow


def _run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(command, capture_output=True, text=True, **kwargs)
    assert done.returncode == 0, f"{' '.join(map(str, command))}\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def wheel_env(tmp_path_factory) -> dict:
    """{python, site, env}: a fresh environment with the wheel of this checkout installed."""
    base = tmp_path_factory.mktemp("wheel")
    # What the wheel is built from, copied out so that the build leaves nothing in the tree.
    source = base / "source"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, source / name)
    for name in ("vaelab", "exercises"):
        shutil.copytree(ROOT / name, source / name, ignore=ignore)
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(base / "dist"),
            str(source),
        ],
        cwd=base,
    )
    (wheel,) = (base / "dist").glob("vaelab-*.whl")
    prefix = base / "env"
    venv.EnvBuilder(with_pip=False).create(prefix)
    python = prefix / "bin" / "python"
    site = Path(
        _run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]
        ).stdout.strip()
    )
    # pip, torch, Jupyter...: the running environment's, after the fresh one's own packages.
    (site / "zz_borrowed.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    env.update(VAELAB_FAST="1", OMP_NUM_THREADS="1", PYTHONNOUSERSITE="1")
    _run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-index",
            "--force-reinstall",
            str(wheel),
        ],
        cwd=base,
        env=env,
    )
    return {"python": python, "site": site, "env": env, "base": base}


def test_the_installed_package_is_not_the_checkout(wheel_env, tmp_path):
    code = (
        "import json, sys, vaelab, vaelab.exercises as e, vaelab.data as d; "
        "print(json.dumps({'file': vaelab.__file__, 'path': sys.path, "
        "'stub': str(e.stub('ex03')), 'mnist': str(d._sample_path('t10k-images-idx3-ubyte.gz'))}))"
    )
    out = json.loads(
        _run([str(wheel_env["python"]), "-c", code], cwd=tmp_path, env=wheel_env["env"]).stdout
    )
    site = str(wheel_env["site"])
    assert out["file"].startswith(site), out["file"]
    assert out["stub"].startswith(site + "/vaelab/_stubs/"), out["stub"]
    assert out["mnist"].startswith(site), out["mnist"]
    assert not [p for p in out["path"] if p and Path(p).resolve() == ROOT], out["path"]


def test_a_lesson_alone_runs_from_the_wheel(wheel_env, tmp_path):
    folder = tmp_path / "learner"
    folder.mkdir()
    shutil.copy(ROOT / "notebooks" / LESSON, folder / LESSON)
    kernels = wheel_env["base"] / "share" / "jupyter" / "kernels" / "wheel-only"
    kernels.mkdir(parents=True, exist_ok=True)
    (kernels / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [
                    str(wheel_env["python"]),
                    "-m",
                    "ipykernel_launcher",
                    "-f",
                    "{connection_file}",
                ],
                "display_name": "vaelab from its wheel",
                "language": "python",
            }
        )
    )
    env = dict(wheel_env["env"], JUPYTER_PATH=str(wheel_env["base"] / "share" / "jupyter"))
    _run(
        [
            str(wheel_env["python"]),
            "-m",
            "nbconvert",
            "--to",
            "notebook",
            "--execute",
            "--ExecutePreprocessor.kernel_name=wheel-only",
            "--ExecutePreprocessor.timeout=600",
            "--output",
            "executed.ipynb",
            LESSON,
        ],
        cwd=folder,
        env=env,
    )
    executed = json.loads((folder / "executed.ipynb").read_text())
    texts = []
    for cell in executed["cells"]:
        for output in cell.get("outputs", []):
            texts.append("".join(output.get("text", "")))
            texts.extend(
                "".join(v) for k, v in output.get("data", {}).items() if k.startswith("text/")
            )
    printed = "\n".join(texts)
    # The kernel's vaelab is the installed one, and the check cell graded the stub it wrote.
    stub = folder / "exercises" / "ex03_reparameterize.py"
    assert stub.read_text() == (ROOT / "exercises" / "ex03_reparameterize.py").read_text()
    assert "wrote the stub of ex03" in printed
    assert "not started" in printed
    assert str(ROOT) not in printed
