"""Argon2id at its cheapest setting, off the event loop: the same work the benchmark asks
of the generated projects, so that the database path is what differs."""

import asyncio

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

_hasher = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=8, parallelism=1),))


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


async def hash_passwords(passwords: list[str]) -> list[str]:
    return list(await asyncio.gather(*(hash_password(password) for password in passwords)))
