"""cruft: a project generated with soft delete off takes it later, its database included,
after revisions of its own (the template's revision runs after them: no merge by hand).

Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth), git, and network access
to the package index.
"""

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import pytest

from tests.test_generated_project import SERVER_URL, admin_sql, output

pytestmark = pytest.mark.integration

TEMPLATE_DIR = Path(__file__).resolve().parent.parent
# What is not part of the template: tool caches and the checkout's own venv.
NOT_TEMPLATE = shutil.ignore_patterns(
    ".git", ".venv", "__pycache__", "*_cache", "*.egg-info", "build"
)
# The environment of the project's commands: outside this checkout's venv.
ENV = {key: value for key, value in os.environ.items() if key != "VIRTUAL_ENV"} | {
    "PIP_DISABLE_PIP_VERSION_CHECK": "1"
}
GIT_IDENTITY = ["-c", "user.name=Template Tests", "-c", "user.email=tests@example.com"]

USERS = [("Ada", "ada@example.com"), ("grace", "grace@example.com")]

WRITE_USERS = f"""
import asyncio, sys
import asyncpg

async def main() -> None:
    connection = await asyncpg.connect(sys.argv[1])
    try:
        await connection.executemany(
            "INSERT INTO users (username, email, hashed_password) VALUES ($1, $2, 'x')",
            {USERS!r},
        )
    finally:
        await connection.close()

asyncio.run(main())
"""

# Through the project's own models: every user is live, and a soft delete hides one.
SOFT_DELETE_ONE = """
import asyncio
from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker
from updatable.db.base import AppSession
from updatable.db.engine import create_engine
from updatable.models import User
from updatable.settings import get_settings

async def names(session, **options):
    query = select(User.username).order_by(User.id).execution_options(**options)
    return list(await session.scalars(query))

async def main() -> None:
    settings = get_settings()
    engine = create_engine(settings.primary_url, settings, role="primary")
    # The app's session class: its listeners (the soft-delete filter) apply.
    sessions = async_sessionmaker(engine, sync_session_class=AppSession, expire_on_commit=False)
    async with sessions() as session:
        users = list(await session.scalars(select(User).order_by(User.id)))
        print(*[(user.username, user.is_deleted) for user in users], sep=";")
        users[0].soft_delete()
        await session.commit()
    async with sessions() as session:
        print(*await names(session), sep=";")
        print(*await names(session, include_deleted=True), sep=";")
    await engine.dispose()

asyncio.run(main())
"""


def run(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=900
    )
    assert result.returncode == 0, output(result)
    return result.stdout


def cruft(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cruft", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def commit_all(repo: Path, message: str) -> None:
    run(["git", "add", "-A"], repo)
    run(["git", *GIT_IDENTITY, "commit", "-q", "-m", message], repo)


@pytest.fixture
def template_repo(tmp_path: Path) -> Path:
    """A git repository of the template as it is in this checkout (cruft clones one)."""
    repo = tmp_path / "template"
    shutil.copytree(TEMPLATE_DIR, repo, ignore=NOT_TEMPLATE)
    run(["git", "init", "-q"], repo)
    commit_all(repo, "template")
    return repo


@pytest.fixture
def project(tmp_path: Path, template_repo: Path) -> tuple[Path, Path]:
    """A project made by `cruft create` with soft delete off, installed in a venv of its own:
    its directory and its Python."""
    answers = {"project_name": "Updatable", "use_soft_delete": False}
    created = cruft(
        "create",
        str(template_repo),
        "--no-input",
        "--output-dir",
        str(tmp_path),
        "--extra-context",
        json.dumps(answers),
        cwd=tmp_path,
    )
    assert created.returncode == 0, output(created)
    path = tmp_path / "updatable"
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", str(venv)], tmp_path)
    python = venv / "bin" / "python"
    run([str(python), "-m", "pip", "install", "-q", "-e", ".[dev]"], path, ENV)
    return path, python


@pytest.fixture
def database_url(project: tuple[Path, Path]) -> Iterator[str]:
    _, python = project
    database = f"template_update_{uuid4().hex[:12]}"
    admin_sql(python, f'CREATE DATABASE "{database}"')
    try:
        yield f"{SERVER_URL}/{database}"
    finally:
        admin_sql(python, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def test_turning_soft_delete_on_later_keeps_the_users(
    template_repo: Path, project: tuple[Path, Path], database_url: str
) -> None:
    path, python = project
    assert not (path / "updatable" / "db" / "soft_delete.py").exists()
    env = ENV | {"DATABASE_URL": database_url}
    run([str(python), "-m", "alembic", "upgrade", "head"], path, env)
    run([str(python), "-c", WRITE_USERS, database_url], path, env)
    # A revision of the project's own, as "Adding a resource" makes one.
    run([str(python), "-m", "alembic", "revision", "-m", "add notes"], path, env)
    run([str(python), "-m", "alembic", "upgrade", "head"], path, env)
    run(["git", "init", "-q"], path)
    commit_all(path, "generated")

    updated = cruft("update", "-y", "--variables-to-update", '{"use_soft_delete": true}', cwd=path)
    assert updated.returncode == 0, output(updated)
    assert (path / "updatable" / "db" / "soft_delete.py").is_file()
    answers = json.loads((path / ".cruft.json").read_text())["context"]["cookiecutter"]
    assert answers["use_soft_delete"] is True

    run([str(python), "-m", "alembic", "upgrade", "head"], path, env)
    run([str(python), "-m", "alembic", "check"], path, env)
    heads = run([str(python), "-m", "alembic", "heads"], path, env).split()
    assert heads == ["0003", "(head)"]
    lines = run([str(python), "-c", SOFT_DELETE_ONE], path, env).splitlines()
    assert lines == ["('Ada', False);('grace', False)", "grace", "Ada;grace"]

    # The project's own migration tests, with its revision and soft delete's.
    migration_tests = ["tests/test_migrations.py", "tests/test_soft_delete_migration.py"]
    run([str(python), "-m", "pytest", "-q", "-p", "no:randomly", *migration_tests], path, env)

    commit_all(path, "soft delete on")
    assert cruft("check", cwd=path).returncode == 0
    (template_repo / "NEWS.md").write_text("A newer template.\n")
    commit_all(template_repo, "newer template")
    outdated = cruft("check", cwd=path)
    assert outdated.returncode == 1, output(outdated)
