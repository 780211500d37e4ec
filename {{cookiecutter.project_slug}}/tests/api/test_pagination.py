"""Keyset pagination of GET /users: `after=<id>` and the RFC 8288 `Link: rel="next"`."""

from typing import Any

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories import make_user


async def test_next_links_walk_every_user_exactly_once(
    client: AsyncClient, app: FastAPI, session: AsyncSession
) -> None:
    ids = [(await make_user(session)).id for _ in range(5)]

    seen: list[int] = []
    pages = 0
    url: str | None = str(client.base_url.join(app.url_path_for("list_users"))) + "?limit=2"
    while url is not None:
        response = await client.get(url)
        assert response.status_code == 200
        seen += [user["id"] for user in response.json()]
        pages += 1
        url = response.links.get("next", {}).get("url")

    assert seen == ids
    # Two full pages link onwards; the third (one user) is short and ends the walk.
    assert pages == 3


async def test_after_is_exclusive_and_ordered_by_id(
    client: AsyncClient, app: FastAPI, session: AsyncSession
) -> None:
    ids = [(await make_user(session)).id for _ in range(4)]

    response = await client.get(
        app.url_path_for("list_users"), params={"after": ids[1], "limit": 100}
    )

    assert [user["id"] for user in response.json()] == ids[2:]
    assert "next" not in response.links


async def test_a_full_page_links_to_the_page_after_its_last_user(
    client: AsyncClient, app: FastAPI, session: AsyncSession
) -> None:
    ids = [(await make_user(session)).id for _ in range(3)]

    response = await client.get(app.url_path_for("list_users"), params={"skip": 1, "limit": 2})

    assert [user["id"] for user in response.json()] == ids[1:]
    next_url = response.links["next"]["url"]
    assert "skip" not in next_url
    assert f"after={ids[2]}" in next_url
    assert "limit=2" in next_url


async def test_skip_with_after_skips_rows_after_the_key(
    client: AsyncClient, app: FastAPI, session: AsyncSession
) -> None:
    ids = [(await make_user(session)).id for _ in range(4)]

    response = await client.get(
        app.url_path_for("list_users"), params={"after": ids[0], "skip": 1, "limit": 2}
    )

    assert [user["id"] for user in response.json()] == ids[2:]
    next_url = response.links["next"]["url"]
    assert "skip" not in next_url
    assert f"after={ids[3]}" in next_url


async def test_after_beyond_the_end_is_an_empty_page_without_link(
    client: AsyncClient, app: FastAPI, session: AsyncSession
) -> None:
    user = await make_user(session)

    response = await client.get(app.url_path_for("list_users"), params={"after": user.id})

    assert response.status_code == 200
    assert response.json() == []
    assert "link" not in response.headers


@pytest.mark.parametrize(
    "params",
    [{"after": -1}, {"after": 2**40}, {"after": "last"}],
)
async def test_bad_keyset_parameters_are_rejected(
    client: AsyncClient, app: FastAPI, params: dict[str, Any]
) -> None:
    response = await client.get(app.url_path_for("list_users"), params=params)

    assert response.status_code == 422
    assert response.json()["detail"]
