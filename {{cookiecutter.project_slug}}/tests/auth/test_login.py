"""`POST /auth/token` and `GET /users/me`."""

from fastapi import FastAPI
from httpx import AsyncClient, Response

from {{ cookiecutter.package_name }}.security import PasswordHasher
from {{ cookiecutter.package_name }}.settings import Settings
from tests.auth.conftest import MakeMember, bearer, log_in
from tests.factories import PASSWORD


async def test_a_user_logs_in_and_reads_itself(
    anonymous: AsyncClient, make_member: MakeMember, settings: Settings
) -> None:
    user = await make_member()

    response = await log_in(anonymous, user.username)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert (body["token_type"], body["expires_in"]) == ("bearer", settings.auth_token_ttl_seconds)
    assert response.headers["cache-control"] == "no-store"
    me = await anonymous.get("/users/me", headers=bearer(body["access_token"]))
    assert me.status_code == 200
    assert (me.json()["id"], me.json()["username"]) == (user.id, user.username)
    assert "hashed_password" not in me.json()


async def test_the_username_is_found_in_any_case(
    anonymous: AsyncClient, make_member: MakeMember
) -> None:
    await make_member(username="CamelCase")
    assert (await log_in(anonymous, "camelcase")).status_code == 200


def assert_invalid_credentials(response: Response) -> None:
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json() == {
        "detail": "wrong username or password",
        "code": "invalid_credentials",
    }


async def test_a_wrong_password_and_an_unknown_user_get_the_same_401(
    anonymous: AsyncClient, make_member: MakeMember
) -> None:
    user = await make_member()

    wrong_password = await log_in(anonymous, user.username, "not the password")
    unknown_user = await log_in(anonymous, "nobody-at-all", PASSWORD)

    assert_invalid_credentials(wrong_password)
    assert_invalid_credentials(unknown_user)
    assert wrong_password.content == unknown_user.content


async def test_an_inactive_user_cannot_log_in(
    anonymous: AsyncClient, make_member: MakeMember
) -> None:
    user = await make_member(is_active=False)
    assert_invalid_credentials(await log_in(anonymous, user.username))


async def test_a_missing_form_field_is_a_422(anonymous: AsyncClient) -> None:
    response = await anonymous.post("/auth/token", data={"username": "alice"})
    assert (response.status_code, response.json()["code"]) == (422, "validation_failed")


async def test_a_nul_in_the_username_is_an_ordinary_refusal(anonymous: AsyncClient) -> None:
    assert_invalid_credentials(await log_in(anonymous, "ali\x00ce"))


def parameters(hashed: str) -> list[str]:
    """An Argon2 hash's algorithm, version and cost (`argon2id`, `v=19`, `m=...,t=...,p=...`)."""
    return hashed.split("$")[1:4]


async def test_an_unknown_user_costs_what_a_wrong_password_does(
    app: FastAPI, anonymous: AsyncClient, make_member: MakeMember, settings: Settings
) -> None:
    """A guess at a username does the work a guess at a password does: it verifies an
    Argon2 hash of the same algorithm and cost, so its time tells nothing. Compared by
    the work done, not by a clock (timings on a shared machine are noise)."""
    verified: list[str] = []

    class Recording(PasswordHasher):
        async def verify(self, password: str, hashed: str) -> bool:
            verified.append(hashed)
            return await super().verify(password, hashed)

    recording = Recording.from_settings(settings)
    original = app.state.password_hasher
    app.state.password_hasher = recording
    try:
        user = await make_member()
        assert_invalid_credentials(await log_in(anonymous, user.username, "not the password"))
        assert_invalid_credentials(await log_in(anonymous, "nobody-at-all", "not the password"))
    finally:
        app.state.password_hasher = original
        recording.close()

    known, unknown = verified
    assert unknown == app.state.dummy_password_hash
    assert parameters(unknown) == parameters(known)


async def test_openapi_offers_the_password_flow(anonymous: AsyncClient) -> None:
    """/docs shows an Authorize button: a password-flow scheme that protected operations
    name, and that the open ones do not."""
    spec = (await anonymous.get("/openapi.json")).json()

    (name, scheme), *others = spec["components"]["securitySchemes"].items()
    assert others == []
    assert scheme == {
        "type": "oauth2",
        "flows": {"password": {"scopes": {}, "tokenUrl": "auth/token"}},
    }
    paths = spec["paths"]
    assert paths["/users/me"]["get"]["security"] == [{name: []}]
    assert paths["/users/{user_id}"]["patch"]["security"] == [{name: []}]
    assert "security" not in paths["/users"]["post"]
    assert "security" not in paths["/users/{user_id}"]["get"]
