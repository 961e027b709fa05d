"""scripts/bootstrap.sh on a machine as a coordinator has it: a half-made .venv is
rebuilt, a missing venv module and a too-old Python are named with what to install.

Each case runs the real script in a copy of the project with an empty dependency list
(the install step then costs only pip's own check)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import PROJECT_ROOT

PYPROJECT = """[project]
name = "bootstrap-test"
version = "0"
dependencies = []
[project.optional-dependencies]
dev = []
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "scripts").mkdir()
    shutil.copy(PROJECT_ROOT / "scripts" / "bootstrap.sh", tmp_path / "scripts")
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    return tmp_path


def run(project: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "scripts/bootstrap.sh"],
        cwd=project,
        # pip's own upgrade looks only at local wheels: no test waits on the network.
        env={**os.environ, "PIP_NO_INDEX": "1", **env},
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def fake_python(project: Path, body: str) -> str:
    path = project / "fake-python"
    path.write_text(f"#!/usr/bin/env bash\n{body}\n")
    path.chmod(0o755)
    return str(path)


def test_half_made_venv_is_rebuilt(project: Path) -> None:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", project / ".venv"], check=True)
    done = run(project, BOOTSTRAP_PYTHON=sys.executable)
    assert done.returncode == 0, done.stderr
    assert "half-made (no pip in it" in done.stderr
    pip = subprocess.run([project / ".venv/bin/python", "-m", "pip", "--version"], check=False)
    assert pip.returncode == 0
    assert list(project.glob(".venv/.installed-*"))
    again = run(project, BOOTSTRAP_PYTHON=sys.executable)  # a sound one is kept
    assert again.returncode == 0 and "rebuilding" not in again.stderr


def test_missing_venv_module_says_what_to_install(project: Path) -> None:
    python = fake_python(
        project,
        f'if [ "$1 $2" = "-m venv" ]; then\n'
        f'  echo "The virtual environment was not created successfully because ensurepip '
        f'is not available." >&2; mkdir -p "$3/bin"; exit 1\nfi\nexec {sys.executable} "$@"',
    )
    done = run(project, BOOTSTRAP_PYTHON=python)
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert done.returncode != 0
    assert f"sudo apt install python{version}-venv" in done.stderr
    assert "ensurepip is not available" in done.stderr
    assert not (project / ".venv").exists()  # no half-made .venv left behind


def test_python_too_old_names_the_way_on_ubuntu_22_04(project: Path) -> None:
    python = fake_python(
        project,
        'case "$2" in *sys.exit*) exit 1;; *print*) echo "Python 3.10";; esac',
    )
    done = run(project, BOOTSTRAP_PYTHON=python)
    assert done.returncode != 0
    assert "found Python 3.10" in done.stderr
    assert "Ubuntu 22.04" in done.stderr and "python3.11-venv" in done.stderr
