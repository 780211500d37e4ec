"""Every error body has a `detail` for people and a stable `code` for programs."""

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories import make_user, user_payload


async def test_missing_user_is_user_not_found(client: AsyncClient, app: FastAPI) -> None:
    response = await client.get(app.url_path_for("get_user", user_id="987654"))

    assert response.status_code == 404
    assert response.json() == {"detail": "user 987654 not found", "code": "user_not_found"}


@pytest.mark.parametrize("field", ["username", "email"])
async def test_a_taken_field_is_named_in_the_code(
    client: AsyncClient, app: FastAPI, field: str
) -> None:
    first = user_payload()
    assert (await client.post(app.url_path_for("create_user"), json=first)).status_code == 201

    response = await client.post(
        app.url_path_for("create_user"), json=user_payload(**{field: first[field]})
    )

    assert response.status_code == 409
    assert response.json() == {"detail": f"{field} already exists", "code": f"{field}_taken"}


async def test_a_taken_role_name_is_409(client: AsyncClient, app: FastAPI) -> None:
    await client.post(app.url_path_for("create_role"), json={"name": "twice"})
    response = await client.post(app.url_path_for("create_role"), json={"name": "twice"})
    assert (response.status_code, response.json()["code"]) == (409, "name_taken")


@pytest.mark.parametrize(
    "body",
    [
        {"user": user_payload(), "profile": {"timezone": "Mars/Olympus_Mons"}},
        {"user": user_payload(password="hunter2"), "profile": {}},
        {"user": user_payload(email="no-at-sign"), "profile": {}},
    ],
)
async def test_validation_errors_keep_fastapis_shape_without_input_or_empty_context(
    client: AsyncClient, app: FastAPI, body: dict[str, object]
) -> None:
    response = await client.post(app.url_path_for("create_user_with_profile"), json=body)

    assert response.status_code == 422
    assert response.json()["code"] == "validation_failed"
    (error,) = response.json()["detail"]
    assert {"type", "loc", "msg"} <= set(error) <= {"type", "loc", "msg", "ctx"}
    assert error.get("ctx", "absent") != {}
    assert "error" not in error.get("ctx", {})
    assert "Olympus" not in response.text
    assert "hunter2" not in response.text


async def test_booleans_are_json_booleans(
    client: AsyncClient, app: FastAPI, session: AsyncSession
) -> None:
    user_id = str((await make_user(session)).id)

    post = await client.post(
        app.url_path_for("create_post", user_id=user_id),
        json={"title": "t", "body": "b", "published": 0},
    )
    patch = await client.patch(
        app.url_path_for("update_user", user_id=user_id), json={"is_active": "no"}
    )

    assert (post.status_code, patch.status_code) == (422, 422)


async def test_a_body_that_is_not_utf8_is_a_validation_error(
    client: AsyncClient, app: FastAPI
) -> None:
    response = await client.post(
        app.url_path_for("create_role"),
        content=b'{"name": "\xff\xfe"}',
        headers={"content-type": "application/json"},
    )

    assert response.status_code == 422
    assert response.json()["code"] == "validation_failed"


async def test_an_unknown_path_is_not_found(client: AsyncClient) -> None:
    response = await client.get("/no/such/thing")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found", "code": "not_found"}


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("OPTIONS", "/users", {"GET", "POST"}),
        ("PUT", "/users/1", {"GET", "PATCH", "DELETE"}),
        ("DELETE", "/users/stats", {"GET"}),
    ],
)
async def test_a_missing_method_is_405_listing_every_method_of_the_path(
    client: AsyncClient, method: str, path: str, allowed: set[str]
) -> None:
    response = await client.request(method, path)

    assert response.status_code == 405
    assert response.json() == {"detail": "Method Not Allowed", "code": "method_not_allowed"}
    assert set(response.headers["allow"].split(", ")) == allowed
