"""A private PgBouncer in transaction mode in front of the test server.

Runs Debian's (or any) `pgbouncer` on a free port in a directory of its own, in the
foreground, logging to a file; removed when the block ends. PgBouncer refuses to run as
root: as root it assumes the identity of the `postgres` user (`-u postgres`). Clients
log in without a password (`auth_type = trust`); PgBouncer logs in to the server as the
server URL's user, with its password.
"""

import asyncio
import os
import pwd
import re
import shutil
import socket
import tempfile
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import URL

from tests.conftest import free_port

# Debian installs it in /usr/sbin, which is not on every user's PATH.
BINARY = shutil.which("pgbouncer", path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin"]))
STARTUP_SECONDS = 10


@dataclass(frozen=True)
class PgBouncer:
    port: int
    log: Path
    server: URL

    def url(self, alias: str) -> URL:
        """The URL of the database PgBouncer serves as `alias`."""
        return self.server.set(host="127.0.0.1", port=self.port, database=alias, password=None)

    def logins(self) -> set[str]:
        """The aliases clients have logged in to so far."""
        return set(re.findall(r"login attempt: db=(\S+)", self.text()))

    def problems(self) -> list[str]:
        """Log lines about something going wrong (PgBouncer logs those as WARNING or ERROR)."""
        lines = self.text().splitlines()
        return [line for line in lines if " WARNING " in line or " ERROR " in line]

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


def _quoted(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _prepare(server: URL, databases: Mapping[str, str]) -> tuple[PgBouncer, Path]:
    """A directory with PgBouncer's configuration (and its future log); its config file."""
    directory = Path(tempfile.mkdtemp(prefix="pgbouncer-"))
    # Readable by the postgres user PgBouncer runs as.
    directory.chmod(0o755)
    user = server.username or "postgres"
    login = f"host={server.host or '127.0.0.1'} port={server.port or 5432} user={user}"
    if server.password:
        login += f" password={_quoted(str(server.password))}"
    entries = "\n".join(f"{alias} = {login} dbname={name}" for alias, name in databases.items())
    (directory / "users.txt").write_text(f'"{user}" ""\n', encoding="utf-8")
    port = free_port()
    config = directory / "pgbouncer.ini"
    config.write_text(
        f"""\
[databases]
{entries}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
pool_mode = transaction
auth_type = trust
auth_file = {directory / "users.txt"}
max_client_conn = 1000
default_pool_size = 20
""",
        encoding="utf-8",
    )
    (directory / "pgbouncer.log").touch()
    return PgBouncer(port, directory / "pgbouncer.log", server), config


@asynccontextmanager
async def pgbouncer(server: URL, databases: Mapping[str, str]) -> AsyncIterator[PgBouncer]:
    """PgBouncer serving each database of `server` named in `databases` under its alias
    (`{"app": "test_db"}`), until the block ends. Skips the test without pgbouncer."""
    if BINARY is None:
        pytest.skip("pgbouncer is not installed (Debian/Ubuntu: apt-get install pgbouncer)")
    user: list[str] = []
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("pgbouncer refuses to run as root, and there is no postgres user")
        user = ["-u", "postgres"]
    bouncer, config = _prepare(server, databases)
    try:
        with bouncer.log.open("wb") as log:
            process = await asyncio.create_subprocess_exec(
                BINARY, *user, str(config), stdout=log, stderr=log
            )
        try:
            for _ in range(STARTUP_SECONDS * 20):
                if process.returncode is not None:
                    pytest.fail(f"pgbouncer exited: {bouncer.text()}")
                with socket.socket() as probe:
                    if probe.connect_ex(("127.0.0.1", bouncer.port)) == 0:
                        break
                await asyncio.sleep(0.05)
            else:
                pytest.fail("pgbouncer did not start")
            yield bouncer
        finally:
            if process.returncode is None:
                process.terminate()
            await process.wait()
    finally:
        shutil.rmtree(config.parent, ignore_errors=True)
