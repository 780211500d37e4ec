"""What the request path leaves out for speed, and what it must keep: read sessions
without a transaction (but read-only and under the statement timeout), requests that
take turns for the database in order, dependencies that never hop to a thread, and a
collector that leaves what startup made alone."""

import asyncio
import gc
import inspect
import os
import threading
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from {{ cookiecutter.package_name }}.api import deps
from {{ cookiecutter.package_name }}.db.admission import Admission
from {{ cookiecutter.package_name }}.db.readonly import ReadOnlySessionError
from {{ cookiecutter.package_name }}.db.session import Database
from {{ cookiecutter.package_name }}.models import User
from {{ cookiecutter.package_name }}.security import PasswordHasher
from {{ cookiecutter.package_name }}.settings import Settings
from tests.conftest import app_for
from tests.factories import UNUSABLE_HASH


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    database = Database.from_settings(settings)
    yield database
    await database.dispose()


async def test_read_sessions_run_each_statement_on_its_own(database: Database) -> None:
    # In a transaction both statements would report its start; without one, their own.
    async with database.read_sessions() as session:
        first = await session.scalar(text("SELECT transaction_timestamp()"))
        await asyncio.sleep(0.01)
        second = await session.scalar(text("SELECT transaction_timestamp()"))

    assert first != second


async def test_read_sessions_keep_the_statement_timeout(
    database: Database, settings: Settings
) -> None:
    async with database.read_sessions() as session:
        timeout = await session.scalar(
            text("SELECT setting FROM pg_settings WHERE name = 'statement_timeout'")
        )

    assert timeout == str(round(settings.db_statement_timeout * 1000))


async def test_read_sessions_refuse_to_write(database: Database) -> None:
    async with database.read_sessions() as session:
        session.add(User(username="nope", email="nope@example.com", hashed_password=UNUSABLE_HASH))
        with pytest.raises(ReadOnlySessionError):
            await session.flush()
        await session.rollback()
        with pytest.raises(ReadOnlySessionError):
            await session.execute(update(User).values(bio="nope"))


async def test_read_sessions_keep_one_connection(database: Database) -> None:
    # read_position() relies on it: the position is read where the query then runs.
    async with database.read_sessions() as session:
        first = await session.scalar(text("SELECT pg_backend_pid()"))
        await session.scalar(select(User.id).limit(1))
        second = await session.scalar(text("SELECT pg_backend_pid()"))

    assert first == second


async def test_a_freed_turn_goes_to_the_longest_waiter() -> None:
    admission = Admission("test", 1, timeout=1)
    served: list[str] = []

    async def use(name: str) -> None:
        async with admission():
            served.append(name)

    holder = admission()
    await holder.__aenter__()
    waiter = asyncio.create_task(use("waiter"))
    await asyncio.sleep(0.05)
    await holder.__aexit__(None, None, None)
    # Runs before the waiter is scheduled: it must not take the turn first.
    await use("newcomer")
    await waiter

    assert served == ["waiter", "newcomer"]


async def test_a_wait_still_times_out_and_loses_no_turn() -> None:
    admission = Admission("test", 1, timeout=0.2)
    holder = admission()
    await holder.__aenter__()
    with pytest.raises(PoolTimeoutError):
        async with admission():
            pass
    cancelled = asyncio.create_task(admission().__aenter__())
    await asyncio.sleep(0.05)
    cancelled.cancel()
    await asyncio.gather(cancelled, return_exceptions=True)
    await holder.__aexit__(None, None, None)

    async with asyncio.timeout(1), admission():
        assert admission.waiting == 0


async def test_what_startup_made_is_left_out_of_collections_while_the_app_serves(
    settings: Settings,
) -> None:
    """Frozen (`gc.freeze`) once the app has started: a full collection then walks only
    what requests make. Walking everything took about 50 ms, which set a cache hit's p99.
    Unfrozen at shutdown, so an app's garbage can be collected after it."""
    app = app_for(settings)

    async with app.router.lifespan_context(app):
        assert gc.get_freeze_count() > 0

    assert gc.get_freeze_count() == 0


def test_dependencies_run_on_the_event_loop() -> None:
    # FastAPI runs a plain `def` dependency in its threadpool: a thread hop per request.
    functions = [
        value
        for name, value in vars(deps).items()
        if name.startswith("get_")
        and inspect.isfunction(value)
        and value.__module__ == deps.__name__
    ]

    assert functions
    assert [
        f.__name__
        for f in functions
        if not inspect.iscoroutinefunction(f) and not inspect.isasyncgenfunction(f)
    ] == []


@pytest.mark.skipif(not hasattr(os, "setpriority"), reason="thread priorities are Linux's")
async def test_batch_hashing_yields_the_cpu_to_single_requests() -> None:
    hasher = PasswordHasher(time_cost=1, memory_cost=8, workers=2)
    loop = asyncio.get_running_loop()
    try:
        assert len(await hasher.hash_many(["a", "b"])) == 2
        batch = await loop.run_in_executor(hasher._batch_executor, threading.get_native_id)
        single = await loop.run_in_executor(hasher._executor, threading.get_native_id)

        assert os.getpriority(os.PRIO_PROCESS, batch) > os.getpriority(os.PRIO_PROCESS, single)
    finally:
        hasher.close()
