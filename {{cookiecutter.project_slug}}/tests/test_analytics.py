"""Reporting queries go to the analytics database; without one (or while it is down)
they go to the {% if cookiecutter.use_replica %}replica, then the {% endif %}primary.

Stand-ins are read-only roles on the test server (see stand_ins.py).
"""

from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from pydantic import SecretStr
from sqlalchemy import URL, make_url, text

from {{ cookiecutter.package_name }}.main import create_app
from {{ cookiecutter.package_name }}.settings import Settings
from tests.conftest import DatabaseServer, recorded_statements, settings_for
from tests.factories import user_payload
from tests.stand_ins import read_only_url, running, serving

UNREACHABLE = "postgresql://analyst:s3cret-pw@127.0.0.1:1/nowhere"


@pytest.fixture(scope="module")
async def primary_url(server: DatabaseServer) -> AsyncIterator[URL]:
    """A database of this module's own: these tests commit."""
    async with server.migrated_database("analytics_{{ cookiecutter.package_name }}") as url:
        yield url


@pytest.fixture(scope="module")
async def analytics_url(server: DatabaseServer, primary_url: URL) -> AsyncIterator[str]:
    async with read_only_url(server, primary_url) as url:
        yield url.render_as_string(hide_password=False)
{% if cookiecutter.use_replica %}


@pytest.fixture(scope="module")
async def replica_url(server: DatabaseServer, primary_url: URL) -> AsyncIterator[str]:
    async with read_only_url(server, primary_url) as url:
        yield url.render_as_string(hide_password=False)
{% endif %}


def configured(primary_url: URL, **urls: str | None) -> Settings:
    """Settings on `primary_url` with the given `*_database_url` values."""
    secrets = {name: None if url is None else SecretStr(url) for name, url in urls.items()}
    return settings_for(primary_url).model_copy(update=secrets)


async def reporting_user(settings: Settings) -> str | None:
    """Which role a reporting session connects as."""
    async with running(settings) as database, database.analytics_sessions() as session:
        user: str | None = await session.scalar(text("SELECT current_user"))
        return user


def role(url: str) -> str | None:
    return make_url(url).username


async def test_reports_use_the_analytics_database(primary_url: URL, analytics_url: str) -> None:
    settings = configured(primary_url, analytics_database_url=analytics_url)
    assert await reporting_user(settings) == role(analytics_url)


async def test_reports_use_the_primary_when_nothing_else_is_set(primary_url: URL) -> None:
    settings = configured(primary_url, analytics_database_url=None)
    assert await reporting_user(settings) == primary_url.username
{% if cookiecutter.use_replica %}


async def test_reports_use_the_replica_when_no_analytics_database_is_set(
    primary_url: URL, replica_url: str
) -> None:
    settings = configured(
        primary_url, analytics_database_url=None, replica_database_url=replica_url
    )
    assert await reporting_user(settings) == role(replica_url)


async def test_reports_fall_back_to_the_replica_while_analytics_is_down(
    primary_url: URL, replica_url: str
) -> None:
    settings = configured(
        primary_url, analytics_database_url=UNREACHABLE, replica_database_url=replica_url
    )
    assert await reporting_user(settings) == role(replica_url)
{% endif %}


async def test_reports_fall_back_to_the_primary_while_analytics_is_down(
    primary_url: URL, caplog: pytest.LogCaptureFixture
) -> None:
    settings = configured(primary_url, analytics_database_url=UNREACHABLE)
    assert await reporting_user(settings) == primary_url.username
    assert "analytics database unreachable" in caplog.text
    assert "s3cret-pw" not in caplog.text


@pytest.fixture
async def app(primary_url: URL, analytics_url: str) -> AsyncIterator[FastAPI]:
    app = create_app(configured(primary_url, analytics_database_url=analytics_url))
    async with serving(app):
        yield app


async def test_statistics_endpoints_query_the_analytics_database(app: FastAPI) -> None:
    analytics_engine = app.state.database.engines["analytics"]
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as client:
        created = await client.post("/users", json=user_payload())
        with recorded_statements(analytics_engine) as sent:
            stats = await client.get("/users/stats")
            counts = await client.get("/users/post-counts")
            await client.get(f"/users/{created.json()['id']}")
        health = await client.get("/health")

    assert stats.status_code == counts.status_code == 200
    assert stats.json()["total_users"] >= 1
    assert created.json()["id"] in [row["id"] for row in counts.json()]
    assert sum("count(" in s for s in sent) == 2
    assert not any("WHERE users.id =" in s for s in sent)
    assert health.json()["checks"]["analytics"] == "ok"
