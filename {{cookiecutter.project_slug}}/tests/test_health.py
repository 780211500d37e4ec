"""/health, and what every endpoint answers while the database is down."""

import logging
from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from pydantic import SecretStr
from sqlalchemy import URL, make_url

from {{ cookiecutter.package_name }}.settings import Settings
from tests.conftest import app_for, settings_for
from tests.factories import user_payload

# The standbys this project can have, by setting (in the order they start).
STANDBY_URLS = [
    name
    for name in ("analytics_database_url", "replica_database_url")
    if name in Settings.model_fields
]
STANDBY_ROLES = [name.removesuffix("_database_url") for name in STANDBY_URLS]

# Nothing listens on port 1: connections are refused at once.
UNREACHABLE = make_url("postgresql+asyncpg://app:s3cret-pw@127.0.0.1:1/nowhere")


async def test_health_ok(app: FastAPI) -> None:
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as client:
        response = await client.get(app.url_path_for("health"))

    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response.json()["checks"]["primary"] == "ok"


@pytest.fixture
async def down_client() -> AsyncIterator[AsyncClient]:
    """A client of an app whose database cannot be reached (the app still starts)."""
    app = app_for(settings_for(UNREACHABLE))
    async with (
        app.router.lifespan_context(app),
        AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as client,
    ):
        yield client


async def test_liveness_does_no_io(down_client: AsyncClient) -> None:
    response = await down_client.get("/health/live")

    assert (response.status_code, response.json()) == (200, {"status": "ok"})


async def test_readiness_is_503_when_the_database_is_down(down_client: AsyncClient) -> None:
    response = await down_client.get("/health/ready")

    assert response.status_code == 503
    assert response.json()["checks"]["primary"] == "unreachable"


async def test_health_is_503_when_the_database_is_down(
    down_client: AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    response = await down_client.get("/health")

    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
    assert response.json()["checks"]["primary"] == "unreachable"
    assert "s3cret-pw" not in caplog.text


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/users", None),
        ("GET", "/users/987654", None),
        ("GET", "/users/stats", None),
        ("POST", "/users", user_payload()),
        ("DELETE", "/users/987654", None),
        ("POST", "/roles", {"name": "admin"}),
    ],
)
async def test_endpoints_answer_503_when_the_database_is_down(
    down_client: AsyncClient,
    caplog: pytest.LogCaptureFixture,
    method: str,
    path: str,
    body: object,
) -> None:
    response = await down_client.request(method, path, json=body)

    assert response.status_code == 503
    assert response.json() == {"detail": "database unavailable", "code": "database_unavailable"}
    assert "s3cret-pw" not in caplog.text + response.text


async def test_startup_names_every_database_without_credentials(
    database_url: URL, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="{{ cookiecutter.package_name }}.main")
    url = database_url.set(password="s3cret-pw")
    settings = settings_for(url).model_copy(
        update={name: SecretStr(url.render_as_string(hide_password=False)) for name in STANDBY_URLS}
    )
    app = app_for(settings)
    async with app.router.lifespan_context(app):
        pass

    lines = [r.getMessage() for r in caplog.records if r.name.endswith(".main")]
    where = f"postgresql+asyncpg://{url.host}:{url.port}/{url.database}"
    assert lines == [f"database {role}: {where}" for role in ["primary", *STANDBY_ROLES]]
    assert "s3cret-pw" not in caplog.text
