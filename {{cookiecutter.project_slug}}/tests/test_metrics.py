"""Prometheus metrics: requests by route, pool gauges per engine, and several workers."""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import URL

from {{ cookiecutter.package_name }} import events
from {{ cookiecutter.package_name }}.main import create_app
from tests.conftest import DatabaseServer, settings_for, uvicorn
from tests.factories import user_payload

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
USER_ROUTE = "/users/{user_id:int}"


def parse(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def requests(samples: Samples, route: str, status: str) -> float:
    return value(
        samples,
        "http_server_request_duration_seconds_count",
        http_request_method="GET",
        http_route=route,
        http_response_status_code=status,
    )


def connections(samples: Samples, state: str) -> float:
    return value(
        samples,
        "db_client_connection_count",
        db_client_connection_pool_name="primary",
        db_client_connection_state=state,
    )


def pool_value(samples: Samples, name: str) -> float:
    return value(samples, name, db_client_connection_pool_name="primary")


async def scrape(client: AsyncClient) -> Samples:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return parse(response.text)


@pytest.fixture
async def own_app(database_url: URL) -> AsyncIterator[FastAPI]:
    """An app on the test database using its own pool (no session override)."""
    settings = settings_for(database_url).model_copy(
        update={"db_pool_size": 1, "db_max_overflow": 0, "db_pool_timeout": 0.5}
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def own_client(own_app: FastAPI) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(transport=ASGITransport(app=own_app), base_url="http://test") as c:
        yield c


async def test_requests_are_counted_by_route_template_and_status(client: AsyncClient) -> None:
    before = await scrape(client)
    created = await client.post("/users", json=user_payload())
    await client.get(f"/users/{created.json()['id']}")
    await client.get("/users/999999")
    await client.get("/no/such/path")
    await client.request("BREW", "/users")
    after = await scrape(client)

    assert requests(after, USER_ROUTE, "200") - requests(before, USER_ROUTE, "200") == 1
    assert requests(after, USER_ROUTE, "404") - requests(before, USER_ROUTE, "404") == 1
    assert requests(after, "", "404") - requests(before, "", "404") == 1
    # Neither paths nor invented methods become labels: clients could add series at will.
    assert not any(f"/users/{created.json()['id']}" in str(key) for key in after)
    assert not any("BREW" in str(key) for key in after)
    other = {"http_request_method": "_OTHER", "http_route": "/users"}
    assert any(other.items() <= dict(labels).items() for _, labels in after)


async def test_pool_gauges_follow_checkouts_waits_and_timeouts(
    own_app: FastAPI, own_client: AsyncClient
) -> None:
    await own_client.get("/users/999999")
    idle_pool = await scrape(own_client)

    database = own_app.state.database
    # What a request does: its turn for the database (db.admission), then a connection.
    async with database.admission(), database.engines["primary"].connect():
        held = await scrape(own_client)
        assert connections(held, "used") - connections(idle_pool, "used") == 1
        assert connections(held, "idle") - connections(idle_pool, "idle") == -1
        waiting = asyncio.create_task(own_client.get("/users/999999"))
        for _ in range(50):
            during = await scrape(own_client)
            if pool_value(during, "db_client_connection_pending_requests") >= 1:
                break
            await asyncio.sleep(0.02)
        else:
            pytest.fail("no pending checkout was reported")
        response = await waiting

    after = await scrape(own_client)
    assert response.status_code == 503
    assert pool_value(after, "db_client_connection_pending_requests") == 0
    timeouts = "db_client_connection_timeouts_total"
    assert pool_value(after, timeouts) - pool_value(idle_pool, timeouts) == 1
    assert connections(after, "used") == connections(idle_pool, "used")
    assert connections(after, "idle") == connections(idle_pool, "idle")


async def test_reported_events_are_counted(client: AsyncClient) -> None:
    before = await scrape(client)
    events.cache_lookup("hit")
    events.cache_lookup("error")
    events.replica_fallback("replica", "unreachable")
    events.primary_read_forced()
    events.read_routed("replica_2")
    after = await scrape(client)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("cache_lookups_total", result="hit") == 1
    assert delta("cache_lookups_total", result="error") == 1
    assert delta("cache_lookups_total", result="miss") == 0
    assert delta("db_read_fallbacks_total", role="replica", reason="unreachable") == 1
    assert delta("db_primary_reads_forced_total") == 1
    assert delta("db_reads_routed_total", role="replica_2") == 1


async def test_two_workers_report_one_sum(server: DatabaseServer, tmp_path: Path) -> None:
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    # A previous run's file: scripts/serve removes it, or its counts would add up.
    stale = metrics_dir / "counter_1.db"
    stale.write_bytes(b"stale")
    env = {
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "DB_POOL_SIZE": "3",
        "DB_MAX_OVERFLOW": "2",
    }
    sent = 0
    async with (
        server.migrated_database("metrics_{{ cookiecutter.package_name }}") as url,
        uvicorn(url, tmp_path / "stderr.log", "--workers", "2", env=env) as base,
    ):
        assert not stale.exists()
        # A new connection each time, so both workers take some of the requests.
        while sent < 200 and len(list(metrics_dir.glob("histogram_*.db"))) < 2:
            async with httpx.AsyncClient(base_url=base) as http:
                assert (await http.get("/users/999999")).status_code == 404
            sent += 1
        assert len(list(metrics_dir.glob("histogram_*.db"))) == 2, "one worker took every request"
        async with httpx.AsyncClient(base_url=base) as http:
            for _ in range(50):
                samples = parse((await http.get("/metrics")).text)
                if requests(samples, USER_ROUTE, "404") == sent:
                    break
                await asyncio.sleep(0.1)
    assert requests(samples, USER_ROUTE, "404") == sent
    assert pool_value(samples, "db_client_connection_max") == 2 * (3 + 2)
