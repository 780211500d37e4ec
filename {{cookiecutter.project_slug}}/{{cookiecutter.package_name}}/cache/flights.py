"""One database read per key for readers that miss at the same time (a hot user whose
entry just expired or was invalidated): the first reads, the others wait for its answer.
"""

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class SingleFlight(Generic[T]):
    """Runs `load` once for every caller asking for the same key while it runs."""

    def __init__(self) -> None:
        self._running: dict[Hashable, asyncio.Future[T]] = {}

    async def run(self, key: Hashable, load: Callable[[], Awaitable[T]]) -> T:
        running = self._running.get(key)
        if running is not None:
            # A waiter that gives up does not cancel the load the others wait for.
            return await asyncio.shield(running)
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        # An outcome nobody waits for any more is not an "unretrieved" error.
        future.add_done_callback(lambda done: done.cancelled() or done.exception())
        self._running[key] = future
        try:
            result = await load()
        except BaseException as error:
            future.set_exception(error)
            raise
        else:
            future.set_result(result)
            return result
        finally:
            del self._running[key]
