"""The user cache's life in a running app: created at startup, told about every
request's commits, guarded while the app serves (`cache.guard`), closed at shutdown."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from ..db.session import Database
from ..feature import Feature
from ..settings import Settings
from .client import create_redis, turns
from .guard import CacheGuard
from .reader import FillPositions
from .users import UserCache


@asynccontextmanager
async def serve(app: FastAPI, database: Database, settings: Settings) -> AsyncIterator[None]:
    user_cache = UserCache(
        create_redis(settings),
        ttl_seconds=settings.cache_ttl_seconds,
        prefix=settings.cache_key_prefix,
        turns=turns(settings),
    )
    fill_positions = FillPositions(database.checks["primary"])
    # The publisher (api.consistency, entered before) tells the cache of every commit.
    app.state.publisher.listeners.extend([user_cache.invalidate, fill_positions.committed])
    app.state.user_cache = user_cache
    app.state.fill_positions = fill_positions
    guard = CacheGuard(user_cache, database.checks["primary"])
    app.state.cache_guard = guard
    await guard.start()
    try:
        yield
    finally:
        await guard.stop()
        await fill_positions.close()
        await user_cache.close()


FEATURE = Feature("user cache", serve=serve)
