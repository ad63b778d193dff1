"""The set-up scripts a newcomer runs: present, executable, and valid bash."""

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ["scripts/run", "scripts/test", ".ci/run"]


@pytest.mark.parametrize("name", SCRIPTS)
def test_script_is_executable(name):
    assert os.access(ROOT / name, os.X_OK), f"chmod +x {name}"


@pytest.mark.parametrize("name", [*SCRIPTS, "scripts/lib.sh"])
def test_script_is_valid_bash(name):
    result = subprocess.run(["bash", "-n", str(ROOT / name)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_readme_names_both_commands():
    readme = (ROOT / "README.md").read_text()
    assert "./scripts/run" in readme
    assert "./scripts/test" in readme


def test_env_and_venv_are_ignored():
    ignored = (ROOT / ".gitignore").read_text().splitlines()
    assert ".env" in ignored
    assert ".venv/" in ignored
    assert "/var/" in ignored
