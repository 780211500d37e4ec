"""The synchronous engine and sessions for scripts and jobs."""

from collections.abc import AsyncIterator, Iterator

import pytest
{% if cookiecutter.use_cache %}
from httpx import ASGITransport, AsyncClient
{% endif %}
from sqlalchemy import URL, func, select{% if cookiecutter.use_cache %}, update{% endif +%}

from {{ cookiecutter.package_name }}.db.sync import SyncDatabase, sync_connect_args, sync_url
{% if cookiecutter.use_cache %}
from {{ cookiecutter.package_name }}.main import create_app
{% endif %}
from {{ cookiecutter.package_name }}.models import User
from {{ cookiecutter.package_name }}.settings import Settings
from tests.conftest import DatabaseServer, settings_for
from tests.factories import UNUSABLE_HASH
{% if cookiecutter.use_cache %}
from tests.private_redis import AnyPrivateRedis, lose_namespace_list
{% endif %}


class DeliberateError(Exception):
    pass


@pytest.fixture(scope="module")
async def committed_url(server: DatabaseServer) -> AsyncIterator[URL]:
    """A database of this module's own: these tests commit."""
    async with server.migrated_database("sync_{{ cookiecutter.package_name }}") as url:
        yield url


@pytest.fixture
def database(committed_url: URL) -> Iterator[SyncDatabase]:
    database = SyncDatabase.from_settings(settings_for(committed_url))
    yield database
    with database.session() as session:
        session.query(User).delete()
    database.dispose()


def new_user(username: str) -> User:
    return User(username=username, email=f"{username}@example.com", hashed_password=UNUSABLE_HASH)


def usernames(database: SyncDatabase) -> list[str]:
    with database.session() as session:
        return list(session.scalars(select(User.username).order_by(User.username)))


def test_session_commits_on_success(database: SyncDatabase) -> None:
    with database.session() as session:
        session.add(new_user("scripted"))

    assert usernames(database) == ["scripted"]


def add_then_fail(database: SyncDatabase) -> None:
    with database.session() as session:
        session.add(new_user("doomed"))
        session.flush()
        raise DeliberateError


def test_session_rolls_back_on_error(database: SyncDatabase) -> None:
    with pytest.raises(DeliberateError):
        add_then_fail(database)

    assert usernames(database) == []


def test_server_defaults_come_back(database: SyncDatabase) -> None:
    with database.session() as session:
        user = new_user("stamped")
        session.add(user)
        session.flush()
        count = session.scalar(select(func.count()).select_from(User))

    assert user.created_at is not None
    assert user.is_active is True
    assert count == 1


def test_the_url_uses_psycopg_and_keeps_the_password() -> None:
    settings = Settings(database_url="postgres://app:p%40ss@db.example:5433/shop")
    url = sync_url(settings)
    assert url.drivername == "postgresql+psycopg"
    assert (url.password, url.host, url.database) == ("p@ss", "db.example", "shop")


def test_connection_settings_reach_the_driver() -> None:
    args = sync_connect_args(Settings(db_ssl_mode="require", db_pgbouncer=True))
    assert args["sslmode"] == "require"
    assert args["prepare_threshold"] is None
{% if cookiecutter.use_soft_delete %}


def test_soft_deleted_rows_are_hidden_from_sync_sessions_too(database: SyncDatabase) -> None:
    with database.session() as session:
        kept, gone = new_user("kept"), new_user("gone")
        session.add_all([kept, gone])
        session.flush()
        gone.soft_delete()

    assert usernames(database) == ["kept"]
{% endif %}
{% if cookiecutter.use_cache %}


async def test_commits_invalidate_the_cache_entries_they_change(
    database: SyncDatabase, committed_url: URL, private_redis: AnyPrivateRedis
) -> None:
    """On one Redis server and on a cluster, where each namespace is a slot of its own."""
    settings = settings_for(committed_url).model_copy(update=private_redis.settings)
    with database.session() as session:
        user = new_user("cached")
        session.add(user)
    path = f"/users/{user.id}"
    app = create_app(settings)
    script = SyncDatabase.from_settings(settings)
    async with (
        app.router.lifespan_context(app),
        AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as client,
    ):
        await client.get(path)
        hit = await client.get(path)
        # Lost (on a cluster, by another master than the namespace's): a script still
        # finds the namespace, from the primary's history.
        await lose_namespace_list(private_redis, settings.cache_key_prefix)
        with script.session() as session:
            changed = session.get_one(User, user.id)
            changed.full_name = "Changed by a script"
        after_update = await client.get(path)
        await client.get(path)
        with script.session() as session:
            session.execute(update(User).values(bio="Changed in bulk"))
        after_bulk_update = await client.get(path)
    script.dispose()

    assert hit.headers["X-Cache"] == "hit"
    assert after_update.json()["full_name"] == "Changed by a script"
    assert after_bulk_update.json()["bio"] == "Changed in bulk"
{% endif %}
