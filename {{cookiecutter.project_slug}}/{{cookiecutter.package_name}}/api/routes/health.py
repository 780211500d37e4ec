import asyncio
import logging
from typing import Literal

from fastapi import APIRouter, Response, status
from pydantic import BaseModel

from ...db.session import ping
from ..deps import DatabaseDep

logger = logging.getLogger(__name__)
router = APIRouter(tags=["health"])

# A health check answers quickly even when a server does not.
CHECK_TIMEOUT_SECONDS = 5.0

CheckResult = Literal["ok", "unreachable"]


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    checks: dict[str, CheckResult]


@router.get(
    "/health",
    response_model=Health,
    responses={status.HTTP_503_SERVICE_UNAVAILABLE: {"model": Health}},
)
async def health(database: DatabaseDep, response: Response) -> Health:
    """Each database (and cache) is checked; 503 when the primary cannot be reached."""
    checks: dict[str, CheckResult] = {}
    for name, engine in database.engines().items():
        try:
            await asyncio.wait_for(ping(engine), CHECK_TIMEOUT_SECONDS)
        except Exception as exc:  # any failure means "unreachable" to a health check
            logger.warning("health check %s failed: %s", name, type(exc).__name__)
            checks[name] = "unreachable"
        else:
            checks[name] = "ok"
    if checks["primary"] != "ok":
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        return Health(status="unavailable", checks=checks)
    return Health(status="ok", checks=checks)
