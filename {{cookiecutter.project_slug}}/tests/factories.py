"""Request payloads and database rows for tests, unique per call.

The `make_*` helpers commit: in the test session that only releases a savepoint, so the
rows exist "before" the request under test and survive its rollback, and the test's
outer transaction still removes them afterwards.
"""

from itertools import count
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from {{ cookiecutter.package_name }}.models import Post, Role, User

_sequence = count(1)
# Tests that bypass the service store this instead of hashing a password each time.
UNUSABLE_HASH = "$argon2id$v=19$m=1024,t=1,p=4$not-a-real-hash"
PASSWORD = "correct horse battery"


def user_payload(**overrides: Any) -> dict[str, Any]:
    n = next(_sequence)
    payload: dict[str, Any] = {
        "username": f"user{n}",
        "email": f"user{n}@example.com",
        "password": PASSWORD,
        "full_name": f"User Number {n}",
    }
    payload.update(overrides)
    return payload


async def make_user(session: AsyncSession, **overrides: Any) -> User:
    n = next(_sequence)
    values: dict[str, Any] = {
        "username": f"member{n}",
        "email": f"member{n}@example.com",
        "full_name": f"Member {n}",
        "hashed_password": UNUSABLE_HASH,
    }
    values.update(overrides)
    user = User(**values)
    session.add(user)
    await session.commit()
    return user


async def make_role(session: AsyncSession, **overrides: Any) -> Role:
    values: dict[str, Any] = {"name": f"role{next(_sequence)}"}
    values.update(overrides)
    role = Role(**values)
    session.add(role)
    await session.commit()
    return role


async def make_post(session: AsyncSession, author: User, **overrides: Any) -> Post:
    values: dict[str, Any] = {"title": f"Post {next(_sequence)}", "body": "text"}
    values.update(overrides)
    post = Post(author_id=author.id, **values)
    session.add(post)
    await session.commit()
    return post
