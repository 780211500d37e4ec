"""Replica routing against a real streaming replica (a hot standby fed by WAL).

Runs when STREAMING_PRIMARY_URL and STREAMING_REPLICA_URL name a primary server and its
standby (the template's CI starts such a pair); skipped otherwise. The read-only-role
stand-in in test_replica.py runs everywhere.
"""

import asyncio
import os
from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from pydantic import SecretStr
from sqlalchemy import URL, text
from sqlalchemy.exc import DBAPIError

from {{ cookiecutter.package_name }}.main import create_app
from {{ cookiecutter.package_name }}.settings import Settings, to_async_url
from tests.conftest import DatabaseServer, settings_for
from tests.factories import user_payload
from tests.stand_ins import REPLAY_SECONDS, caught_up, running, serving

PRIMARY = os.environ.get("STREAMING_PRIMARY_URL")
REPLICA = os.environ.get("STREAMING_REPLICA_URL")

pytestmark = pytest.mark.skipif(
    not (PRIMARY and REPLICA),
    reason="set STREAMING_PRIMARY_URL and STREAMING_REPLICA_URL to test a real replica",
)


@pytest.fixture(scope="module")
async def urls() -> AsyncIterator[tuple[URL, URL]]:
    assert PRIMARY is not None
    assert REPLICA is not None
    server = DatabaseServer(to_async_url(PRIMARY))
    try:
        async with server.migrated_database("stream_{{ cookiecutter.package_name }}") as primary:
            replica = to_async_url(REPLICA).set(database=primary.database)
            await caught_up(server, primary, replica)
            yield primary, replica
    finally:
        await server.close()


def streaming_settings(urls: tuple[URL, URL]) -> Settings:
    primary, replica = urls
    return settings_for(primary).model_copy(
        update={"replica_database_url": SecretStr(replica.render_as_string(hide_password=False))}
    )


async def test_read_sessions_are_on_the_standby(urls: tuple[URL, URL]) -> None:
    async with running(streaming_settings(urls)) as database:
        async with database.read_sessions() as session:
            on_standby = await session.scalar(text("SELECT pg_is_in_recovery()"))
            with pytest.raises(DBAPIError, match="read-only transaction"):
                await session.execute(text("DELETE FROM users"))
        async with database.sessionmaker() as session:
            on_primary = await session.scalar(text("SELECT pg_is_in_recovery()"))

    assert (on_standby, on_primary) == (True, False)


@pytest.fixture
async def app(urls: tuple[URL, URL]) -> AsyncIterator[FastAPI]:
    app = create_app(streaming_settings(urls))
    async with serving(app):
        yield app


async def test_a_write_reaches_readers_through_replication(app: FastAPI) -> None:
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as client:
        created = await client.post("/users", json=user_payload())
        assert created.status_code == 201
        path = f"/users/{created.json()['id']}"
        # The standby replays the commit shortly after it; until then the user is missing.
        for _ in range(REPLAY_SECONDS * 10):
            fetched = await client.get(path)
            if fetched.status_code == 200:
                break
            await asyncio.sleep(0.1)

    assert fetched.status_code == 200
    assert fetched.json()["username"] == created.json()["username"]
