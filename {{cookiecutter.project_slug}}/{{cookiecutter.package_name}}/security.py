"""Password hashing (Argon2id via pwdlib) on a bounded thread pool of its own."""

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Self, TypeVar

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from .settings import Settings

T = TypeVar("T")


class PasswordHasher:
    """Hashes on `workers` threads, never on asyncio's default executor (which DNS
    lookups and other blocking calls share).

    Batches take one hash at a time each and share all but one thread, so a large batch
    never queues ahead of a single sign-up or login.
    """

    def __init__(
        self, *, time_cost: int, memory_cost: int, parallelism: int = 1, workers: int = 2
    ) -> None:
        hasher = Argon2Hasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism)
        self._hash = PasswordHash((hasher,))
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="password")
        self._batch_slots = asyncio.Semaphore(max(1, workers - 1))

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        return cls(
            time_cost=settings.password_hash_time_cost,
            memory_cost=settings.password_hash_memory_cost,
            parallelism=settings.password_hash_parallelism,
            workers=settings.password_hash_workers,
        )

    async def _run(self, function: Callable[..., T], *args: str) -> T:
        # Argon2 is CPU-bound by design (and releases the GIL): a thread keeps the loop free.
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)

    async def hash(self, password: str) -> str:
        return await self._run(self._hash.hash, password)

    async def hash_many(self, passwords: Sequence[str]) -> list[str]:
        hashes = []
        for password in passwords:
            async with self._batch_slots:
                hashes.append(await self.hash(password))
        return hashes

    async def verify(self, password: str, hashed: str) -> bool:
        return await self._run(self._hash.verify, password, hashed)

    def close(self) -> None:
        """Let queued hashes finish and stop the threads."""
        self._executor.shutdown(wait=True)
