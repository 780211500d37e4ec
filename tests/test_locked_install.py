"""A fresh bake with uv at hand: the hook writes uv.lock, `uv sync --locked` installs it, and
the project's pre-commit hooks pass in that environment.

The only bake of the run that locks (tests/conftest.py sets SKIP_UV_LOCK for the others).
Needs network access to the package index (`uv lock` resolves against it) and git.
"""

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from hooks.post_gen_project import SKIP_LOCK_VARIABLE
from tests.test_generated_project import output

pytestmark = pytest.mark.integration

UV = Path(sys.executable).with_name("uv")


def run(command: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=900
    )
    assert result.returncode == 0, output(result)
    return result


def test_fresh_bake_installs_from_its_lock_and_passes_its_hooks(
    cookies: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(SKIP_LOCK_VARIABLE)
    monkeypatch.setenv("PATH", f"{UV.parent}{os.pathsep}{os.environ['PATH']}")
    result = cookies.bake()
    assert result.exit_code == 0, result.exception
    project: Path = result.project_path
    assert (project / "uv.lock").is_file()

    # Outside this checkout's venv, as a user's shell would be.
    env = {key: value for key, value in os.environ.items() if key != "VIRTUAL_ENV"}
    run([str(UV), "sync", "--locked", "--extra", "dev"], project, env)

    # The hooks run the tools of the project's environment: `. .venv/bin/activate`.
    env["PATH"] = f"{project / '.venv' / 'bin'}{os.pathsep}{env['PATH']}"
    env["PRE_COMMIT_HOME"] = str(tmp_path / "pre-commit")
    run(["git", "init", "-q"], project, env)
    run(["git", "add", "-A"], project, env)
    hooks = run(["pre-commit", "run", "--all-files"], project, env)
    passed = [line for line in hooks.stdout.splitlines() if line.endswith("Passed")]
    assert [line.split(".")[0] for line in passed] == ["ruff check", "ruff format", "mypy --strict"]
