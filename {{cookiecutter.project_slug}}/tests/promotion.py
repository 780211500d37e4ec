"""A standby cloned from a running primary and promoted at once: another history of the
primary's data, as after a failover to a standby that had missed the latest writes.

Needs the PostgreSQL server programs (pg_basebackup, pg_ctl) and a primary that lets
`postgres` connect for replication without a password from 127.0.0.1 (the template's
`.ci/streaming-replica` starts one; its URL is STREAMING_PRIMARY_URL). As root, the
server runs as the `postgres` user, which PostgreSQL requires.
"""

import asyncio
import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import URL, text
from sqlalchemy.ext.asyncio import create_async_engine

from {{ cookiecutter.package_name }}.settings import to_async_url
from tests.conftest import DatabaseServer, free_port


@asynccontextmanager
async def streaming_database(prefix: str) -> AsyncIterator[URL]:
    """A new database at the newest migration on the primary at STREAMING_PRIMARY_URL,
    dropped when the block ends."""
    primary = os.environ.get("STREAMING_PRIMARY_URL")
    assert primary is not None
    server = DatabaseServer(to_async_url(primary))
    try:
        async with server.migrated_database(prefix) as url:
            yield url
    finally:
        await server.close()


def server_programs() -> Path | None:
    """The directory of pg_ctl and pg_basebackup, newest version first."""
    for directory in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (directory / "pg_ctl").exists():
            return directory
    found = shutil.which("pg_ctl")
    return Path(found).parent if found else None


async def run_as_postgres(*command: str, attempts: int = 1) -> None:
    """Run a server program, as `postgres` when this process is root; up to `attempts`
    times while it fails."""
    argv = list(command)
    if os.geteuid() == 0:
        argv = ["su", "postgres", "-c", " ".join(f"'{part}'" for part in argv)]
    outputs = []
    for _ in range(attempts):
        process = await asyncio.create_subprocess_exec(
            *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        output, _ = await process.communicate()
        if process.returncode == 0:
            return
        outputs.append(output.decode(errors="replace"))
        await asyncio.sleep(0.5)
    pytest.fail(f"{command[0]} failed: {' / '.join(outputs)}")


@dataclass
class Standby:
    """A running standby of a primary, on a port of its own."""

    url: URL
    data: Path

    async def promote(self) -> None:
        engine = create_async_engine(self.url.set(database="postgres"))
        try:
            async with engine.connect() as connection:
                await connection.execute(text("SELECT pg_promote(wait => true)"))
        finally:
            await engine.dispose()

    async def stop(self) -> None:
        """Stop the server at once, as a crash or a lost machine would."""
        programs = server_programs()
        assert programs is not None
        if (self.data / "postmaster.pid").exists():
            await run_as_postgres(
                str(programs / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"
            )


@asynccontextmanager
async def standby_of(primary: URL) -> AsyncIterator[Standby]:
    """A streaming standby of `primary`'s server (which must allow replication from
    127.0.0.1 without a password); yields it with the URL of `primary`'s database there.
    Stopped and deleted afterwards."""
    programs = server_programs()
    if programs is None:
        pytest.skip("no PostgreSQL server programs (pg_basebackup, pg_ctl) installed")
    directory = Path(tempfile.mkdtemp(prefix="standby-"))
    data = directory / "data"
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres")
    port = free_port()
    standby = Standby(primary.set(port=port, host="127.0.0.1"), data)
    try:
        # Twice more if cut: on the primary every test run shares, a base backup's stream
        # was once ended "due to administrator command" (a CI run; the cause not found).
        # pg_basebackup removes what it wrote when it fails.
        await run_as_postgres(
            str(programs / "pg_basebackup"),
            *("-h", str(primary.host), "-p", str(primary.port), "-U", "postgres"),
            *("-D", str(data), "-R", "-X", "stream", "-c", "fast"),
            attempts=3,
        )
        options = f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={directory}"
        # A log file of its own: the server must not hold this process's output open.
        log = str(directory / "server.log")
        await run_as_postgres(
            str(programs / "pg_ctl"), "-D", str(data), "-o", options, "-l", log, "-w", "start"
        )
        yield standby
    finally:
        await standby.stop()
        shutil.rmtree(directory, ignore_errors=True)


@asynccontextmanager
async def promoted_standby(primary: URL) -> AsyncIterator[URL]:
    """A copy of `primary`'s server, promoted to a primary of its own on a new timeline;
    yields the URL of `primary`'s database there. Stopped and deleted afterwards."""
    async with standby_of(primary) as standby:
        await standby.promote()
        yield standby.url
