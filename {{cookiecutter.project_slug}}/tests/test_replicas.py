"""Several replicas (REPLICA_DATABASE_URLS): reads are spread over every one fit to serve,
and one that is down, behind or lost is skipped while the others keep serving.

Stand-ins (read-only roles on the test server, see stand_ins.py) show the spreading; the
streaming tests count reads on real standbys and stop one under load. Those run when
STREAMING_PRIMARY_URL and STREAMING_REPLICA_URL are set (the template's CI sets them).
"""

import asyncio
import os
from collections import Counter
from collections.abc import AsyncIterator

import pytest
from httpx import ASGITransport, AsyncClient
from pydantic import SecretStr
from sqlalchemy import URL, event, text
from sqlalchemy.ext.asyncio import create_async_engine

from {{ cookiecutter.package_name }}.db.consistency import TOKEN_HEADER
from {{ cookiecutter.package_name }}.db.session import Database
from {{ cookiecutter.package_name }}.main import create_app
from {{ cookiecutter.package_name }}.settings import Settings, to_async_url
from tests.conftest import DatabaseServer, settings_for
from tests.factories import user_payload
from tests.promotion import Standby, standby_of, streaming_database
from tests.stand_ins import checked, read_only_url, running

UNREACHABLE = "postgresql://reader:s3cret-pw@127.0.0.1:1/nowhere"
PRIMARY = os.environ.get("STREAMING_PRIMARY_URL")
REPLICA = os.environ.get("STREAMING_REPLICA_URL")
needs_streaming = pytest.mark.skipif(
    not (PRIMARY and REPLICA),
    reason="set STREAMING_PRIMARY_URL and STREAMING_REPLICA_URL to test real standbys",
)


def with_replicas(primary_url: URL, *urls: str) -> Settings:
    return settings_for(primary_url).model_copy(
        update={"replica_database_urls": SecretStr(",".join(urls))}
    )


def as_text(url: URL) -> str:
    return url.render_as_string(hide_password=False)


def test_replica_urls_are_read_in_order_whatever_commas_their_hosts_hold() -> None:
    settings = Settings(
        replica_database_url="postgresql://a@one/db",
        replica_database_urls="postgresql://b@two/db, postgresql://c@h1:5432,h2:5433/db",
    )

    urls = settings.replica_urls

    assert [url.username for url in urls] == ["a", "b", "c"]
    assert urls[2].query["host"] == ("h1:5432", "h2:5433")


async def test_a_replica_with_several_hosts_is_not_known_by_its_monitors_position() -> None:
    """Its monitor's connection and a read's may be on different servers, so what one has
    replayed says nothing of the other: the cache versions such a replica's fills on the
    read's own connection."""
    settings = Settings(
        replica_database_urls="postgresql://a@one/db, postgresql://c@h1:5432,h2:5433/db"
    )
    database = Database.from_settings(settings)
    try:
        assert set(database.visible_positions) == {"replica"}
    finally:
        await database.dispose()


def test_a_bad_url_in_the_list_is_named_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REPLICA_DATABASE_URLS", "postgresql://a@one/db,mysql://b:secret@two/db")
    with pytest.raises(ValueError, match="URL 2: scheme 'mysql'") as error:
        Settings()

    assert "secret" not in str(error.value)


@pytest.fixture(scope="module")
async def primary_url(server: DatabaseServer) -> AsyncIterator[URL]:
    async with server.migrated_database("replicas_{{ cookiecutter.package_name }}") as url:
        yield url


@pytest.fixture(scope="module")
async def stand_ins(server: DatabaseServer, primary_url: URL) -> AsyncIterator[list[URL]]:
    async with (
        read_only_url(server, primary_url) as first,
        read_only_url(server, primary_url) as second,
    ):
        yield [first, second]


async def readers(database: Database, reads: int) -> Counter[str]:
    """Who served each of `reads` read sessions (the stand-ins' roles, or the primary's)."""
    served: Counter[str] = Counter()
    for _ in range(reads):
        async with database.read_sessions() as session:
            served[await session.scalar(text("SELECT current_user")) or ""] += 1
    return served


async def test_reads_take_turns_over_every_replica(primary_url: URL, stand_ins: list[URL]) -> None:
    settings = with_replicas(primary_url, *(as_text(url) for url in stand_ins))
    async with running(settings) as database:
        await checked(database)
        served = await readers(database, 20)

    assert served == {url.username: 10 for url in stand_ins}
    assert set(database.engines) == {"primary", "replica", "replica_2"}


async def test_a_replica_that_is_down_is_skipped_for_the_others(
    primary_url: URL, stand_ins: list[URL]
) -> None:
    settings = with_replicas(primary_url, UNREACHABLE, as_text(stand_ins[0]))
    async with running(settings) as database:
        await checked(database)
        served = await readers(database, 10)

    assert served == {stand_ins[0].username: 10}


async def test_health_names_each_replica(primary_url: URL, stand_ins: list[URL]) -> None:
    settings = with_replicas(primary_url, as_text(stand_ins[0]), UNREACHABLE)
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as client,
    ):
        await checked(app.state.database)
        health = (await client.get("/health/ready")).json()

    assert health["checks"]["replica"] == "ok"
    assert health["checks"]["replica_2"] != "ok"


# Real standbys below.


@pytest.fixture
async def streaming_primary_url() -> AsyncIterator[URL]:
    async with streaming_database("spread_{{ cookiecutter.package_name }}") as url:
        yield url


async def reads_counted(url: URL) -> int:
    """Transactions the server at `url` has counted in its database (reads, there)."""
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT pg_stat_clear_snapshot()"))
            query = text("SELECT xact_commit FROM pg_stat_database WHERE datname = :name")
            count: int = await connection.scalar(query, {"name": url.database})
            return count
    finally:
        await engine.dispose()


@pytest.fixture
async def two_standbys(streaming_primary_url: URL) -> AsyncIterator[tuple[URL, Standby]]:
    """The CI's streaming standby and one cloned for the test, at the test's database."""
    assert REPLICA is not None
    first = to_async_url(REPLICA).set(database=streaming_primary_url.database)
    async with standby_of(streaming_primary_url) as second:
        yield first, second


@needs_streaming
async def test_reads_are_spread_over_two_real_standbys(
    streaming_primary_url: URL, two_standbys: tuple[URL, Standby]
) -> None:
    first, second = two_standbys
    settings = with_replicas(streaming_primary_url, as_text(first), as_text(second.url))
    # One check each at the start, then none while the reads are counted.
    settings = settings.model_copy(update={"replica_check_interval_seconds": 600.0})
    async with running(settings) as database:
        await checked(database)
        before = [await reads_counted(url) for url in (first, second.url)]
        for _ in range(40):
            async with database.read_sessions() as session:
                await session.execute(text("SELECT count(*) FROM users"))
    # A server process reports its statistics when its connection closes (while idle,
    # only every 10 seconds): the app's are closed now.
    await asyncio.sleep(1.0)
    after = [await reads_counted(url) for url in (first, second.url)]

    served = [now - then for now, then in zip(after, before, strict=True)]
    # Each served half of the reads; besides, each counted the same few transactions of
    # its own (new connections' setup, its monitor's first check).
    assert min(served) >= 20, served
    assert max(served) - min(served) <= 2, served


@needs_streaming
async def test_a_standby_stopped_under_load_costs_no_error(
    streaming_primary_url: URL, two_standbys: tuple[URL, Standby]
) -> None:
    first, second = two_standbys
    settings = with_replicas(streaming_primary_url, as_text(first), as_text(second.url))
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as client,
    ):
        await checked(app.state.database)
        created = await client.post("/users", json=user_payload())
        path = f"/users/{created.json()['id']}/details"
        # Each standby serves the read once it has the user, else the primary does.
        seen = {TOKEN_HEADER: created.headers[TOKEN_HEADER]}
        stopped = asyncio.Event()

        async def read_until_stopped() -> list[int]:
            statuses: list[int] = []
            while not stopped.is_set() or len(statuses) < 50:
                statuses.append((await client.get(path, headers=seen)).status_code)
            return statuses

        served_by_second: list[object] = []
        pool = app.state.database.engines["replica_2"].sync_engine.pool
        event.listen(pool, "checkout", lambda *_: served_by_second.append(None))
        load = [asyncio.create_task(read_until_stopped()) for _ in range(8)]
        # It serves its share once its monitor has seen it replay the user: a standby
        # cloned for the test may take seconds on a loaded machine (5 s were once short).
        for _ in range(600):
            if served_by_second:
                break
            await asyncio.sleep(0.05)
        await second.stop()
        await asyncio.sleep(0.5)
        stopped.set()
        statuses = [status for task in load for status in await task]

    assert served_by_second
    assert set(statuses) == {200}, Counter(statuses)
