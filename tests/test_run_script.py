"""``make run`` (scripts/run.sh) is started once: a second one while one runs says so, exits,
and leaves the running one's files alone (it used to delete its kubeconfig). The script runs
for real here, in a copy of the repository's layout whose ``.venv/bin/python`` only records
that it was called."""

from __future__ import annotations

import fcntl
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def checkout(tmp_path):
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "run.sh", tmp_path / "scripts" / "run.sh")
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    python = tmp_path / ".venv" / "bin" / "python"
    python.write_text('#!/bin/sh\necho "$@" >> "$(dirname "$0")/../../called"\nexit 3\n')
    python.chmod(0o755)
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "kubesim.kubeconfig").write_text("the running demo's kubeconfig\n")
    return tmp_path


def run(checkout: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(checkout / "scripts" / "run.sh")],
        capture_output=True,
        text=True,
        timeout=30,
        env={"PATH": "/usr/bin:/bin", "HOME": str(checkout)},
    )


def test_a_second_run_says_so_and_leaves_the_first_alone(checkout):
    (checkout / "var" / "run.pid").write_text("4242\n")
    with open(checkout / "var" / "run.lock", "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a make run is running
        second = run(checkout)
    assert second.returncode == 1
    assert "already running (pid 4242)" in second.stderr
    kubeconfig = checkout / "var" / "kubesim.kubeconfig"
    assert kubeconfig.read_text() == "the running demo's kubeconfig\n"
    assert (checkout / "var" / "run.pid").read_text() == "4242\n"
    assert not (checkout / "called").exists()  # nothing was migrated or started


def test_without_a_running_one_it_goes_on_and_releases_the_lock(checkout):
    first = run(checkout)
    # the fake python fails the first step (migrate): the script went past the lock
    assert first.returncode == 3, first.stderr
    assert (checkout / "called").read_text().startswith("manage.py migrate")
    pid = int((checkout / "var" / "run.pid").read_text())
    assert pid > 1
    with open(checkout / "var" / "run.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # released when it ended
