"""A synchronous engine and sessions (psycopg 3) for scripts, jobs and shells.

Request handlers use the async sessions; this is for code that is not async:

    database = SyncDatabase.from_settings(get_settings())
    with database.session() as session:  # commits on success, rolls back on error
        session.add(...)
    database.dispose()
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Self

from sqlalchemy import URL, Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker

{% if cookiecutter.use_cache %}
from ..cache import SyncUserInvalidation
{% endif %}
from ..settings import Settings
from .base import AppSession
from .engine import log_sql, pool_options

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
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sessionmaker = sessionmaker(engine, class_=AppSession, expire_on_commit=False)
        # Called with each session once it committed (the cache drops what it changed).
        self.after_commit: list[Callable[[Session], None]] = []
        # Called at dispose, for what the after-commit hooks hold open.
        self.closers: list[Callable[[], None]] = []

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        log_sql(settings)
        engine = create_engine(
            sync_url(settings), connect_args=sync_connect_args(settings), **pool_options(settings)
        )
{% if cookiecutter.use_cache %}
        database = cls(engine)
        invalidation = SyncUserInvalidation.from_settings(settings, engine)
        database.after_commit.append(invalidation.after_commit)
        database.closers.append(invalidation.close)
        return database
{% else %}
        return cls(engine)
{% endif %}

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One unit of work: commit when the block succeeds, roll back if it raises."""
        with self.sessionmaker.begin() as session:
            yield session
        for hook in self.after_commit:
            hook(session)

    def dispose(self) -> None:
        for close in self.closers:
            close()
        self.engine.dispose()
