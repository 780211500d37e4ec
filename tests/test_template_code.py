"""The template's own code (hooks and tests) passes the checks it applies to projects."""

import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.parametrize(
    "command",
    [
        pytest.param(("ruff", "check", "--no-cache", "."), id="ruff-check"),
        pytest.param(("ruff", "format", "--no-cache", "--check", "."), id="ruff-format"),
        pytest.param(("mypy", "--no-incremental"), id="mypy"),
    ],
)
def test_tool_passes(template_dir: Path, command: tuple[str, ...]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", *command],
        cwd=template_dir,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
