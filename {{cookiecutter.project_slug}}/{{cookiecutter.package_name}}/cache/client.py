"""The Redis client: made in the lifespan (no connection yet), closed at shutdown."""

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from ..settings import Settings


def create_redis(settings: Settings) -> Redis:
    # Short timeouts and no retries: a cache that is down must cost little, not seconds.
    return Redis.from_url(
        settings.redis_url.get_secret_value(),
        socket_timeout=settings.redis_timeout_seconds,
        socket_connect_timeout=settings.redis_timeout_seconds,
        retry=Retry(NoBackoff(), 0),
    )
