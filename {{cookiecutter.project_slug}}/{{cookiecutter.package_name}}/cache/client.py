"""The Redis clients: made without connecting, closed at shutdown; one server or, with
REDIS_CLUSTER, redis-py's cluster client on any node of a Redis Cluster."""

import asyncio
import hashlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from typing import Any, cast

from redis import Redis as SyncRedis
from redis.asyncio import BlockingConnectionPool, Redis, RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.cluster import RedisCluster as SyncRedisCluster
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, RedisClusterException, RedisError
from redis.retry import Retry as SyncRetry

from ..settings import Settings

AnyRedis = Redis | RedisCluster
# Errors that mean "Redis is not answering": the cache then steps aside. (The cluster
# client's own, such as no node reachable to map the slots, are not RedisErrors.)
UNAVAILABLE = (RedisError, RedisClusterException, OSError, TimeoutError)
AnySyncRedis = SyncRedis | SyncRedisCluster
# Beyond REDIS_MAX_CONNECTIONS to the namespace's node: room for the guard's round and a
# redelivery, which do not wait their turn.
_SPARE_CLUSTER_CONNECTIONS = 4


def _options(settings: Settings) -> dict[str, Any]:
    # Short timeouts: a cache that is down must cost little, not seconds.
    timeout = settings.redis_timeout_seconds
    return {"socket_timeout": timeout, "socket_connect_timeout": timeout}


# One immediate retry on a dropped connection only: after a Redis restart every pooled
# connection is stale once, and that must not count as an outage. (The cluster client
# also follows MOVED and refreshes its map of the slots on each of them.)
def create_redis(settings: Settings) -> AnyRedis:
    url = settings.redis_url.get_secret_value()
    retry = Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,))
    if settings.redis_cluster:
        return RedisCluster.from_url(
            url,
            max_connections=settings.redis_max_connections + _SPARE_CLUSTER_CONNECTIONS,
            retry=retry,
            **_options(settings),
        )
    # A bounded pool that makes a request wait its turn for a connection (up to the
    # timeout): redis-py's default pool raises MaxConnectionsError past 100 at once,
    # which made a third of the cached reads at 256 clients miss.
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=settings.redis_max_connections,
        timeout=settings.redis_timeout_seconds,
        retry=retry,
        **_options(settings),
    )
    return Redis.from_pool(pool)


class Turns:
    """For the cluster client: at most `size` commands at once, the others waiting in turn
    (first come, first served), each given `timeout` seconds for its wait and its command
    together, then TimeoutError (a miss). The cluster client has no waiting pool (a node's
    connections past `max_connections` raise MaxConnectionsError at once), and it retries
    a command that timed out, which would double the time a hanging node costs."""

    def __init__(self, size: int, timeout: float) -> None:
        self._semaphore = asyncio.Semaphore(size)
        self.timeout = timeout

    @asynccontextmanager
    async def __call__(self) -> AsyncIterator[None]:
        async with asyncio.timeout(self.timeout), self._semaphore:
            yield


def as_text(value: Any) -> str:
    """What Redis answered (bytes, or str with `decode_responses`), as text."""
    return value.decode() if isinstance(value, bytes) else str(value)


class Script:
    """A Lua script run by its SHA1, and sent whole (EVAL, which caches it there) to a
    server that does not have it. redis-py's `register_script` loads a missing script on
    every master of a cluster first, which fails while any of them is down."""

    def __init__(self, redis: AnyRedis, source: str) -> None:
        self.redis = redis
        self.source = source
        self.sha = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()

    async def __call__(self, keys: list[str], args: list[str | int]) -> Any:
        try:
            return await self.redis.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            return await self.redis.eval(self.source, len(keys), *keys, *args)


def turns(settings: Settings) -> Callable[[], AbstractAsyncContextManager[None]]:
    """What each cache command of a request enters: nothing for one server (its pool
    waits in turn, and its timeout bounds the command)."""
    if settings.redis_cluster:
        return Turns(settings.redis_max_connections, settings.redis_timeout_seconds)
    return nullcontext


def create_sync_redis(settings: Settings) -> AnySyncRedis:
    """The same client for synchronous code (scripts and jobs)."""
    url = settings.redis_url.get_secret_value()
    retry = SyncRetry(NoBackoff(), 1, supported_errors=(RedisConnectionError,))
    if settings.redis_cluster:
        return SyncRedisCluster.from_url(url, retry=retry, **_options(settings))
    return SyncRedis.from_url(url, retry=retry, **_options(settings))


async def info_of(redis: AnyRedis, key: str) -> dict[str, Any]:
    """INFO from the server that holds `key`."""
    if isinstance(redis, RedisCluster):
        return await redis.info(target_nodes=redis.get_node_from_key(key))
    return await redis.info()


async def configurations(redis: AnyRedis, *patterns: str) -> list[dict[Any, Any]]:
    """CONFIG GET from every server that holds keys (each master of a cluster)."""
    if isinstance(redis, RedisCluster):
        by_node = await redis.config_get(*patterns, target_nodes=RedisCluster.PRIMARIES)
        # One configuration per node, keyed by its address.
        return list(cast(dict[str, dict[Any, Any]], by_node).values())
    return [await redis.config_get(*patterns)]
