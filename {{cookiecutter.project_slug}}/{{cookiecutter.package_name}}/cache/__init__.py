"""Redis cache-aside for single-entity reads, versioned by WAL positions."""

from .client import create_redis, create_sync_redis
from .reader import CachedUserReader
from .users import SyncUserInvalidation, UserCache

__all__ = [
    "CachedUserReader",
    "SyncUserInvalidation",
    "UserCache",
    "create_redis",
    "create_sync_redis",
]
