"""Redis cache-aside for single-entity reads, versioned by WAL positions."""

from .client import create_redis, create_sync_redis
from .users import SyncUserInvalidation, UserCache

__all__ = ["SyncUserInvalidation", "UserCache", "create_redis", "create_sync_redis"]
