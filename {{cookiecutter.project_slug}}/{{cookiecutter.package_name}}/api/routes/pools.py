from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import cast

from fastapi import APIRouter, FastAPI, Request
from pydantic import BaseModel

from ...db.monitoring import PoolMonitor, monitor_pools
from ...db.session import Database
from ...feature import Feature
from ...settings import Settings

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


def install(app: FastAPI) -> None:
    app.include_router(router)


@asynccontextmanager
async def serve(app: FastAPI, database: Database, _settings: Settings) -> AsyncIterator[None]:
    """While the app serves: count each engine's pool events."""
    app.state.pool_monitors = monitor_pools(database.engines)
    yield


FEATURE = Feature("pool monitoring", install=install, serve=serve)
