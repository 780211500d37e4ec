"""Entries cached under another history of the primary are never served: after a failover
to a standby that missed the last writes, the cache answers what the new primary has.

Runs when STREAMING_PRIMARY_URL names a primary that a standby can be cloned from (the
template's CI starts one); skipped otherwise.
"""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from sqlalchemy import URL

from {{ cookiecutter.package_name }}.settings import Settings
from tests.conftest import app_for, settings_for
from tests.factories import user_payload
from tests.private_redis import AnyPrivateRedis
from tests.promotion import promoted_standby, streaming_database

PRIMARY = os.environ.get("STREAMING_PRIMARY_URL")

pytestmark = pytest.mark.skipif(
    not PRIMARY, reason="set STREAMING_PRIMARY_URL to test a failover to a promoted standby"
)


@pytest.fixture
async def primary_url() -> AsyncIterator[URL]:
    async with streaming_database("history_{{ cookiecutter.package_name }}") as url:
        yield url


def on(url: URL, redis: AnyPrivateRedis) -> Settings:
    return settings_for(url).model_copy(
        update={**redis.settings, "cache_key_prefix": "history-test"}
    )


@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[AsyncClient]:
    async with (
        app.router.lifespan_context(app),
        AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as client,
    ):
        yield client


async def test_after_a_failover_to_a_standby_that_missed_writes_the_cache_answers_its_rows(
    primary_url: URL, private_redis: AnyPrivateRedis
) -> None:
    old_primary = app_for(on(primary_url, private_redis))
    async with serving(old_primary) as client:
        both = (await client.post("/users", json=user_payload(full_name="Before"))).json()
        async with promoted_standby(primary_url) as new_url:
            # Written on the old primary only, then cached from it.
            patched = await client.patch(f"/users/{both['id']}", json={"full_name": "After"})
            only_old = (await client.post("/users", json=user_payload())).json()
            cached = [await client.get(f"/users/{user['id']}") for user in (both, only_old)]
            cached += [await client.get(f"/users/{user['id']}") for user in (both, only_old)]

            # The service now runs on the promoted standby, with the same Redis.
            new_primary = app_for(on(new_url, private_redis))
            async with serving(new_primary) as after:
                patched_there = await after.get(f"/users/{both['id']}")
                missing_there = await after.get(f"/users/{only_old['id']}")

    assert patched.status_code == 200
    assert [answer.headers["X-Cache"] for answer in cached] == ["miss", "miss", "hit", "hit"]
    assert patched_there.status_code == 200
    assert patched_there.json()["full_name"] == "Before"
    assert missing_there.status_code == 404
