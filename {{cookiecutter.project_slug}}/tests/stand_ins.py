"""Read-only stand-ins for replica and analytics databases, and running standby checks.

A role whose transactions are read-only by default (`default_transaction_read_only`)
reads the same data as the primary, and any write routed to it fails loudly.
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from uuid import uuid4

import pytest
from fastapi import FastAPI
from sqlalchemy import URL, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine

from {{ cookiecutter.package_name }}.db.routing import StandbyMonitor, Standbys
from {{ cookiecutter.package_name }}.db.session import Database
from {{ cookiecutter.package_name }}.settings import Settings
from tests.conftest import DatabaseServer


@asynccontextmanager
async def read_only_url(server: DatabaseServer, url: URL) -> AsyncIterator[URL]:
    """A URL for `url`'s database as a new read-only role, dropped afterwards."""
    role = f"reader_{uuid4().hex[:12]}"
    password = uuid4().hex
    await server.execute(
        url,
        f"CREATE ROLE {role} LOGIN PASSWORD '{password}'",
        f"ALTER ROLE {role} SET default_transaction_read_only = on",
        f'GRANT CONNECT ON DATABASE "{url.database}" TO {role}',
        f"GRANT USAGE ON SCHEMA public TO {role}",
        f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}",
    )
    try:
        yield url.set(username=role, password=password)
    finally:
        await server.execute(url, f"DROP OWNED BY {role}", f"DROP ROLE {role}")


def monitors(database: Database) -> list[StandbyMonitor]:
    """The monitors of `database`'s standbys."""
    return [
        monitor
        for work in database.background
        if isinstance(work, Standbys)
        for monitor in work.monitors.values()
    ]


async def checked(database: Database) -> None:
    """Wait until each standby of `database` has been checked once (reads go to the
    primary until then)."""
    await asyncio.wait_for(asyncio.gather(*(m.checked.wait() for m in monitors(database))), 10)


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[Database]:
    """A `Database` with its standby checks running, as the app's lifespan has it."""
    database = Database.from_settings(settings)
    database.start()
    try:
        await checked(database)
        yield database
    finally:
        await database.dispose()


@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[FastAPI]:
    """`app` with its lifespan entered and its standbys checked once."""
    async with app.router.lifespan_context(app):
        await checked(app.state.database)
        yield app


# Longest wait for a standby to replay something (the lagging one waits seconds a commit).
REPLAY_SECONDS = 30


async def replayed(standby: URL, position: int) -> None:
    """Wait until `standby` has replayed the primary's WAL up to `position`."""
    engine = create_async_engine(standby)
    query = text("SELECT pg_wal_lsn_diff(pg_last_wal_replay_lsn(), '0/0')::int8")
    try:
        for _ in range(REPLAY_SECONDS * 20):
            try:
                async with engine.connect() as connection:
                    if (await connection.scalar(query) or 0) >= position:
                        return
            except DBAPIError:  # the database may not have reached the standby yet
                pass
            await asyncio.sleep(0.05)
        pytest.fail(f"the standby did not replay up to {position}")
    finally:
        await engine.dispose()


async def caught_up(server: DatabaseServer, primary: URL, standby: URL) -> None:
    """Wait until `standby` has replayed everything `primary` has written so far."""
    position = await server.scalar(
        primary, "SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0')::int8"
    )
    await replayed(standby, position)
