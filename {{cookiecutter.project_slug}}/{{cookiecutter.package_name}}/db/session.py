"""The engines and session factories of a running app."""

{% if cookiecutter.use_replica or cookiecutter.use_cache %}
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
{% else %}
from dataclasses import dataclass
{% endif %}
from typing import Self

from sqlalchemy import text
{% if cookiecutter.use_replica or cookiecutter.use_cache %}
from sqlalchemy.exc import SQLAlchemyError
{% endif %}
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from ..settings import Settings
{% if cookiecutter.use_replica or cookiecutter.use_cache %}
from .consistency import Changes, take_committed, write_position
{% endif %}
from .engine import create_engine
from .readonly import ReadOnlySession, autocommit
{% if cookiecutter.use_replica or cookiecutter.use_analytics_db %}
from .routing import Standbys
{% endif %}
{% if cookiecutter.use_replica or cookiecutter.use_cache %}

logger = logging.getLogger(__name__)

# Told what a request committed and the primary's position after it (None: unknown).
CommitListener = Callable[[Changes, int | None], Awaitable[None]]
{% endif %}


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # expire_on_commit=False: objects stay readable after commit without another query.
    return async_sessionmaker(engine, expire_on_commit=False)


def create_read_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Read-only sessions without BEGIN/ROLLBACK round trips (see `db.readonly`)."""
    return async_sessionmaker(
        autocommit(engine), expire_on_commit=False, sync_session_class=ReadOnlySession
    )


@dataclass
class Database:
    """Engines and session factories, built in the app's lifespan and disposed at shutdown."""

    # Every engine by role ("primary" always), for health checks.
    engines: dict[str, AsyncEngine]
    # Sessions on the primary: all writes, and reads that must see them.
    sessionmaker: async_sessionmaker[AsyncSession]
    # Sessions for reads that tolerate a replica (the primary when there is none).
    read_sessions: async_sessionmaker[AsyncSession]
    # Sessions for reporting queries, which tolerate lag (and ignore read-your-writes):
    # the analytics database, else the replica, else the primary.
    report_sessions: async_sessionmaker[AsyncSession]
{% if cookiecutter.use_replica or cookiecutter.use_analytics_db %}
    # The replica and analytics database, checked in the background once started.
    standbys: Standbys
{% endif %}
{% if cookiecutter.use_replica or cookiecutter.use_cache %}
    # Told about every request's commits (the cache registers here).
    commit_listeners: list[CommitListener] = field(default_factory=list)
{% endif %}

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        primary = create_engine(settings.primary_url, settings, role="primary")
        sessionmaker = create_sessionmaker(primary)
{% if cookiecutter.use_replica or cookiecutter.use_analytics_db %}
        # In order of preference for reports; reads use the replica only.
        standby_urls = {
{% if cookiecutter.use_analytics_db %}
            "analytics": settings.analytics_url,
{% endif %}
{% if cookiecutter.use_replica %}
            "replica": settings.replica_url,
{% endif %}
        }
        standbys = Standbys.from_urls(settings.primary_url, standby_urls, settings)
        return cls(
            engines={"primary": primary, **standbys.engines},
            sessionmaker=sessionmaker,
{% if cookiecutter.use_replica %}
            read_sessions=standbys.sessions(primary, "replica", honour_requirements=True),
{% else %}
            read_sessions=create_read_sessionmaker(primary),
{% endif %}
            report_sessions=standbys.sessions(primary, *standby_urls, honour_requirements=False),
            standbys=standbys,
        )
{% else %}
        read_sessions = create_read_sessionmaker(primary)
        return cls(
            engines={"primary": primary},
            sessionmaker=sessionmaker,
            read_sessions=read_sessions,
            report_sessions=read_sessions,
        )
{% endif %}

    def start(self) -> None:
        """Start the background work, inside the running event loop: checking the standbys
        when there are any."""
{% if cookiecutter.use_replica or cookiecutter.use_analytics_db %}
        self.standbys.start()
{% endif %}
{% if cookiecutter.use_replica or cookiecutter.use_cache %}

    async def publish(self, session: AsyncSession) -> int | None:
        """After a session's commits: tell the commit listeners what changed and return
        the primary's position past it; None when the session committed nothing."""
        changes = take_committed(session)
        if changes is None:
            return None
        position: int | None
        try:
            position = await write_position(self.engines["primary"])
        except (SQLAlchemyError, OSError, TimeoutError) as error:
            # The commit stands; listeners then assume the newest possible position.
            logger.warning("position after commit unknown: %s", type(error).__name__)
            position = None
        for listener in self.commit_listeners:
            await listener(changes, position)
        return position
{% endif %}

    async def dispose(self) -> None:
{% if cookiecutter.use_replica or cookiecutter.use_analytics_db %}
        await self.standbys.dispose()
{% endif %}
        await self.engines["primary"].dispose()


async def ping(engine: AsyncEngine) -> None:
    """One round trip to the server; raises when it cannot be reached."""
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
