"""The roles part of the HTTP contract."""

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from {{ cookiecutter.package_name }}.models import user_roles
from tests.factories import make_role, make_user


async def test_create_role(client: AsyncClient, app: FastAPI) -> None:
    response = await client.post(
        app.url_path_for("create_role"), json={"name": "admin", "description": "all powers"}
    )
    assert response.status_code == 201
    assert response.json()["name"] == "admin"
    assert response.json()["description"] == "all powers"


async def test_duplicate_role_is_409(client: AsyncClient, app: FastAPI) -> None:
    assert (
        await client.post(app.url_path_for("create_role"), json={"name": "x"})
    ).status_code == 201
    response = await client.post(app.url_path_for("create_role"), json={"name": "x"})
    assert response.status_code == 409


@pytest.mark.parametrize("other", ["caserole", "CASEROLE", "cASErOLE"])
async def test_role_names_are_unique_whatever_their_letter_case(
    client: AsyncClient, app: FastAPI, other: str
) -> None:
    first = await client.post(app.url_path_for("create_role"), json={"name": "CaseRole"})
    second = await client.post(app.url_path_for("create_role"), json={"name": other})

    assert first.status_code == 201
    assert (second.status_code, second.json()) == (
        409,
        {"detail": "name already exists", "code": "name_taken"},
    )


async def test_a_role_is_found_whatever_the_letter_case_asked(
    client: AsyncClient, app: FastAPI, session: AsyncSession
) -> None:
    role = await make_role(session, name="Editors")
    user = await make_user(session)

    assigned = await client.put(
        app.url_path_for("assign_role", user_id=str(user.id), role_name="editors")
    )
    found = await client.get(app.url_path_for("get_role", role_name="EDITORS"))
    members = await client.get(app.url_path_for("users_with_role", role_name="eDiToRs"))

    assert assigned.status_code == 204
    assert (found.status_code, found.json()["id"]) == (200, role.id)
    assert [member["id"] for member in members.json()] == [user.id]


@pytest.mark.parametrize("name", ["", "a/b"])
async def test_invalid_role_is_422(client: AsyncClient, app: FastAPI, name: str) -> None:
    # A role name is a path segment (/roles/{role_name}): no slash.
    response = await client.post(app.url_path_for("create_role"), json={"name": name})
    assert response.status_code == 422


async def test_assign_role_is_idempotent(
    client: AsyncClient, app: FastAPI, session: AsyncSession
) -> None:
    user = await make_user(session)
    role = await make_role(session)
    path = app.url_path_for("assign_role", user_id=str(user.id), role_name=role.name)

    first = await client.put(path)
    second = await client.put(path)

    assert (first.status_code, second.status_code) == (204, 204)
    rows = (await session.execute(select(user_roles.c.user_id, user_roles.c.role_id))).all()
    assert [tuple(row) for row in rows] == [(user.id, role.id)]


async def test_assign_role_to_missing_user_or_missing_role_is_404(
    client: AsyncClient, app: FastAPI, session: AsyncSession
) -> None:
    user_id = str((await make_user(session)).id)
    role_name = (await make_role(session)).name

    no_user = await client.put(
        app.url_path_for("assign_role", user_id="987654", role_name=role_name)
    )
    no_role = await client.put(
        app.url_path_for("assign_role", user_id=user_id, role_name="nonexistent")
    )

    assert no_user.status_code == 404
    assert no_role.status_code == 404
    assert "nonexistent" in no_role.json()["detail"]


async def test_users_with_role(client: AsyncClient, app: FastAPI, session: AsyncSession) -> None:
    role = await make_role(session)
    members = [await make_user(session) for _ in range(2)]
    await make_user(session)
    for member in members:
        await client.put(
            app.url_path_for("assign_role", user_id=str(member.id), role_name=role.name)
        )

    response = await client.get(app.url_path_for("users_with_role", role_name=role.name))

    assert response.status_code == 200
    assert [user["id"] for user in response.json()] == [member.id for member in members]


async def test_users_with_missing_role_is_404(client: AsyncClient, app: FastAPI) -> None:
    response = await client.get(app.url_path_for("users_with_role", role_name="ghost"))
    assert response.status_code == 404


async def test_create_role_points_at_it(client: AsyncClient, app: FastAPI) -> None:
    created = await client.post(app.url_path_for("create_role"), json={"name": "author"})

    assert created.status_code == 201
    assert created.headers["location"] == app.url_path_for("get_role", role_name="author")
    fetched = await client.get(created.headers["location"])
    assert fetched.status_code == 200
    assert fetched.json() == created.json()


@pytest.mark.parametrize("name", ["café ☕", "tab\there", "100%", "?#"])
async def test_any_role_name_is_located(client: AsyncClient, app: FastAPI, name: str) -> None:
    created = await client.post(app.url_path_for("create_role"), json={"name": name})

    assert created.status_code == 201
    fetched = await client.get(created.headers["location"])
    assert (fetched.status_code, fetched.json()["name"]) == (200, name)


async def test_get_missing_role_is_404(client: AsyncClient, app: FastAPI) -> None:
    response = await client.get(app.url_path_for("get_role", role_name="ghost"))

    assert response.status_code == 404
    assert response.json()["code"] == "role_not_found"


async def test_list_roles_pages_by_key(
    client: AsyncClient, app: FastAPI, session: AsyncSession
) -> None:
    names = [(await make_role(session)).name for _ in range(3)]

    seen: list[str] = []
    url: str | None = app.url_path_for("list_roles") + "?limit=2"
    while url is not None:
        response = await client.get(url)
        assert response.status_code == 200
        seen += [role["name"] for role in response.json()]
        url = response.links.get("next", {}).get("url")

    assert seen == names


async def test_remove_role(client: AsyncClient, app: FastAPI, session: AsyncSession) -> None:
    user = await make_user(session)
    kept, removed = await make_role(session), await make_role(session)
    for role in (kept, removed):
        path = app.url_path_for("assign_role", user_id=str(user.id), role_name=role.name)
        assert (await client.put(path)).status_code == 204
    path = app.url_path_for("remove_role", user_id=str(user.id), role_name=removed.name)

    first = await client.delete(path)
    # Not (or no longer) assigned: nothing to do, like assigning twice.
    second = await client.delete(path)

    assert (first.status_code, second.status_code) == (204, 204)
    rows = (await session.execute(select(user_roles.c.user_id, user_roles.c.role_id))).all()
    assert [tuple(row) for row in rows] == [(user.id, kept.id)]


async def test_remove_role_of_missing_user_or_missing_role_is_404(
    client: AsyncClient, app: FastAPI, session: AsyncSession
) -> None:
    user_id = str((await make_user(session)).id)
    role_name = (await make_role(session)).name

    no_user = await client.delete(
        app.url_path_for("remove_role", user_id="987654", role_name=role_name)
    )
    no_role = await client.delete(
        app.url_path_for("remove_role", user_id=user_id, role_name="nonexistent")
    )

    assert (no_user.status_code, no_user.json()["code"]) == (404, "user_not_found")
    assert (no_role.status_code, no_role.json()["code"]) == (404, "role_not_found")
