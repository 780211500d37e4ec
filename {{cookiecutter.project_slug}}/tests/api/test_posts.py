"""A user's posts: created under the user, listed by key like GET /users."""

from typing import Any

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from {{ cookiecutter.package_name }}.models import Post, User
from tests.conftest import recorded_statements
from tests.factories import make_post, make_user


async def test_create_post_points_at_it(
    client: AsyncClient, app: FastAPI, session: AsyncSession
) -> None:
    user = await make_user(session)

    created = await client.post(
        app.url_path_for("create_post", user_id=str(user.id)), json={"title": "Hi", "body": "x"}
    )

    assert created.status_code == 201
    post_id = str(created.json()["id"])
    post_path = app.url_path_for("get_post", user_id=str(user.id), post_id=post_id)
    assert created.headers["location"] == post_path
    fetched = await client.get(created.headers["location"])
    assert fetched.status_code == 200
    assert fetched.json() == created.json()


async def test_a_post_for_a_missing_user_is_404_and_writes_nothing(
    client: AsyncClient, app: FastAPI, session: AsyncSession
) -> None:
    response = await client.post(
        app.url_path_for("create_post", user_id="987654"), json={"title": "Hi", "body": "x"}
    )

    assert (response.status_code, response.json()["code"]) == (404, "user_not_found")
    assert await session.scalar(select(func.count()).select_from(Post)) == 0


async def test_a_post_is_written_without_reading_its_user_first(
    client: AsyncClient, app: FastAPI, session: AsyncSession
) -> None:
    """The foreign key checks the user (and holds its row until the commit): no SELECT
    before the INSERT, one round trip fewer. Soft delete still reads it: a deleted user's
    row satisfies the key."""
    user = await make_user(session)
    path = app.url_path_for("create_post", user_id=str(user.id))

    with recorded_statements(await session.connection()) as statements:
        created = await client.post(path, json={"title": "Hi", "body": "x"})

    assert created.status_code == 201, created.text
    reads = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    inserts = [s for s in statements if s.lstrip().upper().startswith("INSERT INTO POSTS")]
    assert (len(reads), len(inserts)) == (1 if hasattr(User, "is_deleted") else 0, 1)


async def test_a_post_is_found_only_under_its_author(
    client: AsyncClient, app: FastAPI, session: AsyncSession
) -> None:
    author, other = await make_user(session), await make_user(session)
    post = await make_post(session, author)

    response = await client.get(
        app.url_path_for("get_post", user_id=str(other.id), post_id=str(post.id))
    )

    assert (response.status_code, response.json()["code"]) == (404, "post_not_found")


async def test_next_links_walk_a_users_posts_exactly_once(
    client: AsyncClient, app: FastAPI, session: AsyncSession
) -> None:
    author, other = await make_user(session), await make_user(session)
    ids = []
    for _ in range(5):
        ids.append((await make_post(session, author)).id)
        await make_post(session, other)

    seen: list[int] = []
    pages = 0
    url: str | None = app.url_path_for("list_posts", user_id=str(author.id)) + "?limit=2"
    while url is not None:
        response = await client.get(url)
        assert response.status_code == 200
        seen += [post["id"] for post in response.json()]
        pages += 1
        url = response.links.get("next", {}).get("url")

    assert seen == ids
    assert pages == 3


async def test_posts_after_a_post_are_the_later_ones(
    client: AsyncClient, app: FastAPI, session: AsyncSession
) -> None:
    author = await make_user(session)
    ids = [(await make_post(session, author)).id for _ in range(3)]

    response = await client.get(
        app.url_path_for("list_posts", user_id=str(author.id)), params={"after": ids[0]}
    )

    assert [post["id"] for post in response.json()] == ids[1:]
    assert "link" not in response.headers


async def test_posts_of_a_user_without_posts_is_an_empty_list(
    client: AsyncClient, app: FastAPI, session: AsyncSession
) -> None:
    user = await make_user(session)
    response = await client.get(app.url_path_for("list_posts", user_id=str(user.id)))
    assert (response.status_code, response.json()) == (200, [])


async def test_posts_of_a_missing_user_is_404(client: AsyncClient, app: FastAPI) -> None:
    response = await client.get(app.url_path_for("list_posts", user_id="987654"))
    assert (response.status_code, response.json()["code"]) == (404, "user_not_found")


@pytest.mark.parametrize("params", [{"after": -1}, {"after": 2**40}, {"limit": 0}, {"limit": 101}])
async def test_bad_post_paging_is_422(
    client: AsyncClient, app: FastAPI, session: AsyncSession, params: dict[str, Any]
) -> None:
    user = await make_user(session)
    response = await client.get(app.url_path_for("list_posts", user_id=str(user.id)), params=params)
    assert response.status_code == 422
