"""Keeps the cache right when Redis forgets keys or the primary's history changes.

Tombstones (`cache.users`) stop a reader of an old state from filling, but only while
Redis keeps them: a flush, a restart without persistence or an eviction would let a
reader on a lagging replica store the state before a write for the whole TTL. And
versions are positions in one history of the primary: after a promotion, a restore or
a move to another server, positions start over and say nothing about entries stored
before.

`CacheGuard` checks twice a second:
- the primary's history (system identifier and timeline): a new one moves the cache to a
  namespace of its own, so nothing stored under another history is served again;
- what the Redis server that holds the namespace (on a cluster, the master of its slot)
  says about itself (run id and evicted-key count) against the namespace's seal: when
  Redis restarted, was flushed (the seal is gone) or evicted anything since the seal, it
  raises the namespace's floor to the primary's current position and seals
  again. Entries read before that position are no longer served, and a fill of an older
  state is refused. Between a loss and the next check (0.5 s) nothing can be filled,
  since the seal went with the keys; an eviction that spared the seal leaves at most
  that long for a stale fill to be served.

It also reads Redis' configuration once (every master's, on a cluster), for
`/health/ready`: an eviction policy that can drop the cache's keys and a Redis without
persistence are reported there.
"""

import asyncio
import logging
from typing import Any

from redis.exceptions import RedisClusterException, RedisError
from sqlalchemy import text

from ..db.checks import ServerCheck
from .client import UNAVAILABLE, as_text, configurations, info_of
from .users import HISTORY_SQL, UserCache

logger = logging.getLogger(__name__)

GUARD_INTERVAL_SECONDS = 0.5
# The primary's history (system identifier, timeline) and a position past every commit.
_HISTORY_AND_POSITION = text(
    f"SELECT {HISTORY_SQL}, pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0')::int8"
)


def redis_risks(config: dict[str, Any]) -> list[str]:
    """How a Redis configured like `config` (CONFIG GET) can drop the cache's keys."""
    risks = []
    policy = str(config.get("maxmemory-policy", "noeviction"))
    if policy != "noeviction" and str(config.get("maxmemory", "0")) != "0":
        risks.append(
            f"redis maxmemory-policy {policy} evicts keys under memory pressure: each eviction"
            " makes the cache miss until the replicas catch up"
        )
    if not config.get("save") and str(config.get("appendonly", "no")) == "no":
        risks.append("redis keeps nothing on disk: a restart empties the cache")
    return risks


class CacheGuard:
    """Watches Redis and the primary for the cache (see the module)."""

    def __init__(
        self, cache: UserCache, primary: ServerCheck, *, interval: float = GUARD_INTERVAL_SECONDS
    ) -> None:
        self.cache = cache
        self.primary = primary
        self.interval = interval
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        # Set when the history changes: the next round raises the floor even where another
        # worker sealed the namespace already. This worker's commits made before it saw
        # the change were tombstoned in the old namespace, and that floor covers them.
        self._new_history = False

    async def check(self) -> None:
        """One round; failures (Redis or the primary unreachable) wait for the next."""
        if self.cache.history is None and await self._history_and_position() is None:
            return
        # Once more when the history changed: the seal must record what the new
        # namespace's server says (on a cluster, another master may hold it).
        for _ in range(2):
            # Before the position: an eviction after this read shows in the next round.
            found = await self._seal_and_info()
            known = await self._history_and_position()
            if known is None or found is None:
                return
            moved, position = known
            if not moved:
                break
        else:
            return  # it changed again meanwhile: the next round
        current, info = found
        seal = f"{info.get('run_id')}:{info.get('evicted_keys')}"
        try:
            if self._new_history or current is None or as_text(current) != seal:
                if current is not None and not self._new_history:
                    logger.warning(
                        "redis lost keys (restarted or evicted): cache entries read before"
                        " now are no longer served"
                    )
                await self.cache.seal(position, seal)
                self._new_history = False
        except UNAVAILABLE as error:
            logger.debug("cache guard: redis unavailable (%s)", type(error).__name__)

    async def _seal_and_info(self) -> tuple[bytes | str | None, dict[str, Any]] | None:
        """The namespace's seal, and INFO from the server that holds it; None when Redis
        does not answer. The GET first: on a cluster it follows the key to its master
        (MOVED updates the client's map after a failover), where INFO then goes."""
        key = self.cache.seal_key
        try:
            return await self.cache.redis.get(key), await info_of(self.cache.redis, key)
        except UNAVAILABLE as error:
            logger.debug("cache guard: redis unavailable (%s)", type(error).__name__)
            return None

    async def _history_and_position(self) -> tuple[bool, int] | None:
        """Whether the primary's history changed (now known to the cache), and a position
        past every commit; None while the primary is unreachable."""
        try:
            row = await self.primary.row(_HISTORY_AND_POSITION)
        except Exception as error:  # the primary's outage is reported elsewhere
            logger.debug("cache guard: primary unavailable (%s)", type(error).__name__)
            return None
        history, position = tuple(row)
        previous = self.cache.history
        if history == previous:
            return False, position
        if previous is not None:
            logger.warning(
                "the primary's history changed (%s to %s): entries cached before are"
                " no longer served",
                previous,
                history,
            )
        # A namespace nobody sealed yet serves nothing and takes no fills until sealed.
        # Invalidations made while the history was unknown were dropped; that seal's
        # floor covers them.
        self.cache.history = history
        self._new_history = True
        return True, position

    async def read_configuration(self) -> None:
        try:
            found = await configurations(self.cache.redis, "maxmemory*", "save", "appendonly")
        except RedisError as error:
            # Managed services often refuse CONFIG: say what is not known.
            self.cache.warnings = [
                f"redis configuration unknown ({type(error).__name__}): it may drop the"
                " cache's keys; the service notices and re-seals"
            ]
            return
        except (OSError, TimeoutError, RedisClusterException) as error:
            logger.debug("cache guard: redis unavailable (%s)", type(error).__name__)
            return
        risks: dict[str, None] = {}
        for config in found:
            settings = {as_text(key): as_text(value) for key, value in config.items()}
            risks.update(dict.fromkeys(redis_risks(settings)))
        self.cache.warnings = list(risks)
        for warning in self.cache.warnings:
            logger.warning("%s", warning)

    async def run(self) -> None:
        """Until `stop`: the flag ends the loop even where a library (redis-py, or Python
        3.11's timeouts) swallows the cancellation `stop` also sends (seen here: the app's
        shutdown waited forever)."""
        while not self._stopping:
            await self.check()
            await asyncio.sleep(self.interval)

    async def start(self) -> None:
        """Redis' configuration and the first round now (the cache serves nothing until it
        knows the history), then a round every `interval` in the background."""
        await self.read_configuration()
        await self.check()
        self._task = asyncio.create_task(self.run(), name="cache guard")

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
