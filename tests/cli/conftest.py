"""Run `batchfit` as a user does: a subprocess, its exit code, its stdout and stderr."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
REPORT = DATA / "gpt-tiny-cpu.json"


def batchfit(*args: str, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"PYTHONPATH": str(DATA)}  # lets tests name factories defined in data/
    return subprocess.run([sys.executable, "-m", "planner.cli.main", *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=timeout)


def assert_one_line_error(result: subprocess.CompletedProcess[str], code: int, *needles: str) -> None:
    assert result.returncode == code, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("batchfit") and "error" in line]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.fixture
def report_path() -> Path:
    return REPORT
