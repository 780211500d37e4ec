"""Connection pool monitoring: event counters per engine, logged, and pool statistics.

Listeners sit on each engine's (sync) pool: `event.listen(async_engine, ...)` is not
supported for pool events.
"""

import logging
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool

logger = logging.getLogger(__name__)


@dataclass
class PoolCounters:
    connects: int = 0
    checkouts: int = 0
    checkins: int = 0
    invalidations: int = 0


class PoolMonitor:
    """Counts one engine's pool events and reports its current state."""

    def __init__(self, name: str, engine: AsyncEngine) -> None:
        self.name = name
        self.pool = engine.sync_engine.pool
        self.counters = PoolCounters()
        event.listen(self.pool, "connect", self._on_connect)
        event.listen(self.pool, "checkout", self._on_checkout)
        event.listen(self.pool, "checkin", self._on_checkin)
        event.listen(self.pool, "invalidate", self._on_invalidate)

    def close(self) -> None:
        event.remove(self.pool, "connect", self._on_connect)
        event.remove(self.pool, "checkout", self._on_checkout)
        event.remove(self.pool, "checkin", self._on_checkin)
        event.remove(self.pool, "invalidate", self._on_invalidate)

    def _on_connect(self, *_: Any) -> None:
        self.counters.connects += 1
        logger.info("pool %s: new connection (%d opened so far)", self.name, self.counters.connects)

    def _on_checkout(self, *_: Any) -> None:
        self.counters.checkouts += 1
        logger.debug("pool %s: checkout (%s)", self.name, self.pool.status())

    def _on_checkin(self, *_: Any) -> None:
        self.counters.checkins += 1
        logger.debug("pool %s: checkin (%s)", self.name, self.pool.status())

    def _on_invalidate(self, _connection: Any, _record: Any, error: BaseException | None) -> None:
        self.counters.invalidations += 1
        reason = type(error).__name__ if error is not None else "explicit"
        logger.warning("pool %s: connection invalidated (%s)", self.name, reason)

    def statistics(self) -> dict[str, int | str]:
        """Current pool state plus the event counters since start."""
        state: dict[str, int | str]
        if isinstance(self.pool, QueuePool):
            state = {
                "size": self.pool.size(),
                "checked_in": self.pool.checkedin(),
                "checked_out": self.pool.checkedout(),
                # Negative until the pool has opened `size` connections.
                "overflow": self.pool.overflow(),
            }
        else:
            state = {"status": self.pool.status()}
        return state | asdict(self.counters)


def monitor_pools(engines: dict[str, AsyncEngine]) -> dict[str, PoolMonitor]:
    return {name: PoolMonitor(name, engine) for name, engine in engines.items()}
