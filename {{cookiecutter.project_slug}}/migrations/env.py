"""Alembic environment: async engine from the application's settings.

When a connection is handed in through `config.attributes["connection"]` (as the
tests do), migrations run on it instead of opening a new one.
"""

import asyncio
from logging.config import fileConfig

from alembic import context
from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from {{ cookiecutter.package_name }}.db.engine import create_engine
from {{ cookiecutter.package_name }}.models import Base
from {{ cookiecutter.package_name }}.settings import Settings, SettingsError, get_settings

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name)

# Importing the models package registered every table on this metadata.
target_metadata = Base.metadata


def settings() -> Settings:
    try:
        return get_settings()
    except SettingsError as error:
        raise SystemExit(f"alembic: {error}") from None


def run_migrations_offline() -> None:
    """Emit SQL to stdout instead of running it (`alembic upgrade head --sql`)."""
    context.configure(
        url=settings().primary_url.render_as_string(hide_password=False),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def do_run_migrations(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations() -> None:
    active = settings()
    url = active.primary_url
    # A migration (an index build, a backfill) may run longer than any request's statement.
    unbounded = active.model_copy(update={"db_statement_timeout": 0})
    engine = create_engine(url, unbounded, role="migrations", pooled=False)
    try:
        try:
            connection = await engine.connect()
        except (OSError, TimeoutError, DBAPIError) as error:
            # One line, password masked, instead of a driver traceback.
            reason = getattr(error, "orig", None) or error
            raise SystemExit(f"alembic: cannot connect to {url}: {reason}") from None
        try:
            await connection.run_sync(do_run_migrations)
        finally:
            await connection.close()
    finally:
        await engine.dispose()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        asyncio.run(run_async_migrations())
    else:
        do_run_migrations(connection)


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
