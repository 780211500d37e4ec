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
from .users import UserCache


@asynccontextmanager
async def serve(app: FastAPI, database: Database, settings: Settings) -> AsyncIterator[None]:
    user_cache = UserCache(
        create_redis(settings),
        ttl_seconds=settings.cache_ttl_seconds,
        prefix=settings.cache_key_prefix,
        turns=turns(settings),
    )
    # The publisher (api.consistency, entered before) tells the cache of every commit.
    app.state.publisher.listeners.append(user_cache.invalidate)
    app.state.user_cache = user_cache
    guard = CacheGuard(user_cache, database.checks["primary"])
    app.state.cache_guard = guard
    await guard.start()
    try:
        yield
    finally:
        await guard.stop()
        await user_cache.close()


FEATURE = Feature("user cache", serve=serve)
