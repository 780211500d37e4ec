"""Password hashing (Argon2id via pwdlib) on a bounded thread pool of its own."""

import asyncio
import contextlib
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Self, TypeVar

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from .settings import Settings

T = TypeVar("T")

# How much lower (in nice steps) batch hashing threads run than the rest of the process.
BATCH_NICENESS = 10


def _lower_thread_priority() -> None:
    """Run the calling thread at a lower CPU priority (Linux: niceness is per thread)."""
    thread = threading.get_native_id()
    # Not Linux, or not allowed: the same priority then.
    with contextlib.suppress(AttributeError, OSError):
        niceness = os.getpriority(os.PRIO_PROCESS, thread)
        os.setpriority(os.PRIO_PROCESS, thread, min(19, niceness + BATCH_NICENESS))


class PasswordHasher:
    """Hashes on threads of its own, never on asyncio's default executor (which DNS
    lookups and other blocking calls share).

    Single hashes (sign-up, login) run on `workers` threads. Batches take one hash at a
    time each on `workers - 1` (at least one) threads of their own that run at a lower
    CPU priority: a large batch never queues ahead of a single sign-up, and when the CPUs
    are busy the event loop, the database and single hashes go first.
    """

    def __init__(
        self, *, time_cost: int, memory_cost: int, parallelism: int = 1, workers: int = 2
    ) -> None:
        hasher = Argon2Hasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism)
        self._hash = PasswordHash((hasher,))
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="password")
        self._batch_executor = ThreadPoolExecutor(
            max_workers=max(1, workers - 1),
            thread_name_prefix="password-batch",
            initializer=_lower_thread_priority,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        return cls(
            time_cost=settings.password_hash_time_cost,
            memory_cost=settings.password_hash_memory_cost,
            parallelism=settings.password_hash_parallelism,
            workers=settings.password_hash_workers,
        )

    async def _run(
        self, function: Callable[..., T], *args: str, executor: ThreadPoolExecutor | None = None
    ) -> T:
        # Argon2 is CPU-bound by design (and releases the GIL): a thread keeps the loop free.
        return await asyncio.get_running_loop().run_in_executor(
            executor or self._executor, function, *args
        )

    async def hash(self, password: str) -> str:
        return await self._run(self._hash.hash, password)

    async def hash_many(self, passwords: Sequence[str]) -> list[str]:
        # One hash in flight per batch: concurrent batches take turns hash by hash.
        return [
            await self._run(self._hash.hash, password, executor=self._batch_executor)
            for password in passwords
        ]

    async def verify(self, password: str, hashed: str) -> bool:
        return await self._run(self._hash.verify, password, hashed)

    def close(self) -> None:
        """Let queued hashes finish and stop the threads."""
        self._executor.shutdown(wait=True)
        self._batch_executor.shutdown(wait=True)
