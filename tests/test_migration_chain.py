"""Every combination of the switches that own revisions bakes one linear revision chain."""

import itertools
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory

from hooks.post_gen_project import FEATURE_PATHS

# Switches whose feature brings a revision of its own; the others cannot change the chain.
SCHEMA_SWITCHES = [
    switch
    for switch, paths in FEATURE_PATHS.items()
    if any(path.startswith("migrations/versions/") for path in paths)
]
COMBINATIONS = [
    dict(zip(SCHEMA_SWITCHES, values, strict=True))
    for values in itertools.product([False, True], repeat=len(SCHEMA_SWITCHES))
]
# alembic.ini's file_template: <yyyymmdd>_<revision>_<slug>.py
REVISION_FILE = re.compile(r"^\d{8}_(?P<revision>[0-9a-z]+)_[0-9a-z_]+\.py$")


def combination_id(switches: dict[str, bool]) -> str:
    return "-".join(
        f"{name.removeprefix('use_')}_{'on' if on else 'off'}" for name, on in switches.items()
    )


def test_some_switch_owns_a_revision() -> None:
    assert SCHEMA_SWITCHES


def script_directory(project: Path, monkeypatch: pytest.MonkeyPatch) -> ScriptDirectory:
    """The project's revisions as Alembic reads them: the template's import the project's
    package (`db/placement.py` places them), as they do where the project is installed."""
    monkeypatch.syspath_prepend(str(project))
    return ScriptDirectory.from_config(Config(project / "alembic.ini"))


@pytest.mark.parametrize("switches", COMBINATIONS, ids=combination_id)
def test_one_linear_revision_chain(
    cookies: Any, switches: dict[str, bool], monkeypatch: pytest.MonkeyPatch
) -> None:
    result = cookies.bake(extra_context=switches)
    assert result.exit_code == 0, result.exception
    project: Path = result.project_path
    script = script_directory(project, monkeypatch)

    assert len(script.get_heads()) == 1
    assert len(script.get_bases()) == 1
    chain = list(script.walk_revisions())  # head first
    assert all(not revision.is_merge_point and not revision.is_branch_point for revision in chain)
    files = sorted((project / "migrations" / "versions").glob("*.py"))
    assert len(chain) == len(files)
    # Each file is named after its revision, and the names sort in the order they run.
    names = [REVISION_FILE.fullmatch(file.name) for file in files]
    assert [match["revision"] if match else None for match in names] == [
        revision.revision for revision in reversed(chain)
    ]


def test_a_new_revision_follows_the_naming_rule(
    cookies: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What `alembic revision --autogenerate -m "add tags"` names its file (the README's
    # "Adding a resource"): alembic.ini's file_template, after the revisions shipped.
    result = cookies.bake()
    assert result.exit_code == 0, result.exception
    project: Path = result.project_path
    versions = project / "migrations" / "versions"
    shipped = sorted(versions.glob("*.py"))

    revision = subprocess.run(
        [sys.executable, "-m", "alembic", "revision", "-m", "add tags"],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    )

    assert revision.returncode == 0, revision.stdout + revision.stderr
    (new,) = set(versions.glob("*.py")) - set(shipped)
    match = REVISION_FILE.fullmatch(new.name)
    assert match, new.name
    assert new.name.endswith("_add_tags.py")
    assert sorted(versions.glob("*.py"))[-1] == new
    script = script_directory(project, monkeypatch)
    assert script.get_heads() == [match["revision"]]
