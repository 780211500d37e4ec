"""Install a baked project into a fresh venv, migrate it and run its own tests, which must
leave nothing behind: no key in the Redis and no database on the server they were given.

Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth), `redis-server` (each
project's tests get a Redis of their own), and network access to the package index. ruff and
mypy --strict run on every combination in test_bake.py, so they are not repeated here.
The STREAMING_* variables of .ci/streaming-replica reach the projects' tests through
the environment; their tests/test_pgbouncer.py needs the `pgbouncer` program (.ci/run
installs it).
"""

import os
import socket
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest

from tests.combinations import DEFAULTS, PYTHON_SWITCHES, covers_every_pair

pytestmark = pytest.mark.integration

SERVER_URL = "postgresql://postgres@127.0.0.1:5432"
STREAMING_REPLICA_AVAILABLE = all(
    os.environ.get(name)
    for name in ("STREAMING_PRIMARY_URL", "STREAMING_REPLICA_URL", "STREAMING_LAGGING_REPLICA_URL")
)

# Creating and dropping the scratch database uses the project's own asyncpg.
ADMIN_SCRIPT = """
import asyncio, sys
import asyncpg

async def main() -> None:
    connection = await asyncpg.connect(sys.argv[1])
    try:
        await connection.execute(sys.argv[2])
    finally:
        await connection.close()

asyncio.run(main())
"""


@dataclass(frozen=True)
class Project:
    path: Path
    python: Path
    env: dict[str, str]
    # The port of the Redis the project's tests are given (REDIS_URL).
    redis_port: int = 0

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run `python -m <args>` with the project's venv, in the project directory."""
        return subprocess.run(
            [str(self.python), "-m", *args],
            cwd=self.path,
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
            timeout=1800,
        )


def output(result: subprocess.CompletedProcess[str]) -> str:
    return f"$ {' '.join(result.args)}\n{result.stdout}\n{result.stderr}"


# The names of the databases on the server, one a line.
DATABASES_SCRIPT = """
import asyncio, sys
import asyncpg

async def main() -> None:
    connection = await asyncpg.connect(sys.argv[1])
    try:
        for row in await connection.fetch("SELECT datname FROM pg_database"):
            print(row[0])
    finally:
        await connection.close()

asyncio.run(main())
"""


def server_databases(python: Path) -> set[str]:
    result = subprocess.run(
        [str(python), "-c", DATABASES_SCRIPT, f"{SERVER_URL}/postgres"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, output(result)
    return set(result.stdout.split())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@contextmanager
def private_redis() -> Iterator[int]:
    """A Redis of its own on a free port (no persistence), stopped afterwards."""
    port = free_port()
    server = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            if redis_cli(port, "ping") == "PONG":
                break
            time.sleep(0.05)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=30)


def redis_cli(port: int, *command: str) -> str:
    result = subprocess.run(
        ["redis-cli", "-p", str(port), *command], capture_output=True, text=True, check=False
    )
    return result.stdout.strip()


def admin_sql(python: Path, statement: str) -> None:
    result = subprocess.run(
        [str(python), "-c", ADMIN_SCRIPT, f"{SERVER_URL}/postgres", statement],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, output(result)


# The switches that change the Python code (docker and CI only add files); all are off
# by default.
FEATURE_SWITCHES = list(PYTHON_SWITCHES)

# The integration tier: all features off, each one on its own, and all of them on. For
# boolean switches that covers every pair of values of every two features.
INTEGRATION_CONTEXTS: list[dict[str, bool]] = [
    {},
    *[{switch: True} for switch in FEATURE_SWITCHES],
    dict.fromkeys(FEATURE_SWITCHES, True),
]


def context_id(context: dict[str, bool]) -> str:
    if not context:
        return "defaults"
    if len(context) == len(FEATURE_SWITCHES):
        return "all-features"
    return "+".join(context)


def test_integration_contexts_cover_every_pair_of_python_switches() -> None:
    assert not any(DEFAULTS[switch] for switch in PYTHON_SWITCHES)
    assert len(PYTHON_SWITCHES) == 9
    rows = [{**DEFAULTS, **context} for context in INTEGRATION_CONTEXTS]
    assert covers_every_pair(rows, PYTHON_SWITCHES) == []
    # and the check itself sees a missing pair
    assert covers_every_pair(rows[:-1], PYTHON_SWITCHES) != []


def create_venv(
    tmp_path_factory: pytest.TempPathFactory, cookies_session: Any
) -> tuple[Path, dict[str, str]]:
    """The `venv` fixture (tests/conftest.py): one virtualenv per worker, shared by every
    integration test that installs a project; each baked project installs itself into it
    in turn.

    It starts with every feature's dependencies and the build backend, so each install
    only builds the project (no isolated build environment, nothing left to download).
    """
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    env = {key: value for key, value in os.environ.items() if key != "VIRTUAL_ENV"}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    all_features = cookies_session.bake(extra_context=dict.fromkeys(FEATURE_SWITCHES, True))
    assert all_features.exit_code == 0, all_features.exception
    pyproject = tomllib.loads((all_features.project_path / "pyproject.toml").read_text("utf-8"))
    requirements = [
        *pyproject["build-system"]["requires"],
        *pyproject["project"]["dependencies"],
        *pyproject["project"]["optional-dependencies"]["dev"],
    ]
    python = venv / "bin" / "python"
    install = Project(venv, python, env).run("pip", "install", *requirements)
    assert install.returncode == 0, output(install)
    return python, env


@pytest.fixture(
    scope="module",
    # One test per context (test_steps) runs all its steps, in order, on one install.
    params=[pytest.param(context, id=context_id(context)) for context in INTEGRATION_CONTEXTS],
)
def project(
    request: pytest.FixtureRequest, cookies_session: Any, venv: tuple[Path, dict[str, str]]
) -> Iterator[Project]:
    """A baked project installed with `pip install -e '.[dev]'`, with a scratch database."""
    # A name of its own: the databases its tests make are told apart from other runs'.
    context = {**request.param, "project_name": f"Run {uuid4().hex[:8]}"}
    with installed_project(cookies_session, venv, context) as project:
        yield project


@contextmanager
def installed_project(
    cookies_session: Any, venv: tuple[Path, dict[str, str]], context: dict[str, bool]
) -> Iterator[Project]:
    """A project baked with `context`, installed with `pip install -e '.[dev]'` into the
    worker's venv, with a scratch database in DATABASE_URL."""
    result = cookies_session.bake(extra_context=context)
    assert result.exit_code == 0, result.exception
    path: Path = result.project_path
    python, base_env = venv
    env = dict(base_env)
    install = Project(path, python, env).run(
        "pip", "install", "--no-build-isolation", "-e", ".[dev]"
    )
    assert install.returncode == 0, output(install)

    database = f"template_it_{uuid4().hex[:12]}"
    admin_sql(python, f'CREATE DATABASE "{database}"')
    env["DATABASE_URL"] = f"{SERVER_URL}/{database}"
    try:
        with private_redis() as redis_port:
            env["REDIS_URL"] = f"redis://127.0.0.1:{redis_port}/0"
            yield Project(path, python, env, redis_port)
    finally:
        admin_sql(python, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


# In this order on one database: the migrations go up, down and up again, then match the
# models; then the project's own tests. One test runs them all, so no scheduler can split
# or interleave them (the workers' venvs hold one project at a time).
STEPS = [
    ("alembic", "upgrade", "head"),
    ("alembic", "downgrade", "base"),
    ("alembic", "upgrade", "head"),
    ("alembic", "check"),
    ("pytest", "-q", "-rs"),
]
# Skips that a run with the streaming servers (CI: .ci/run installs pgbouncer) must not have.
MUST_NOT_SKIP = ("STREAMING_", "redis-server", "pgbouncer")


def test_steps(project: Project) -> None:
    for step in STEPS:
        result = project.run(*step)
        assert result.returncode == 0, output(result)
    # Nothing left behind: a dev server on the same Redis and server sees no test's data.
    assert redis_cli(project.redis_port, "dbsize") == "0", redis_cli(project.redis_port, "--scan")
    package = project.path.name.replace("-", "_")
    assert not [name for name in server_databases(project.python) if package in name]
    if STREAMING_REPLICA_AVAILABLE:
        # With the streaming servers at hand (.ci/run starts them), their tests must run.
        skipped = [line for line in result.stdout.splitlines() if line.startswith("SKIPPED")]
        assert not [line for line in skipped if any(m in line for m in MUST_NOT_SKIP)], output(
            result
        )
