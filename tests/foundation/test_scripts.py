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


def shell_function(script: str, name: str) -> str:
    """Return the text of the top-level bash function ``name`` in ``script``."""
    start = script.index(f"\n{name}() {{\n") + 1
    end = script.index("\n}\n", start) + 3
    return script[start:end]


def run_stop_all(tmp_path, say: str, names: list[str], before_stop: list[str]) -> list[int]:
    """Start a ``sleep`` per name as scripts/run would, run its stop_all, return the pids stopped.

    ``say`` replaces the script's output function, and ``before_stop`` are
    bash lines run between the start and stop_all. Only the pids still in
    PIDS when stop_all runs are returned.
    """
    script = (ROOT / "scripts/run").read_text()
    program = "\n".join(
        [
            say,
            f"VAR={tmp_path}",
            shell_function(script, "stop_process"),
            shell_function(script, "stop_all"),
            "PIDS=() NAMES=()",
            f"for name in {' '.join(names)}; do",
            "    sleep 60 >/dev/null 2>&1 & PIDS+=($!) NAMES+=($name)",
            "done",
            *before_stop,
            'echo "${PIDS[@]}"',
            "stop_all",
        ]
    )
    result = subprocess.run(["bash", "-c", program], capture_output=True, text=True, timeout=60)
    return [int(pid) for pid in result.stdout.split()]


def test_run_stops_every_process_after_a_gap(tmp_path):
    # The emulator's exit unsets its entry in PIDS, which leaves a gap in
    # the indices; every other process must still be stopped.
    pids = run_stop_all(
        tmp_path,
        "say() { :; }",
        ["redis", "emulator", "worker", "beat", "web"],
        ['kill "${PIDS[1]}"; wait "${PIDS[1]}"', "unset 'PIDS[1]' 'NAMES[1]'"],
    )

    assert len(pids) == 4
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists(), f"process {pid} was left running"


def test_run_finishes_stopping_when_its_terminal_closes(tmp_path):
    # tmux sends SIGHUP when its pane closes, which can be while the script
    # is still stopping the processes after Ctrl-C.
    pids = run_stop_all(
        tmp_path,
        'say() { if [ "$1" = "Stopping web..." ]; then kill -HUP $$; fi; }',
        ["redis", "worker", "web"],
        [],
    )

    assert len(pids) == 3
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists(), f"process {pid} was left running"
