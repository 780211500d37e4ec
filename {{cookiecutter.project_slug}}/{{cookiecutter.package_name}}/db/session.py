{% import "switches.jinja" as switches with context %}
"""The engines and session factories of a running app."""

import dataclasses
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol, Self

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from ..settings import Settings
from .admission import Admission
from .base import AppSession
from .binds import Bind, session_options
from .checks import ServerCheck
from .engine import create_engine
from .readonly import ReadOnlySession, autocommit
{% if switches.standbys %}
from .routing import add_standbys
{% endif %}

# Key in `session.info`: awaited by `TransactionManager` after each outermost commit.
AFTER_COMMIT = "after_commit"
AfterCommit = Callable[[AsyncSession], Awaitable[None]]
# Builds a session factory on the primary's bind.
SessionFactory = Callable[[Bind], async_sessionmaker[AsyncSession]]


class Background(Protocol):
    """Work beside the requests (standby checks): started at startup, disposed at shutdown."""

    def start(self) -> None: ...

    async def dispose(self) -> None: ...


def create_sessionmaker(bind: Bind) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(bind, sync_session_class=AppSession, **session_options(bind))


def create_read_sessionmaker(bind: Bind) -> async_sessionmaker[AsyncSession]:
    """Read-only sessions without BEGIN/ROLLBACK round trips (see `db.readonly`)."""
    if isinstance(bind, AsyncEngine):
        bind = autocommit(bind)
    return async_sessionmaker(bind, sync_session_class=ReadOnlySession, **session_options(bind))


@dataclass
class Database:
    """Engines and session factories, built in the app's lifespan and disposed at shutdown.

    Connections: each engine's pool (`DB_POOL_SIZE` + `DB_MAX_OVERFLOW`) plus one check
    connection per server (`checks`); nothing else opens any.
    """

    # Every request pool by role ("primary" always).
    engines: dict[str, AsyncEngine]
    # One check connection per server by role: readiness, standby monitors, positions.
    checks: dict[str, ServerCheck]
    # Requests take turns for a connection, first come first served.
    admission: Admission
    # Build the read and report session factories on the primary's bind (standbys
    # replace them with routing ones).
    read_factory: SessionFactory = create_read_sessionmaker
    report_factory: SessionFactory = create_read_sessionmaker
    # Started with the app, disposed with it.
    background: list[Background] = field(default_factory=list)
    # Each standby's replication lag in seconds as last measured, by role; a standby
    # further behind than `max_lag_seconds` serves no reads (health says "lagging").
    lag_seconds: dict[str, Callable[[], float]] = field(default_factory=dict)
    max_lag_seconds: float = math.inf
    # What a read on each standby sees at least, as last checked, by role (None: unknown):
    # known without asking (the cache versions its fills with it).
    visible_positions: dict[str, Callable[[], int | None]] = field(default_factory=dict)
    # The session factories below are built by `bind`.
    # Sessions on the primary: all writes, and reads that must see them.
    sessionmaker: async_sessionmaker[AsyncSession] = field(init=False)
    # Sessions for reads that tolerate a replica (the primary when there is none).
    read_sessions: async_sessionmaker[AsyncSession] = field(init=False)
    # Sessions for reporting queries, which tolerate lag (and ignore read-your-writes):
    # the analytics database, else the replica, else the primary.
    report_sessions: async_sessionmaker[AsyncSession] = field(init=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        primary = create_engine(settings.primary_url, settings, role="primary")
        database = cls(
            engines={"primary": primary},
            checks={"primary": ServerCheck.for_url(settings.primary_url, settings, role="primary")},
            admission=Admission(
                "primary",
                settings.db_pool_size + settings.db_max_overflow,
                timeout=settings.db_pool_timeout,
            ),
        )
{% if switches.standbys %}
        add_standbys(database, settings)
{% endif %}
        database.bind(primary)
        return database

    def bind(self, primary: Bind) -> None:
        """(Re)build the session factories with the primary's side on `primary`."""
        self.sessionmaker = create_sessionmaker(primary)
        self.read_sessions = self.read_factory(primary)
        self.report_sessions = self.report_factory(primary)

    def on(self, connection: AsyncConnection) -> Self:
        """This database with the primary's sessions on `connection` (tests: inside their
        transaction), built by the same factories as in production."""
        copy = dataclasses.replace(self)
        copy.bind(connection)
        return copy

    def start(self) -> None:
        """Start the background work, inside the running event loop."""
        for work in self.background:
            work.start()

    async def dispose(self) -> None:
        for work in self.background:
            await work.dispose()
        for check in self.checks.values():
            await check.dispose()
        for engine in self.engines.values():
            await engine.dispose()
