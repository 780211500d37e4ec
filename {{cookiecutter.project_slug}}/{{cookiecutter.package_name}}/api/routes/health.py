"""Liveness (`/health/live`, no I/O) and readiness (`/health/ready`, also `/health`)."""

import asyncio
import logging
from collections.abc import Awaitable, Mapping
from typing import Annotated, Literal, cast

from fastapi import APIRouter, Depends, Request, Response, status
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncEngine

from ...db.engine import create_engine
from ...db.session import Database, ping
from ...settings import Settings
{% if cookiecutter.use_cache %}
from ..deps import UserCacheDep
{% endif %}

logger = logging.getLogger(__name__)
router = APIRouter(tags=["health"])

# A health check answers quickly even when a server does not.
CHECK_TIMEOUT_SECONDS = 5.0

CheckResult = Literal["ok", "unreachable"]


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    checks: dict[str, CheckResult]


class Live(BaseModel):
    status: Literal["ok"]


def create_probe_engines(database: Database, settings: Settings) -> dict[str, AsyncEngine]:
    """An unpooled engine per database: a check opens a connection of its own, so an
    exhausted request pool does not make a healthy database look down."""
    return {
        name: create_engine(engine.url, settings, role=f"{name}-health", pooled=False)
        for name, engine in database.engines.items()
    }


async def get_probe_engines(request: Request) -> dict[str, AsyncEngine]:
    return cast(dict[str, AsyncEngine], request.app.state.probe_engines)


ProbeEnginesDep = Annotated[dict[str, AsyncEngine], Depends(get_probe_engines)]


async def check(name: str, probe: Awaitable[object]) -> CheckResult:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):  # not wait_for: see db/routing.py
            await probe
    except Exception as exc:  # any failure means "unreachable" to a health check
        logger.warning("health check %s failed: %s", name, type(exc).__name__)
        return "unreachable"
    return "ok"


async def check_all(probes: Mapping[str, Awaitable[object]]) -> dict[str, CheckResult]:
    """Every check at once: the answer takes as long as the slowest, not the sum."""
    results = await asyncio.gather(*(check(name, probe) for name, probe in probes.items()))
    return dict(zip(probes, results, strict=True))


@router.get("/health/live", response_model=Live)
async def live() -> Live:
    """The process answers; nothing else is checked (for restarts, not for traffic)."""
    return Live(status="ok")


@router.get(
    "/health/ready",
    response_model=Health,
    responses={status.HTTP_503_SERVICE_UNAVAILABLE: {"model": Health}},
)
async def ready(engines: ProbeEnginesDep, {% if cookiecutter.use_cache %}cache: UserCacheDep, {% endif %}response: Response) -> Health:
    """Each database (and cache) is checked; 503 when the primary cannot be reached."""
    probes: dict[str, Awaitable[object]] = {name: ping(engine) for name, engine in engines.items()}
{% if cookiecutter.use_cache %}
    probes["redis"] = cache.ping()
{% endif %}
    checks = await check_all(probes)
    # Only the primary decides: without a replica or Redis the service still answers.
    if checks["primary"] != "ok":
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        return Health(status="unavailable", checks=checks)
    return Health(status="ok", checks=checks)


router.add_api_route(
    "/health",
    ready,
    name="health",
    response_model=Health,
    responses={status.HTTP_503_SERVICE_UNAVAILABLE: {"model": Health}},
    summary="Health",
    description="The same checks as `/health/ready`.",
)
