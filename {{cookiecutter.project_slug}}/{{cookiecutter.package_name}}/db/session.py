"""The engines and session factories of a running app."""

{% if cookiecutter.use_replica or cookiecutter.use_analytics_db %}
import asyncio
{% endif %}
{% if cookiecutter.use_replica or cookiecutter.use_cache %}
import logging
from collections.abc import Awaitable, Callable
{% endif %}
from dataclasses import dataclass{% if cookiecutter.use_replica or cookiecutter.use_analytics_db or cookiecutter.use_cache %}, field{% endif +%}
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
{% if cookiecutter.use_replica or cookiecutter.use_analytics_db %}
from .routing import (
    ROUTER,
    ReadRouter,
    ReadSession,
    RoutingSession,
    StandbyMonitor,
    create_probe_engine,
)
{% endif %}
{% if cookiecutter.use_replica or cookiecutter.use_cache %}

logger = logging.getLogger(__name__)

# Told what a request committed and the primary's position after it (None: unknown).
CommitListener = Callable[[Changes, int | None], Awaitable[None]]
{% endif %}


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # expire_on_commit=False: objects stay readable after commit without another query.
    return async_sessionmaker(engine, expire_on_commit=False)
{% if cookiecutter.use_replica or cookiecutter.use_analytics_db %}


def routed_sessionmaker(router: ReadRouter) -> async_sessionmaker[AsyncSession]:
    """Read-only sessions on whichever database `router` picks at their first statement."""
    return async_sessionmaker(
        class_=ReadSession,
        sync_session_class=RoutingSession,
        expire_on_commit=False,
        info={ROUTER: router},
    )
{% endif %}


@dataclass
class Database:
    """Engines and session factories, built in the app's lifespan and disposed at shutdown."""

    # Every engine by role ("primary" always), for health checks and disposal.
    engines: dict[str, AsyncEngine]
    # Sessions on the primary: all writes, and reads that must see them.
    sessionmaker: async_sessionmaker[AsyncSession]
    # Sessions for reads that tolerate a replica (the primary when there is none).
    read_sessions: async_sessionmaker[AsyncSession]
{% if cookiecutter.use_analytics_db %}
    # Sessions for reporting queries: analytics database, else replica, else primary.
    analytics_sessions: async_sessionmaker[AsyncSession]
{% endif %}
{% if cookiecutter.use_replica or cookiecutter.use_analytics_db %}
    # Background checks of each standby, and the engines they use (apart from `engines`).
    monitors: list[StandbyMonitor] = field(default_factory=list)
    probes: list[AsyncEngine] = field(default_factory=list)
    _checks: list["asyncio.Task[None]"] = field(default_factory=list)
{% endif %}
{% if cookiecutter.use_replica or cookiecutter.use_cache %}
    # Told about every request's commits (the cache registers here).
    commit_listeners: list[CommitListener] = field(default_factory=list)
{% endif %}

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        engines = {"primary": create_engine(settings.primary_url, settings)}
        sessionmaker = create_sessionmaker(engines["primary"])
{% if cookiecutter.use_replica or cookiecutter.use_analytics_db %}
        standby_urls = {
{% if cookiecutter.use_analytics_db %}
            "analytics": settings.analytics_url,
{% endif %}
{% if cookiecutter.use_replica %}
            "replica": settings.replica_url,
{% endif %}
        }
        probes = [create_probe_engine(settings.primary_url, settings)]
        monitors: dict[str, StandbyMonitor] = {}
        for role, url in standby_urls.items():
            if url is None:
                continue
            engines[role] = create_engine(url, settings)
            probes.append(create_probe_engine(url, settings))
            monitors[role] = StandbyMonitor(
                role, probes[-1], probes[0], interval=settings.replica_check_interval_seconds
            )

        def router(*roles: str, honour_requirements: bool) -> ReadRouter:
            return ReadRouter(
                engines,
                [monitors[role] for role in roles if role in monitors],
                max_lag_seconds=settings.replica_max_lag_seconds,
                honour_requirements=honour_requirements,
            )

{% endif %}
        return cls(
            engines=engines,
            sessionmaker=sessionmaker,
{% if cookiecutter.use_replica %}
            read_sessions=routed_sessionmaker(router("replica", honour_requirements=True)),
{% else %}
            read_sessions=sessionmaker,
{% endif %}
{% if cookiecutter.use_analytics_db %}
            # Reports tolerate lag: they ignore the reader's own writes and tokens.
            analytics_sessions=routed_sessionmaker(
                router("analytics", "replica", honour_requirements=False)
            ),
{% endif %}
{% if cookiecutter.use_replica or cookiecutter.use_analytics_db %}
            monitors=list(monitors.values()),
            probes=probes,
{% endif %}
        )
{% if cookiecutter.use_replica or cookiecutter.use_analytics_db %}

    def start(self) -> None:
        """Start checking the standbys in the background (inside the running event loop)."""
        self._checks = [
            asyncio.create_task(monitor.run(), name=f"check {monitor.role} database")
            for monitor in self.monitors
        ]
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
        for check in self._checks:
            check.cancel()
        await asyncio.gather(*self._checks, return_exceptions=True)
        for probe in self.probes:
            await probe.dispose()
{% endif %}
        for engine in self.engines.values():
            await engine.dispose()


async def ping(engine: AsyncEngine) -> None:
    """One round trip to the server; raises when it cannot be reached."""
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
