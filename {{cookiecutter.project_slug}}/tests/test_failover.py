"""A primary named by several hosts: the service follows a failover without a restart.

`DATABASE_URL` may list hosts the way Patroni and managed services hand out a primary,
in libpq's form (`postgresql://u@h1:5432,h2:5432/db?target_session_attrs=read-write`) or
SQLAlchemy's (`?host=h1:5432&host=h2:5432`). A write that reaches a server that has
become read-only (SQLSTATE 25006) discards its connection and is a 503.

The failover tests run when STREAMING_PRIMARY_URL names a primary that standbys can be
cloned from (the template's CI starts one); skipped otherwise.
"""

import asyncio
import os
import socket
from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient, Response
from pydantic import SecretStr
from sqlalchemy import URL, event

from {{ cookiecutter.package_name }}.main import create_app
from {{ cookiecutter.package_name }}.settings import Settings, to_async_url
from tests.conftest import DatabaseServer, free_port, settings_for
from tests.factories import user_payload
from tests.promotion import standby_of, streaming_database

PRIMARY = os.environ.get("STREAMING_PRIMARY_URL")
REPLICA = os.environ.get("STREAMING_REPLICA_URL")
needs_streaming = pytest.mark.skipif(
    not (PRIMARY and REPLICA),
    reason="set STREAMING_PRIMARY_URL and STREAMING_REPLICA_URL to test a failover",
)
# Long enough for a promotion and a new connection on a slow machine.
FAILOVER_SECONDS = 60.0


def hosts_url(url: URL, ports: list[int], *, libpq: bool, read_write: bool = True) -> str:
    """`url`'s database and user on 127.0.0.1 at each of `ports`, in either form."""
    user = url.render_as_string(hide_password=False).split("://", 1)[1].split("@", 1)[0]
    attributes = "target_session_attrs=read-write" if read_write else ""
    if libpq:
        hosts = ",".join(f"127.0.0.1:{port}" for port in ports)
        query = f"?{attributes}" if attributes else ""
        return f"postgresql://{user}@{hosts}/{url.database}{query}"
    pairs = [f"host=127.0.0.1:{port}" for port in ports] + ([attributes] if attributes else [])
    return f"postgresql://{user}@/{url.database}?{'&'.join(pairs)}"


def on(raw: str, url: URL) -> Settings:
    """Test settings for `url`'s database, reached through the URL `raw`; short bounds."""
    return settings_for(url).model_copy(
        update={
            "database_url": SecretStr(raw),
            "async_database_url": None,
            "db_connect_timeout": 2.0,
            "db_pool_timeout": 2.0,
        }
    )


async def serving(settings: Settings) -> tuple[FastAPI, AsyncClient]:
    app = create_app(settings)
    return app, AsyncClient(transport=ASGITransport(app=app), base_url="http://test")


@pytest.fixture
async def committed_url(server: DatabaseServer) -> AsyncIterator[URL]:
    """A database of the test's own: its writes commit."""
    async with server.migrated_database("hosts_{{ cookiecutter.package_name }}") as url:
        yield url


@pytest.mark.parametrize("libpq", [True, False], ids=["libpq", "sqlalchemy"])
async def test_a_host_that_is_down_is_skipped(committed_url: URL, libpq: bool) -> None:
    """The first host refuses connections: every request goes to the next one."""
    assert committed_url.port is not None
    raw = hosts_url(committed_url, [free_port(), committed_url.port], libpq=libpq, read_write=False)
    app, client = await serving(on(raw, committed_url))
    async with app.router.lifespan_context(app), client:
        created = await client.post("/users", json=user_payload())
        ready = await client.get("/health/ready")

    assert created.status_code == 201, created.text
    assert ready.status_code == 200, ready.text


@pytest.fixture
async def primary_url() -> AsyncIterator[URL]:
    async with streaming_database("failover_{{ cookiecutter.package_name }}") as url:
        yield url


async def test_a_host_that_hangs_is_given_up_for_the_next(committed_url: URL) -> None:
    """The first host takes connections and never answers (a frozen server, or a lost
    machine): after DB_CONNECT_TIMEOUT the next host is tried, not given up with it."""
    assert committed_url.port is not None
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        ports = [silent.getsockname()[1], committed_url.port]
        raw = hosts_url(committed_url, ports, libpq=True, read_write=False)
        settings = on(raw, committed_url).model_copy(update={"db_connect_timeout": 1.0})
        app, client = await serving(settings)
        async with app.router.lifespan_context(app), client:
            created = await client.post("/users", json=user_payload())

    assert created.status_code == 201, created.text


async def replayed(standby: URL, database: str | None) -> None:
    """Until `standby` has replayed the creation of `database` (asyncpg gives up on a host
    that has no such database, without trying the next)."""
    server = DatabaseServer(standby)
    try:
        for _ in range(600):
            exists = f"SELECT count(*) FROM pg_database WHERE datname = '{database}'"
            if await server.scalar(standby.set(database="postgres"), exists):
                return
            await asyncio.sleep(0.05)
    finally:
        await server.close()
    pytest.fail(f"the standby never replayed the creation of {database}")


@needs_streaming
async def test_read_write_picks_the_primary_among_the_hosts(primary_url: URL) -> None:
    assert REPLICA is not None
    standby = to_async_url(REPLICA)
    assert standby.port is not None
    assert primary_url.port is not None
    await replayed(standby, primary_url.database)
    raw = hosts_url(primary_url, [standby.port, primary_url.port], libpq=True)
    app, client = await serving(on(raw, primary_url))
    async with app.router.lifespan_context(app), client:
        created = await client.post("/users", json=user_payload())

    assert created.status_code == 201, created.text


@needs_streaming
async def test_a_write_on_a_read_only_server_is_a_503_and_its_connection_discarded(
    primary_url: URL,
) -> None:
    """The URL names a standby (as after a demotion): 25006 is a 503, not a 500, and the
    connection is not handed to the next request."""
    assert REPLICA is not None
    standby = to_async_url(REPLICA).set(database=primary_url.database)
    settings = settings_for(standby)
    app, client = await serving(settings)
    async with app.router.lifespan_context(app), client:
        # The standby has the new database once it has replayed its creation.
        for _ in range(100):
            if (await client.get("/users?limit=1")).status_code == 200:
                break
            await asyncio.sleep(0.1)
        else:
            pytest.fail("the standby never had the test's database")
        discarded: list[BaseException | None] = []
        engine = app.state.database.engines["primary"].sync_engine
        event.listen(engine, "invalidate", lambda _conn, _record, error: discarded.append(error))
        refused = await client.post("/users", json=user_payload())

    assert refused.status_code == 503, refused.text
    assert refused.json()["code"] == "database_unavailable"
    assert len(discarded) == 1


async def write_until_created(client: AsyncClient, seconds: float) -> list[Response]:
    """POST /users until one is created (or `seconds` pass); every answer, in order."""
    answers: list[Response] = []
    deadline = asyncio.get_running_loop().time() + seconds
    while asyncio.get_running_loop().time() < deadline:
        answers.append(await client.post("/users", json=user_payload()))
        if answers[-1].status_code == 201:
            break
        await asyncio.sleep(0.2)
    return answers


@needs_streaming
@pytest.mark.parametrize("libpq", [True, False], ids=["libpq", "sqlalchemy"])
async def test_writes_come_back_after_a_promotion_without_a_restart(
    primary_url: URL, libpq: bool
) -> None:
    """A primary of its own and its standby; the primary is lost, the standby promoted.
    Meanwhile writes are 503s, never 500s; then they succeed, same process, same pool."""
    async with standby_of(primary_url) as first:
        await first.promote()
        async with standby_of(first.url) as second:
            assert first.url.port is not None
            assert second.url.port is not None
            raw = hosts_url(first.url, [first.url.port, second.url.port], libpq=libpq)
            app, client = await serving(on(raw, first.url))
            async with app.router.lifespan_context(app), client:
                before = await client.post("/users", json=user_payload())
                await first.stop()
                during = await client.post("/users", json=user_payload())
                await second.promote()
                after = await write_until_created(client, FAILOVER_SECONDS)

    assert before.status_code == 201, before.text
    assert during.status_code == 503, during.text
    assert during.json()["code"] == "database_unavailable"
    assert after[-1].status_code == 201, [r.text for r in after]
    assert {r.status_code for r in after[:-1]} <= {503}, [r.text for r in after]
