"""The Redis client: made in the lifespan (no connection yet), closed at shutdown."""

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

from ..settings import Settings


def create_redis(settings: Settings) -> Redis:
    # Short timeouts: a cache that is down must cost little, not seconds. One immediate
    # retry on a dropped connection only: after a Redis restart every pooled connection
    # is stale once, and that must not count as an outage.
    return Redis.from_url(
        settings.redis_url.get_secret_value(),
        socket_timeout=settings.redis_timeout_seconds,
        socket_connect_timeout=settings.redis_timeout_seconds,
        retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
    )
