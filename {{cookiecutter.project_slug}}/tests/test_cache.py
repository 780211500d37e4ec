"""Cache-aside on real Redis: hits, misses, invalidation on write, and Redis being down,
restarted or too slow to take an invalidation."""

import asyncio
from collections.abc import AsyncIterator
from contextvars import ContextVar
from typing import Any

import pytest
import redis.utils
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient, Response
from pydantic import SecretStr
from redis.asyncio import Redis
from sqlalchemy import URL, event, update
from sqlalchemy.ext.asyncio import AsyncSession

from {{ cookiecutter.package_name }}.api.deps import get_database
from {{ cookiecutter.package_name }}.cache import UserCache
from {{ cookiecutter.package_name }}.cache.batches import Batches
from {{ cookiecutter.package_name }}.cache.flights import SingleFlight
from {{ cookiecutter.package_name }}.db.consistency import READ_POSITION_SQL
from {{ cookiecutter.package_name }}.models import User
from {{ cookiecutter.package_name }}.schemas.user import UserRead
from {{ cookiecutter.package_name }}.settings import Settings
from tests.conftest import DatabaseServer, app_for, client_for, settings_for
from tests.factories import make_user, user_payload
from tests.private_redis import AnyPrivateRedis, PrivateRedisCluster, forget
{% if cookiecutter.use_replica %}
from tests.stand_ins import monitors, read_only_url, serving
{% endif %}
from tests.test_settings import settings_error


def user_cache(app: FastAPI) -> UserCache:
    cache = app.state.user_cache
    assert isinstance(cache, UserCache)
    return cache


async def get_user(client: AsyncClient, app: FastAPI, user_id: int) -> Response:
    return await client.get(app.url_path_for("get_user", user_id=str(user_id)))


def test_redis_replies_are_parsed_in_c() -> None:
    """`redis[hiredis]` is installed, so redis-py parses replies with hiredis: in Python
    its parser took a tenth of a cache hit's CPU."""
    assert redis.utils.HIREDIS_AVAILABLE


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


async def test_a_hit_opens_no_session(
    client: AsyncClient, app: FastAPI, session: AsyncSession
) -> None:
    user = await make_user(session)
    await get_user(client, app, user.id)
    database = app.dependency_overrides[get_database]()
    opened: list[object] = []
    sessions = database.read_sessions

    def counting(**kwargs: Any) -> Any:
        opened.append(kwargs)
        return sessions(**kwargs)

    database.read_sessions = counting

    response = await get_user(client, app, user.id)

    assert (response.headers["X-Cache"], opened) == ("hit", [])


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
    app = app_for(settings.model_copy(update={"redis_url": SecretStr("redis://127.0.0.1:1")}))
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


@pytest.fixture(scope="module")
async def own_database(server: DatabaseServer) -> AsyncIterator[URL]:
    """A database of this module's own, for apps that commit for real."""
    async with server.migrated_database("cache_{{ cookiecutter.package_name }}") as url:
        yield url


@pytest.fixture
async def committing_client(
    server: DatabaseServer, own_database: URL, private_redis: AnyPrivateRedis
) -> AsyncIterator[tuple[FastAPI, AsyncClient]]:
    """The app as deployed (its own sessions and commits, a replica where the feature is
    on) on the private Redis."""
    settings = settings_for(own_database).model_copy(update=private_redis.settings)
{% if cookiecutter.use_replica %}
    async with read_only_url(server, own_database) as replica:
        replica_url = SecretStr(replica.render_as_string(hide_password=False))
        app = app_for(settings.model_copy(update={"replica_database_url": replica_url}))
        async with (
            serving(app),
            AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as client,
        ):
            yield app, client
{% else %}
    app = app_for(settings)
    async with (
        app.router.lifespan_context(app),
        AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as client,
    ):
        yield app, client
{% endif %}


async def test_a_hit_checks_out_no_database_connection(
    committing_client: tuple[FastAPI, AsyncClient],
) -> None:
    app, client = committing_client
    path = f"/users/{(await client.post('/users', json=user_payload())).json()['id']}"
    await client.get(path)
    checkouts: list[str] = []

    def count(*args: Any) -> None:
        checkouts.append("checkout")

    pools = [engine.sync_engine.pool for engine in app.state.database.engines.values()]
    for pool in pools:
        event.listen(pool, "checkout", count)
    try:
        hit = await client.get(path)
    finally:
        for pool in pools:
            event.remove(pool, "checkout", count)

    assert hit.headers["X-Cache"] == "hit"
    assert checkouts == []


async def positions_refreshed(app: FastAPI) -> None:
    """The positions fills are versioned with, as they are after their next refresh (the
    primary's after 0.1 s, a standby's at its monitor's next check)."""
    app.state.fill_positions.forget()
{% if cookiecutter.use_replica %}
    for monitor in monitors(app.state.database):
        await monitor.check()
{% endif %}


async def test_after_a_redis_restart_the_cache_works_once_sealed_again(
    committing_client: tuple[FastAPI, AsyncClient], private_redis: AnyPrivateRedis
) -> None:
    app, client = committing_client
    user_id = (await client.post("/users", json=user_payload())).json()["id"]
    path = f"/users/{user_id}"
    await client.get(path)
    # Its rounds are the test's own (a cluster's node takes longer than one to restart).
    await app.state.cache_guard.stop()

    await forget("restart", private_redis, user_cache(app).key(user_id))
    # Until the guard's next round the namespace is unsealed: answered, never cached.
    before_round = [await client.get(path) for _ in range(2)]
    await app.state.cache_guard.check()
    # Fills resume once the positions they are versioned with pass the seal's floor.
    await positions_refreshed(app)
    after = [await client.get(path) for _ in range(3)]

    assert [response.status_code for response in before_round + after] == [200] * 5
    assert [response.headers["X-Cache"] for response in before_round] == ["miss", "miss"]
    assert [response.headers["X-Cache"] for response in after] == ["miss", "hit", "hit"]


@pytest.mark.parametrize("how", ["flush", "restart", "evict"])
async def test_a_fill_of_an_old_state_is_refused_after_redis_forgot_its_tombstone(
    committing_client: tuple[FastAPI, AsyncClient], private_redis: AnyPrivateRedis, how: str
) -> None:
    """A reader that read a user before an update and fills after it, once Redis has lost
    the update's tombstone, must not make the old state a hit (what a reader on a lagging
    replica does)."""
    app, client = committing_client
    cache = user_cache(app)
    created = (await client.post("/users", json=user_payload(full_name="Before"))).json()
    path = f"/users/{created['id']}"
    # The slow reader: where and at which position it read the old row.
    space = cache.namespace
    read_at = await app.state.database.checks["primary"].scalar(READ_POSITION_SQL)
    old = UserRead.model_validate(created)
    patched = await client.patch(path, json={"full_name": "After"})
    await forget(how, private_redis, cache.key(created["id"]))

    await cache.fill(old, position=read_at, space=space)
    # Only an eviction that spared the seal lets the fill in, until the guard's round.
    await app.state.cache_guard.check()
    await cache.fill(old, position=read_at, space=space)
    answers = [await client.get(path) for _ in range(3)]

    assert patched.status_code == 200
    assert [answer.json()["full_name"] for answer in answers] == ["After"] * 3


async def test_writes_made_before_a_worker_saw_a_new_history_are_covered_once_it_does(
    committing_client: tuple[FastAPI, AsyncClient],
) -> None:
    """A worker that has not seen the primary's new history yet tombstones its commits in
    the old namespace. Once it sees the new one, it raises that namespace's floor past
    them, even where another worker sealed the namespace already."""
    app, client = committing_client
    cache = user_cache(app)
    # Its rounds are the test's own.
    await app.state.cache_guard.stop()
    created = (await client.post("/users", json=user_payload(full_name="Before"))).json()
    path = f"/users/{created['id']}"
    sealed = cache.namespace
    read_at = await app.state.database.checks["primary"].scalar(READ_POSITION_SQL)
    cache.history = "an-earlier-history"
    patched = await client.patch(path, json={"full_name": "After"})
    # Another worker's slow reader of the row before the update, in the current namespace.
    await cache.fill(UserRead.model_validate(created), position=read_at, space=sealed)

    await app.state.cache_guard.check()
    answers = [await client.get(path) for _ in range(3)]

    assert patched.status_code == 200
    assert cache.namespace == sealed
    assert [answer.json()["full_name"] for answer in answers] == ["After"] * 3


@pytest.mark.parametrize("private_redis", ["cluster"], indirect=True)
async def test_on_a_cluster_the_cache_works_while_another_master_is_down(
    committing_client: tuple[FastAPI, AsyncClient], private_redis: AnyPrivateRedis
) -> None:
    """The namespace's master without the cache's scripts (restarted with its keys, or
    flushed of scripts) while another master is down: fills and invalidations still land
    (redis-py's registered scripts load themselves on every master first, and failed)."""
    assert isinstance(private_redis, PrivateRedisCluster)
    app, client = committing_client
    created = (await client.post("/users", json=user_payload(full_name="Before"))).json()
    path = f"/users/{created['id']}"
    key = user_cache(app).key(created["id"])
    holder = private_redis.node_for(key)
    next(node for node in private_redis.nodes if node is not holder).stop()
    admin = Redis.from_url(holder.url)
    try:
        await admin.script_flush()
        filled = [(await client.get(path)).headers["X-Cache"] for _ in range(2)]
        await admin.script_flush()
        patched = await client.patch(path, json={"full_name": "After"})
        entry = await admin.get(key)
    finally:
        await admin.aclose()

    assert filled == ["miss", "hit"]
    assert patched.status_code == 200
    # A tombstone: a bare version.
    assert entry is not None
    assert len(entry) == 16


async def test_an_invalidation_redis_could_not_take_is_delivered_later(
    committing_client: tuple[FastAPI, AsyncClient], private_redis: AnyPrivateRedis
) -> None:
    app, client = committing_client
    created = await client.post("/users", json=user_payload(full_name="Before"))
    path = f"/users/{created.json()['id']}"
    await client.get(path)
    await client.get(path)
    admin = Redis.from_url(private_redis.node_for(user_cache(app).key(created.json()["id"])).url)
    try:
        # Writes wait longer than the cache's timeout: the invalidation fails.
        await admin.client_pause(1500, all=False)
        patched = await client.patch(path, json={"full_name": "After"})
        during = await client.get(path)
        await asyncio.sleep(2.5)
        entry = await admin.get(user_cache(app).key(created.json()["id"]))
    finally:
        await admin.aclose()
    after = await client.get(path)

    assert patched.status_code == 200
    assert during.json()["full_name"] == "After"
    assert entry is None or b"Before" not in entry
    assert after.json()["full_name"] == "After"


async def test_readers_missing_one_user_together_share_one_database_read(
    committing_client: tuple[FastAPI, AsyncClient],
) -> None:
    app, client = committing_client
    user_id = (await client.post("/users", json=user_payload())).json()["id"]
    reads: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().startswith("SELECT") and "FROM users" in statement:
            reads.append(statement)

    engines = [engine.sync_engine for engine in app.state.database.engines.values()]
    for engine in engines:
        event.listen(engine, "before_cursor_execute", count)
    try:
        answers = await asyncio.gather(*(client.get(f"/users/{user_id}") for _ in range(64)))
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", count)

    assert {answer.status_code for answer in answers} == {200}
    assert len(reads) == 1


async def test_one_slow_answer_does_not_make_the_cache_step_aside(
    committing_client: tuple[FastAPI, AsyncClient], private_redis: AnyPrivateRedis
) -> None:
    """Under load the event loop can take longer than REDIS_TIMEOUT_SECONDS to get back to a
    reply: that read is a miss, but the next ones use the cache again."""
    app, client = committing_client
    user_id = (await client.post("/users", json=user_payload())).json()["id"]
    path = f"/users/{user_id}"
    await client.get(path)
    admin = Redis.from_url(private_redis.node_for(user_cache(app).key(user_id)).url)
    try:
        await admin.client_pause(800, all=True)
        slow = await client.get(path)
        await asyncio.sleep(0.5)
    finally:
        await admin.aclose()
    after = await client.get(path)

    assert (slow.status_code, slow.headers["X-Cache"]) == (200, "miss")
    assert (after.status_code, after.headers["X-Cache"]) == (200, "hit")


async def test_readiness_says_how_redis_can_lose_the_caches_keys(
    committing_client: tuple[FastAPI, AsyncClient], private_redis: AnyPrivateRedis
) -> None:
    app, client = committing_client
    # On a cluster: one master of three says so.
    admin = Redis.from_url(private_redis.node_for(user_cache(app).seal_key).url)
    try:
        await admin.config_set("maxmemory", "64mb")
        await admin.config_set("maxmemory-policy", "allkeys-lru")
        await app.state.cache_guard.read_configuration()
    finally:
        await admin.aclose()

    ready = await client.get("/health/ready")

    assert ready.status_code == 200
    warnings = " ".join(ready.json()["warnings"])
    assert "allkeys-lru" in warnings
    assert "nothing on disk" in warnings


async def test_more_readers_at_once_than_redis_connections_all_hit(
    own_database: URL, private_redis: AnyPrivateRedis
) -> None:
    """Readers beyond REDIS_MAX_CONNECTIONS wait for a connection in turn (redis-py's
    default pool refused those past 100, and the cache stepped aside for a second)."""
    settings = settings_for(own_database).model_copy(
        update={
            **private_redis.settings,
            "redis_max_connections": 8,
            # However loaded the machine, no reader waits long enough to give up.
            "redis_timeout_seconds": 30.0,
        }
    )
    app = app_for(settings)
    async with (
        app.router.lifespan_context(app),
        AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as client,
    ):
        path = f"/users/{(await client.post('/users', json=user_payload())).json()['id']}"
        await client.get(path)
        answers = await asyncio.gather(*(client.get(path) for _ in range(150)))

    assert [answer.headers["X-Cache"] for answer in answers] == ["hit"] * 150


async def mget_calls(redis: AnyPrivateRedis, key: str) -> int:
    """How many MGETs the server that holds `key` has answered."""
    admin = Redis.from_url(redis.node_for(key).url)
    try:
        stats = await admin.info("commandstats")
    finally:
        await admin.aclose()
    return int(stats.get("cmdstat_mget", {}).get("calls", 0))


async def test_lookups_made_together_go_to_redis_as_one_command(
    own_database: URL, private_redis: AnyPrivateRedis
) -> None:
    """Each Redis command costs redis-py a pooled connection, a timeout and a parse: the
    lookups of readers that reach the cache together are one MGET (`cache.batches`)."""
    app = app_for(settings_for(own_database).model_copy(update=private_redis.settings))
    async with (
        app.router.lifespan_context(app),
        AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as client,
    ):
        ids = [(await client.post("/users", json=user_payload())).json()["id"] for _ in range(24)]
        await client.get(f"/users/{ids[0]}")
        key = user_cache(app).key(ids[0])
        before = await mget_calls(private_redis, key)
        answers = await asyncio.gather(*(client.get(f"/users/{user_id}") for user_id in ids[1:]))
        calls = await mget_calls(private_redis, key) - before

    assert [answer.status_code for answer in answers] == [200] * 23
    assert {answer.headers["X-Cache"] for answer in answers} == {"miss"}
    # One per lookup before; how many batches depends on how the requests interleave.
    assert 1 <= calls <= 8, calls


async def test_a_batch_answers_each_caller_fails_them_all_and_outlives_one_that_gives_up() -> None:
    sent: list[list[int]] = []
    release = asyncio.Event()

    async def send(items: list[int]) -> list[int]:
        sent.append(items)
        await release.wait()
        if 0 in items:
            raise ConnectionError("down")
        return [item * 10 for item in items]

    batches: Batches[int, int] = Batches(send)
    callers = [asyncio.create_task(batches(item)) for item in (1, 2, 3)]
    await asyncio.sleep(0.01)
    callers[0].cancel()
    release.set()
    answers = await asyncio.gather(*callers[1:])
    failing = [asyncio.create_task(batches(item)) for item in (0, 4)]
    outcomes = await asyncio.gather(*failing, return_exceptions=True)

    assert sent == [[1, 2, 3], [0, 4]]
    assert answers == [20, 30]
    assert callers[0].cancelled()
    assert [type(outcome) for outcome in outcomes] == [ConnectionError, ConnectionError]


async def test_a_batch_with_answers_that_do_not_match_fails_its_callers() -> None:
    async def send(items: list[int]) -> list[int]:
        return []

    batches: Batches[int, int] = Batches(send)

    with pytest.raises(ValueError, match="zip"):
        await asyncio.wait_for(batches(1), timeout=5)


async def test_a_batch_runs_in_a_context_of_its_own_not_its_first_callers() -> None:
    """Its command serves many requests: with tracing, its span is none of theirs."""
    request: ContextVar[str] = ContextVar("request", default="none")
    seen: list[str] = []

    async def send(items: list[int]) -> list[int]:
        seen.append(request.get())
        return items

    batches: Batches[int, int] = Batches(send)
    request.set("first caller")

    assert await batches(1) == 1
    assert seen == ["none"]


async def test_a_shared_read_survives_the_reader_that_started_it() -> None:
    """The reader whose miss started a shared read may give up (its client went away):
    the others still get the answer."""
    flights: SingleFlight[int] = SingleFlight()
    started, release = asyncio.Event(), asyncio.Event()

    async def load() -> int:
        started.set()
        await release.wait()
        return 7

    first = asyncio.create_task(flights.run("user", load))
    await started.wait()
    second = asyncio.create_task(flights.run("user", load))
    await asyncio.sleep(0)
    first.cancel()
    release.set()

    assert await second == 7
    assert first.cancelled()


def test_a_key_prefix_with_a_brace_is_refused_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """The prefix goes inside each key's hash tag, which a brace would end early."""
    monkeypatch.setenv("CACHE_KEY_PREFIX", "shop}eu")
    message = settings_error()

    assert message.startswith("invalid settings: CACHE_KEY_PREFIX")
    assert "\n" not in message
