"""Test fixtures on a real PostgreSQL server.

The tests make a database of their own on the server `DATABASE_URL` names, migrate it
with Alembic once, and drop it at the end. Each test runs inside a transaction that is
rolled back afterwards; the code under test commits to savepoints inside it.
"""

import asyncio
import logging
import os
import socket
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest
from alembic import command
from alembic.config import Config
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from sqlalchemy import URL, Connection, NullPool, event, text
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    create_async_engine,
)

from {{ cookiecutter.package_name }}.api.deps import get_database
{% if cookiecutter.use_auth %}
from {{ cookiecutter.package_name }}.auth.deps import current_user
{% endif %}
from {{ cookiecutter.package_name }}.db.base import AppSession
from {{ cookiecutter.package_name }}.main import create_app
{% if cookiecutter.use_auth %}
from {{ cookiecutter.package_name }}.models import User
{% endif %}
from {{ cookiecutter.package_name }}.security import PasswordHasher
from {{ cookiecutter.package_name }}.settings import Settings
{% if cookiecutter.use_cache %}
from tests.private_redis import AnyPrivateRedis, PrivateRedis, PrivateRedisCluster, delete_keys
{% endif %}

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# The prefix of this run's keys in Redis (at REDIS_URL, with the cache), removed at the
# end; through the environment, the scripts the tests start (scripts/benchmark.py) and
# the servers (`process_environment`) write under it too.
_THIS_RUN = f"test-{{ cookiecutter.package_name }}-{uuid4().hex[:12]}"
CACHE_PREFIX = os.environ.setdefault("TEST_CACHE_PREFIX", _THIS_RUN)
{% if cookiecutter.use_auth %}
# Signs the tokens of the tests' apps and of the servers they start: a test value only.
os.environ.setdefault("AUTH_SECRET_KEY", "tests-only-not-a-secret-0123456789abcdef")


async def acting_superuser() -> User:
    """The caller of every request to an app of `app_for` (the `app` fixture's too): a
    superuser that is no row, so the tests need no token; tests/auth/ checks tokens."""
    return User(id=0, username="superuser", is_superuser=True, is_active=True, token_version=0)
{% endif %}


def alembic_config_on(connection: Connection) -> Config:
    """Alembic configured to run on an open connection (env.py picks it up)."""
    config = Config(PROJECT_ROOT / "alembic.ini")
    config.attributes["connection"] = connection
    config.attributes["configure_logger"] = False
    return config


def settings_for(url: URL) -> Settings:
    """Settings for a test app on `url`; cheap password hashing keeps tests fast."""
    return Settings(
        database_url=url.render_as_string(hide_password=False),
        password_hash_time_cost=1,
        password_hash_memory_cost=1024,
{% if cookiecutter.use_cache %}
        # Ids repeat across the tests' databases: one key namespace per database.
        cache_key_prefix=f"{CACHE_PREFIX}:{url.database}",
{% endif %}
    )


@contextmanager
def recorded_statements(
    source: AsyncEngine | AsyncConnection, *, ignore: tuple[str, ...] = ()
) -> Iterator[list[str]]:
    """The SQL sent through `source` while the block runs, less statements starting with
    any of `ignore`."""
    target = source.sync_engine if isinstance(source, AsyncEngine) else source.sync_connection
    assert target is not None
    sent: list[str] = []

    def record(*args: Any) -> None:
        statement: str = args[2]
        if not statement.startswith(ignore):
            sent.append(statement)

    event.listen(target, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(target, "before_cursor_execute", record)


class DatabaseServer:
    """Creates and drops databases on the server that DATABASE_URL names."""

    def __init__(self, url: URL) -> None:
        self.url = url
        self._admin = create_async_engine(
            url.set(database="postgres"), isolation_level="AUTOCOMMIT"
        )

    async def create(self, prefix: str) -> URL:
        name = f"{prefix}_{uuid4().hex[:12]}"
        async with self._admin.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
        return self.url.set(database=name)

    @asynccontextmanager
    async def migrated_database(self, prefix: str) -> AsyncIterator[URL]:
        """A new database at the newest migration, dropped when the block ends."""
        url = await self.create(prefix)
        try:
            engine = create_async_engine(url)
            try:
                async with engine.begin() as connection:
                    await connection.run_sync(
                        lambda sync: command.upgrade(alembic_config_on(sync), "head")
                    )
            finally:
                await engine.dispose()
            yield url
        finally:
            await self.drop(url)

    async def execute(self, url: URL, *statements: str) -> None:
        """Run statements as the admin user in the database `url` names."""
        engine = create_async_engine(
            self.url.set(database=url.database), isolation_level="AUTOCOMMIT"
        )
        try:
            async with engine.connect() as connection:
                for statement in statements:
                    await connection.execute(text(statement))
        finally:
            await engine.dispose()

    async def scalar(self, url: URL, statement: str) -> Any:
        """The first column of the first row of `statement`, run as the admin user."""
        engine = create_async_engine(self.url.set(database=url.database))
        try:
            async with engine.connect() as connection:
                return await connection.scalar(text(statement))
        finally:
            await engine.dispose()

    async def drop(self, url: URL) -> None:
        async with self._admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))

    async def close(self) -> None:
        await self._admin.dispose()


@pytest.fixture(scope="session")
async def server() -> AsyncIterator[DatabaseServer]:
    server = DatabaseServer(Settings().primary_url)
    yield server
    await server.close()


@pytest.fixture(scope="session")
async def database_url(server: DatabaseServer) -> AsyncIterator[URL]:
    """A fresh database migrated to head with Alembic, dropped after the run."""
    async with server.migrated_database("test_{{ cookiecutter.package_name }}") as url:
        yield url


@pytest.fixture
async def empty_url(server: DatabaseServer) -> AsyncIterator[URL]:
    """A new database without tables, dropped after the test."""
    url = await server.create("empty_{{ cookiecutter.package_name }}")
    yield url
    await server.drop(url)


@pytest.fixture
def alembic_config() -> Config:
    """pytest-alembic's configuration: the project's alembic.ini."""
    config = Config(PROJECT_ROOT / "alembic.ini")
    config.attributes["configure_logger"] = False
    return config


@pytest.fixture
def alembic_engine(empty_url: URL) -> AsyncEngine:
    """pytest-alembic's database; no pool, as it runs each step in an event loop of its own."""
    return create_async_engine(empty_url, poolclass=NullPool)


@pytest.fixture(scope="session")
def settings(database_url: URL) -> Settings:
    return settings_for(database_url)


@pytest.fixture(scope="session")
async def engine(database_url: URL) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
async def session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """A session of the app's class whose commits only release savepoints; everything is
    undone afterwards."""
    async with engine.connect() as connection:
        transaction = await connection.begin()
        session = AsyncSession(
            bind=connection,
            sync_session_class=AppSession,
            expire_on_commit=False,
            join_transaction_mode="create_savepoint",
        )
        try:
            yield session
        finally:
            await session.close()
            await transaction.rollback()


def app_for(settings: Settings) -> FastAPI:
    """The app `create_app` builds{% if cookiecutter.use_auth %}, whose requests act as a superuser (no token: see
    `acting_superuser`){% endif %}; for tests that need an app of their own."""
{% if cookiecutter.use_auth %}
    app = create_app(settings)
    app.dependency_overrides[current_user] = acting_superuser
    return app
{% else %}
    return create_app(settings)
{% endif %}


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    app = app_for(settings)
    # ASGITransport does not run the lifespan; run it here, once.
    async with app.router.lifespan_context(app):
        yield app


@asynccontextmanager
async def client_for(
    app: FastAPI, session: AsyncSession, *, root_path: str = ""
) -> AsyncIterator[AsyncClient]:
    """An HTTP client of `app` whose requests get sessions of their own, of the classes
    production uses (read-only, routing), on `session`'s connection: what they commit
    stays inside the test's transaction. `root_path`: the app is served under that path."""
    connection = session.bind
    assert isinstance(connection, AsyncConnection)
    on_test_connection = app.state.database.on(connection)
    app.dependency_overrides[get_database] = lambda: on_test_connection
    # Counted in another test's transaction: not this one's.
    app.state.user_statistics.forget()
{% if cookiecutter.use_cache %}
    # Ids repeat across tests (their inserts are rolled back): cache keys of its own.
    cache = app.state.user_cache
    shared_prefix = cache.prefix
    cache.prefix = f"{shared_prefix}:{uuid4().hex[:12]}"
    # A new namespace serves nothing until sealed: now, not at the guard's next round.
    await app.state.cache_guard.check()
{% endif %}
    transport = ASGITransport(app=app, root_path=root_path)
    try:
        async with AsyncClient(transport=transport, base_url="http://test") as client:
            yield client
    finally:
        del app.dependency_overrides[get_database]
{% if cookiecutter.use_cache %}
        cache.prefix = shared_prefix
{% endif %}


@pytest.fixture
async def client(app: FastAPI, session: AsyncSession) -> AsyncIterator[AsyncClient]:
    async with client_for(app, session) as client:
        yield client


@pytest.fixture
def sqlalchemy_log_levels() -> Iterator[None]:
    """The levels SQLAlchemy's loggers are given in the test (engines set them from
    DB_ECHO and DB_ECHO_POOL) are undone afterwards."""
    names = ("sqlalchemy", "sqlalchemy.engine", "sqlalchemy.pool")
    levels = {name: logging.getLogger(name).level for name in names}
    yield
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


{% if cookiecutter.use_cache %}
@pytest.fixture(scope="session", autouse=True)
async def leave_no_cache_keys() -> AsyncIterator[None]:
    """Every key this run wrote under CACHE_PREFIX (its apps' and its servers'), deleted at
    the end: a dev server on the same Redis never serves a test's user."""
    yield
    await delete_keys(Settings().redis_url.get_secret_value(), CACHE_PREFIX)


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateRedisCluster]:
    """A three-node Redis Cluster of the run's own, started once (a node serves two
    seconds after it starts) and reset for each test (`private_redis`)."""
    cluster = PrivateRedisCluster(tmp_path_factory.mktemp("redis-cluster"))
    cluster.start()
    yield cluster
    cluster.stop()


@pytest.fixture(params=["one server", "cluster"])
def private_redis(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AnyPrivateRedis]:
    """A Redis of the test's own: one server, started and stopped afterwards, then the
    run's Redis Cluster (REDIS_CLUSTER), as started; so every test of the cache's
    guarantees that uses it holds on both."""
    if request.param == "cluster":
        cluster: PrivateRedisCluster = request.getfixturevalue("redis_cluster")
        cluster.reset()
        yield cluster
        return
    redis = PrivateRedis(tmp_path)
    redis.start()
    yield redis
    redis.stop()


{% endif %}
@pytest.fixture(scope="session")
def hasher(settings: Settings) -> PasswordHasher:
    return PasswordHasher.from_settings(settings)


# How long a uvicorn subprocess may take to answer /health.
STARTUP_SECONDS = 30


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def process_environment(env: dict[str, str]) -> dict[str, str]:
    """This environment with `env` on top, for the project's scripts: this interpreter's
    directory (the virtualenv's, with uvicorn and alembic) first on PATH."""
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    # Cache keys (with the cache) under this run's prefix, deleted at the end.
    ours = {"CACHE_KEY_PREFIX": f"{CACHE_PREFIX}:server-{uuid4().hex[:8]}"}
    return os.environ | ours | env | {"PATH": path}


@asynccontextmanager
async def uvicorn(
    url: URL, stderr: Path | None = None, *args: str, env: dict[str, str] | None = None
) -> AsyncIterator[str]:
    """uvicorn serving the app on `url` in a subprocess (its stderr to a file when given),
    started by scripts/serve as the image starts it, with `args` for uvicorn, until the
    block ends; yields its base URL."""
    port = free_port()
    environment = process_environment(env or {})
    environment |= {
        "DATABASE_URL": url.render_as_string(hide_password=False),
        "PASSWORD_HASH_TIME_COST": "1",
        "PASSWORD_HASH_MEMORY_COST": "1024",
        "HOST": "127.0.0.1",
        "PORT": str(port),
    }
    with (stderr or Path(os.devnull)).open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            PROJECT_ROOT / "scripts" / "serve",
            *args,
            env=environment,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=log,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base) as client:
            for _ in range(STARTUP_SECONDS * 10):
                try:
                    if (await client.get("/health")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
            else:
                pytest.fail("uvicorn did not start")
        yield base
    finally:
        process.terminate()
        await process.wait()
