"""Password hashing (Argon2id via pwdlib), off the event loop."""

import asyncio
from collections.abc import Sequence
from typing import Self

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from .settings import Settings


class PasswordHasher:
    def __init__(self, *, time_cost: int, memory_cost: int, parallelism: int = 1) -> None:
        hasher = Argon2Hasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism)
        self._hash = PasswordHash((hasher,))

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        return cls(
            time_cost=settings.password_hash_time_cost,
            memory_cost=settings.password_hash_memory_cost,
            parallelism=settings.password_hash_parallelism,
        )

    async def hash(self, password: str) -> str:
        # Argon2 is CPU-bound by design; a thread keeps other requests moving.
        return await asyncio.to_thread(self._hash.hash, password)

    async def hash_many(self, passwords: Sequence[str]) -> list[str]:
        return list(await asyncio.gather(*(self.hash(password) for password in passwords)))

    async def verify(self, password: str, hashed: str) -> bool:
        return await asyncio.to_thread(self._hash.verify, password, hashed)
