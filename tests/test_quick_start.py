"""The template README's quick start, as written, on a machine without pipx.

Needs network access to the package index (it installs cookiecutter).
"""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.test_bake import answer_prompts, write_config

pytestmark = pytest.mark.integration

TEMPLATE_DIR = Path(__file__).resolve().parent.parent
README = (TEMPLATE_DIR / "README.md").read_text(encoding="utf-8")
TEMPLATE_SOURCE = "gh:<org>/<repo>"


def code_block_after(marker: str) -> list[str]:
    """The lines of the first ```bash block after `marker` in the template README."""
    rest = README[README.index(marker) :]
    match = re.search(r"```bash\n(.*?)```", rest, re.DOTALL)
    assert match, marker
    return match.group(1).splitlines()


def test_pipx_is_optional() -> None:
    quick_start = README[README.index("## Quick start") : README.index("## Testing the template")]
    assert "Without pipx" in quick_start
    assert not [line for line in code_block_after("Without pipx") if "pipx" in line]


def test_quick_start_without_pipx(tmp_path: Path) -> None:
    # A PATH with python3 and the basic tools but no pipx; `~` stands for a scratch home.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "sh", "env", "git"):
        found = shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(Path(found).resolve())
    # The interpreter itself, not a version manager's shim (which needs its own PATH).
    python3 = subprocess.run(
        ["python3", "-c", "import sys; print(sys.executable)"],
        capture_output=True,
        text=True,
        check=True,
    )
    (bin_dir / "python3").symlink_to(python3.stdout.strip())
    home = tmp_path / "home"
    home.mkdir()
    env = {
        **{k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "PYTHONPATH"}},
        "PATH": str(bin_dir),
        # cookiecutter's replay and clones stay in tmp_path.
        "COOKIECUTTER_CONFIG": str(write_config(tmp_path)),
    }
    assert shutil.which("pipx", path=env["PATH"]) is None
    commands = [
        line.replace("~", str(home)).replace(TEMPLATE_SOURCE, str(TEMPLATE_DIR))
        for line in code_block_after("Without pipx")
    ]
    *setup, generate = commands
    assert generate.endswith(str(TEMPLATE_DIR)), generate
    for command in setup:
        result = subprocess.run(
            ["bash", "-c", command],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        assert result.returncode == 0, f"$ {command}\n{result.stdout}{result.stderr}"

    # The last command asks the questions: every default taken, as a pseudo-terminal user.
    transcript, status = answer_prompts(generate.split(), tmp_path, {}, env)
    assert status == 0, transcript
    assert (tmp_path / "my-service" / "my_service" / "main.py").is_file(), transcript
