"""The last answer of a costly query, served again while it is recent."""

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Recent(Generic[T]):
    """Keeps `load`'s last result for `max_age` seconds (0: not at all).

    Callers arriving while it is being loaded wait for that load instead of starting their
    own, so the query runs at most once per `max_age` however many ask. A load that fails
    keeps nothing: the next caller loads again.
    """

    def __init__(self, max_age: float) -> None:
        self.max_age = max_age
        self._value: T | None = None
        self._loaded_at = -math.inf
        self._loading = asyncio.Lock()

    def age(self) -> float:
        """Seconds since the kept value was loaded (infinite when there is none)."""
        return time.monotonic() - self._loaded_at

    def forget(self) -> None:
        self._value, self._loaded_at = None, -math.inf

    async def get(self, load: Callable[[], Awaitable[T]]) -> tuple[T, float]:
        """The kept value and its age in seconds, loaded first when it is too old."""
        if (kept := self._kept()) is not None:
            return kept
        async with self._loading:
            if (kept := self._kept()) is not None:
                return kept
            value = await load()
            self._value, self._loaded_at = value, time.monotonic()
            return value, 0.0

    def _kept(self) -> tuple[T, float] | None:
        age = self.age()
        if self._value is None or age >= self.max_age:
            return None
        return self._value, age
