"""Redis cache-aside for single-entity reads."""

from .client import create_redis
from .users import CachedUserService, UserCache

__all__ = ["CachedUserService", "UserCache", "create_redis"]
