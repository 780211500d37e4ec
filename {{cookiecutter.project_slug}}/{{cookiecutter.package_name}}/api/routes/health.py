"""Liveness (`/health/live`, no I/O) and readiness (`/health/ready`, also `/health`)."""

import asyncio
import logging
from collections.abc import Awaitable, Mapping
from typing import Literal

from fastapi import APIRouter, Response, status
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from ...db.checks import ServerCheck
from ...db.errors import unreachable_reason
{% if cookiecutter.use_cache %}
from ..cached import UserCacheDep
{% endif %}
from ..deps import DatabaseDep

logger = logging.getLogger(__name__)
router = APIRouter(tags=["health"])

# A health check answers quickly even when a server does not.
CHECK_TIMEOUT_SECONDS = 5.0

# "lagging": a standby that answers but is further behind than REPLICA_MAX_LAG_SECONDS
# (reads go to the primary meanwhile).
CheckResult = Literal["ok", "unreachable", "lagging"]
PING = text("SELECT 1")


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    checks: dict[str, CheckResult]
    # Each standby's replication lag, as its monitor last measured it.
    lag_seconds: dict[str, float] = {}
    # Configuration that is not an outage but can cost something (Redis that may drop
    # the cache's keys); empty when there is none.
    warnings: list[str] = []


class Live(BaseModel):
    status: Literal["ok"]


async def check(name: str, probe: Awaitable[object]) -> CheckResult:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):  # not wait_for: see db/routing.py
            await probe
    except Exception as exc:  # any failure means "unreachable" to a health check
        logger.warning("health check %s failed: %s", name, unreachable_reason(exc))
        return "unreachable"
    return "ok"


async def check_all(probes: Mapping[str, Awaitable[object]]) -> dict[str, CheckResult]:
    """Every check at once: the answer takes as long as the slowest, not the sum."""
    results = await asyncio.gather(*(check(name, probe) for name, probe in probes.items()))
    return dict(zip(probes, results, strict=True))


async def answers(check: ServerCheck, pool: AsyncEngine | None) -> None:
    """The server answers the check connection or, failing that, the request pool.

    What readiness judges is whether requests can be served: a server at
    `max_connections` refuses the check's new connection while the pool's warm
    connections go on serving, and an instance must not leave the load balancer for it.
    """
    try:
        await check.ping()
    except Exception:
        if pool is None:
            raise
        async with asyncio.timeout(check.timeout), pool.connect() as connection:
            await connection.execute(PING)


@router.get("/health/live", response_model=Live)
async def live() -> Live:
    """The process answers; nothing else is checked (for restarts, not for traffic)."""
    return Live(status="ok")


@router.get(
    "/health/ready",
    response_model=Health,
    responses={status.HTTP_503_SERVICE_UNAVAILABLE: {"model": Health}},
)
async def ready(database: DatabaseDep, {% if cookiecutter.use_cache %}cache: UserCacheDep, {% endif %}response: Response) -> Health:
    """Each database (and cache) is checked; 503 when the primary cannot be reached.

    Each database is pinged over its one check connection (`db.checks`): health requests
    arriving together share one ping. Only when that connection cannot be made is the
    request pool asked (see `answers`).
    """
    probes: dict[str, Awaitable[object]] = {
        name: answers(check, database.engines.get(name)) for name, check in database.checks.items()
    }
{% if cookiecutter.use_cache %}
    probes["redis"] = cache.ping()
{% endif %}
    checks = await check_all(probes)
    lags = {role: lag() for role, lag in database.lag_seconds.items()}
    for role, lag in lags.items():
        if checks.get(role) == "ok" and lag > database.max_lag_seconds:
            checks[role] = "lagging"
{% if cookiecutter.use_cache %}
    warnings = list(cache.warnings)
{% else %}
    warnings: list[str] = []
{% endif %}
    # Only the primary decides: without a replica or Redis the service still answers.
    if checks["primary"] != "ok":
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        return Health(status="unavailable", checks=checks, lag_seconds=lags, warnings=warnings)
    return Health(status="ok", checks=checks, lag_seconds=lags, warnings=warnings)


router.add_api_route(
    "/health",
    ready,
    name="health",
    response_model=Health,
    responses={status.HTTP_503_SERVICE_UNAVAILABLE: {"model": Health}},
    summary="Health",
    description="The same checks as `/health/ready`.",
)
