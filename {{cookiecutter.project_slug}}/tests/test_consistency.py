"""Consistency against a real standby that lags on purpose (`recovery_min_apply_delay`).

Runs when STREAMING_PRIMARY_URL and STREAMING_LAGGING_REPLICA_URL name a primary and a
delayed standby of it (the template's CI starts such a pair); skipped otherwise.

The promises (README, "Consistency"): a client that sends back the token of its write
reads that write at once; once the standby has replayed a write, no reader sees the
state before it, from the standby or from the cache; a standby further behind than
REPLICA_MAX_LAG_SECONDS is skipped.
"""

import asyncio
import os
{% if cookiecutter.use_cache %}
import time
{% endif %}
from collections.abc import AsyncIterator
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient, Response
from pydantic import SecretStr
from sqlalchemy import URL

from {{ cookiecutter.package_name }}.db.consistency import TOKEN_HEADER, parse_position
from {{ cookiecutter.package_name }}.settings import Settings, to_async_url
from tests.conftest import DatabaseServer, app_for, settings_for
from tests.factories import user_payload
{% if cookiecutter.use_cache %}
from tests.private_redis import AnyPrivateRedis, forget
{% endif %}
from tests.stand_ins import caught_up, monitors, replayed, serving

PRIMARY = os.environ.get("STREAMING_PRIMARY_URL")
LAGGING = os.environ.get("STREAMING_LAGGING_REPLICA_URL")

pytestmark = pytest.mark.skipif(
    not (PRIMARY and LAGGING),
    reason="set STREAMING_PRIMARY_URL and STREAMING_LAGGING_REPLICA_URL to test a lagging standby",
)


async def replayed_token(standby: URL, response: Response) -> None:
    await replayed(standby, parse_position(response.headers[TOKEN_HEADER]))


@pytest.fixture(scope="module")
async def urls() -> AsyncIterator[tuple[URL, URL]]:
    assert PRIMARY is not None
    assert LAGGING is not None
    server = DatabaseServer(to_async_url(PRIMARY))
    try:
        async with server.migrated_database("lagging_{{ cookiecutter.package_name }}") as primary:
            standby = to_async_url(LAGGING).set(database=primary.database)
            await caught_up(server, primary, standby)
            yield primary, standby
    finally:
        await server.close()


def lagging_settings(urls: tuple[URL, URL], **changes: Any) -> Settings:
    primary, standby = urls
    return settings_for(primary).model_copy(
        update={
            "replica_database_url": SecretStr(standby.render_as_string(hide_password=False)),
            **changes,
        }
    )


@pytest.fixture(scope="module")
async def app(urls: tuple[URL, URL]) -> AsyncIterator[FastAPI]:
    app = app_for(lagging_settings(urls))
    async with serving(app):
        yield app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as client:
        yield client


async def created_and_replayed(client: AsyncClient, standby: URL) -> str:
    created = await client.post("/users", json=user_payload())
    assert created.status_code == 201
    await replayed_token(standby, created)
    return f"/users/{created.json()['id']}"


async def test_the_writer_reads_its_own_write_at_once_with_the_token(
    client: AsyncClient, urls: tuple[URL, URL]
) -> None:
    created = await client.post("/users", json=user_payload())
    path = f"/users/{created.json()['id']}"

    # Without it, the lagging standby does not have the user yet.
    without_token = await client.get(path)
    with_token = await client.get(path, headers={TOKEN_HEADER: created.headers[TOKEN_HEADER]})
    details = await client.get(
        f"{path}/details", headers={TOKEN_HEADER: created.headers[TOKEN_HEADER]}
    )

    assert created.status_code == 201
    assert with_token.status_code == details.status_code == 200
    assert with_token.json()["username"] == created.json()["username"]
    assert without_token.status_code == 404
    await replayed_token(urls[1], created)
    assert (await client.get(path)).status_code == 200


async def test_a_malformed_token_is_a_clear_422(client: AsyncClient) -> None:
    response = await client.get("/users/1", headers={TOKEN_HEADER: "not-a-position"})

    assert response.status_code == 422
    assert TOKEN_HEADER in str(response.json()["detail"])


async def read_until_replayed(
    client: AsyncClient, path: str, standby: URL, write: Response
) -> None:
    """Read `path` while the standby lags behind `write` (readers may see the old state
    now, and must not keep it), then until it has replayed the write."""
    assert write.status_code < 300, write.text
    reading = asyncio.create_task(_keep_reading(client, path))
    try:
        await replayed_token(standby, write)
    finally:
        reading.cancel()


async def _keep_reading(client: AsyncClient, path: str) -> None:
    while True:
        await client.get(path)
        await asyncio.sleep(0.02)


async def test_after_an_update_replays_no_reader_sees_the_old_value(
    client: AsyncClient, urls: tuple[URL, URL]
) -> None:
    path = await created_and_replayed(client, urls[1])
    await client.get(path)
    await client.get(path)

    patched = await client.patch(path, json={"full_name": "After"})
    await read_until_replayed(client, path, urls[1], patched)
    after = [await client.get(path) for _ in range(3)]

    assert [response.json()["full_name"] for response in after] == ["After"] * 3


async def test_after_a_delete_replays_no_reader_sees_the_user(
    client: AsyncClient, urls: tuple[URL, URL]
) -> None:
    path = await created_and_replayed(client, urls[1])
    await client.get(path)
    await client.get(path)

    deleted = await client.delete(path)
    await read_until_replayed(client, path, urls[1], deleted)
    after = [await client.get(path) for _ in range(3)]

    assert [response.status_code for response in after] == [404] * 3
{% if cookiecutter.use_soft_delete %}


async def test_after_a_restore_replays_every_reader_sees_the_user(
    client: AsyncClient, urls: tuple[URL, URL]
) -> None:
    path = await created_and_replayed(client, urls[1])
    deleted = await client.delete(path)
    await read_until_replayed(client, path, urls[1], deleted)

    restored = await client.post(f"{path}/restore")
    await read_until_replayed(client, path, urls[1], restored)
    after = [await client.get(path) for _ in range(3)]

    assert [response.status_code for response in after] == [200] * 3
{% endif %}


async def test_a_standby_further_behind_than_the_limit_is_skipped(urls: tuple[URL, URL]) -> None:
    app = app_for(lagging_settings(urls, replica_max_lag_seconds=0.3))
    async with (
        serving(app),
        AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as client,
    ):
        created = await client.post("/users", json=user_payload())
        (monitor,) = [m for m in monitors(app.state.database) if m.role == "replica"]
        for _ in range(40):
            if monitor.status.lag_seconds > 0.3:
                break
            await asyncio.sleep(0.05)
        fetched = await client.get(f"/users/{created.json()['id']}")

    assert monitor.status.lag_seconds > 0.3
    assert fetched.status_code == 200


async def test_health_says_a_standby_past_the_limit_is_lagging(urls: tuple[URL, URL]) -> None:
    app = app_for(lagging_settings(urls, replica_max_lag_seconds=0.3))
    async with (
        serving(app),
        AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as client,
    ):
        await client.post("/users", json=user_payload())
        (monitor,) = [m for m in monitors(app.state.database) if m.role == "replica"]
        for _ in range(40):
            if monitor.status.lag_seconds > 0.3:
                break
            await asyncio.sleep(0.05)
        health = await client.get("/health")

    assert health.status_code == 200  # the primary decides
    assert health.json()["checks"]["replica"] == "lagging"
    assert health.json()["lag_seconds"]["replica"] > 0.3
{% if cookiecutter.use_cache %}


# The lagging standby replays each commit this long after the primary (.ci/streaming-replica).
STANDBY_DELAY_SECONDS = 2.0


@pytest.mark.parametrize("how", ["flush", "restart", "evict"])
async def test_when_redis_forgets_inside_the_lag_no_reader_sees_the_old_value_after_it(
    urls: tuple[URL, URL], private_redis: AnyPrivateRedis, how: str
) -> None:
    """Redis loses the update's tombstone while the standby still has the old row: readers
    may see the old value until the standby replays the update, never later (not for the
    cache's TTL)."""
    settings = lagging_settings(urls, **private_redis.settings)
    app = app_for(settings)
    late: list[float] = []
    async with (
        serving(app),
        AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as client,
    ):
        path = await created_and_replayed(client, urls[1])
        user_id = int(path.rsplit("/", 1)[1])
        await client.get(path)
        assert (await client.get(path)).headers["X-Cache"] == "hit"
        patched = await client.patch(path, json={"full_name": "After"})
        written = time.monotonic()
        await asyncio.sleep(0.5)
        await forget(how, private_redis, app.state.user_cache.key(user_id))
        while (elapsed := time.monotonic() - written) < STANDBY_DELAY_SECONDS + 3:
            answer = await client.get(path)
            if answer.json()["full_name"] != "After" and elapsed > STANDBY_DELAY_SECONDS + 1:
                late.append(round(elapsed, 2))
            await asyncio.sleep(0.05)

    assert patched.status_code == 200
    assert late == []
{% endif %}
