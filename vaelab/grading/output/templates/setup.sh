#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image (Ubuntu).
# It installs Python 3 if the image lacks it, then, in a virtual environment, the CPU
# build of torch and vaelab's other dependencies, pinned as in constraints.txt.
# vaelab itself needs no install: it is in this zip, and run_autograder puts this folder
# (/autograder/source) on PYTHONPATH.
set -euo pipefail

ROOT="${VAELAB_AUTOGRADER_ROOT:-/autograder}"
SOURCE="$ROOT/source"
VENV="$ROOT/vaelab-venv"
TORCH_INDEX="@TORCH_INDEX@"

python_ok() {
    command -v python3 >/dev/null 2>&1 &&
        python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)'
}

if ! python_ok; then
    echo "setup.sh: installing Python 3 with apt"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y --no-install-recommends python3 python3-venv python3-pip
fi
if ! python_ok; then
    echo "setup.sh: vaelab needs Python 3.10 or newer; this image has" \
        "$(python3 --version 2>&1). Choose a newer Ubuntu base image on the" \
        "assignment's Configure Autograder page." >&2
    exit 1
fi

# learner code is graded in a bubblewrap sandbox where the image allows user namespaces,
# else as this unprivileged user (never as root)
export DEBIAN_FRONTEND=noninteractive
if ! command -v bwrap >/dev/null 2>&1; then
    (apt-get update && apt-get install -y --no-install-recommends bubblewrap) ||
        echo "setup.sh: bubblewrap could not be installed; learner code will run as vaelab-student"
fi
if ! id vaelab-student >/dev/null 2>&1; then
    useradd --system --no-create-home --shell /usr/sbin/nologin vaelab-student
fi

rm -rf "$VENV"
if ! python3 -m venv "$VENV"; then
    echo "setup.sh: python3 -m venv failed; installing python3-venv with apt"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y --no-install-recommends python3-venv
    rm -rf "$VENV"
    python3 -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip)
"${PIP[@]}" install --upgrade pip
# torch and torchvision: the CPU build from PyTorch's CPU wheel index (no CUDA libraries)
"${PIP[@]}" install --index-url "$TORCH_INDEX" -c "$SOURCE/constraints.txt" torch torchvision
# vaelab's other dependencies from PyPI, under the same pins
"${PIP[@]}" install -c "$SOURCE/constraints.txt" -r "$SOURCE/requirements.txt"

# the grader imports, and torch is the CPU build
PYTHONPATH="$SOURCE" "$VENV/bin/python" -c '
import torch, vaelab
from vaelab.grading import EXERCISES
print("vaelab", vaelab.__version__, "with torch", torch.__version__)
print("CUDA build:", torch.version.cuda, "(None: the CPU build, as it should be)")
print("exercises:", ", ".join(EXERCISES))
'
echo "setup.sh: done"
