"""Redis cache-aside for single-entity reads, versioned by WAL positions."""

from .client import create_redis
from .users import UserCache

__all__ = ["UserCache", "create_redis"]
