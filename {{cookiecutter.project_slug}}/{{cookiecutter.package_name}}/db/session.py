"""The engines and session factories of a running app."""

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Self

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from ..settings import Settings
from .engine import create_engine
{% if cookiecutter.use_replica or cookiecutter.use_analytics_db %}
from .routing import FallbackSessions
{% endif %}

# Called for a session used as `async with sessions() as session:`.
SessionSource = Callable[[], AbstractAsyncContextManager[AsyncSession]]


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # expire_on_commit=False: objects stay readable after commit without another query.
    return async_sessionmaker(engine, expire_on_commit=False)


@dataclass(frozen=True)
class Database:
    """Engines and session factories, built in the app's lifespan and disposed at shutdown."""

    # Every engine by role ("primary" always), for health checks and disposal.
    engines: dict[str, AsyncEngine]
    # Sessions on the primary: all writes, and reads that must see them.
    sessionmaker: async_sessionmaker[AsyncSession]
    # Sessions for reads that tolerate a replica (the primary when there is none).
    read_sessions: SessionSource
{% if cookiecutter.use_analytics_db %}
    # Sessions for reporting queries: analytics database, else replica, else primary.
    analytics_sessions: SessionSource
{% endif %}

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        engines = {"primary": create_engine(settings.primary_url, settings, role="primary")}
        sessionmaker = create_sessionmaker(engines["primary"])
{% if cookiecutter.use_replica %}
        # Reads fall back to the primary when no replica is set or it does not answer.
        read_preferred = []
        if settings.replica_url is not None:
            engines["replica"] = create_engine(settings.replica_url, settings, role="replica")
            read_preferred.append(("replica", create_sessionmaker(engines["replica"])))
        read_sessions = FallbackSessions(read_preferred, sessionmaker)
{% endif %}
{% if cookiecutter.use_analytics_db %}
        analytics_preferred = []
        if settings.analytics_url is not None:
            engines["analytics"] = create_engine(settings.analytics_url, settings, role="analytics")
            analytics_preferred.append(("analytics", create_sessionmaker(engines["analytics"])))
{% if cookiecutter.use_replica %}
        analytics_preferred += read_preferred
{% endif %}
        analytics_sessions = FallbackSessions(analytics_preferred, sessionmaker)
{% endif %}
        return cls(
            engines=engines,
            sessionmaker=sessionmaker,
            read_sessions={% if cookiecutter.use_replica %}read_sessions{% else %}sessionmaker{% endif %},
{% if cookiecutter.use_analytics_db %}
            analytics_sessions=analytics_sessions,
{% endif %}
        )

    async def dispose(self) -> None:
        for engine in self.engines.values():
            await engine.dispose()


async def ping(engine: AsyncEngine) -> None:
    """One round trip to the server; raises when it cannot be reached."""
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
