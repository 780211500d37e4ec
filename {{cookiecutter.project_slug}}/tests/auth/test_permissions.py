"""Who may write what: every write route with no token, another user's, the owner's and
a superuser's; sign-ups and reads stay open."""

from dataclasses import dataclass
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from {{ cookiecutter.package_name }}.models import User
from {{ cookiecutter.package_name }}.settings import Settings
from tests.auth.conftest import MakeMember, token_for
from tests.factories import make_role, user_payload


@dataclass(frozen=True)
class Write:
    method: str
    # `{user}` is the target user's id, `{role}` an existing role's name.
    path: str
    body: Any
    success: int
    owner_may: bool


WRITES = [
    Write("PATCH", "/users/{user}", {"bio": "changed"}, 200, owner_may=True),
    Write("DELETE", "/users/{user}", None, 204, owner_may=True),
    Write("POST", "/users/{user}/posts", {"title": "Hi", "body": "there"}, 201, owner_may=True),
    Write("POST", "/roles", {"name": "editors"}, 201, owner_may=False),
    Write("PUT", "/users/{user}/roles/{role}", None, 204, owner_may=False),
    Write("DELETE", "/users/{user}/roles/{role}", None, 204, owner_may=False),
]
CALLERS = ["nobody", "another user", "the owner", "a superuser"]


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("write", WRITES, ids=lambda write: f"{write.method} {write.path}")
async def test_who_may_write(
    anonymous: AsyncClient,
    make_member: MakeMember,
    session: AsyncSession,
    settings: Settings,
    write: Write,
    caller: str,
) -> None:
    owner, other = await make_member(), await make_member()
    admin = await make_member(is_superuser=True)
    role = await make_role(session)
    callers: dict[str, User | None] = {
        "nobody": None,
        "another user": other,
        "the owner": owner,
        "a superuser": admin,
    }
    user = callers[caller]
    headers = {} if user is None else token_for(settings, user)

    response = await anonymous.request(
        write.method,
        write.path.format(user=owner.id, role=role.name),
        json=write.body,
        headers=headers,
    )

    if caller == "nobody":
        expected, code = 401, "not_authenticated"
    elif caller == "a superuser" or (caller == "the owner" and write.owner_may):
        expected, code = write.success, None
    else:
        expected, code = 403, "forbidden"
    assert response.status_code == expected, response.text
    if code is not None:
        assert response.json()["code"] == code
{% if cookiecutter.use_soft_delete %}


@pytest.mark.parametrize("caller", CALLERS)
async def test_who_may_restore(
    anonymous: AsyncClient,
    make_member: MakeMember,
    settings: Settings,
    caller: str,
) -> None:
    """The deleted owner's token died with the delete: only a superuser restores."""
    owner, other = await make_member(), await make_member()
    admin = await make_member(is_superuser=True)
    callers = {"nobody": None, "another user": other, "the owner": owner, "a superuser": admin}
    user = callers[caller]
    headers = {} if user is None else token_for(settings, user)
    owners_token = token_for(settings, owner)
    assert (await anonymous.delete(f"/users/{owner.id}", headers=owners_token)).status_code == 204

    response = await anonymous.post(f"/users/{owner.id}/restore", headers=headers)

    expected = {"nobody": 401, "another user": 403, "the owner": 401, "a superuser": 200}
    assert response.status_code == expected[caller], response.text
{% endif %}


async def test_sign_ups_and_reads_need_no_token(anonymous: AsyncClient) -> None:
    created = await anonymous.post("/users", json=user_payload())
    bulk = await anonymous.post("/users/bulk", json=[user_payload()])
    with_profile = await anonymous.post(
        "/users/with-profile", json={"user": user_payload(), "profile": {}}
    )
    assert [created.status_code, bulk.status_code, with_profile.status_code] == [201] * 3
    user_id = created.json()["id"]
    for path in (f"/users/{user_id}", f"/users/{user_id}/details", "/users", "/roles"):
        assert (await anonymous.get(path)).status_code == 200, path


async def test_a_user_cannot_make_itself_a_superuser(
    anonymous: AsyncClient, make_member: MakeMember, settings: Settings
) -> None:
    user = await make_member()
    response = await anonymous.patch(
        f"/users/{user.id}", json={"is_superuser": True}, headers=token_for(settings, user)
    )
    assert response.status_code == 422
