"""Read replica routing: reads go to the replica, writes to the primary, and reads go to
the primary while the replica is missing, down, hanging, or loses a query.

The replica is stood in for by a read-only role on the test server (see stand_ins.py);
test_consistency.py runs against real standbys.
"""

import asyncio
from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from pydantic import SecretStr
from sqlalchemy import URL, text
from sqlalchemy.exc import DBAPIError

from {{ cookiecutter.package_name }}.db.consistency import READ_YOUR_WRITES, ReadYourWrites
from {{ cookiecutter.package_name }}.db.session import Database
from {{ cookiecutter.package_name }}.main import create_app
from {{ cookiecutter.package_name }}.settings import Settings
from tests.conftest import DatabaseServer, recorded_statements, settings_for
from tests.factories import make_user, user_payload
from tests.stand_ins import monitors, read_only_url, running, serving

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
    replica = replica_url.render_as_string(hide_password=False)
    async with running(with_replica(primary_url, replica)) as database:
        yield database


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


async def test_reads_after_a_commit_in_the_same_request_use_the_primary(
    database: Database, primary_url: URL, replica_url: URL
) -> None:
    request = ReadYourWrites()
    info = {READ_YOUR_WRITES: request}
    async with database.read_sessions(info=info) as reader:
        before = await reader.scalar(text("SELECT current_user"))
        async with database.sessionmaker(info=info) as writer:
            await make_user(writer)
        after = await reader.scalar(text("SELECT current_user"))

    assert request.wrote
    assert (before, after) == (replica_url.username, primary_url.username)


async def test_a_read_that_loses_the_replica_is_retried_on_the_primary(
    database: Database, server: DatabaseServer, primary_url: URL, replica_url: URL
) -> None:
    async def cut_the_replica_connection() -> None:
        for _ in range(100):
            await asyncio.sleep(0.05)
            terminated = await server.scalar(
                primary_url,
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                f" WHERE usename = '{replica_url.username}' AND query LIKE '%pg_sleep%'"
                " AND pid <> pg_backend_pid()",
            )
            if terminated:
                return

    async with database.read_sessions() as session:
        cut = asyncio.create_task(cut_the_replica_connection())
        user = await session.scalar(text("SELECT current_user FROM pg_sleep(1)"))
        await cut

    assert user == primary_url.username


@pytest.fixture
async def app(primary_url: URL, replica_url: URL) -> AsyncIterator[FastAPI]:
    app = create_app(with_replica(primary_url, replica_url.render_as_string(hide_password=False)))
    async with serving(app):
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
    async with (
        running(with_replica(primary_url, None)) as database,
        database.read_sessions() as session,
    ):
        user = await session.scalar(text("SELECT current_user"))

    assert user == primary_url.username
    assert set(database.engines) == {"primary"}


async def test_reads_go_to_the_primary_while_the_replica_is_down(
    primary_url: URL, caplog: pytest.LogCaptureFixture
) -> None:
    async with running(with_replica(primary_url, UNREACHABLE)) as database:
        with recorded_statements(database.engines["replica"]) as on_replica:
            for _ in range(3):
                async with database.read_sessions() as session:
                    user = await session.scalar(text("SELECT current_user"))
                    assert user == primary_url.username

    assert on_replica == []
    assert caplog.text.count("replica database unreachable") == 1
    assert "s3cret-pw" not in caplog.text


async def test_a_hanging_replica_costs_one_probe_at_a_time(primary_url: URL) -> None:
    """A server that accepts connections and never answers: requests never wait on it."""
    accepted: list[asyncio.StreamWriter] = []
    concurrent_peak = 0

    async def hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal concurrent_peak
        accepted.append(writer)
        concurrent_peak = max(concurrent_peak, sum(not w.is_closing() for w in accepted))
        await reader.read()  # until the client gives up
        writer.close()

    listener = await asyncio.start_server(hang, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    settings = with_replica(primary_url, f"postgresql://reader@127.0.0.1:{port}/hanging")
    app = create_app(settings)
    try:
        async with (
            app.router.lifespan_context(app),
            AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as client,
        ):
            user_id = (await client.post("/users", json=user_payload())).json()["id"]
            responses = await asyncio.gather(*(client.get(f"/users/{user_id}") for _ in range(20)))
    finally:
        listener.close()
        for writer in accepted:
            writer.close()

    assert [response.status_code for response in responses] == [200] * 20
    assert concurrent_peak <= 1


async def test_the_api_answers_while_the_replica_is_down(primary_url: URL) -> None:
    app = create_app(with_replica(primary_url, UNREACHABLE))
    async with (
        serving(app),
        AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as client,
    ):
        created = await client.post("/users", json=user_payload())
        fetched = await client.get(f"/users/{created.json()['id']}")
        health = await client.get("/health")

    assert fetched.status_code == 200
    assert health.status_code == 200
    assert health.json()["checks"]["replica"] == "unreachable"


async def test_shutdown_stops_a_standby_check_that_lost_its_cancellation(
    primary_url: URL, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Python 3.11's `asyncio.wait_for` can drop a cancellation that arrives as the call it
    waits on completes; a check that lost it must not keep the shutdown waiting."""
    database = Database.from_settings(with_replica(primary_url, UNREACHABLE))
    (monitor,) = monitors(database)
    checking = asyncio.Event()
    lost: list[asyncio.CancelledError] = []

    async def check_that_loses_the_cancellation() -> None:
        checking.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError as cancellation:
            if lost:  # only the first: a test that fails must still end
                raise
            lost.append(cancellation)  # the task goes on as if nothing had happened

    monkeypatch.setattr(monitor, "check", check_that_loses_the_cancellation)
    database.start()
    await asyncio.wait_for(checking.wait(), 10)

    async with asyncio.timeout(10):
        await database.dispose()
    assert lost, "the check was never cancelled"
