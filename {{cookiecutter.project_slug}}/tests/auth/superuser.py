"""scripts/create-superuser run as a subprocess, and the superuser the servers of the
tests get (tests/test_server.py logs in as it)."""

import asyncio

from sqlalchemy import URL

from tests.conftest import PROJECT_ROOT, process_environment

SCRIPT = PROJECT_ROOT / "scripts" / "create-superuser"
# As the README's walkthrough makes it (tests/test_server.py runs its curl lines).
SUPERUSER = "admin"
SUPERUSER_PASSWORD = "change me please"


async def run_script(url: URL, *args: str, password: str | None = None) -> tuple[int, str]:
    """Runs the script on the database `url` names; its exit status and output."""
    environment = process_environment({"DATABASE_URL": url.render_as_string(hide_password=False)})
    environment.pop("SUPERUSER_PASSWORD", None)
    if password is not None:
        environment["SUPERUSER_PASSWORD"] = password
    process = await asyncio.create_subprocess_exec(
        SCRIPT,
        *args,
        env=environment,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    return process.returncode or 0, output.decode()


async def make_superuser(url: URL) -> None:
    """`SUPERUSER` with `SUPERUSER_PASSWORD`, made by the script on the database `url`."""
    status, output = await run_script(
        url, SUPERUSER, "--email", f"{SUPERUSER}@example.com", password=SUPERUSER_PASSWORD
    )
    assert status == 0, output
