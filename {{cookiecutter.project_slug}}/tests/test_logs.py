"""Log lines: one format for the app and uvicorn, each carrying its request's id."""

import asyncio
import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from sqlalchemy import URL, text

from {{ cookiecutter.package_name }}.db.checks import ServerCheck
from {{ cookiecutter.package_name }}.logs import (
    REQUEST_ID_HEADER,
    LogSettings,
    configure_logging,
    is_valid_request_id,
    read_log_settings,
)
from {{ cookiecutter.package_name }}.main import create_app
from tests.conftest import DatabaseServer, free_port, settings_for, uvicorn
from tests.factories import PASSWORD, user_payload

# Loggers of the app's own modules start with this.
APP_LOGGERS = "{{ cookiecutter.package_name }}."
# Lines of a request are written by the server shortly after its response.
SETTLE_SECONDS = 5


def json_lines(text: str) -> list[dict[str, Any]]:
    """Every line parsed as JSON; a line that is not JSON fails the test."""
    return [json.loads(line) for line in text.splitlines() if line.strip()]


async def test_uvicorn_and_app_lines_are_json_with_request_ids(
    server: DatabaseServer, tmp_path: Path
) -> None:
    db_password = f"pw-{uuid4().hex}"
    stderr = tmp_path / "stderr.log"
    async with server.migrated_database("logs_{{ cookiecutter.package_name }}") as url:
        # The server trusts local connections, so any password connects.
        url = url.set(password=db_password)
        env = {"LOG_FORMAT": "json", "LOG_LEVEL": "DEBUG"}
        async with uvicorn(url, stderr, env=env) as base, httpx.AsyncClient(base_url=base) as http:
            created = await http.post("/users", json=user_payload())
            assert created.status_code == 201
            chosen = f"test-{uuid4()}"
            response = await http.get(
                f"/users/{created.json()['id']}", headers={REQUEST_ID_HEADER: chosen}
            )
            junk = await http.get("/users/999999", headers={REQUEST_ID_HEADER: "bad id; x=1"})
            generated = await http.get("/users/999999")
            await asyncio.sleep(0.5)

    assert response.headers[REQUEST_ID_HEADER] == chosen
    assert junk.headers[REQUEST_ID_HEADER] not in ("", "bad id; x=1")
    assert generated.headers[REQUEST_ID_HEADER]
    text = stderr.read_text()
    lines = json_lines(text)
    assert lines
    for line in lines:
        assert {"timestamp", "level", "logger", "event", "request_id"} <= line.keys(), line
    loggers = {line["logger"] for line in lines}
    assert {"uvicorn.error", "uvicorn.access", f"{APP_LOGGERS}main"} <= loggers
    for request_id in (chosen, junk.headers[REQUEST_ID_HEADER], created.headers[REQUEST_ID_HEADER]):
        own = [line["logger"] for line in lines if line["request_id"] == request_id]
        assert "uvicorn.access" in own, request_id
    assert db_password not in text
    assert PASSWORD not in text
    assert "$argon2" not in text


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """The log lines written during the test, as JSON."""
    buffer = io.StringIO()
    configure_logging(LogSettings(log_format="json"), stream=buffer)
    yield buffer
    configure_logging(read_log_settings())


@pytest.fixture
async def app_without_database(database_url: URL) -> AsyncIterator[FastAPI]:
    """An app whose database refuses connections: each request logs an error."""
    # Nothing listens on a port just released.
    app = create_app(settings_for(database_url.set(port=free_port())))
    async with app.router.lifespan_context(app):
        yield app


async def test_a_requests_own_log_lines_carry_its_id(
    app_without_database: FastAPI, json_logs: io.StringIO
) -> None:
    transport = ASGITransport(app=app_without_database)
    async with AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/users/1", headers={REQUEST_ID_HEADER: "req-42"})
        other = await client.get("/users/1")

    assert response.status_code == 503
    lines = json_lines(json_logs.getvalue())
    errors = [line for line in lines if line["level"] == "error"]
    assert [line["request_id"] for line in errors] == ["req-42", other.headers[REQUEST_ID_HEADER]]
    assert all(line["logger"].startswith(APP_LOGGERS) for line in errors)


@pytest.mark.parametrize(
    "request_id",
    [
        "0f8fad5bd9cb469fa16570867728950e",
        "0f8fad5b-d9cb-469f-a165-70867728950e",
        "req-42",
        "Root=1-5759e988:bd862e3fe/1be46a994272",
        "a" * 128,
    ],
)
def test_well_formed_request_ids_are_kept(request_id: str) -> None:
    assert is_valid_request_id(request_id)


@pytest.mark.parametrize(
    "request_id", ["", "a" * 129, "two words", 'a"b', "a\\b", "caf\u00e9", "a\tb", "a;b"]
)
def test_other_request_ids_are_replaced(request_id: str) -> None:
    assert not is_valid_request_id(request_id)


# A fresh interpreter: importing the app configures the process's logging.
CHATTY_IMPORTS = """
import logging
import {{ cookiecutter.package_name }}.main
from alembic import command  # sets up Alembic's plugins, which log each step at INFO
print(logging.getLogger("httpx").isEnabledFor(logging.INFO))
"""


@pytest.mark.parametrize(("level", "chatty"), [("INFO", False), ("DEBUG", True)])
def test_library_chatter_stays_below_info(level: str, chatty: bool) -> None:
    result = subprocess.run(
        [sys.executable, "-c", CHATTY_IMPORTS],
        env={**os.environ, "LOG_LEVEL": level},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert ("setup plugin" in result.stderr) is chatty, result.stderr
    assert result.stdout.strip() == str(chatty)


# A fresh interpreter, configured as the app configures itself: one query on an engine
# built from the environment's settings.
ONE_QUERY = """
import asyncio
from sqlalchemy import text
import {{ cookiecutter.package_name }}.main
from {{ cookiecutter.package_name }}.db.engine import create_engine
from {{ cookiecutter.package_name }}.settings import get_settings

async def main():
    settings = get_settings()
    engine = create_engine(settings.primary_url, settings, role="primary")
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 4242 AS echoed"))
    await engine.dispose()

asyncio.run(main())
"""


def test_echoed_sql_and_pool_lines_come_once_each_in_the_log_format(database_url: URL) -> None:
    env = {
        "DATABASE_URL": database_url.render_as_string(hide_password=False),
        "DB_ECHO": "true",
        "DB_ECHO_POOL": "true",
        "LOG_FORMAT": "json",
    }

    result = subprocess.run(
        [sys.executable, "-c", ONE_QUERY],
        env=os.environ | env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )

    # Nothing of SQLAlchemy's own handler (stdout, plain text); every line JSON.
    assert result.stdout == ""
    lines = json_lines(result.stderr)
    echoed = [line for line in lines if "SELECT 4242" in line["event"]]
    assert [line["logger"] for line in echoed] == ["sqlalchemy.engine.Engine"]
    assert any(line["logger"].startswith("sqlalchemy.pool") for line in lines)


@pytest.mark.usefixtures("sqlalchemy_log_levels")
@pytest.mark.parametrize(
    "sql_shown",
    # DB_ECHO, or SQLAlchemy's loggers turned up to INFO by a logging configuration.
    ["db_echo", "sqlalchemy_logger"],
)
async def test_a_server_that_is_down_does_not_fill_the_log_with_pool_lines(
    database_url: URL, caplog: pytest.LogCaptureFixture, sql_shown: str
) -> None:
    settings = settings_for(database_url.set(port=free_port()))
    if sql_shown == "db_echo":
        settings = settings.model_copy(update={"db_echo": True})
    else:
        logging.getLogger("sqlalchemy").setLevel(logging.INFO)
    caplog.set_level(logging.DEBUG)
    # A standby check: each failure disposes of its pool (SQLAlchemy logs two lines there).
    check = ServerCheck.for_url(settings.primary_url, settings, role="replica")
    try:
        for _ in range(3):
            with pytest.raises(Exception, match="Refused"):
                await check.scalar(text("SELECT 1"))
    finally:
        await check.dispose()

    assert [r.getMessage() for r in caplog.records if r.name.startswith("sqlalchemy.pool")] == []


def test_json_tracebacks_carry_no_local_variables(json_logs: io.StringIO) -> None:
    def log_in_a_frame_holding_a_secret(password: str) -> None:
        try:
            raise ValueError("something failed")
        except ValueError:
            logging.getLogger(f"{APP_LOGGERS}tests").exception("it failed")

    log_in_a_frame_holding_a_secret("frame-local-secret")

    (line,) = [line for line in json_lines(json_logs.getvalue()) if line["event"] == "it failed"]
    (exception,) = line["exception"]
    assert exception["exc_type"] == "ValueError"
    assert exception["frames"]
    assert all("locals" not in frame for frame in exception["frames"])
    assert "frame-local-secret" not in json_logs.getvalue()
