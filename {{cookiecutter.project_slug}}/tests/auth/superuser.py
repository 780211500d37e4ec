"""scripts/create-superuser run as a subprocess, and the superuser the servers of the
tests get (tests/test_server.py logs in as it)."""

import asyncio
import fcntl
import os
import select
import subprocess
import termios

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


# How long the script may take to ask or to finish before the test gives up on it.
PROMPT_SECONDS = 30


def _take_terminal() -> None:
    """In the script's process: a session of its own whose terminal is its stdin (the
    pty), so getpass asks there, as in a shell."""
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def run_on_terminal(url: URL, args: list[str], typed: list[str]) -> tuple[int, str]:
    """Runs the script on a pseudo-terminal, typing each of `typed` (and Enter) at the next
    prompt (output ending in ": "); its exit status and everything the terminal showed."""
    environment = process_environment({"DATABASE_URL": url.render_as_string(hide_password=False)})
    environment.pop("SUPERUSER_PASSWORD", None)
    controller, terminal = os.openpty()
    process = subprocess.Popen(
        [SCRIPT, *args],
        env=environment,
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        # The child runs nothing else before it execs the script.
        preexec_fn=_take_terminal,
    )
    os.close(terminal)
    shown = b""
    pending = list(typed)
    try:
        while True:
            ready, _, _ = select.select([controller], [], [], PROMPT_SECONDS)
            if not ready:
                raise TimeoutError(f"no prompt or end within {PROMPT_SECONDS} s: {shown!r}")
            try:
                chunk = os.read(controller, 1024)
            except OSError:  # the terminal closed: the script ended
                break
            if not chunk:
                break
            shown += chunk
            # A prompt waits at the end of what was shown (getpass echoes no newline).
            if pending and shown.endswith(b": "):
                os.write(controller, pending.pop(0).encode() + b"\n")
    finally:
        os.close(controller)
    return process.wait(timeout=PROMPT_SECONDS), shown.decode(errors="replace")


async def make_superuser(url: URL) -> None:
    """`SUPERUSER` with `SUPERUSER_PASSWORD`, made by the script on the database `url`."""
    status, output = await run_script(
        url, SUPERUSER, "--email", f"{SUPERUSER}@example.com", password=SUPERUSER_PASSWORD
    )
    assert status == 0, output
