"""`Location` and `Link` point where PUBLIC_BASE_URL says, or are relative; the request's
`Host` header never decides where they point."""

from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import URL
from sqlalchemy.ext.asyncio import AsyncSession

from {{ cookiecutter.package_name }}.main import create_app
from tests.conftest import client_for, settings_for
from tests.factories import make_user, user_payload

EVIL = {"Host": "evil.example"}
PUBLIC = "https://api.example.com/v1"


@pytest.fixture
async def public_client(database_url: URL, session: AsyncSession) -> AsyncIterator[AsyncClient]:
    """A client of an app whose PUBLIC_BASE_URL is set."""
    app = create_app(settings_for(database_url).model_copy(update={"public_base_url": PUBLIC}))
    async with app.router.lifespan_context(app), client_for(app, session) as client:
        yield client


async def test_location_is_relative_whatever_the_host(client: AsyncClient, app: FastAPI) -> None:
    created = await client.post(app.url_path_for("create_user"), json=user_payload(), headers=EVIL)

    assert created.status_code == 201
    assert created.headers["location"] == app.url_path_for("get_user", user_id=created.json()["id"])


async def test_next_link_is_relative_whatever_the_host(
    client: AsyncClient, app: FastAPI, session: AsyncSession
) -> None:
    first = await make_user(session)
    await make_user(session)

    response = await client.get(
        app.url_path_for("list_users"), params={"after": first.id - 1, "limit": 1}, headers=EVIL
    )

    path = app.url_path_for("list_users")
    assert response.headers["link"] == f'<{path}?after={first.id}&limit=1>; rel="next"'


async def test_links_start_with_the_path_the_app_is_served_under(
    app: FastAPI, session: AsyncSession
) -> None:
    await make_user(session)
    async with client_for(app, session, root_path="/api") as client:
        created = await client.post(
            "/api" + app.url_path_for("create_user"), json=user_payload(), headers=EVIL
        )
        listed = await client.get("/api" + app.url_path_for("list_users"), params={"limit": 1})

    user_path = app.url_path_for("get_user", user_id=created.json()["id"])
    assert created.headers["location"] == "/api" + user_path
    assert listed.headers["link"].startswith("</api/users?after=")


async def test_public_base_url_makes_links_absolute(
    public_client: AsyncClient, app: FastAPI, session: AsyncSession
) -> None:
    first = await make_user(session)
    await make_user(session)

    created = await public_client.post(
        app.url_path_for("create_user"), json=user_payload(), headers=EVIL
    )
    listed = await public_client.get(
        app.url_path_for("list_users"), params={"after": first.id - 1, "limit": 1}, headers=EVIL
    )

    user_path = app.url_path_for("get_user", user_id=created.json()["id"])
    assert created.headers["location"] == PUBLIC + user_path
    assert listed.headers["link"] == f'<{PUBLIC}/users?after={first.id}&limit=1>; rel="next"'
