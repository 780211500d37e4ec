"""The roles part of the HTTP contract."""

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


async def test_invalid_role_is_422(client: AsyncClient, app: FastAPI) -> None:
    response = await client.post(app.url_path_for("create_role"), json={"name": ""})
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
