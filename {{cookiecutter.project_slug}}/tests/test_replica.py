"""Read replica routing: reads go to the replica, writes to the primary, and reads fall
back to the primary when the replica is missing or down.

The replica is stood in for by a read-only role on the test server (see stand_ins.py).
"""

from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from pydantic import SecretStr
from sqlalchemy import URL, text
from sqlalchemy.exc import DBAPIError

from {{ cookiecutter.package_name }}.db.routing import FallbackSessions
from {{ cookiecutter.package_name }}.db.session import Database
from {{ cookiecutter.package_name }}.main import create_app
from {{ cookiecutter.package_name }}.settings import Settings
from tests.conftest import DatabaseServer, recorded_statements, settings_for
from tests.factories import user_payload
from tests.stand_ins import read_only_url

UNREACHABLE = "postgresql://reader:s3cret-pw@127.0.0.1:1/nowhere"


@pytest.fixture(scope="module")
async def primary_url(server: DatabaseServer) -> AsyncIterator[URL]:
    """A database of this module's own: these tests commit."""
    async with server.migrated_database("replica_{{ cookiecutter.package_name }}") as url:
        yield url


@pytest.fixture(scope="module")
async def replica_url(server: DatabaseServer, primary_url: URL) -> AsyncIterator[URL]:
    async with read_only_url(server, primary_url) as url:
        yield url


def with_replica(primary_url: URL, replica: str | None) -> Settings:
    settings = settings_for(primary_url)
    return settings.model_copy(
        update={"replica_database_url": None if replica is None else SecretStr(replica)}
    )


@pytest.fixture
async def database(primary_url: URL, replica_url: URL) -> AsyncIterator[Database]:
    database = Database.from_settings(
        with_replica(primary_url, replica_url.render_as_string(hide_password=False))
    )
    yield database
    await database.dispose()


async def test_read_sessions_use_the_replica(database: Database, replica_url: URL) -> None:
    async with database.read_sessions() as session:
        user = await session.scalar(text("SELECT current_user"))
        read_only = await session.scalar(text("SHOW transaction_read_only"))
    async with database.sessionmaker() as session:
        primary_read_only = await session.scalar(text("SHOW transaction_read_only"))

    assert (user, read_only) == (replica_url.username, "on")
    assert primary_read_only == "off"


async def test_a_write_routed_to_the_replica_fails_loudly(database: Database) -> None:
    async with database.read_sessions() as session:
        with pytest.raises(DBAPIError, match="read-only transaction"):
            await session.execute(text("DELETE FROM users"))


@pytest.fixture
async def app(primary_url: URL, replica_url: URL) -> AsyncIterator[FastAPI]:
    app = create_app(with_replica(primary_url, replica_url.render_as_string(hide_password=False)))
    async with app.router.lifespan_context(app):
        yield app


async def test_endpoints_read_from_the_replica_and_write_to_the_primary(app: FastAPI) -> None:
    engines = app.state.database.engines
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as client:
        with (
            recorded_statements(engines["primary"]) as on_primary,
            recorded_statements(engines["replica"]) as on_replica,
        ):
            created = await client.post("/users", json=user_payload())
            user_id = created.json()["id"]
            fetched = await client.get(f"/users/{user_id}")
            listed = await client.get("/users")
            health = await client.get("/health")

    assert created.status_code == 201
    assert fetched.status_code == 200
    assert user_id in [user["id"] for user in listed.json()]
    assert health.json()["checks"]["primary"] == health.json()["checks"]["replica"] == "ok"
    assert any(s.startswith("INSERT INTO users") for s in on_primary)
    assert not any(s.startswith("INSERT") for s in on_replica)
    assert any("FROM users" in s for s in on_replica)
    assert not any(s.startswith("SELECT") and "FROM users" in s for s in on_primary)


async def test_reads_use_the_primary_when_no_replica_is_set(primary_url: URL) -> None:
    database = Database.from_settings(with_replica(primary_url, None))
    try:
        async with database.read_sessions() as session:
            user = await session.scalar(text("SELECT current_user"))
    finally:
        await database.dispose()

    assert user == primary_url.username
    assert set(database.engines) == {"primary"}


async def test_reads_fall_back_to_the_primary_while_the_replica_is_down(
    primary_url: URL, caplog: pytest.LogCaptureFixture
) -> None:
    database = Database.from_settings(with_replica(primary_url, UNREACHABLE))
    read_sessions = database.read_sessions
    assert isinstance(read_sessions, FallbackSessions)
    try:
        async with read_sessions() as session:
            user = await session.scalar(text("SELECT current_user"))
        assert not read_sessions.is_available("replica")
        async with read_sessions() as session:
            again = await session.scalar(text("SELECT current_user"))
    finally:
        await database.dispose()

    assert user == again == primary_url.username
    assert caplog.text.count("replica database unreachable") == 1
    assert "s3cret-pw" not in caplog.text


async def test_the_api_answers_while_the_replica_is_down(primary_url: URL) -> None:
    app = create_app(with_replica(primary_url, UNREACHABLE))
    async with (
        app.router.lifespan_context(app),
        AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as client,
    ):
        created = await client.post("/users", json=user_payload())
        fetched = await client.get(f"/users/{created.json()['id']}")
        health = await client.get("/health")

    assert fetched.status_code == 200
    assert health.status_code == 200
    assert health.json()["checks"]["replica"] == "unreachable"
