"""Prometheus metrics on `GET /metrics`: HTTP requests, connection pools, cache, routing.

Names follow OpenTelemetry's semantic conventions as Prometheus spells them
(`http.server.request.duration` becomes `http_server_request_duration_seconds`).
With several worker processes, set PROMETHEUS_MULTIPROC_DIR to an empty directory before
the server starts: each worker then writes its values there and whichever worker answers
`/metrics` reports the sum over all of them.
"""

import functools
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, TypeVar, cast

from fastapi import FastAPI, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import events
from .db.session import Database
from .feature import Feature
from .settings import Settings

_POOL = "db_client_connection_pool_name"
# Any other method a client invents is counted as "_OTHER" (OpenTelemetry's rule), so
# clients cannot add label values at will.
_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"}
)

REQUEST_DURATION = Histogram(
    "http_server_request_duration_seconds",
    "Duration of HTTP requests, by method, route template and status.",
    ["http_request_method", "http_route", "http_response_status_code"],
    # OpenTelemetry's advice for http.server.request.duration.
    buckets=(0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10),
)
# Gauges add up over the live workers: each one reports its own pool.
CONNECTIONS = Gauge(
    "db_client_connection_count",
    "Connections open in the pool, by state: used (checked out) or idle.",
    [_POOL, "db_client_connection_state"],
    multiprocess_mode="livesum",
)
CONNECTIONS_MAX = Gauge(
    "db_client_connection_max",
    "Most connections the pool may open (DB_POOL_SIZE + DB_MAX_OVERFLOW).",
    [_POOL],
    multiprocess_mode="livesum",
)
PENDING_REQUESTS = Gauge(
    "db_client_connection_pending_requests",
    "Requests waiting for a connection because every one is in use.",
    [_POOL],
    multiprocess_mode="livesum",
)
TIMEOUTS = Counter(
    "db_client_connection_timeouts",
    "Requests that gave up waiting for a connection after DB_POOL_TIMEOUT seconds.",
    [_POOL],
)
CACHE_LOOKUPS = Counter("cache_lookups", "Cache reads by result: hit, miss or error.", ["result"])
READ_FALLBACKS = Counter(
    "db_read_fallbacks",
    "Reads meant for a replica or analytics database that went elsewhere, and why.",
    ["role", "reason"],
)
READS_ROUTED = Counter(
    "db_reads_routed",
    "Read sessions that may use a standby, by the database that served them.",
    ["role"],
)
PRIMARY_READS_FORCED = Counter(
    "db_primary_reads_forced",
    "Reads sent to the primary because no replica had replayed the client's token.",
)


Metric = TypeVar("Metric", Counter, Gauge, Histogram)


def _series(metric: Metric, *values: str) -> Metric:
    """`metric.labels(*values)`, looked up once: `labels()` takes a lock and checks its
    arguments each time, several times per request. Bounded: every label here takes few
    values (roles, results, pools, methods, route templates, statuses)."""
    return cast(Metric, _labels(metric, *values))


@functools.cache
def _labels(metric: Any, *values: str) -> Any:
    # Untyped: functools.cache keeps no signature (`_series` gives it back).
    return metric.labels(*values)


class _Recorder:
    """Counts what `events` reports."""

    def cache_lookup(self, result: events.CacheResult) -> None:
        _series(CACHE_LOOKUPS, result).inc()

    def replica_fallback(self, role: str, reason: str) -> None:
        _series(READ_FALLBACKS, role, reason).inc()

    def primary_read_forced(self) -> None:
        PRIMARY_READS_FORCED.inc()

    def read_routed(self, role: str) -> None:
        _series(READS_ROUTED, role).inc()

    def pool_wait(self, pool: str, change: int) -> None:
        _series(PENDING_REQUESTS, pool).inc(change)

    def pool_timeout(self, pool: str) -> None:
        _series(TIMEOUTS, pool).inc()


class _RequestMetrics:
    """Times each HTTP request and labels it with its route template, never its path."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Stays 500 when the app raises before it starts a response.
        status = 500

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        start = time.perf_counter()
        try:
            await self.app(scope, receive, send_with_status)
        finally:
            # The router records the matched route in the scope; unmatched paths get "".
            route = getattr(scope.get("route"), "path", "")
            method = scope["method"] if scope["method"] in _METHODS else "_OTHER"
            _series(REQUEST_DURATION, method, route, str(status)).observe(
                time.perf_counter() - start
            )


def _registry() -> CollectorRegistry:
    if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry


def instrument_app(app: FastAPI) -> None:
    """Time every request, count what `events` reports, and serve `GET /metrics`."""
    registry = _registry()
    app.add_middleware(_RequestMetrics)
    events.install(_Recorder())

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


def _meter_pool(role: str, engine: AsyncEngine) -> None:
    pool = engine.sync_engine.pool
    idle = CONNECTIONS.labels(role, "idle")
    used = CONNECTIONS.labels(role, "used")

    # The same bookkeeping as OpenTelemetry's SQLAlchemy instrumentation: a connection
    # closed while checked out (invalidated) is balanced by its later checkin.
    def on_connect(*_: object) -> None:
        idle.inc()

    def on_close(*_: object) -> None:
        idle.dec()

    def on_checkout(*_: object) -> None:
        idle.dec()
        used.inc()

    def on_checkin(*_: object) -> None:
        used.dec()
        idle.inc()

    event.listen(pool, "connect", on_connect)
    event.listen(pool, "close", on_close)
    event.listen(pool, "checkout", on_checkout)
    event.listen(pool, "checkin", on_checkin)


def meter_pools(engines: dict[str, AsyncEngine], settings: Settings) -> None:
    """Report each engine's connections in use and idle, and its limit, labelled by role.
    Requests waiting for a connection are reported by `db.admission` (through `events`)."""
    limit = settings.db_pool_size + settings.db_max_overflow
    for role, engine in engines.items():
        _meter_pool(role, engine)
        CONNECTIONS_MAX.labels(role).set(limit)


def forget_worker() -> None:
    """Drop this process's gauges from the sum when it stops (several workers)."""
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


@asynccontextmanager
async def serve(_app: FastAPI, database: Database, settings: Settings) -> AsyncIterator[None]:
    """While the app serves: meter its pools; at shutdown, forget this worker."""
    meter_pools(database.engines, settings)
    try:
        yield
    finally:
        forget_worker()


FEATURE = Feature("metrics", install=instrument_app, serve=serve)
