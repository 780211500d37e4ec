"""`POST /auth/token` and `GET /users/me`."""

import time

from httpx import AsyncClient, Response
from sqlalchemy.ext.asyncio import AsyncSession

from {{ cookiecutter.package_name }}.main import create_app
from {{ cookiecutter.package_name }}.settings import Settings
from tests.auth.conftest import MakeMember, bearer, log_in
from tests.conftest import client_for
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


async def median_login_seconds(client: AsyncClient, username: str, password: str) -> float:
    times = []
    for _ in range(5):
        started = time.perf_counter()
        response = await log_in(client, username, password)
        times.append(time.perf_counter() - started)
        assert response.status_code == 401
    return sorted(times)[len(times) // 2]


async def test_an_unknown_user_takes_as_long_as_a_wrong_password(
    settings: Settings, session: AsyncSession, make_member: MakeMember
) -> None:
    """With the production hashing cost, a guess at a username costs what a guess at a
    password does: both verify an Argon2 hash, so the time tells nothing."""
    costly = create_app(
        settings.model_copy(
            update={"password_hash_time_cost": 2, "password_hash_memory_cost": 19456}
        )
    )
    # create_app's app, not app_for's: the tokens are checked.
    async with costly.router.lifespan_context(costly), client_for(costly, session) as client:
        hashed = costly.state.dummy_password_hash
        user = await make_member(hashed_password=hashed)
        known = await median_login_seconds(client, user.username, "not the password")
        unknown = await median_login_seconds(client, "nobody-at-all", "not the password")

    assert 0.5 < unknown / known < 2, (known, unknown)


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
