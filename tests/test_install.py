"""tools/install.py, behind `make setup`: pip's settings handed on to uv, the CPU index check.

The installs themselves are timed by benchmarks/install_times.py (minutes, gigabytes): not here.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import install  # noqa: E402


def test_pips_configuration_is_read_from_its_files_and_variables(tmp_path, monkeypatch):
    config = tmp_path / "pip.conf"
    config.write_text(
        "[global]\nextra-index-url = file:///mirror/a/simple\n    file:///mirror/b/simple\n"
        "find-links = /wheels\ncert = /certs/ca.pem\ntimeout = 60\n"
    )
    for name in ("PIP_CERT", "PIP_FIND_LINKS", "PIP_EXTRA_INDEX_URL", "PIP_CONSTRAINT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PIP_CONFIG_FILE", str(config))
    monkeypatch.setenv("PIP_INDEX_URL", "https://mirror.example/simple")
    monkeypatch.setenv("PIP_CERT", "/certs/from-env.pem")  # a variable beats the files
    settings = install.pip_settings(sys.executable)
    assert settings["extra-index-url"] == ["file:///mirror/a/simple", "file:///mirror/b/simple"]
    assert settings["find-links"] == ["/wheels"]
    assert settings["cert"] == ["/certs/from-env.pem"]
    assert settings["index-url"] == ["https://mirror.example/simple"]
    assert "timeout" not in settings


def test_uv_gets_the_same_sources_and_pips_choice_of_version():
    env: dict[str, str] = {}
    options = install.uv_options(
        {
            "index-url": ["https://mirror.example/simple"],
            "extra-index-url": ["file:///a", "file:///b"],
            "find-links": ["/wheels"],
            "constraint": ["/etc/pip/c.txt"],
            "cert": ["/certs/ca.pem"],
        },
        env,
    )
    assert options == [
        "--index-url", "https://mirror.example/simple",
        "--extra-index-url", "file:///a",
        "--extra-index-url", "file:///b",
        "--find-links", "/wheels",
        "--constraint", "/etc/pip/c.txt",
        "--index-strategy", "unsafe-best-match",
    ]  # fmt: skip
    assert env == {"SSL_CERT_FILE": "/certs/ca.pem"}
    assert install.uv_options({}, {}) == []  # plain PyPI: uv's defaults


def test_an_unreachable_cpu_index_stops_before_anything_is_installed(tmp_path):
    with pytest.raises(SystemExit, match="TORCH=cpu needs PyTorch's CPU wheel index"):
        install.reach((tmp_path / "no-such-index").as_uri())


def test_it_refuses_to_install_outside_a_virtual_environment():
    base = getattr(sys, "_base_executable", None) or sys.executable
    done = subprocess.run(
        [base, "-I", str(ROOT / "tools" / "install.py"), "--installer", "pip"],
        capture_output=True,
        text=True,
    )
    if sys.prefix == sys.base_prefix:
        pytest.skip("these tests run outside a virtual environment")
    assert done.returncode == 2 and "virtual environment" in done.stderr
