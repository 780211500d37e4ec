"""Pool monitoring: event counters, pool statistics, and the /health/pools endpoint."""

from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from sqlalchemy import URL, text
from sqlalchemy.ext.asyncio import AsyncEngine

from {{ cookiecutter.package_name }}.db.engine import create_engine
from {{ cookiecutter.package_name }}.db.monitoring import PoolMonitor
from tests.conftest import settings_for


@pytest.fixture
async def monitored(database_url: URL) -> AsyncIterator[tuple[AsyncEngine, PoolMonitor]]:
    engine = create_engine(database_url, settings_for(database_url), role="primary")
    monitor = PoolMonitor("primary", engine)
    yield engine, monitor
    monitor.close()
    await engine.dispose()


async def test_counts_connects_checkouts_and_checkins(
    monitored: tuple[AsyncEngine, PoolMonitor],
) -> None:
    engine, monitor = monitored

    for _ in range(3):
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    stats = monitor.statistics()
    assert stats["connects"] == 1
    assert stats["checkouts"] == stats["checkins"] == 3
    assert stats["checked_out"] == 0
    assert stats["checked_in"] == 1


async def test_statistics_show_connections_in_use(
    monitored: tuple[AsyncEngine, PoolMonitor],
) -> None:
    engine, monitor = monitored
    async with engine.connect() as first, engine.connect() as second:
        await first.execute(text("SELECT 1"))
        await second.execute(text("SELECT 1"))
        busy = monitor.statistics()

    size = settings_for(engine.url).db_pool_size
    assert busy["checked_out"] == 2
    assert busy["size"] == size
    # overflow() counts up from -size as connections open; two are open, none beyond size.
    assert busy["overflow"] == 2 - size
    assert monitor.statistics()["checked_out"] == 0


async def test_invalidations_are_counted_and_logged(
    monitored: tuple[AsyncEngine, PoolMonitor], caplog: pytest.LogCaptureFixture
) -> None:
    engine, monitor = monitored
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
        await connection.invalidate()

    assert monitor.statistics()["invalidations"] == 1
    assert "connection invalidated" in caplog.text


async def test_health_pools_endpoint(app: FastAPI) -> None:
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as client:
        # The request pool, not /health (whose checks have connections of their own).
        await client.get(app.url_path_for("list_users"))
        response = await client.get("/health/pools")

    assert response.status_code == 200
    primary = response.json()["primary"]
    assert primary["size"] == app.state.settings.db_pool_size
    assert primary["checkouts"] >= 1
    assert primary["checkouts"] - primary["checkins"] == primary["checked_out"]
