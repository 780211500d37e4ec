"""Sessions from the first database that answers: a replica (or analytics database)
first, the primary as the last resort.

A database that fails to connect is skipped for `retry_after_seconds`, so an outage
costs one connect timeout, not one per request.
"""

import logging
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

logger = logging.getLogger(__name__)

# Connecting failed: refused, timed out, or rejected by the server (auth, no such database).
_UNREACHABLE = (OSError, TimeoutError, DBAPIError)


class FallbackSessions:
    """Call it for a session: `async with read_sessions() as session: ...`."""

    def __init__(
        self,
        preferred: Sequence[tuple[str, async_sessionmaker[AsyncSession]]],
        fallback: async_sessionmaker[AsyncSession],
        *,
        retry_after_seconds: float = 5.0,
    ) -> None:
        self.preferred = list(preferred)
        self.fallback = fallback
        self.retry_after_seconds = retry_after_seconds
        self._down_until: dict[str, float] = {}

    def is_available(self, name: str) -> bool:
        return time.monotonic() >= self._down_until.get(name, 0.0)

    async def _first_reachable(self) -> AsyncSession:
        for name, sessionmaker in self.preferred:
            if not self.is_available(name):
                continue
            session = sessionmaker()
            try:
                # Check a connection out now, so an unreachable server is noticed here.
                await session.connection()
            except _UNREACHABLE as error:
                await session.close()
                self._down_until[name] = time.monotonic() + self.retry_after_seconds
                logger.warning(
                    "%s database unreachable (%s); skipping it for %.0f s",
                    name,
                    type(error).__name__,
                    self.retry_after_seconds,
                )
                continue
            return session
        return self.fallback()

    @asynccontextmanager
    async def __call__(self) -> AsyncIterator[AsyncSession]:
        async with await self._first_reachable() as session:
            yield session
