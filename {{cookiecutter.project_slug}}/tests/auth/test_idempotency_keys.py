"""With authentication, idempotency keys are the caller's: the same key sent by two users
is two keys, and a user's repeat gets that user's first answer."""

from httpx import AsyncClient

from {{ cookiecutter.package_name }}.api.idempotency import KEY_HEADER, REPLAYED_HEADER
from {{ cookiecutter.package_name }}.settings import Settings
from tests.auth.conftest import MakeMember, token_for

POST = {"title": "Once", "body": "only once"}


async def test_the_same_key_from_two_users_is_two_keys(
    anonymous: AsyncClient, make_member: MakeMember, settings: Settings
) -> None:
    first, second = await make_member(), await make_member()
    as_first = {**token_for(settings, first), KEY_HEADER: "shared-key"}
    as_second = {**token_for(settings, second), KEY_HEADER: "shared-key"}

    mine = await anonymous.post(f"/users/{first.id}/posts", json=POST, headers=as_first)
    theirs = await anonymous.post(f"/users/{second.id}/posts", json=POST, headers=as_second)
    again = await anonymous.post(f"/users/{first.id}/posts", json=POST, headers=as_first)

    # One scope for all would make the second a 422 (the key, sent for another path).
    assert (mine.status_code, theirs.status_code) == (201, 201), theirs.text
    assert REPLAYED_HEADER not in theirs.headers
    assert theirs.json()["id"] != mine.json()["id"]
    assert again.headers[REPLAYED_HEADER] == "true"
    assert again.json() == mine.json()


async def test_a_key_is_not_replayed_to_another_user(
    anonymous: AsyncClient, make_member: MakeMember, settings: Settings
) -> None:
    """A superuser sending the owner's key for the owner's path does not get the owner's
    stored answer: it runs as the superuser's own request."""
    owner = await make_member()
    admin = await make_member(is_superuser=True)
    path = f"/users/{owner.id}/posts"

    by_owner = await anonymous.post(
        path, json=POST, headers={**token_for(settings, owner), KEY_HEADER: "k-1"}
    )
    by_admin = await anonymous.post(
        path, json=POST, headers={**token_for(settings, admin), KEY_HEADER: "k-1"}
    )

    assert (by_owner.status_code, by_admin.status_code) == (201, 201)
    assert REPLAYED_HEADER not in by_admin.headers
    assert by_admin.json()["id"] != by_owner.json()["id"]
