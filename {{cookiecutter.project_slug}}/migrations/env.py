"""Alembic environment: async engine from the application's settings.

Alembic runs on MIGRATION_DATABASE_URL when it is set (a direct connection for apps
behind PgBouncer), else on the application's database. Each run holds an advisory lock,
so processes that start at once migrate one after the other, and its DDL waits at most
MIGRATION_LOCK_TIMEOUT seconds for a table lock.

When a connection or an async engine is handed in through
`config.attributes["connection"]` (as the tests and pytest-alembic do), migrations run on
it instead of a new engine.
"""

import asyncio
from contextlib import suppress
from logging.config import fileConfig

from alembic import context
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from {{ cookiecutter.package_name }}.db.engine import create_engine
from {{ cookiecutter.package_name }}.db.errors import DatabaseUnreachableError
from {{ cookiecutter.package_name }}.models import Base
from {{ cookiecutter.package_name }}.settings import Settings, SettingsError, get_settings

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name)

# Importing the models package registered every table on this metadata.
target_metadata = Base.metadata

# Key of the advisory lock serialising migrations ("alembic" in ASCII); any constant works.
MIGRATION_LOCK_KEY = 0x616C656D626963
# SQLSTATE lock_not_available: a lock was not granted within lock_timeout.
LOCK_NOT_AVAILABLE = "55P03"
# SQLSTATE raise_exception: a migration refused to run; its message says why.
MIGRATION_REFUSED = "P0001"


def settings() -> Settings:
    try:
        return get_settings()
    except SettingsError as error:
        raise SystemExit(f"alembic: {error}") from None


def run_migrations_offline() -> None:
    """Emit SQL to stdout instead of running it (`alembic upgrade head --sql`)."""
    context.configure(
        url=settings().migration_url.render_as_string(hide_password=False),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def holds_session_lock() -> bool:
    """Whether the run can hold its lock for the whole session: not through PgBouncer in
    transaction mode, which may hand the session to another client between transactions."""
    active = settings()
    return not active.db_pgbouncer or active.migration_database_url is not None


def _run_locked(connection: Connection, statement: str) -> None:
    """Run a lock statement outside the migrations' transaction (committed at once, unless
    the caller's own transaction holds the connection)."""
    external = connection.in_transaction()
    connection.execute(text(statement), {"key": MIGRATION_LOCK_KEY})
    if not external:
        connection.commit()


def do_run_migrations(connection: Connection) -> None:
    # A second process waits for the lock, then finds the work done. Held for the session,
    # as a revision may commit part way (an index built CONCURRENTLY, revision 0004);
    # through PgBouncer without MIGRATION_DATABASE_URL, until the transaction commits.
    session_lock = holds_session_lock()
    if session_lock:
        _run_locked(connection, "SELECT pg_advisory_lock(:key)")
    try:
        context.configure(
            connection=connection, target_metadata=target_metadata, compare_server_default=True
        )
        with context.begin_transaction():
            if not session_lock:
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
                )
            # Requests' statement timeout does not fit a migration; a DDL statement must not
            # wait for a table lock long, as every query on that table queues up behind it.
            connection.execute(text("SET LOCAL statement_timeout = 0"))
            lock_timeout = round(settings().migration_lock_timeout * 1000)
            connection.execute(text(f"SET LOCAL lock_timeout = {lock_timeout}"))
            context.run_migrations()
    finally:
        if session_lock:
            # Where the caller's own transaction failed, the unlock cannot run there: the
            # lock then goes when the connection closes.
            with suppress(DBAPIError):
                _run_locked(connection, "SELECT pg_advisory_unlock(:key)")


async def run_async_migrations(given: AsyncEngine | None) -> None:
    active = settings()
    # A migration (an index build, a backfill) may run longer than any request's statement.
    unbounded = active.model_copy(update={"db_statement_timeout": 0})
    engine = given or create_engine(
        active.migration_url, unbounded, role="migrations", pooled=False
    )
    url = engine.url
    try:
        try:
            connection = await engine.connect()
        except (DatabaseUnreachableError, DBAPIError) as error:
            # One line, password masked, instead of a driver traceback.
            reason = getattr(error, "orig", None) or error
            raise SystemExit(f"alembic: cannot connect to {url}: {reason}") from None
        try:
            await connection.run_sync(do_run_migrations)
        except DBAPIError as error:
            sqlstate = getattr(error.orig, "sqlstate", None)
            if sqlstate == LOCK_NOT_AVAILABLE:
                raise SystemExit(
                    "alembic: gave up waiting for a table lock after MIGRATION_LOCK_TIMEOUT="
                    f"{active.migration_lock_timeout:g}s (a long transaction holds it); try again"
                ) from None
            if sqlstate == MIGRATION_REFUSED:
                raise SystemExit(f"alembic: {error.orig}") from None
            raise
        finally:
            await connection.close()
    finally:
        if given is None:
            await engine.dispose()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None or isinstance(connection, AsyncEngine):
        asyncio.run(run_async_migrations(connection))
    else:
        do_run_migrations(connection)


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
