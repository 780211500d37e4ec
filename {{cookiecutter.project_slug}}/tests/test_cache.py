"""Cache-aside on real Redis: hits, misses, invalidation on write, and Redis being down."""

from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI
from httpx import AsyncClient, Response
from pydantic import SecretStr
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from {{ cookiecutter.package_name }}.cache import UserCache
from {{ cookiecutter.package_name }}.main import create_app
from {{ cookiecutter.package_name }}.models import User
from {{ cookiecutter.package_name }}.settings import Settings
from tests.conftest import client_for
from tests.factories import make_user


def user_cache(app: FastAPI) -> UserCache:
    cache = app.state.user_cache
    assert isinstance(cache, UserCache)
    return cache


async def get_user(client: AsyncClient, app: FastAPI, user_id: int) -> Response:
    return await client.get(app.url_path_for("get_user", user_id=str(user_id)))


async def test_first_read_misses_then_hits(
    client: AsyncClient, app: FastAPI, session: AsyncSession
) -> None:
    user = await make_user(session)

    first = await get_user(client, app, user.id)
    second = await get_user(client, app, user.id)

    assert (first.status_code, first.headers["X-Cache"]) == (200, "miss")
    assert (second.status_code, second.headers["X-Cache"]) == (200, "hit")
    assert first.json() == second.json()


async def test_a_hit_does_not_ask_the_database(
    client: AsyncClient, app: FastAPI, session: AsyncSession
) -> None:
    user = await make_user(session, full_name="Before")
    await get_user(client, app, user.id)
    # Behind the service's back: the cache cannot know, so it still answers "Before".
    await session.execute(update(User).where(User.id == user.id).values(full_name="After"))

    response = await get_user(client, app, user.id)

    assert response.headers["X-Cache"] == "hit"
    assert response.json()["full_name"] == "Before"


async def test_entries_expire_after_the_configured_ttl(
    client: AsyncClient, app: FastAPI, session: AsyncSession, settings: Settings
) -> None:
    user = await make_user(session)
    await get_user(client, app, user.id)

    cache = user_cache(app)
    ttl = await cache.redis.ttl(cache.key(user.id))

    assert 0 < ttl <= settings.cache_ttl_seconds


async def test_update_invalidates(client: AsyncClient, app: FastAPI, session: AsyncSession) -> None:
    user = await make_user(session)
    await get_user(client, app, user.id)

    patch = await client.patch(
        app.url_path_for("update_user", user_id=str(user.id)), json={"full_name": "Renamed"}
    )
    after = await get_user(client, app, user.id)

    assert patch.status_code == 200
    assert after.headers["X-Cache"] == "miss"
    assert after.json()["full_name"] == "Renamed"


async def test_delete_invalidates(client: AsyncClient, app: FastAPI, session: AsyncSession) -> None:
    user = await make_user(session)
    await get_user(client, app, user.id)

    deleted = await client.delete(app.url_path_for("delete_user", user_id=str(user.id)))
    after = await get_user(client, app, user.id)

    assert deleted.status_code == 204
    assert after.status_code == 404


async def test_a_failed_write_keeps_the_entry(
    client: AsyncClient, app: FastAPI, session: AsyncSession
) -> None:
    taken = (await make_user(session)).username
    user_id = (await make_user(session)).id
    await get_user(client, app, user_id)

    patch = await client.patch(
        app.url_path_for("update_user", user_id=str(user_id)), json={"username": taken}
    )

    assert patch.status_code == 409
    assert (await get_user(client, app, user_id)).headers["X-Cache"] == "hit"


async def test_missing_users_are_not_cached(client: AsyncClient, app: FastAPI) -> None:
    response = await get_user(client, app, 987654)
    assert response.status_code == 404
    assert await user_cache(app).redis.exists(user_cache(app).key(987654)) == 0


async def test_an_unreadable_entry_is_a_miss(
    client: AsyncClient, app: FastAPI, session: AsyncSession
) -> None:
    user = await make_user(session)
    cache = user_cache(app)
    await cache.redis.set(cache.key(user.id), b"{not json")

    response = await get_user(client, app, user.id)

    assert (response.status_code, response.headers["X-Cache"]) == (200, "miss")
    assert response.json()["id"] == user.id


@pytest.fixture
async def redis_down_app(settings: Settings) -> AsyncIterator[FastAPI]:
    """The app with Redis unreachable (nothing listens on port 1); the database is fine."""
    app = create_app(settings.model_copy(update={"redis_url": SecretStr("redis://127.0.0.1:1")}))
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def redis_down_client(
    redis_down_app: FastAPI, session: AsyncSession
) -> AsyncIterator[AsyncClient]:
    async with client_for(redis_down_app, session) as client:
        yield client


async def test_the_service_answers_while_redis_is_down(
    redis_down_client: AsyncClient, session: AsyncSession, caplog: pytest.LogCaptureFixture
) -> None:
    user = await make_user(session)
    path = f"/users/{user.id}"

    first = await redis_down_client.get(path)
    second = await redis_down_client.get(path)
    patched = await redis_down_client.patch(path, json={"bio": "still writable"})
    health = await redis_down_client.get("/health")

    assert (first.status_code, first.headers["X-Cache"]) == (200, "miss")
    assert (second.status_code, second.headers["X-Cache"]) == (200, "miss")
    assert patched.status_code == 200
    assert patched.json()["bio"] == "still writable"
    assert health.status_code == 200
    assert health.json()["checks"]["redis"] == "unreachable"
    assert "cache get failed" in caplog.text


async def test_after_a_failure_reads_leave_redis_alone_for_a_while(
    redis_down_app: FastAPI, redis_down_client: AsyncClient, session: AsyncSession
) -> None:
    user = await make_user(session)
    assert user_cache(redis_down_app).available

    await redis_down_client.get(f"/users/{user.id}")

    assert not user_cache(redis_down_app).available
