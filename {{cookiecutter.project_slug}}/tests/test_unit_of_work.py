"""What a unit of work owns and what it must not need: a committed write answers without
another connection from the request pool, one worker stays within its connection budget,
the app's listeners stay on the app's sessions, and the API tests use the app's sessions.
"""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from sqlalchemy import URL, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, create_async_engine

from {{ cookiecutter.package_name }}.api.deps import get_database
from {{ cookiecutter.package_name }}.db.errors import DatabaseUnreachableError
from {{ cookiecutter.package_name }}.db.readonly import ReadOnlySession
from {{ cookiecutter.package_name }}.db.session import Database
from {{ cookiecutter.package_name }}.models import User
from {{ cookiecutter.package_name }}.settings import Settings
from tests.conftest import DatabaseServer, app_for, free_port, settings_for
from tests.factories import UNUSABLE_HASH, user_payload

APPLICATION = "{{ cookiecutter.package_name }}:%"
# How long a request may take here before it counts as hanging.
HANG_SECONDS = 5.0


@pytest.fixture
async def committed_url(server: DatabaseServer) -> AsyncIterator[URL]:
    """A database of its own: these tests commit for real (locks need other connections)."""
    async with server.migrated_database("uow_{{ cookiecutter.package_name }}") as url:
        yield url


async def app_on(settings: Settings) -> tuple[FastAPI, AsyncClient]:
    app = app_for(settings)
    client = AsyncClient(transport=ASGITransport(app=app), base_url="http://test")
    return app, client


async def wait_for_lock_wait(admin: AsyncConnection, database: str) -> None:
    """Until some session of the app waits on a lock in `database`."""
    query = text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = :database AND application_name LIKE :app AND wait_event_type = 'Lock'"
    )
    for _ in range(500):
        if await admin.scalar(query, {"database": database, "app": APPLICATION}):
            return
        await asyncio.sleep(0.01)
    pytest.fail("the request never waited on the lock")


async def test_a_committed_write_answers_while_every_connection_is_taken(
    committed_url: URL,
) -> None:
    """One pooled connection; a PATCH waits on a row lock, three reads queue behind it and
    will block on a table lock. Once the row lock goes, the PATCH commits and must answer
    while the reads still hold (and wait for) every connection of the pool."""
    settings = settings_for(committed_url).model_copy(
        update={"db_pool_size": 1, "db_max_overflow": 0, "db_lock_timeout": 30.0}
    )
    app, client = await app_on(settings)
    admin_engine = create_async_engine(committed_url)
    # Autocommit: pg_stat_activity is a snapshot per transaction.
    watcher_engine = create_async_engine(committed_url, isolation_level="AUTOCOMMIT")
    async with app.router.lifespan_context(app), client, watcher_engine.connect() as admin:
        user = (await client.post("/users", json=user_payload())).json()
        async with admin_engine.connect() as row_lock, admin_engine.connect() as table_lock:
            await row_lock.execute(
                text("SELECT id FROM users WHERE id = :id FOR UPDATE"), {"id": user["id"]}
            )
            await table_lock.execute(text("LOCK TABLE posts IN ACCESS EXCLUSIVE MODE"))
            patch = asyncio.create_task(
                client.patch(f"/users/{user['id']}", json={"full_name": "After the lock"})
            )
            await wait_for_lock_wait(admin, str(committed_url.database))
            reads = [
                asyncio.create_task(client.get(f"/users/{user['id']}/posts")) for _ in range(3)
            ]
            await asyncio.sleep(0.2)
            await row_lock.rollback()
            # The reads now take the pool's one connection and block on the table lock.
            try:
                answered = await asyncio.wait_for(patch, HANG_SECONDS)
            finally:
                await table_lock.rollback()
                answers = await asyncio.gather(*reads)

    await admin_engine.dispose()
    await watcher_engine.dispose()
    assert answered.status_code == 200
    assert answered.json()["full_name"] == "After the lock"
    assert {answer.status_code for answer in answers} == {200}


async def test_a_burst_stays_within_the_connection_budget(committed_url: URL) -> None:
    """DB_POOL_SIZE + DB_MAX_OVERFLOW connections for requests, plus one for checks, counted
    on the server while reads, writes and readiness checks arrive together."""
    settings = settings_for(committed_url).model_copy(
        update={"db_pool_size": 2, "db_max_overflow": 1}
    )
    budget = settings.db_pool_size + settings.db_max_overflow + 1
    app, client = await app_on(settings)
    # Autocommit: pg_stat_activity is a snapshot per transaction.
    admin_engine = create_async_engine(committed_url, isolation_level="AUTOCOMMIT")
    most = 0
    done = asyncio.Event()

    query = text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = :database AND application_name LIKE :app"
    )

    async def sample(admin: AsyncConnection) -> None:
        nonlocal most
        found = await admin.scalar(query, {"database": committed_url.database, "app": APPLICATION})
        most = max(most, found or 0)

    async def count(admin: AsyncConnection) -> None:
        while not done.is_set():
            await sample(admin)
            await asyncio.sleep(0.005)

    def burst() -> list[Any]:
        requests = [client.get("/health/ready") for _ in range(12)]
        requests += [client.get("/users?limit=5") for _ in range(12)]
        requests += [client.post("/users", json=user_payload()) for _ in range(8)]
        return requests

    async with app.router.lifespan_context(app), client, admin_engine.connect() as admin:
        counting = asyncio.create_task(count(admin))
        for _ in range(3):
            answers = await asyncio.gather(*burst())
            assert {answer.status_code for answer in answers} <= {200, 201}
            # Also after each burst (on a busy machine the sampler may not have run
            # during it): the pools keep what they opened.
            await sample(admin)
        done.set()
        await counting

    await admin_engine.dispose()
    assert 0 < most <= budget


async def test_a_plain_session_runs_none_of_the_apps_listeners(engine: AsyncEngine) -> None:
    """A script's or Alembic's own session: no change tracking, no filters, no refusals."""
    async with engine.connect() as connection:
        transaction = await connection.begin()
        async with AsyncSession(bind=connection, expire_on_commit=False) as session:
            user = User(username="plain", email="plain@example.com", hashed_password=UNUSABLE_HASH)
            session.add(user)
            await session.flush()
            user.bio = "changed"
            await session.flush()
            await session.delete(user)
            await session.flush()
            assert session.info == {}
        await transaction.rollback()


async def test_the_api_tests_use_the_apps_read_sessions(client: AsyncClient, app: FastAPI) -> None:
    database: Database = app.dependency_overrides[get_database]()
    async with database.read_sessions() as session:
        assert isinstance(session.sync_session, ReadOnlySession)


async def test_a_refused_connect_is_reported_as_unreachable(database_url: URL) -> None:
    """The driver's socket errors at connect leave as `DatabaseUnreachableError` (the
    dialect connects through db.errors' guard): fails if SQLAlchemy stops passing it on."""
    settings = settings_for(database_url.set(host="127.0.0.1", port=free_port()))
    database = Database.from_settings(settings)
    try:
        with pytest.raises(DatabaseUnreachableError, match="ConnectionRefusedError"):
            async with database.engines["primary"].connect():
                pass
    finally:
        await database.dispose()
