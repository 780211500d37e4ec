"""The engines and session factories of a running app."""

from dataclasses import dataclass
from typing import Self

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from ..settings import Settings
from .engine import create_engine


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # expire_on_commit=False: objects stay readable after commit without another query.
    return async_sessionmaker(engine, expire_on_commit=False)


@dataclass(frozen=True)
class Database:
    """Engines and session factories, built in the app's lifespan and disposed at shutdown."""

    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    # Sessions for reads that tolerate a replica; the primary when there is none.
    read_sessionmaker: async_sessionmaker[AsyncSession]

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        engine = create_engine(settings.primary_url, settings)
        sessionmaker = create_sessionmaker(engine)
        return cls(engine=engine, sessionmaker=sessionmaker, read_sessionmaker=sessionmaker)

    def engines(self) -> dict[str, AsyncEngine]:
        """Every distinct engine by role, for health checks and disposal."""
        return {"primary": self.engine}

    async def dispose(self) -> None:
        for engine in self.engines().values():
            await engine.dispose()


async def ping(engine: AsyncEngine) -> None:
    """One round trip to the server; raises when it cannot be reached."""
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
