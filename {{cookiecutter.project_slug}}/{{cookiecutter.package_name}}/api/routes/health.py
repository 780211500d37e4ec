import asyncio
import logging
from collections.abc import Awaitable
from typing import Literal

from fastapi import APIRouter, Response, status
from pydantic import BaseModel

from ...db.session import ping
from ..deps import DatabaseDep{% if cookiecutter.use_cache %}, UserCacheDep{% endif +%}

logger = logging.getLogger(__name__)
router = APIRouter(tags=["health"])

# A health check answers quickly even when a server does not.
CHECK_TIMEOUT_SECONDS = 5.0

CheckResult = Literal["ok", "unreachable"]


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    checks: dict[str, CheckResult]


async def check(name: str, probe: Awaitable[object]) -> CheckResult:
    try:
        await asyncio.wait_for(probe, CHECK_TIMEOUT_SECONDS)
    except Exception as exc:  # any failure means "unreachable" to a health check
        logger.warning("health check %s failed: %s", name, type(exc).__name__)
        return "unreachable"
    return "ok"


@router.get(
    "/health",
    response_model=Health,
    responses={status.HTTP_503_SERVICE_UNAVAILABLE: {"model": Health}},
)
async def health(database: DatabaseDep, {% if cookiecutter.use_cache %}cache: UserCacheDep, {% endif %}response: Response) -> Health:
    """Each database (and cache) is checked; 503 when the primary cannot be reached."""
    checks = {name: await check(name, ping(engine)) for name, engine in database.engines.items()}
{% if cookiecutter.use_cache %}
    # Redis being down degrades the service (no caching) but does not make it unhealthy.
    checks["redis"] = await check("redis", cache.ping())
{% endif %}
    if checks["primary"] != "ok":
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        return Health(status="unavailable", checks=checks)
    return Health(status="ok", checks=checks)
