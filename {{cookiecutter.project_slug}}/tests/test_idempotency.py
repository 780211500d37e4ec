"""`Idempotency-Key` on every POST: a repeat gets the first answer and writes nothing; the
same key for another request is refused; a repeat while the first runs is a 409."""

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any
from uuid import uuid4

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient, Response
from sqlalchemy import URL, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.pool import NullPool

from {{ cookiecutter.package_name }}.api.idempotency import KEY_HEADER, REPLAYED_HEADER
from {{ cookiecutter.package_name }}.models import IdempotencyKey, Post, User
from {{ cookiecutter.package_name }}.security import PasswordHasher
from tests.conftest import DatabaseServer, app_for, settings_for
from tests.factories import make_role, make_user, user_payload

POST = {"title": "Once", "body": "only once"}


def keyed(key: str | None = None) -> dict[str, str]:
    return {KEY_HEADER: key or f"key-{uuid4()}"}


async def count_posts(session: AsyncSession, author_id: int) -> int:
    query = select(func.count()).select_from(Post).where(Post.author_id == author_id)
    return await session.scalar(query) or 0


async def test_a_repeat_gets_the_first_answer_and_writes_nothing(
    client: AsyncClient, app: FastAPI, session: AsyncSession
) -> None:
    author = await make_user(session)
    path = app.url_path_for("create_post", user_id=str(author.id))
    headers = keyed()

    first = await client.post(path, json=POST, headers=headers)
    again = await client.post(path, json=POST, headers=headers)

    assert first.status_code == again.status_code == 201
    assert REPLAYED_HEADER not in first.headers
    assert again.headers[REPLAYED_HEADER] == "true"
    assert again.json() == first.json()
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["content-type"] == "application/json"
    assert await count_posts(session, author.id) == 1


@pytest.mark.parametrize(
    "route", ["create_user", "create_users", "create_user_with_profile", "create_role"]
)
async def test_every_post_route_replays(
    client: AsyncClient, app: FastAPI, session: AsyncSession, route: str
) -> None:
    body: Any = {
        "create_user": user_payload(),
        "create_users": [user_payload(), user_payload()],
        "create_user_with_profile": {"user": user_payload(), "profile": {"location": "Rome"}},
        "create_role": {"name": f"role-{uuid4().hex[:8]}"},
    }[route]
    headers = keyed()

    first = await client.post(app.url_path_for(route), json=body, headers=headers)
    again = await client.post(app.url_path_for(route), json=body, headers=headers)

    # Without the key the repeat would be a 409 (the name is taken).
    assert (first.status_code, again.status_code) == (201, 201), again.text
    assert again.headers[REPLAYED_HEADER] == "true"
    assert again.json() == first.json()


async def test_every_post_route_takes_a_key(app: FastAPI) -> None:
    schema = app.openapi()
    # Every POST that writes: a login (with authentication) writes nothing, and its
    # answer, an access token, is not for storing.
    posts = {
        path: item["post"]
        for path, item in schema["paths"].items()
        if "post" in item and path != "/auth/token"
    }

    assert posts
    for path, operation in posts.items():
        headers = {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}
        assert KEY_HEADER in headers, path


async def test_the_same_key_for_another_request_is_refused(
    client: AsyncClient, app: FastAPI, session: AsyncSession
) -> None:
    author = await make_user(session)
    other = await make_user(session)
    path = app.url_path_for("create_post", user_id=str(author.id))
    headers = keyed()
    await client.post(path, json=POST, headers=headers)

    another_body = await client.post(path, json={**POST, "title": "Twice"}, headers=headers)
    another_path = await client.post(
        app.url_path_for("create_post", user_id=str(other.id)), json=POST, headers=headers
    )

    for response in (another_body, another_path):
        assert response.status_code == 422
        assert response.json()["code"] == "idempotency_key_reused"
    assert await count_posts(session, author.id) == 1
    assert await count_posts(session, other.id) == 0


@pytest.mark.parametrize(
    "key", ["", "x" * 256, "two words", "naïve".encode(), "tab\there"], ids=repr
)
async def test_a_key_that_is_not_1_to_255_visible_ascii_characters_is_refused(
    client: AsyncClient, app: FastAPI, session: AsyncSession, key: str | bytes
) -> None:
    author = await make_user(session)
    path = app.url_path_for("create_post", user_id=str(author.id))

    value = key if isinstance(key, bytes) else key.encode()
    response = await client.post(path, json=POST, headers={KEY_HEADER.encode(): value})

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["header", KEY_HEADER]
    assert await count_posts(session, author.id) == 0


async def test_a_request_refused_before_it_ran_stores_nothing(
    client: AsyncClient, app: FastAPI, session: AsyncSession
) -> None:
    author = await make_user(session)
    path = app.url_path_for("create_post", user_id=str(author.id))
    headers = keyed()

    invalid = await client.post(path, json={"title": ""}, headers=headers)
    valid = await client.post(path, json=POST, headers=headers)

    assert invalid.status_code == 422
    assert valid.status_code == 201
    assert REPLAYED_HEADER not in valid.headers


async def test_a_request_that_failed_stores_nothing_and_runs_again(
    client: AsyncClient, app: FastAPI, session: AsyncSession
) -> None:
    """An error rolled the writes back: a repeat runs again (and may succeed now)."""
    role = await make_role(session)
    body = {"name": role.name.upper()}
    headers = keyed()

    taken = await client.post(app.url_path_for("create_role"), json=body, headers=headers)
    await session.delete(role)
    await session.commit()
    free = await client.post(app.url_path_for("create_role"), json=body, headers=headers)

    assert taken.status_code == 409
    assert free.status_code == 201
    assert REPLAYED_HEADER not in free.headers


async def test_an_expired_key_is_forgotten(
    client: AsyncClient, app: FastAPI, session: AsyncSession
) -> None:
    author = await make_user(session)
    path = app.url_path_for("create_post", user_id=str(author.id))
    headers = keyed()
    await client.post(path, json=POST, headers=headers)
    await session.execute(
        text("UPDATE idempotency_keys SET expires_at = now() - interval '1 second'")
    )
    await session.commit()

    again = await client.post(path, json=POST, headers=headers)

    assert again.status_code == 201
    assert REPLAYED_HEADER not in again.headers
    assert await count_posts(session, author.id) == 2


async def test_storing_a_key_deletes_expired_ones(
    client: AsyncClient, app: FastAPI, session: AsyncSession
) -> None:
    """No job to schedule: each request that stores a key deletes a few expired ones."""
    await session.execute(
        text(
            "INSERT INTO idempotency_keys"
            " (scope, key, fingerprint, status_code, headers, body, expires_at)"
            " SELECT 'test', 'expired-' || n, '', 201, '[]', '', now() - interval '1 hour'"
            " FROM generate_series(1, 5) AS n"
        )
    )
    await session.commit()
    author = await make_user(session)
    path = app.url_path_for("create_post", user_id=str(author.id))

    for _ in range(3):
        assert (await client.post(path, json=POST, headers=keyed())).status_code == 201

    expired = select(func.count()).where(IdempotencyKey.expires_at <= func.now())
    assert await session.scalar(expired) == 0
    assert await session.scalar(select(func.count()).select_from(IdempotencyKey)) == 3


# Real commits below: locks and restarts need connections and apps of their own.


@pytest.fixture
async def committed_url(server: DatabaseServer) -> AsyncIterator[URL]:
    async with server.migrated_database("keys_{{ cookiecutter.package_name }}") as url:
        yield url


async def served_app(url: URL) -> tuple[FastAPI, AsyncClient]:
    app = app_for(settings_for(url))
    return app, AsyncClient(transport=ASGITransport(app=app), base_url="http://test")


async def signed_up(client: AsyncClient) -> int:
    response = await client.post("/users", json=user_payload())
    assert response.status_code == 201, response.text
    user_id: int = response.json()["id"]
    return user_id


async def test_concurrent_repeats_write_once(committed_url: URL) -> None:
    """16 copies of one request at once: one runs, each other gets its answer or a 409."""
    app, client = await served_app(committed_url)
    async with app.router.lifespan_context(app), client:
        author = await signed_up(client)
        headers = keyed()

        responses: list[Response] = await asyncio.gather(
            *(client.post(f"/users/{author}/posts", json=POST, headers=headers) for _ in range(16))
        )

    statuses = sorted(r.status_code for r in responses)
    assert set(statuses) <= {201, 409}, statuses
    created = [r for r in responses if r.status_code == 201]
    assert len({r.json()["id"] for r in created}) == 1
    assert len([r for r in created if REPLAYED_HEADER not in r.headers]) == 1
    for refused in (r for r in responses if r.status_code == 409):
        assert refused.json()["code"] == "idempotency_key_in_use"
    engine = create_async_engine(committed_url)
    try:
        async with engine.connect() as connection:
            query = select(func.count()).select_from(Post).where(Post.author_id == author)
            assert await connection.scalar(query) == 1
    finally:
        await engine.dispose()


async def test_a_key_held_by_a_running_request_is_in_use_until_its_connection_goes(
    committed_url: URL,
) -> None:
    """The first request's worker is gone mid-request (here: a connection holding the key
    in an open transaction, then closed): the key is free at once, nothing was stored."""
    app, client = await served_app(committed_url)
    key = f"key-{uuid4()}"
    # No pool: the connection closes with the block, as a dead worker's does.
    engine = create_async_engine(committed_url, poolclass=NullPool)
    try:
        async with app.router.lifespan_context(app), client:
            author = await signed_up(client)
            path = f"/users/{author}/posts"
            async with engine.connect() as first_worker:
                await first_worker.execute(
                    text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
                    {"key": f" {key}"},
                )
                in_use = await client.post(path, json=POST, headers=keyed(key))
            # Its connection closed: its transaction and the key's lock with it.
            after = await client.post(path, json=POST, headers=keyed(key))
    finally:
        await engine.dispose()

    assert in_use.status_code == 409
    assert in_use.json()["code"] == "idempotency_key_in_use"
    assert after.status_code == 201
    assert REPLAYED_HEADER not in after.headers


async def test_a_repeat_after_a_restart_is_replayed(committed_url: URL) -> None:
    headers = keyed()
    app, client = await served_app(committed_url)
    async with app.router.lifespan_context(app), client:
        author = await signed_up(client)
        first = await client.post(f"/users/{author}/posts", json=POST, headers=headers)

    restarted, client = await served_app(committed_url)
    async with restarted.router.lifespan_context(restarted), client:
        again = await client.post(f"/users/{author}/posts", json=POST, headers=headers)

    assert first.status_code == again.status_code == 201
    assert again.headers[REPLAYED_HEADER] == "true"
    assert again.json() == first.json()


async def test_users_made_by_a_replayed_request_exist_once(committed_url: URL) -> None:
    app, client = await served_app(committed_url)
    payload = user_payload()
    headers = keyed()
    async with app.router.lifespan_context(app), client:
        answers = [await client.post("/users", json=payload, headers=headers) for _ in range(3)]

    assert [r.status_code for r in answers] == [201, 201, 201]
    engine = create_async_engine(committed_url)
    try:
        async with engine.connect() as connection:
            query = select(func.count()).where(User.username == payload["username"])
            assert await connection.scalar(query) == 1
    finally:
        await engine.dispose()


class SlowHasher(PasswordHasher):
    """Hashing that takes `seconds` however fast the CPU is (the loop stays free)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(time_cost=1, memory_cost=8)
        self.seconds = seconds

    async def hash_many(self, passwords: Sequence[str]) -> list[str]:
        await asyncio.sleep(self.seconds)
        return await super().hash_many(passwords)


async def test_a_keyed_sign_up_holds_no_transaction_while_passwords_are_hashed(
    committed_url: URL,
) -> None:
    """The key is claimed as the write's unit of work opens, after the hashing: a
    transaction open meanwhile would idle past the server's limit and be cut (a large
    keyed batch could then never succeed)."""
    # The limit stays far above what a busy loop leaves between the statements of a unit
    # of work (50 ms was cut once in CI at load 4); the hashing takes three times it.
    settings = settings_for(committed_url).model_copy(
        update={"db_idle_in_transaction_timeout": 0.5}
    )
    app = app_for(settings)
    client = AsyncClient(transport=ASGITransport(app=app), base_url="http://test")
    batch = [user_payload() for _ in range(5)]
    async with app.router.lifespan_context(app), client:
        app.state.password_hasher.close()
        app.state.password_hasher = SlowHasher(1.5)
        created = await client.post("/users/bulk", json=batch, headers=keyed())

    assert created.status_code == 201, created.text
