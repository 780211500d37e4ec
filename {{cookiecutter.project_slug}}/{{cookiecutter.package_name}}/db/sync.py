"""A synchronous engine and sessions (psycopg 3) for scripts, jobs and shells.

Request handlers use the async sessions; this is for code that is not async:

    database = SyncDatabase.from_settings(get_settings())
    with database.session() as session:  # commits on success, rolls back on error
        session.add(...)
    database.dispose()
"""

{% if cookiecutter.use_cache %}
import logging
{% endif %}
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Self

from sqlalchemy import URL, Engine, create_engine
{% if cookiecutter.use_cache %}
from sqlalchemy.exc import SQLAlchemyError
{% endif %}
from sqlalchemy.orm import Session, sessionmaker

{% if cookiecutter.use_cache %}
from ..cache import SyncUserInvalidation, create_sync_redis
{% endif %}
from ..settings import Settings
{% if cookiecutter.use_cache %}
from .consistency import WRITE_POSITION_SQL, take_committed
{% endif %}
from .engine import pool_options

{% if cookiecutter.use_cache %}
logger = logging.getLogger(__name__)

{% endif %}
SYNC_DRIVER = "postgresql+psycopg"


def sync_url(settings: Settings) -> URL:
    return settings.primary_url.set(drivername=SYNC_DRIVER)


def sync_connect_args(settings: Settings) -> dict[str, Any]:
    args: dict[str, Any] = {"connect_timeout": max(1, round(settings.db_connect_timeout))}
    if settings.db_ssl_mode is not None:
        args["sslmode"] = settings.db_ssl_mode
    if settings.db_pgbouncer:
        # No server-side prepared statements behind a transaction-mode pooler.
        args["prepare_threshold"] = None
    return args


class SyncDatabase:
{% if cookiecutter.use_cache %}
    """Sessions on the primary; after each commit, the cache entries it made stale are
    invalidated (as for the app's requests)."""

    def __init__(self, engine: Engine, invalidation: SyncUserInvalidation | None = None) -> None:
        self.engine = engine
        self.sessionmaker = sessionmaker(engine, expire_on_commit=False)
        self.invalidation = invalidation
{% else %}
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sessionmaker = sessionmaker(engine, expire_on_commit=False)
{% endif %}

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        engine = create_engine(
            sync_url(settings), connect_args=sync_connect_args(settings), **pool_options(settings)
        )
{% if cookiecutter.use_cache %}
        invalidation = SyncUserInvalidation(
            create_sync_redis(settings),
            ttl_seconds=settings.cache_ttl_seconds,
            prefix=settings.cache_key_prefix,
        )
        return cls(engine, invalidation)
{% else %}
        return cls(engine)
{% endif %}

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One unit of work: commit when the block succeeds, roll back if it raises."""
        with self.sessionmaker.begin() as session:
            yield session
{% if cookiecutter.use_cache %}
        self._publish(session)

    def _publish(self, session: Session) -> None:
        changes = take_committed(session)
        if changes is None or self.invalidation is None:
            return
        position: int | None
        try:
            with self.engine.connect() as connection:
                position = connection.exec_driver_sql(WRITE_POSITION_SQL).scalar()
        except (SQLAlchemyError, OSError) as error:
            logger.warning("position after commit unknown: %s", type(error).__name__)
            position = None
        self.invalidation(changes, position)
{% endif %}

    def dispose(self) -> None:
{% if cookiecutter.use_cache %}
        if self.invalidation is not None:
            self.invalidation.close()
{% endif %}
        self.engine.dispose()
