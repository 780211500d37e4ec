"""One connection per database server for everything that is not a request's own work:
readiness (`/health/ready`), the standby monitors, the primary's position after a commit.

However many of these arrive at once, a server sees one connection from them (the
connection budget: the request pool plus one), and callers asking the same question at
the same time share one round trip. None of them waits on the request pool, so a
committed write answers even while every pooled connection is taken.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Generic, Self, TypeVar

from sqlalchemy import URL, Row, text
from sqlalchemy.ext.asyncio import AsyncEngine

from ..settings import Settings
from .engine import create_check_engine

logger = logging.getLogger(__name__)

T = TypeVar("T")

# How long one check may take, waiting for the connection included.
CHECK_TIMEOUT_SECONDS = 1.0

_PING = text("SELECT 1")


class Coalesced(Generic[T]):
    """Runs `query` for everyone who asked since its last run started: a caller always gets
    the result of a run that started after it asked, and concurrent callers share one."""

    def __init__(self, query: Callable[[], Awaitable[T]]) -> None:
        self._query = query
        self._next: asyncio.Future[T] | None = None
        self._runner: asyncio.Task[None] | None = None

    async def __call__(self) -> T:
        if self._next is None:
            self._next = asyncio.get_running_loop().create_future()
            # An outcome nobody waits for any more is not an "unretrieved" error.
            self._next.add_done_callback(lambda done: done.cancelled() or done.exception())
        future = self._next
        if self._runner is None or self._runner.done():
            self._runner = asyncio.create_task(self._run())
        # One caller giving up does not cancel the run the others wait for.
        return await asyncio.shield(future)

    async def _run(self) -> None:
        while self._next is not None:
            future, self._next = self._next, None
            try:
                future.set_result(await self._query())
            except Exception as error:
                future.set_exception(error)

    async def close(self) -> None:
        if self._runner is not None:
            self._runner.cancel()
            await asyncio.gather(self._runner, return_exceptions=True)


class ServerCheck:
    """Queries one server over its one check connection, each within `timeout` seconds."""

    def __init__(self, engine: AsyncEngine, *, timeout: float = CHECK_TIMEOUT_SECONDS) -> None:
        self.engine = engine
        self.timeout = timeout
        self.ping = Coalesced(self._ping)

    @classmethod
    def for_url(cls, url: URL, settings: Settings, *, role: str) -> Self:
        engine = create_check_engine(
            url, settings, role=f"{role}-check", timeout=CHECK_TIMEOUT_SECONDS
        )
        return cls(engine)

    async def scalar(self, statement: Any) -> Any:
        """The first column of `statement`'s first row; raises when the server does not
        answer in time (the connection, which may hang mid-query, is then dropped)."""
        return (await self.row(statement))[0]

    async def row(self, statement: Any) -> Row[Any]:
        """`statement`'s first row, within the check's timeout (see `scalar`)."""
        try:
            async with asyncio.timeout(self.timeout):
                async with self.engine.connect() as connection:
                    return (await connection.execute(statement)).one()
        except BaseException:
            await self.engine.dispose()
            raise

    async def _ping(self) -> None:
        await self.scalar(_PING)

    async def dispose(self) -> None:
        await self.ping.close()
        await self.engine.dispose()
