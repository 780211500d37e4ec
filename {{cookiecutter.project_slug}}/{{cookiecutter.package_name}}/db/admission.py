"""Requests take turns for the database in the order they arrive.

SQLAlchemy's async pool keeps idle connections in an `asyncio.Queue`: a connection that
comes back while requests wait wakes the first waiter, but a request arriving before that
waiter runs takes it, and under load a few requests lose again and again (the read p99
was 5 times the median). `Admission` lets at most as many requests in as the pool has
connections, through an `asyncio.Semaphore`, which wakes its waiters first come, first
served (Python 3.11.1 and later); the pool itself then never has a waiter.
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from .. import events


class Admission:
    """At most `capacity` requests use the database at once; the rest wait in line, each
    for `timeout` seconds at most (then `sqlalchemy.exc.TimeoutError`, a 503). Waits and
    timeouts are reported as the pool `name`'s."""

    def __init__(self, name: str, capacity: int, *, timeout: float) -> None:
        self.name = name
        self.capacity = capacity
        self.timeout = timeout
        self.waiting = 0
        self._slots = asyncio.Semaphore(capacity)

    @asynccontextmanager
    async def __call__(self) -> AsyncIterator[None]:
        if self._slots.locked():
            await self._wait()
        else:
            await self._slots.acquire()
        try:
            yield
        finally:
            self._slots.release()

    async def _wait(self) -> None:
        self.waiting += 1
        events.pool_wait(self.name, +1)
        try:
            async with asyncio.timeout(self.timeout):
                await self._slots.acquire()
        except TimeoutError:
            events.pool_timeout(self.name)
            raise PoolTimeoutError(
                f"no database connection free within {self.timeout:g} s (DB_POOL_TIMEOUT)"
            ) from None
        finally:
            self.waiting -= 1
            events.pool_wait(self.name, -1)
