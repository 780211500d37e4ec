"""Tokens: refused when missing, malformed, expired or tampered with; dead after a
password change, a delete or a deactivation; the previous keys of a rotation."""

import time
from types import SimpleNamespace
from typing import Any

import jwt
import pytest
from httpx import AsyncClient
from pydantic import SecretStr
from starlette.requests import Request

from {{ cookiecutter.package_name }}.auth.tokens import (
    ALGORITHM,
    issue_token,
    token_subject,
    verified_claims,
)
from {{ cookiecutter.package_name }}.settings import Settings
from tests.auth.conftest import MakeMember, bearer, log_in, token_for
from tests.factories import PASSWORD


def assert_not_authenticated(response: Any) -> None:
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["code"] == "not_authenticated"


def signed(settings: Settings, key: str | None = None, **claims: Any) -> str:
    now = int(time.time())
    payload = {"sub": "1", "ver": 0, "iat": now, "exp": now + 60} | claims
    secret = key or settings.auth_secret_key.get_secret_value()  # type: ignore[union-attr]
    return jwt.encode(payload, secret, algorithm=ALGORITHM)


async def test_a_request_without_a_token_is_401(anonymous: AsyncClient) -> None:
    assert_not_authenticated(await anonymous.get("/users/me"))


@pytest.mark.parametrize(
    "authorization",
    ["Bearer", "Bearer not-a-jwt", "Basic dXNlcjpwYXNz", "Bearer a.b.c", "bearer "],
)
async def test_a_malformed_authorization_is_401(anonymous: AsyncClient, authorization: str) -> None:
    assert_not_authenticated(
        await anonymous.get("/users/me", headers={"Authorization": authorization})
    )


async def test_an_expired_token_is_401(
    anonymous: AsyncClient, make_member: MakeMember, settings: Settings
) -> None:
    user = await make_member()
    expired = signed(
        settings, sub=str(user.id), iat=int(time.time()) - 120, exp=int(time.time()) - 60
    )

    assert_not_authenticated(await anonymous.get("/users/me", headers=bearer(expired)))


async def test_a_tampered_token_is_401(
    anonymous: AsyncClient, make_member: MakeMember, settings: Settings
) -> None:
    user, other = await make_member(), await make_member()
    header, _, signature = issue_token(settings, user.id, 0).split(".")
    # Another user's claims under this token's signature.
    forged_claims = signed(settings, sub=str(other.id)).split(".")[1]
    forged = f"{header}.{forged_claims}.{signature}"
    foreign = signed(settings, key="another-key-of-at-least-32-characters!", sub=str(user.id))

    assert_not_authenticated(await anonymous.get("/users/me", headers=bearer(forged)))
    assert_not_authenticated(await anonymous.get("/users/me", headers=bearer(foreign)))


async def test_a_token_without_the_claims_it_needs_is_401(
    anonymous: AsyncClient, make_member: MakeMember, settings: Settings
) -> None:
    user = await make_member()
    now = int(time.time())
    key = settings.auth_secret_key.get_secret_value()  # type: ignore[union-attr]
    no_version = jwt.encode({"sub": str(user.id), "exp": now + 60, "iat": now}, key, ALGORITHM)
    not_an_id = signed(settings, sub="admin")
    unsigned = jwt.encode(
        {"sub": str(user.id), "ver": 0, "exp": now + 60, "iat": now}, None, "none"
    )

    for token in (no_version, not_an_id, unsigned):
        assert_not_authenticated(await anonymous.get("/users/me", headers=bearer(token)))


async def test_a_password_change_ends_the_tokens_issued_before_it(
    anonymous: AsyncClient, make_member: MakeMember
) -> None:
    user = await make_member()
    old = bearer((await log_in(anonymous, user.username)).json()["access_token"])

    changed = await anonymous.patch(
        f"/users/{user.id}", json={"password": "a new password"}, headers=old
    )

    assert changed.status_code == 200
    assert_not_authenticated(await anonymous.get("/users/me", headers=old))
    assert (await log_in(anonymous, user.username)).status_code == 401
    new = await log_in(anonymous, user.username, "a new password")
    assert new.status_code == 200
    me = await anonymous.get("/users/me", headers=bearer(new.json()["access_token"]))
    assert me.status_code == 200


async def test_other_changes_keep_the_token(
    anonymous: AsyncClient, make_member: MakeMember, settings: Settings
) -> None:
    user = await make_member()
    headers = token_for(settings, user)

    assert (
        await anonymous.patch(f"/users/{user.id}", json={"bio": "x"}, headers=headers)
    ).status_code == 200
    assert (await anonymous.get("/users/me", headers=headers)).status_code == 200


async def test_a_deleted_users_token_is_401(
    anonymous: AsyncClient, make_member: MakeMember, settings: Settings
) -> None:
    user = await make_member()
    headers = token_for(settings, user)

    assert (await anonymous.delete(f"/users/{user.id}", headers=headers)).status_code == 204
    assert_not_authenticated(await anonymous.get("/users/me", headers=headers))
    assert_not_authenticated(
        await anonymous.patch(f"/users/{user.id}", json={"bio": "x"}, headers=headers)
    )


async def test_a_deactivated_users_token_is_401(
    anonymous: AsyncClient, make_member: MakeMember, settings: Settings
) -> None:
    user, admin = await make_member(), await make_member(is_superuser=True)
    headers = token_for(settings, user)

    deactivated = await anonymous.patch(
        f"/users/{user.id}", json={"is_active": False}, headers=token_for(settings, admin)
    )

    assert deactivated.status_code == 200
    assert_not_authenticated(await anonymous.get("/users/me", headers=headers))


def request_with(settings: Settings, authorization: str | None) -> Request:
    """A request to an app with `settings`, with this `Authorization` header if any."""
    headers = [] if authorization is None else [(b"authorization", authorization.encode())]
    app = SimpleNamespace(state=SimpleNamespace(settings=settings))
    return Request({"type": "http", "headers": headers, "app": app})


def test_token_subject_is_the_verified_user_id_or_none(settings: Settings) -> None:
    now = int(time.time())
    valid = issue_token(settings, 42, 3)

    assert token_subject(request_with(settings, f"Bearer {valid}")) == "42"
    assert token_subject(request_with(settings, None)) is None
    assert token_subject(request_with(settings, "Bearer nonsense")) is None
    assert token_subject(request_with(settings, f"Basic {valid}")) is None
    expired = signed(settings, sub="42", iat=now - 120, exp=now - 60)
    assert token_subject(request_with(settings, f"Bearer {expired}")) is None


def test_a_rotated_key_still_verifies_the_tokens_it_signed(settings: Settings) -> None:
    old_key = "the-previous-key-of-at-least-32-characters"
    before = settings.model_copy(update={"auth_secret_key": SecretStr(old_key)})
    during = settings.model_copy(update={"auth_previous_secret_keys": [SecretStr(old_key)]})
    token = issue_token(before, 7, 0)

    assert verified_claims(during, token) is not None
    assert verified_claims(settings, token) is None
    # New tokens are signed with the current key only.
    assert verified_claims(settings, issue_token(during, 7, 0)) is not None


def test_previous_keys_are_read_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = "a" * 32, "b" * 40
    monkeypatch.setenv("AUTH_PREVIOUS_SECRET_KEYS", f"{first}, {second}")

    keys = Settings().auth_previous_secret_keys

    assert [key.get_secret_value() for key in keys] == [first, second]


def test_the_password_is_not_in_the_token(settings: Settings) -> None:
    claims = jwt.decode(issue_token(settings, 5, 1), options={"verify_signature": False})
    assert set(claims) == {"sub", "ver", "iat", "exp"}
    assert PASSWORD not in str(claims)
