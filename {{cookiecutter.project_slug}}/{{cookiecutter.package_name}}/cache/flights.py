"""One database read per key for readers that miss at the same time (a hot user whose
entry just expired or was invalidated): the first starts it, all wait for its answer.
"""

import asyncio
from collections.abc import Callable, Coroutine, Hashable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class SingleFlight(Generic[T]):
    """Runs `load` once for every caller asking for the same key while it runs."""

    def __init__(self) -> None:
        self._running: dict[Hashable, asyncio.Task[T]] = {}

    async def run(self, key: Hashable, load: Callable[[], Coroutine[Any, Any, T]]) -> T:
        task = self._running.get(key)
        if task is None:
            # A task of its own: the caller that started it may give up (a client that
            # disconnects), and the others still get the answer.
            task = asyncio.create_task(load())
            self._running[key] = task
            task.add_done_callback(lambda done: self._finished(key, done))
        return await asyncio.shield(task)

    def _finished(self, key: Hashable, task: asyncio.Task[T]) -> None:
        if self._running.get(key) is task:
            del self._running[key]
        # An outcome nobody waits for any more is not an "unretrieved" error.
        if not task.cancelled():
            task.exception()
