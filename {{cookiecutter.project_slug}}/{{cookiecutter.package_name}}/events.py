"""Events the service reports about its own behaviour, for whatever records them.

Code anywhere calls these functions unconditionally; they do nothing until a recorder
is installed at startup (the metrics feature installs one that counts them for
`/metrics`), so no feature needs to know whether another is present.
"""

from typing import Literal, Protocol

CacheResult = Literal["hit", "miss", "error"]


class Recorder(Protocol):
    def cache_lookup(self, result: CacheResult) -> None: ...

    def replica_fallback(self, role: str, reason: str) -> None: ...

    def primary_read_forced(self) -> None: ...

    def read_routed(self, role: str) -> None: ...

    def pool_wait(self, pool: str, change: int) -> None: ...

    def pool_timeout(self, pool: str) -> None: ...


class _Discard:
    def cache_lookup(self, result: CacheResult) -> None:
        pass

    def replica_fallback(self, role: str, reason: str) -> None:
        pass

    def primary_read_forced(self) -> None:
        pass

    def read_routed(self, role: str) -> None:
        pass

    def pool_wait(self, pool: str, change: int) -> None:
        pass

    def pool_timeout(self, pool: str) -> None:
        pass


_recorder: Recorder = _Discard()


def install(recorder: Recorder | None) -> None:
    """Send the events to `recorder` from now on; None stops recording."""
    global _recorder
    _recorder = recorder or _Discard()


def cache_lookup(result: CacheResult) -> None:
    """A cache read answered from the cache, missed, or failed (Redis down or slow)."""
    _recorder.cache_lookup(result)


def replica_fallback(role: str, reason: str) -> None:
    """A read meant for `role` (replica, analytics) went elsewhere; `reason` is a short
    constant such as "unreachable" or "lagging", never free text."""
    _recorder.replica_fallback(role, reason)


def primary_read_forced() -> None:
    """A read went to the primary because the client's consistency token was newer than
    every replica."""
    _recorder.primary_read_forced()


def read_routed(role: str) -> None:
    """A read session that may use a standby chose `role` (primary, replica, replica_2,
    analytics) for its statements."""
    _recorder.read_routed(role)


def pool_wait(pool: str, change: int) -> None:
    """A request started (+1) or stopped (-1) waiting for a connection of `pool`."""
    _recorder.pool_wait(pool, change)


def pool_timeout(pool: str) -> None:
    """A request gave up waiting for a connection of `pool` (DB_POOL_TIMEOUT)."""
    _recorder.pool_timeout(pool)
