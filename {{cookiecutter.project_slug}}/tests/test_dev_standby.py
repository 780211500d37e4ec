"""scripts/dev-standby: a private primary and a standby replaying each commit late, to try
the replica routing on one machine."""

import asyncio
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from tests.conftest import PROJECT_ROOT, free_port

SCRIPT = PROJECT_ROOT / "scripts" / "dev-standby"
HAS_SERVER_PROGRAMS = bool(list(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))) or bool(
    shutil.which("pg_ctl")
)

pytestmark = pytest.mark.skipif(
    not HAS_SERVER_PROGRAMS, reason="needs the PostgreSQL server programs (pg_ctl, initdb)"
)


@pytest.fixture
def environment() -> Iterator[dict[str, str]]:
    """The script's settings: a directory of its own (one the postgres user can enter
    when the tests run as root) and free ports."""
    directory = Path(tempfile.mkdtemp(prefix="dev-standby-"))
    if os.getuid() == 0:
        shutil.chown(directory, "postgres")
    env = os.environ | {
        "DEV_STANDBY_DIR": str(directory / "data"),
        "DEV_STANDBY_PRIMARY_PORT": str(free_port()),
        "DEV_STANDBY_PORT": str(free_port()),
        "DEV_STANDBY_DELAY": "1s",
    }
    try:
        yield env
    finally:
        subprocess.run([SCRIPT, "destroy"], env=env, check=False, capture_output=True)
        shutil.rmtree(directory, ignore_errors=True)


def run(env: dict[str, str], command: str) -> str:
    result = subprocess.run(
        [SCRIPT, command], env=env, capture_output=True, text=True, check=False, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def settings(output: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in output.splitlines():
        name, _, value = line.partition("=")
        if not line.startswith("#"):
            values[name] = value
    return values


async def has_note(url: str) -> bool:
    connection = await asyncpg.connect(url)
    try:
        return bool(await connection.fetchval("SELECT count(*) FROM notes"))
    finally:
        await connection.close()


async def test_a_standby_that_replays_late_and_keeps_its_data(environment: dict[str, str]) -> None:
    urls = settings(run(environment, "start"))
    primary, standby = urls["DATABASE_URL"], urls["REPLICA_DATABASE_URL"]

    writer = await asyncpg.connect(primary)
    try:
        await writer.execute("CREATE TABLE notes (body text); INSERT INTO notes VALUES ('hi')")
    finally:
        await writer.close()
    reader = await asyncpg.connect(standby)
    try:
        assert await reader.fetchval("SELECT pg_is_in_recovery()") is True
        assert await reader.fetchval("SHOW recovery_min_apply_delay") == "1s"
    finally:
        await reader.close()
    for _ in range(100):  # the table arrives about a second late
        try:
            if await has_note(standby):
                break
        except asyncpg.UndefinedTableError:
            pass
        await asyncio.sleep(0.1)
    assert await has_note(standby)

    run(environment, "stop")
    with pytest.raises(ConnectionRefusedError):
        await asyncpg.connect(primary, timeout=5)
    assert settings(run(environment, "start")) == urls
    assert await has_note(primary)
    run(environment, "destroy")
    assert not await asyncio.to_thread(Path(environment["DEV_STANDBY_DIR"]).exists)
