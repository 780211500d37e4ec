"""Cache-aside for `GET /users/{id}`, invalidated after every write to that user."""

import logging
import time

from pydantic import ValidationError
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import User
from ..schemas.user import UserRead, UserUpdate
from ..security import PasswordHasher
from ..services.users import UserService

logger = logging.getLogger(__name__)

# Errors that mean "Redis is not answering": the cache then steps aside.
_UNAVAILABLE = (RedisError, OSError, TimeoutError)


class UserCache:
    """Users as their API representation, one key per id, each with a TTL.

    Redis failures never reach the client: a failed read is a miss, a failed write is
    skipped, and after a failure reads leave Redis alone for `retry_after_seconds`.
    Invalidations are always attempted, so a short outage cannot keep a stale entry.
    """

    def __init__(
        self, redis: Redis, *, ttl_seconds: int, prefix: str, retry_after_seconds: float = 5.0
    ) -> None:
        self.redis = redis
        self.ttl_seconds = ttl_seconds
        self.prefix = prefix
        self.retry_after_seconds = retry_after_seconds
        self._unavailable_until = 0.0

    def key(self, user_id: int) -> str:
        return f"{self.prefix}:user:{user_id}"

    @property
    def available(self) -> bool:
        return time.monotonic() >= self._unavailable_until

    def _failed(self, operation: str, error: Exception) -> None:
        self._unavailable_until = time.monotonic() + self.retry_after_seconds
        logger.warning("cache %s failed: %s", operation, type(error).__name__)

    async def get(self, user_id: int) -> UserRead | None:
        if not self.available:
            return None
        try:
            raw = await self.redis.get(self.key(user_id))
        except _UNAVAILABLE as error:
            self._failed("get", error)
            return None
        if raw is None:
            return None
        try:
            return UserRead.model_validate_json(raw)
        except ValidationError:
            # An entry written by an older version of the schema: drop it, read the database.
            await self.invalidate(user_id)
            return None

    async def put(self, user: UserRead) -> None:
        if not self.available:
            return
        try:
            await self.redis.set(self.key(user.id), user.model_dump_json(), ex=self.ttl_seconds)
        except _UNAVAILABLE as error:
            self._failed("put", error)

    async def invalidate(self, user_id: int) -> None:
        try:
            await self.redis.delete(self.key(user_id))
        except _UNAVAILABLE as error:
            self._failed("invalidate", error)

    async def ping(self) -> None:
        await self.redis.ping()


class CachedUserService(UserService):
    """The user service, dropping a user's cache entry once a write to it has committed."""

    def __init__(self, session: AsyncSession, hasher: PasswordHasher, cache: UserCache) -> None:
        super().__init__(session, hasher)
        self.cache = cache

    async def update_user(self, user_id: int, data: UserUpdate) -> User:
        user = await super().update_user(user_id, data)
        await self.cache.invalidate(user_id)
        return user

    async def delete_user(self, user_id: int) -> None:
        await super().delete_user(user_id)
        await self.cache.invalidate(user_id)
{% if cookiecutter.use_soft_delete %}

    async def restore_user(self, user_id: int) -> User:
        user = await super().restore_user(user_id)
        await self.cache.invalidate(user_id)
        return user
{% endif %}
