"""Cache-aside for `GET /users/{id}` that never serves a value older than a commit.

Each entry carries a version: the database position it was read at (a lower bound,
asked for before the query). A commit that changed users writes, for each of them, a
tombstone holding the position after the commit; an ORM bulk UPDATE or DELETE raises a
floor under every user entry. A fill is stored only when no tombstone, entry or floor
is newer, so a reader that loaded the old row (from a lagging replica, or just before
the commit) can no longer store it. Both checks run inside Redis (Lua), atomically.

Redis failures never reach the client: a failed read is a miss, a failed fill is
skipped, a failed invalidation is retried in the background until it lands, and until
then this process neither reads nor fills those keys.

Tombstones protect only while Redis keeps them. Every key lives in a namespace of the
primary's history (`{<prefix>:<system id>.<timeline>}`: a promoted standby, a restore or
another server starts an empty one), and a namespace serves and takes fills only while
its seal is there: a key without expiry holding what Redis said about itself when the
namespace was sealed (its run id and evicted-key count). `cache.guard.CacheGuard` checks
that twice a second; when Redis restarted, was flushed or evicted anything, it raises
the floor to the primary's current position and seals again, so no entry read before
the loss is served and no reader of an older state can fill.

The namespace is a hash tag: on a Redis Cluster (REDIS_CLUSTER) all of its keys live in
one slot, so each script and MGET above touches one slot, as the cluster requires, and
the seal is on the server that holds what it vouches for.
"""

import asyncio
import logging
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager, nullcontext
from typing import Self, cast

from pydantic import ValidationError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from .. import events
from ..db.consistency import ANY_TABLE, WRITE_POSITION, Changes, take_committed
from ..models import User
from ..schemas.user import UserRead
from ..settings import Settings
from .batches import Batches
from .client import UNAVAILABLE, AnyRedis, AnySyncRedis, Script, as_text, create_sync_redis
from .flights import SingleFlight

logger = logging.getLogger(__name__)


def _slow(error: Exception) -> bool:
    # A full pool raises ConnectionError("No connection available.") from a timeout.
    return isinstance(error, RedisTimeoutError | TimeoutError) or (
        isinstance(error, RedisConnectionError) and isinstance(error.__cause__, TimeoutError)
    )


# Versions are fixed-width hex, so Redis compares them as strings.
_VERSION_WIDTH = 16
# The version of an invalidation whose commit position is unknown: newer than any read.
_UNKNOWN_POSITION = (1 << 64) - 1

# KEYS: floor, seal, then entries. ARGV: ttl in ms, then a version and a payload per entry.
# Returns how many entries were stored; -1: the namespace is not sealed.
_FILL = """
if redis.call('EXISTS', KEYS[2]) == 0 then return -1 end
local floor = redis.call('GET', KEYS[1])
local stored = 0
for i = 3, #KEYS do
  local version, payload = ARGV[2 * i - 4], ARGV[2 * i - 3]
  local current = redis.call('GET', KEYS[i])
  if not (floor and floor > version)
    and not (current and string.sub(current, 1, 16) > version) then
    redis.call('SET', KEYS[i], version .. payload, 'PX', ARGV[1])
    stored = stored + 1
  end
end
return stored
"""
# KEYS: entries or floors. ARGV: version, ttl in ms. A tombstone is a bare version.
_INVALIDATE = """
for _, key in ipairs(KEYS) do
  local current = redis.call('GET', key)
  if not current or string.sub(current, 1, 16) < ARGV[1] then
    redis.call('SET', key, ARGV[1], 'PX', ARGV[2])
  end
end
return #KEYS
"""
# KEYS: floor, seal. ARGV: version, seal, ttl in ms. Raises the floor and seals.
_SEAL = """
local floor = redis.call('GET', KEYS[1])
if not floor or string.sub(floor, 1, 16) < ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
end
redis.call('SET', KEYS[2], ARGV[2])
return 1
"""


# The primary's history (system identifier and timeline): what a namespace is named after.
HISTORY_SQL = (
    "(SELECT system_identifier FROM pg_control_system())::text || '.'"
    " || left(pg_walfile_name(pg_current_wal_insert_lsn()), 8)"
)
_HISTORY_AND_WRITE_POSITION = f"SELECT {HISTORY_SQL}, {WRITE_POSITION}"


def _version(position: int | None) -> str:
    return f"{_UNKNOWN_POSITION if position is None else position:0{_VERSION_WIDTH}x}"


def namespace(prefix: str, history: str) -> str:
    """Where the entries read under one history of the primary live: a hash tag, so that
    a cluster keeps all of them in one slot."""
    return "{" + f"{prefix}:{history}" + "}"


def user_key(namespace: str, user_id: int) -> str:
    return f"{namespace}:user:{user_id}"


def floor_key(namespace: str) -> str:
    """Under every user entry: raised by bulk statements on the users table, and when
    Redis lost keys."""
    return f"{namespace}:user:floor"


def namespaces_key(prefix: str) -> str:
    """Every namespace ever sealed under `prefix`."""
    return f"{prefix}:namespaces"


def seal_key(namespace: str) -> str:
    """Present while the namespace holds every tombstone written to it (no expiry)."""
    return f"{namespace}:sealed"


def keys_for(namespace: str, changes: Changes) -> list[str]:
    """The keys a commit with `changes` makes stale."""
    table = User.__tablename__
    keys = [user_key(namespace, identity[0]) for name, identity in changes.rows if name == table]
    if table in changes.tables or ANY_TABLE in changes.tables:
        keys.append(floor_key(namespace))
    return sorted(keys)


# What a lookup finds: the entry, the namespace's floor and its seal.
_Looked = tuple[bytes | None, bytes | None, bytes | None]


class UserCache:
    """Users as their API representation, one key per id, each with a TTL."""

    def __init__(
        self,
        redis: AnyRedis,
        *,
        ttl_seconds: int,
        prefix: str,
        retry_after_seconds: float = 1.0,
        invalidation_retry_seconds: float = 0.25,
        turns: Callable[[], AbstractAsyncContextManager[None]] = nullcontext,
    ) -> None:
        self.redis = redis
        # Entered by every command of a request (`cache.client.turns`).
        self._turn = turns
        self.ttl_ms = ttl_seconds * 1000
        self.prefix = prefix
        self.retry_after_seconds = retry_after_seconds
        self.invalidation_retry_seconds = invalidation_retry_seconds
        self._fill = Script(redis, _FILL)
        self._invalidate = Script(redis, _INVALIDATE)
        self._seal = Script(redis, _SEAL)
        # What requests ask for together goes to Redis as one command (`cache.batches`).
        self._lookups = Batches(self._get_many)
        self._fills = Batches(self._fill_many)
        # The primary's history (`cache.guard`); None until known: no reads, no fills.
        self.history: str | None = None
        # How Redis' configuration can drop this cache's keys (`cache.guard`).
        self.warnings: list[str] = []
        # Database reads of missed users, shared by the readers waiting for the same one.
        self.loads: SingleFlight[UserRead] = SingleFlight()
        self._unavailable_until = 0.0
        # When Redis last answered: slow answers with no answer for a while mean it hangs.
        self._last_answer = time.monotonic()
        # Invalidations that did not reach Redis yet: key -> version.
        self._undelivered: dict[str, str] = {}
        self._redelivery: asyncio.Task[None] | None = None

    @property
    def namespace(self) -> str | None:
        """Where this history's entries live; None while the history is unknown."""
        return None if self.history is None else namespace(self.prefix, self.history)

    def key(self, user_id: int) -> str:
        return user_key(self._known_namespace(), user_id)

    @property
    def floor_key(self) -> str:
        return floor_key(self._known_namespace())

    @property
    def seal_key(self) -> str:
        return seal_key(self._known_namespace())

    def _known_namespace(self) -> str:
        current = self.namespace
        if current is None:
            raise LookupError("the primary's history is not known yet (see cache.guard)")
        return current

    @property
    def available(self) -> bool:
        return time.monotonic() >= self._unavailable_until

    def _failed(self, operation: str, error: Exception) -> None:
        now = time.monotonic()
        if _slow(error) and now - self._last_answer < self.retry_after_seconds:
            # A slow answer while others still come is load, not an outage: under load
            # the event loop itself can take longer than the timeout to get back to a
            # reply. That read misses; the cache stays in use.
            logger.debug("cache %s timed out", operation)
            return
        self._unavailable_until = now + self.retry_after_seconds
        logger.warning("cache %s failed: %s", operation, type(error).__name__)

    def _blocked(self, key: str, floor: str) -> bool:
        return key in self._undelivered or floor in self._undelivered

    async def get(self, user_id: int, *, at_least: int | None = None) -> UserRead | None:
        """The cached user, unless missing, stale or older than position `at_least`."""
        user = await self._lookup(user_id, at_least)
        if user is not None:
            events.cache_lookup("hit")
        elif self.available:
            events.cache_lookup("miss")
        else:
            events.cache_lookup("error")
        return user

    async def _lookup(self, user_id: int, at_least: int | None) -> UserRead | None:
        space = self.namespace
        if space is None or not self.available:
            return None
        key, floor_at = user_key(space, user_id), floor_key(space)
        if self._blocked(key, floor_at):
            return None
        try:
            entry, floor, sealed = await self._lookups((space, user_id))
        except UNAVAILABLE as error:
            self._failed("get", error)
            return None
        self._last_answer = time.monotonic()
        if sealed is None or entry is None or len(entry) <= _VERSION_WIDTH:
            return None
        version = entry[:_VERSION_WIDTH].decode()
        if (floor is not None and version < floor.decode()) or (
            at_least is not None and version < _version(at_least)
        ):
            return None
        try:
            return UserRead.model_validate_json(entry[_VERSION_WIDTH:])
        except ValidationError:
            # Written by an older version of the schema: read the database instead.
            return None

    async def fill(self, user: UserRead, *, position: int, space: str | None) -> None:
        """Store `user` as read at `position` in namespace `space` (the one current when
        the read began), unless something newer is there or the namespace is unsealed."""
        if space is None or not self.available:
            return
        try:
            # Its key is checked for undelivered invalidations as the batch is sent.
            await self._fills((space, user.id, _version(position), user.model_dump_json()))
        except UNAVAILABLE as error:
            self._failed("fill", error)
            return
        self._last_answer = time.monotonic()

    async def _get_many(self, wanted: list[tuple[str, int]]) -> list[_Looked]:
        """(entry, floor, seal) for each (namespace, user id): one MGET per namespace."""
        found: dict[tuple[str, int], _Looked] = {}
        for space in dict.fromkeys(space for space, _ in wanted):
            ids = list(dict.fromkeys(user_id for where, user_id in wanted if where == space))
            keys = [floor_key(space), seal_key(space), *(user_key(space, i) for i in ids)]
            async with self._turn():
                floor, sealed, *entries = cast(list[bytes | None], await self.redis.mget(keys))
            for user_id, entry in zip(ids, entries, strict=True):
                found[space, user_id] = (entry, floor, sealed)
        return [found[item] for item in wanted]

    async def _fill_many(self, fills: list[tuple[str, int, str, str]]) -> list[None]:
        """Each (namespace, user id, version, payload): one script per namespace."""
        for space in dict.fromkeys(space for space, *_ in fills):
            floor_at = floor_key(space)
            # Not while an invalidation of the key or the floor is undelivered.
            mine = [
                fill
                for fill in fills
                if fill[0] == space and not self._blocked(user_key(space, fill[1]), floor_at)
            ]
            if not mine:
                continue
            keys = [floor_at, seal_key(space), *(user_key(space, f[1]) for f in mine)]
            args: list[str | int] = [self.ttl_ms]
            for _, _, version, payload in mine:
                args += [version, payload]
            async with self._turn():
                await self._fill(keys=keys, args=args)
        return [None] * len(fills)

    async def seal(self, position: int, seal: str) -> None:
        """No entry read before `position` serves any more, and the namespace takes fills:
        after Redis lost keys, or when the namespace is new."""
        space = self._known_namespace()
        await self._seal(
            keys=[floor_key(space), seal_key(space)], args=[_version(position), seal, self.ttl_ms]
        )
        try:
            # Another slot (another master, on a cluster), and only for a script that cannot
            # learn the primary's history: whatever happens to it, the floor is raised.
            await self.redis.sadd(namespaces_key(self.prefix), space)
        except UNAVAILABLE as error:
            logger.debug("cache namespaces not listed: %s", type(error).__name__)

    async def invalidate(self, changes: Changes, position: int | None) -> None:
        """Tombstone what `changes` touched, as of `position` (None: unknown)."""
        space = self.namespace
        if space is None:
            # Nothing is read or filled until the history is known, and the guard seals
            # (raises the floor past this commit) when it learns it.
            return
        keys = keys_for(space, changes)
        if not keys:
            return
        version = _version(position)
        try:
            async with self._turn():
                await self._invalidate(keys=keys, args=[version, self.ttl_ms])
        except UNAVAILABLE as error:
            self._failed("invalidate", error)
            for key in keys:
                self._undelivered[key] = max(version, self._undelivered.get(key, version))
            if self._redelivery is None or self._redelivery.done():
                self._redelivery = asyncio.create_task(self._redeliver())

    async def _redeliver(self) -> None:
        while self._undelivered:
            await asyncio.sleep(self.invalidation_retry_seconds)
            for key, version in list(self._undelivered.items()):
                try:
                    await self._invalidate(keys=[key], args=[version, self.ttl_ms])
                except UNAVAILABLE:
                    break
                if self._undelivered.get(key) == version:
                    del self._undelivered[key]
        logger.info("cache invalidations delivered")

    async def ping(self) -> None:
        """A round trip to the server that holds this history's keys (on a cluster, the
        command's key routes it; any server while the history is unknown), in turn."""
        async with self._turn():
            await self.redis.exists(seal_key(self.namespace or namespace(self.prefix, "")))

    async def close(self) -> None:
        if self._redelivery is not None:
            self._redelivery.cancel()
        await self.redis.aclose()


class SyncUserInvalidation:
    """`UserCache.invalidate` for synchronous code: `SyncDatabase` calls `after_commit`."""

    def __init__(
        self, redis: AnySyncRedis, primary: Engine, *, ttl_seconds: int, prefix: str
    ) -> None:
        self.redis = redis
        self.primary = primary
        self.ttl_ms = ttl_seconds * 1000
        self.prefix = prefix

    @classmethod
    def from_settings(cls, settings: Settings, primary: Engine) -> Self:
        return cls(
            create_sync_redis(settings),
            primary,
            ttl_seconds=settings.cache_ttl_seconds,
            prefix=settings.cache_key_prefix,
        )

    def after_commit(self, session: Session) -> None:
        """Tombstone what `session` committed, as of the primary's position after it, in
        the namespace of the primary's history."""
        changes = take_committed(session)
        if changes is None:
            return
        history: str | None
        position: int | None
        try:
            with self.primary.connect() as connection:
                history, position = connection.exec_driver_sql(_HISTORY_AND_WRITE_POSITION).one()
        except (SQLAlchemyError, OSError) as error:
            logger.warning("position after commit unknown: %s", type(error).__name__)
            history, position = None, None
        self(changes, position, history=history)

    def __call__(self, changes: Changes, position: int | None, *, history: str | None) -> None:
        """Tombstones in `history`'s namespace; with the history unknown, in every
        namespace the app listed (`UserCache.seal`)."""
        pending = None if history is None else [namespace(self.prefix, history)]
        failure: Exception | None = None
        # No event loop to retry later from: a few quick tries, then say what is at stake.
        for attempt in range(3):
            if attempt:
                time.sleep(0.1 * attempt)
            try:
                if pending is None:
                    listed = self.redis.smembers(namespaces_key(self.prefix))
                    pending = [as_text(space) for space in listed]
            except UNAVAILABLE as error:
                failure = error
                continue
            failed = []
            for space in pending:
                # One namespace, one slot: a script a cluster runs.
                keys = keys_for(space, changes)
                try:
                    if keys:
                        self.redis.eval(
                            _INVALIDATE, len(keys), *keys, _version(position), self.ttl_ms
                        )
                except UNAVAILABLE as error:
                    failure = error
                    failed.append(space)
            if not failed:
                return
            pending = failed
        logger.error(
            "cache invalidation failed (%s): %d users may be stale until their TTL",
            type(failure).__name__,
            len(changes.rows),
        )

    def close(self) -> None:
        self.redis.close()
