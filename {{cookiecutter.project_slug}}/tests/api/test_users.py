"""The users part of the HTTP contract, row by row, success and each error."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from {{ cookiecutter.package_name }}.models import {% if not cookiecutter.use_soft_delete %}Post, {% endif %}User, UserProfile
from {{ cookiecutter.package_name }}.schemas.user import ProfileCreate
from {{ cookiecutter.package_name }}.security import PasswordHasher
from tests.conftest import recorded_statements
from tests.factories import PASSWORD, make_post, make_role, make_user, user_payload

USER_FIELDS = {
    "id",
    "username",
    "email",
    "full_name",
    "bio",
    "is_active",
    "is_verified",
    "created_at",
    "updated_at",
}


async def count_users(session: AsyncSession) -> int:
    return await session.scalar(select(func.count()).select_from(User)) or 0


# POST /users


async def test_create_user_returns_the_user_without_password(
    client: AsyncClient, app: FastAPI, session: AsyncSession, hasher: PasswordHasher
) -> None:
    payload = user_payload(email="Mixed.Case@Example.COM")
    response = await client.post(app.url_path_for("create_user"), json=payload)

    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == USER_FIELDS
    assert body["username"] == payload["username"]
    assert body["email"] == "mixed.case@example.com"
    assert body["is_active"] is True
    assert PASSWORD not in response.text
    stored = await session.get(User, body["id"])
    assert stored is not None
    assert stored.hashed_password != PASSWORD
    assert await hasher.verify(PASSWORD, stored.hashed_password)


@pytest.mark.parametrize(
    "email",
    [
        "\u0441onf@example.com",  # Cyrillic es
        "conf@ex\u0430mple.com",  # Cyrillic a
        "c\u03bfnf@example.com",  # Greek omicron
        "a@b\u00fccher.example",  # a Unicode domain (accepted in punycode)
    ],
)
async def test_emails_outside_ascii_are_refused(
    client: AsyncClient, app: FastAPI, session: AsyncSession, email: str
) -> None:
    response = await client.post(app.url_path_for("create_user"), json=user_payload(email=email))

    assert response.status_code == 422
    (problem,) = response.json()["detail"]
    assert problem["loc"] == ["body", "email"]
    assert problem["msg"].startswith("Value error, must contain only ASCII characters")
    assert await count_users(session) == 0


@pytest.mark.parametrize(
    ("email", "stored"),
    [
        # Fullwidth forms fold to ASCII (NFKC): the same address as the ASCII one.
        ("\uff43\uff4f\uff4e\uff46\uff20\uff45xample.com", "conf@example.com"),
        ("user@xn--bcher-kva.example", "user@xn--bcher-kva.example"),
    ],
)
async def test_emails_are_stored_in_ascii(
    client: AsyncClient, app: FastAPI, email: str, stored: str
) -> None:
    response = await client.post(app.url_path_for("create_user"), json=user_payload(email=email))

    assert response.status_code == 201, response.text
    assert response.json()["email"] == stored


async def test_a_fullwidth_copy_of_an_email_is_taken(client: AsyncClient, app: FastAPI) -> None:
    first = await client.post(
        app.url_path_for("create_user"), json=user_payload(email="twin@example.com")
    )
    copy = await client.post(
        app.url_path_for("create_user"),
        json=user_payload(email="\uff54\uff57\uff49\uff4e@example.com"),
    )

    assert first.status_code == 201
    assert (copy.status_code, copy.json()["code"]) == (409, "email_taken")


async def test_created_users_are_located(client: AsyncClient, app: FastAPI) -> None:
    single = await client.post(app.url_path_for("create_user"), json=user_payload())
    with_profile = await client.post(
        app.url_path_for("create_user_with_profile"), json={"user": user_payload(), "profile": {}}
    )
    bulk = await client.post(app.url_path_for("create_users"), json=[user_payload()])

    for created in (single, with_profile):
        assert created.status_code == 201
        user_path = app.url_path_for("get_user", user_id=str(created.json()["id"]))
        assert created.headers["location"] == user_path
        assert (await client.get(created.headers["location"])).status_code == 200
    # Many resources, no one primary resource to point at.
    assert bulk.status_code == 201
    assert "location" not in bulk.headers


@pytest.mark.parametrize("field", ["username", "email"])
async def test_duplicate_user_is_409_and_leaves_exactly_one_row(
    client: AsyncClient, app: FastAPI, session: AsyncSession, field: str
) -> None:
    first = user_payload()
    assert (await client.post(app.url_path_for("create_user"), json=first)).status_code == 201
    before = await count_users(session)

    second = user_payload(**{field: first[field].upper() if field == "email" else first[field]})
    response = await client.post(app.url_path_for("create_user"), json=second)

    assert response.status_code == 409
    assert field in response.json()["detail"]
    assert await count_users(session) == before == 1


async def test_usernames_differing_only_in_letter_case_are_409(
    client: AsyncClient, app: FastAPI, session: AsyncSession
) -> None:
    create = app.url_path_for("create_user")
    assert (await client.post(create, json=user_payload(username="Alice"))).status_code == 201

    response = await client.post(create, json=user_payload(username="alice"))

    assert response.status_code == 409
    assert "username" in response.json()["detail"]
    assert await count_users(session) == 1


@pytest.mark.parametrize(
    "changes",
    [
        {"password": "short"},
        {"email": "not-an-email"},
        {"username": "no spaces allowed"},
        {"username": "ab"},
        {"username": None},
        {"full_name": "nul\x00byte"},
        {"is_superuser": True},
        {"email": "a" * 95 + "@example.com"},
    ],
    ids=lambda changes: next(iter(changes)),
)
async def test_invalid_user_is_422(
    client: AsyncClient, app: FastAPI, session: AsyncSession, changes: dict[str, Any]
) -> None:
    response = await client.post(app.url_path_for("create_user"), json=user_payload(**changes))

    assert response.status_code == 422
    assert await count_users(session) == 0


async def test_validation_errors_do_not_echo_passwords(client: AsyncClient, app: FastAPI) -> None:
    response = await client.post(
        app.url_path_for("create_user"), json=user_payload(password="hunter2")
    )

    assert response.status_code == 422
    assert "hunter2" not in response.text


async def test_missing_body_is_422(client: AsyncClient, app: FastAPI) -> None:
    response = await client.post(app.url_path_for("create_user"))
    assert response.status_code == 422


# POST /users/bulk


async def test_bulk_create_inserts_every_user_in_one_statement(
    client: AsyncClient, app: FastAPI, session: AsyncSession
) -> None:
    payloads = [user_payload() for _ in range(25)]
    with recorded_statements(await session.connection()) as statements:
        response = await client.post(app.url_path_for("create_users"), json=payloads)

    assert response.status_code == 201, response.text
    body = response.json()
    assert [user["username"] for user in body] == [p["username"] for p in payloads]
    assert [user["id"] for user in body] == sorted(user["id"] for user in body)
    inserts = [s for s in statements if s.lstrip().upper().startswith("INSERT INTO USERS")]
    assert len(inserts) == 1
    assert await count_users(session) == 25


async def test_bulk_create_with_a_duplicate_creates_nothing(
    client: AsyncClient, app: FastAPI, session: AsyncSession
) -> None:
    existing = await make_user(session)
    payloads = [user_payload(), user_payload(username=existing.username), user_payload()]

    response = await client.post(app.url_path_for("create_users"), json=payloads)

    assert response.status_code == 409
    assert await count_users(session) == 1


# 101: one more than BULK_MAX_USERS's default.
@pytest.mark.parametrize("size", [0, 101])
async def test_bulk_create_size_is_limited(
    client: AsyncClient, app: FastAPI, session: AsyncSession, size: int
) -> None:
    payloads = [user_payload() for _ in range(size)]
    response = await client.post(app.url_path_for("create_users"), json=payloads)
    assert response.status_code == 422
    assert await count_users(session) == 0


class CountingHasher(PasswordHasher):
    """Hashes for real and counts how often."""

    calls = 0

    async def hash(self, password: str) -> str:
        self.calls += 1
        return await super().hash(password)


@pytest.mark.parametrize(
    "duplicate",
    [{"username": "Twin"}, {"username": "twin"}, {"email": "TWIN@example.com"}],
    ids=["same-username", "username-other-case", "email-other-case"],
)
async def test_bulk_create_rejects_duplicates_within_the_batch_before_hashing(
    client: AsyncClient,
    app: FastAPI,
    session: AsyncSession,
    duplicate: dict[str, str],
) -> None:
    hasher = CountingHasher(time_cost=1, memory_cost=1024)
    twin = user_payload(username="Twin", email="twin@example.com")
    payloads = [twin, *(user_payload() for _ in range(98)), user_payload(**duplicate)]

    app_hasher, app.state.password_hasher = app.state.password_hasher, hasher
    try:
        response = await client.post(app.url_path_for("create_users"), json=payloads)
    finally:
        app.state.password_hasher = app_hasher
        hasher.close()

    assert response.status_code == 422
    field = next(iter(duplicate))
    assert f"items 0 and 99 have the same {field}" in response.text
    assert hasher.calls == 0
    assert await count_users(session) == 0


async def test_bulk_create_rejects_one_invalid_user(client: AsyncClient, app: FastAPI) -> None:
    payloads = [user_payload(), user_payload(email="nope")]
    response = await client.post(app.url_path_for("create_users"), json=payloads)
    assert response.status_code == 422


# POST /users/with-profile


async def test_create_user_with_profile(
    client: AsyncClient, app: FastAPI, session: AsyncSession
) -> None:
    payload = {
        "user": user_payload(),
        "profile": {"location": "Lyon", "timezone": "Europe/Paris", "birth_date": "1990-05-17"},
    }
    response = await client.post(app.url_path_for("create_user_with_profile"), json=payload)

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["username"] == payload["user"]["username"]
    assert body["profile"]["location"] == "Lyon"
    assert body["profile"]["timezone"] == "Europe/Paris"
    assert body["profile"]["language"] == "en"
    profile = await session.scalar(select(UserProfile).where(UserProfile.user_id == body["id"]))
    assert profile is not None


async def test_create_user_with_profile_conflict_writes_nothing(
    client: AsyncClient, app: FastAPI, session: AsyncSession
) -> None:
    existing = await make_user(session)
    payload = {"user": user_payload(email=existing.email), "profile": {"location": "Oslo"}}

    response = await client.post(app.url_path_for("create_user_with_profile"), json=payload)

    assert response.status_code == 409
    assert await session.scalar(select(func.count()).select_from(UserProfile)) == 0


@pytest.mark.parametrize(
    "profile", [{"timezone": "Mars/Olympus"}, {"language": "english!"}, {"birth_date": "soon"}]
)
async def test_create_user_with_invalid_profile_is_422(
    client: AsyncClient, app: FastAPI, session: AsyncSession, profile: dict[str, str]
) -> None:
    payload = {"user": user_payload(), "profile": profile}
    response = await client.post(app.url_path_for("create_user_with_profile"), json=payload)
    assert response.status_code == 422
    assert await count_users(session) == 0


@pytest.mark.parametrize(
    "timezone", ["posix/Europe/Rome", "right/Europe/Rome", "Europe/Rome/", "europe/rome"]
)
async def test_only_documented_time_zones_are_accepted(
    client: AsyncClient, app: FastAPI, timezone: str
) -> None:
    payload = {"user": user_payload(), "profile": {"timezone": timezone}}

    response = await client.post(app.url_path_for("create_user_with_profile"), json=payload)

    assert response.status_code == 422
    (problem,) = response.json()["detail"]
    assert problem["loc"] == ["body", "profile", "timezone"]
    assert problem["msg"] == "Value error, unknown time zone (an IANA name such as Europe/Rome)"


def test_every_documented_time_zone_is_accepted() -> None:
    documented = ProfileCreate.model_json_schema()["properties"]["timezone"]["enum"]

    assert "Europe/Rome" in documented
    for name in documented:
        assert ProfileCreate(timezone=name).timezone == name


# GET /users


async def test_list_users_is_ordered_by_id_and_paginated(
    client: AsyncClient, app: FastAPI, session: AsyncSession
) -> None:
    users = [await make_user(session) for _ in range(5)]
    ids = [user.id for user in users]

    everything = await client.get(app.url_path_for("list_users"))
    page = await client.get(app.url_path_for("list_users"), params={"skip": 1, "limit": 2})

    assert everything.status_code == 200
    assert [user["id"] for user in everything.json()] == ids
    assert [user["id"] for user in page.json()] == ids[1:3]
    assert all(set(user) == USER_FIELDS for user in everything.json())


@pytest.mark.parametrize(
    "params", [{"limit": 0}, {"limit": 101}, {"skip": -1}, {"limit": "many"}, {"skip": 2**40}]
)
async def test_list_users_rejects_bad_pagination(
    client: AsyncClient, app: FastAPI, params: dict[str, Any]
) -> None:
    response = await client.get(app.url_path_for("list_users"), params=params)
    assert response.status_code == 422


# GET /users/search


async def test_search_is_case_insensitive_over_username_email_and_full_name(
    client: AsyncClient, app: FastAPI, session: AsyncSession
) -> None:
    by_username = await make_user(session, username="ZebraKeeper")
    by_email = await make_user(session, email="zebra@example.com")
    by_name = await make_user(session, full_name="Zed Zebra")
    await make_user(session, username="horse")

    response = await client.get(app.url_path_for("search_users"), params={"q": "zEBRA"})

    assert response.status_code == 200
    assert [user["id"] for user in response.json()] == [by_username.id, by_email.id, by_name.id]


@pytest.mark.parametrize(
    ("term", "expected", "other"),
    [("cent%off", "percent%off", "percentoff"), ("der_sco", "under_score", "underXscore")],
)
async def test_search_takes_wildcards_literally(
    client: AsyncClient, app: FastAPI, session: AsyncSession, term: str, expected: str, other: str
) -> None:
    await make_user(session, username=other, full_name=None)
    await make_user(session, username=expected, full_name=None)

    response = await client.get(app.url_path_for("search_users"), params={"q": term})

    assert [user["username"] for user in response.json()] == [expected]


@pytest.mark.parametrize("q", ["", "ab", "x" * 101, "abc\x00d"])
async def test_search_rejects_bad_terms(client: AsyncClient, app: FastAPI, q: str) -> None:
    response = await client.get(app.url_path_for("search_users"), params={"q": q})
    assert response.status_code == 422


async def test_search_requires_a_term(client: AsyncClient, app: FastAPI) -> None:
    response = await client.get(app.url_path_for("search_users"))
    assert response.status_code == 422


# GET /users/stats


async def test_statistics(client: AsyncClient, app: FastAPI, session: AsyncSession) -> None:
    await make_user(session)
    await make_user(session, is_active=False)
    await make_user(session, created_at=datetime.now(UTC) - timedelta(days=45))

    response = await client.get(app.url_path_for("user_statistics"))

    assert response.status_code == 200
    assert response.json() == {"total_users": 3, "active_users": 2, "new_users_30d": 2}


# GET /users/post-counts


async def test_post_counts(client: AsyncClient, app: FastAPI, session: AsyncSession) -> None:
    writer = await make_user(session)
    silent = await make_user(session)
    for _ in range(3):
        await make_post(session, writer)

    response = await client.get(app.url_path_for("user_post_counts"))
    page = await client.get(app.url_path_for("user_post_counts"), params={"skip": 1})

    assert response.status_code == 200
    assert response.json() == [
        {"id": writer.id, "username": writer.username, "email": writer.email, "post_count": 3},
        {"id": silent.id, "username": silent.username, "email": silent.email, "post_count": 0},
    ]
    assert [row["id"] for row in page.json()] == [silent.id]


async def test_post_counts_rejects_bad_pagination(client: AsyncClient, app: FastAPI) -> None:
    response = await client.get(app.url_path_for("user_post_counts"), params={"limit": 0})
    assert response.status_code == 422


# GET /users/{id}


async def test_get_user(client: AsyncClient, app: FastAPI, session: AsyncSession) -> None:
    user = await make_user(session)
    response = await client.get(app.url_path_for("get_user", user_id=str(user.id)))
    assert response.status_code == 200
    assert response.json()["username"] == user.username
    assert set(response.json()) == USER_FIELDS


async def test_get_missing_user_is_404(client: AsyncClient, app: FastAPI) -> None:
    response = await client.get(app.url_path_for("get_user", user_id="987654"))
    assert response.status_code == 404
    assert response.json() == {"detail": "user 987654 not found", "code": "user_not_found"}


@pytest.mark.parametrize("user_id", ["0", str(2**31), str(10**30)])
async def test_get_user_with_impossible_id_is_422(
    client: AsyncClient, app: FastAPI, user_id: str
) -> None:
    response = await client.get(app.url_path_for("get_user", user_id=user_id))
    assert response.status_code == 422


@pytest.mark.parametrize("path", ["/users/abc", "/users/-3", "/users/1.5/details"])
async def test_a_path_without_a_user_id_is_404(client: AsyncClient, path: str) -> None:
    assert (await client.get(path)).status_code == 404


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("DELETE", "/users/stats"),
        ("PATCH", "/users/search"),
        ("GET", "/users/bulk"),
        ("DELETE", "/users/post-counts"),
        ("PUT", "/users/with-profile"),
    ],
)
async def test_a_method_a_path_lacks_is_405(client: AsyncClient, method: str, path: str) -> None:
    assert (await client.request(method, path)).status_code == 405


# GET /users/{id}/details


async def test_user_details_has_roles_posts_and_profile(
    client: AsyncClient, app: FastAPI, session: AsyncSession
) -> None:
    payload = {"user": user_payload(), "profile": {"website": "https://example.com"}}
    created = (await client.post(app.url_path_for("create_user_with_profile"), json=payload)).json()
    user = await session.get(User, created["id"])
    assert user is not None
    role = await make_role(session, name="editor")
    await client.put(app.url_path_for("assign_role", user_id=str(user.id), role_name=role.name))
    post = await make_post(session, user, title="Hello")

    response = await client.get(app.url_path_for("get_user_details", user_id=str(user.id)))

    assert response.status_code == 200
    body = response.json()
    assert [r["name"] for r in body["roles"]] == ["editor"]
    assert [(p["id"], p["title"]) for p in body["posts"]] == [(post.id, "Hello")]
    assert body["profile"]["website"] == "https://example.com"
    assert "hashed_password" not in body


async def test_user_details_without_profile(
    client: AsyncClient, app: FastAPI, session: AsyncSession
) -> None:
    user = await make_user(session)
    response = await client.get(app.url_path_for("get_user_details", user_id=str(user.id)))
    assert response.status_code == 200
    assert response.json()["profile"] is None
    assert response.json()["roles"] == response.json()["posts"] == []


async def test_user_details_of_missing_user_is_404(client: AsyncClient, app: FastAPI) -> None:
    response = await client.get(app.url_path_for("get_user_details", user_id="987654"))
    assert response.status_code == 404


# PATCH /users/{id}


async def test_update_user(
    client: AsyncClient, app: FastAPI, session: AsyncSession, hasher: PasswordHasher
) -> None:
    user = await make_user(session)
    changes = {"full_name": "New Name", "bio": "likes tea", "password": "another password"}

    response = await client.patch(
        app.url_path_for("update_user", user_id=str(user.id)), json=changes
    )

    assert response.status_code == 200, response.text
    assert response.json()["full_name"] == "New Name"
    assert response.json()["bio"] == "likes tea"
    assert response.json()["username"] == user.username
    await session.refresh(user)
    assert await hasher.verify("another password", user.hashed_password)


async def test_update_user_can_clear_optional_fields(
    client: AsyncClient, app: FastAPI, session: AsyncSession
) -> None:
    user = await make_user(session, bio="something")
    response = await client.patch(
        app.url_path_for("update_user", user_id=str(user.id)), json={"bio": None}
    )
    assert response.status_code == 200
    assert response.json()["bio"] is None


async def test_update_missing_user_is_404(client: AsyncClient, app: FastAPI) -> None:
    response = await client.patch(
        app.url_path_for("update_user", user_id="987654"), json={"bio": "x"}
    )
    assert response.status_code == 404


async def test_update_to_taken_username_is_409(
    client: AsyncClient, app: FastAPI, session: AsyncSession
) -> None:
    taken = (await make_user(session)).username
    user = await make_user(session)
    original = user.username

    response = await client.patch(
        app.url_path_for("update_user", user_id=str(user.id)), json={"username": taken}
    )

    assert response.status_code == 409
    await session.refresh(user)
    assert user.username == original


@pytest.mark.parametrize(
    "changes",
    [
        {"username": None},
        {"email": None},
        {"email": "\u0441onf@example.com"},
        {"is_active": None},
        {"password": "short"},
        {"id": 5},
    ],
)
async def test_invalid_update_is_422(
    client: AsyncClient, app: FastAPI, session: AsyncSession, changes: dict[str, Any]
) -> None:
    user = await make_user(session)
    response = await client.patch(
        app.url_path_for("update_user", user_id=str(user.id)), json=changes
    )
    assert response.status_code == 422


# DELETE /users/{id}


async def test_deleted_user_is_gone(
    client: AsyncClient, app: FastAPI, session: AsyncSession
) -> None:
    user_id = str((await make_user(session)).id)

    response = await client.delete(app.url_path_for("delete_user", user_id=user_id))

    assert response.status_code == 204
    assert response.content == b""
    assert (await client.get(app.url_path_for("get_user", user_id=user_id))).status_code == 404
    assert (
        await client.delete(app.url_path_for("delete_user", user_id=user_id))
    ).status_code == 404


{% if not cookiecutter.use_soft_delete %}
async def test_delete_user_removes_the_row_and_their_posts(
    client: AsyncClient, app: FastAPI, session: AsyncSession
) -> None:
    user = await make_user(session)
    await make_post(session, user)
    user_id = user.id

    response = await client.delete(app.url_path_for("delete_user", user_id=str(user_id)))

    assert response.status_code == 204
    session.expunge_all()
    assert await session.get(User, user_id) is None
    assert await session.scalar(select(func.count()).where(Post.author_id == user_id)) == 0


{% endif %}
async def test_delete_missing_user_is_404(client: AsyncClient, app: FastAPI) -> None:
    response = await client.delete(app.url_path_for("delete_user", user_id="987654"))
    assert response.status_code == 404


# POST /users/{id}/posts


async def test_create_post(client: AsyncClient, app: FastAPI, session: AsyncSession) -> None:
    user = await make_user(session)
    response = await client.post(
        app.url_path_for("create_post", user_id=str(user.id)),
        json={"title": "First", "body": "Hello", "published": True},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["author_id"], body["title"], body["published"]) == (user.id, "First", True)


async def test_create_post_for_missing_user_is_404(client: AsyncClient, app: FastAPI) -> None:
    response = await client.post(
        app.url_path_for("create_post", user_id="987654"), json={"title": "t", "body": "b"}
    )
    assert response.status_code == 404


@pytest.mark.parametrize(
    "payload", [{"title": "", "body": "b"}, {"title": "t"}, {"title": "t", "body": None}]
)
async def test_invalid_post_is_422(
    client: AsyncClient, app: FastAPI, session: AsyncSession, payload: dict[str, Any]
) -> None:
    user = await make_user(session)
    response = await client.post(
        app.url_path_for("create_post", user_id=str(user.id)), json=payload
    )
    assert response.status_code == 422
