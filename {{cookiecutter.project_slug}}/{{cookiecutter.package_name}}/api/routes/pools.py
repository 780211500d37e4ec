from typing import cast

from fastapi import APIRouter, Request
from pydantic import BaseModel

from ...db.monitoring import PoolMonitor

router = APIRouter(tags=["health"])


class PoolStatistics(BaseModel):
    size: int | None = None
    checked_in: int | None = None
    checked_out: int | None = None
    overflow: int | None = None
    status: str | None = None
    connects: int
    checkouts: int
    checkins: int
    invalidations: int


@router.get("/health/pools", response_model=dict[str, PoolStatistics])
async def pool_statistics(request: Request) -> dict[str, PoolStatistics]:
    """Each engine's connection pool: its state now and its event counts since start."""
    monitors = cast(dict[str, PoolMonitor], request.app.state.pool_monitors)
    return {
        name: PoolStatistics.model_validate(monitor.statistics())
        for name, monitor in monitors.items()
    }
