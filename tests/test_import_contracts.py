"""The import-linter contracts in pyproject.toml hold, and each one fails when its rule is broken.

Each failing case copies the packages into a temporary tree, adds one forbidden import (inside a
function, where a static check is easiest to fool) and runs `lint-imports` there.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("planner", "kernels", "providers", "tui")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

pytestmark = pytest.mark.skipif(not LINT_IMPORTS.exists(), reason="import-linter is not installed (the test extra)")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LINT_IMPORTS), "--no-cache", "--config", str(root / "pyproject.toml")],
                          cwd=root, env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=120)


def copy_tree(tmp_path: Path) -> Path:
    for package in PACKAGES:
        shutil.copytree(REPO / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_tree_keeps_every_contract() -> None:
    result = lint_imports(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(("module", "forbidden", "contract"), [
    ("planner/plan/choose.py", "tui.export", "planner, kernels and providers never import the UI"),
    ("providers/quotes.py", "textual", "planner, kernels and providers never import the UI"),
    ("planner/plan/step_time.py", "torch", "never import torch or triton"),
    ("planner/contracts/probe_config.py", "planner.probe.sweep", "never import torch or triton"),
    ("planner/view.py", "triton", "never import torch or triton"),
    ("kernels/adamw.py", "planner.contracts", "kernels and providers never import planner"),
    ("providers/catalog.py", "planner.errors", "kernels and providers never import planner"),
])
def test_each_contract_fails_on_a_forbidden_import(tmp_path: Path, module: str, forbidden: str, contract: str) -> None:
    root = copy_tree(tmp_path)
    with (root / module).open("a") as source:
        source.write(f"\n\ndef _smuggled() -> None:\n    import {forbidden}  # noqa: F401\n")
    result = lint_imports(root)
    assert result.returncode != 0
    broken = [line for line in result.stdout.splitlines() if line.endswith("BROKEN")]
    assert len(broken) == 1 and contract in broken[0], result.stdout
