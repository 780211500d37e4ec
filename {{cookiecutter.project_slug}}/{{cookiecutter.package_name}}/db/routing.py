"""Which database serves a read: a standby (replica or analytics database) when it is
reachable, no more than `max_lag_seconds` behind, and has replayed what the reader must
see; the primary otherwise.

A `StandbyMonitor` per standby checks it in the background, on the standby's check
connection (`db.checks`), one probe at a time, so no
request ever waits on an unknown or hanging server: until a check succeeds, reads go to
the primary. The choice is made on a session's first statement (`RoutingSession`), so
a session that is never used never checks out a connection. A read that loses its
standby connection mid-query is retried once on the primary (`ReadSession`).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from sqlalchemy import URL, Connection, Engine, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from .. import events
from ..settings import Settings
from .binds import Bind, session_options, sync_bind
from .checks import ServerCheck
from .engine import create_engine
from .errors import is_connection_error, unreachable_reason
from .readonly import PRIMARY, ROUTE, ReadOnlySession, autocommit

if TYPE_CHECKING:
    from .session import Database

logger = logging.getLogger(__name__)

REPLICA = "replica"

# Keys in `session.info`.
ROUTER = "read_router"
# Same key as `consistency.READ_YOUR_WRITES`; holds a `ReadRequirement`.
REQUIREMENT = "read_your_writes"

# Flushed WAL: all a standby can have received.
_PRIMARY_POSITION = text("SELECT pg_wal_lsn_diff(pg_current_wal_flush_lsn(), '0/0')::int8")
# The replayed position, NULL when the server is not in recovery (not a standby: it is as
# fresh as it gets); and a lower bound of what the server's next reads see (a standby's
# replayed position, else its own).
_REPLAYED_POSITION = text(
    "SELECT pg_wal_lsn_diff(pg_last_wal_replay_lsn(), '0/0')::int8,"
    " pg_wal_lsn_diff(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()"
    " ELSE pg_current_wal_insert_lsn() END, '0/0')::int8"
)

T = TypeVar("T")


class ReadRequirement(Protocol):
    """What a request's reads must see (see `consistency.ReadYourWrites`)."""

    @property
    def wrote(self) -> bool: ...

    @property
    def required_position(self) -> int | None: ...


@dataclass(frozen=True)
class StandbyStatus:
    reachable: bool = False
    # Replayed WAL position; None for a server that is not a standby.
    replayed: int | None = None
    lag_seconds: float = 0.0
    # What reads there saw at least, when checked (standby or not); None when unknown.
    visible: int | None = None

    def has_replayed(self, position: int) -> bool:
        return self.replayed is None or self.replayed >= position


class StandbyMonitor:
    """Keeps `status` of one standby current: reachable, replayed position, lag.

    Lag is measured against the primary's history as this monitor saw it: the time since
    the primary first reached a position the standby has not replayed yet. It needs no
    clock agreement between servers and is zero for an idle, caught-up standby.
    """

    def __init__(
        self, role: str, probe: ServerCheck, primary_probe: ServerCheck, *, interval: float
    ) -> None:
        self.role = role
        self.probe = probe
        self.primary_probe = primary_probe
        self.interval = interval
        self.status = StandbyStatus()
        # A check has completed (successfully or not) since the start.
        self.checked = asyncio.Event()
        self.stopping = False
        self._history: deque[tuple[float, int]] = deque(maxlen=100_000)

    def lag_seconds(self) -> float:
        """The standby's lag as last measured."""
        return self.status.lag_seconds

    def visible_position(self) -> int | None:
        """What a read there saw at the last check (how far a standby had replayed): a read
        now sees at least that much, as positions only move forward. None when unknown."""
        return self.status.visible

    def lost(self) -> None:
        """A request lost its connection: stop routing here until the next good check."""
        if self.status.reachable:
            logger.warning("%s database lost; reads go to the primary", self.role)
        self.status = StandbyStatus()

    async def check(self) -> None:
        now = time.monotonic()
        # Each query is bounded by the check's timeout (asyncio.timeout, not wait_for:
        # Python 3.11's wait_for drops a cancellation that arrives as the call it waits on
        # completes, and the check then ran on after the app had stopped it).
        try:
            position = await self.primary_probe.scalar(_PRIMARY_POSITION)
            self._history.append((now, position))
        except Exception as error:  # the primary's own outage is reported elsewhere
            logger.debug("primary position unknown: %s", type(error).__name__)
        try:
            replayed, visible = tuple(await self.probe.row(_REPLAYED_POSITION))
        except Exception as error:
            if self.status.reachable or not self.checked.is_set():
                logger.warning(
                    "%s database unreachable: %s; reads go to the primary",
                    self.role,
                    unreachable_reason(error),
                )
            self.status = StandbyStatus()
            return
        self.status = StandbyStatus(True, replayed, self._lag(replayed, now), visible)

    def _lag(self, replayed: int | None, now: float) -> float:
        if replayed is None:
            self._history.clear()
            return 0.0
        while self._history and self._history[0][1] <= replayed:
            self._history.popleft()
        return now - self._history[0][0] if self._history else 0.0

    async def run(self) -> None:
        """Check every `interval` until `stopping` is set: the flag ends the loop even where
        a library swallows the cancellation that `Standbys.dispose` also sends."""
        while not self.stopping:
            await self.check()
            self.checked.set()
            await asyncio.sleep(self.interval)


class ReadRouter:
    """Picks the database for a read session: a standby of the first group that has one
    fit to serve (reachable, within `max_lag_seconds`, past the reader's position), taking
    turns among that group's standbys; the primary when none is."""

    def __init__(
        self,
        binds: dict[str, Bind],
        groups: Sequence[Sequence[StandbyMonitor]],
        *,
        max_lag_seconds: float,
        honour_requirements: bool = True,
    ) -> None:
        self.binds = binds
        self.groups = [list(group) for group in groups if group]
        self.max_lag_seconds = max_lag_seconds
        # Reporting reads tolerate lag; they ignore read-your-writes requirements.
        self.honour_requirements = honour_requirements
        self._turns = itertools.count()

    def choose(self, requirement: ReadRequirement | None) -> str:
        required = None
        if self.honour_requirements and requirement is not None:
            if requirement.wrote:
                return PRIMARY
            required = requirement.required_position
        behind_token = False
        for group in self.groups:
            fit = [monitor for monitor in group if self._fit(monitor, required)]
            if fit:
                # Round robin over the fit ones: the others' share is spread evenly.
                return fit[next(self._turns) % len(fit)].role
            # Reads meant for this group go elsewhere: say why, for each of its standbys.
            for monitor in group:
                status = monitor.status
                if not status.reachable:
                    events.replica_fallback(monitor.role, "unreachable")
                elif status.lag_seconds > self.max_lag_seconds:
                    events.replica_fallback(monitor.role, "lagging")
                else:
                    behind_token = True
        if behind_token:
            events.primary_read_forced()
        return PRIMARY

    def _fit(self, monitor: StandbyMonitor, required: int | None) -> bool:
        status = monitor.status
        return (
            status.reachable
            and status.lag_seconds <= self.max_lag_seconds
            and (required is None or status.has_replayed(required))
        )

    def lost(self, role: str) -> None:
        for group in self.groups:
            for monitor in group:
                if monitor.role == role:
                    monitor.lost()


class RoutingSession(ReadOnlySession):
    """A read session whose statements go where its `ReadRouter` says, decided on first use."""

    def get_bind(
        self, mapper: Any = None, clause: Any = None, **kwargs: Any
    ) -> Engine | Connection:
        router: ReadRouter = self.info[ROUTER]
        requirement: ReadRequirement | None = self.info.get(REQUIREMENT)
        role: str | None = self.info.get(ROUTE)
        # Re-decide once the request has written: its later reads must see the write.
        if role is None or (role != PRIMARY and requirement is not None and requirement.wrote):
            role = self.info[ROUTE] = router.choose(requirement)
            events.read_routed(role)
        return sync_bind(router.binds[role])


class ReadSession(AsyncSession):
    """Reads through `RoutingSession`; one lost on a standby is retried on the primary."""

    async def _retried(self, call: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        try:
            return await call(*args, **kwargs)
        except Exception as error:
            role = self.info.get(ROUTE)
            if role in (None, PRIMARY) or not is_connection_error(error):
                raise
            self.info[ROUTER].lost(role)
            events.replica_fallback(role, "lost")
            await self.rollback()
            self.info[ROUTE] = PRIMARY
            return await call(*args, **kwargs)

    async def execute(self, *args: Any, **kwargs: Any) -> Any:
        return await self._retried(super().execute, *args, **kwargs)

    async def scalar(self, *args: Any, **kwargs: Any) -> Any:
        return await self._retried(super().scalar, *args, **kwargs)

    async def get(self, *args: Any, **kwargs: Any) -> Any:
        return await self._retried(super().get, *args, **kwargs)


@dataclass
class Standbys:
    """The configured standbys: their engines, monitors, and the checks' background tasks."""

    engines: dict[str, AsyncEngine]
    monitors: dict[str, StandbyMonitor]
    max_lag_seconds: float
    _checks: list[asyncio.Task[None]] = field(default_factory=list)

    def sessions(
        self, primary: Bind, *groups: Sequence[str], honour_requirements: bool
    ) -> async_sessionmaker[AsyncSession]:
        """Read-only sessions on a standby of the first of `groups` (roles) that has one fit
        to serve, spread among that group's; else on `primary`."""
        # Each statement on its own, like every read session (see `db.readonly`).
        binds: dict[str, Bind] = {role: autocommit(engine) for role, engine in self.engines.items()}
        binds[PRIMARY] = autocommit(primary) if isinstance(primary, AsyncEngine) else primary
        router = ReadRouter(
            binds,
            [[self.monitors[role] for role in group if role in self.monitors] for group in groups],
            max_lag_seconds=self.max_lag_seconds,
            honour_requirements=honour_requirements,
        )
        return async_sessionmaker(
            class_=ReadSession,
            sync_session_class=RoutingSession,
            info={ROUTER: router},
            **session_options(primary),
        )

    def start(self) -> None:
        """Start checking in the background (inside the running event loop)."""
        self._checks = [
            asyncio.create_task(monitor.run(), name=f"check {monitor.role} database")
            for monitor in self.monitors.values()
        ]

    async def dispose(self) -> None:
        for monitor in self.monitors.values():
            monitor.stopping = True
        for check in self._checks:
            check.cancel()
        await asyncio.gather(*self._checks, return_exceptions=True)


def replica_role(number: int) -> str:
    """The name of the replica at `number` (from 1) in the settings' order: in logs,
    `/health/ready` and `/metrics`. The first is "replica", as with only one."""
    return REPLICA if number == 1 else f"{REPLICA}_{number}"


def add_standbys(database: Database, settings: Settings) -> None:
    """The standbys configured in `settings` join `database`: a request pool and a check
    connection each, a monitor each, and read and report sessions routed among them."""
    # In order of preference for reports; reads use the replicas only.
    urls: dict[str, URL | None] = {
{% if cookiecutter.use_analytics_db %}
        "analytics": settings.analytics_url,
{% endif %}
{% if cookiecutter.use_replica %}
        **{replica_role(number): url for number, url in enumerate(settings.replica_urls, 1)},
{% endif %}
    }
    monitors: dict[str, StandbyMonitor] = {}
    for role, url in urls.items():
        if url is None:
            continue
        database.engines[role] = create_engine(url, settings, role=role)
        database.checks[role] = ServerCheck.for_url(url, settings, role=role)
        monitors[role] = StandbyMonitor(
            role,
            database.checks[role],
            database.checks[PRIMARY],
            interval=settings.replica_check_interval_seconds,
        )
        database.lag_seconds[role] = monitors[role].lag_seconds
        if not isinstance(url.query.get("host"), tuple):
            # Several hosts: the monitor's connection and a read's may be on different
            # servers, and one's position says nothing about the other's data.
            database.visible_positions[role] = monitors[role].visible_position
    database.max_lag_seconds = settings.replica_max_lag_seconds
    engines = {role: database.engines[role] for role in monitors}
    standbys = Standbys(engines, monitors, settings.replica_max_lag_seconds)
    replicas = [role for role in monitors if role.startswith(REPLICA)]
{% if cookiecutter.use_replica %}
    database.read_factory = lambda primary: standbys.sessions(
        primary, replicas, honour_requirements=True
    )
{% endif %}
    # Reports: the analytics database, else the replicas.
    others = [[role] for role in monitors if role not in replicas]
    database.report_factory = lambda primary: standbys.sessions(
        primary, *others, replicas, honour_requirements=False
    )
    database.background.append(standbys)
