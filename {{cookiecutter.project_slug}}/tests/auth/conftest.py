"""Clients that send real tokens (no acting superuser), and users who can log in."""

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from {{ cookiecutter.package_name }}.auth.deps import current_user
from {{ cookiecutter.package_name }}.auth.tokens import issue_token
from {{ cookiecutter.package_name }}.models import User
from {{ cookiecutter.package_name }}.security import PasswordHasher
from {{ cookiecutter.package_name }}.settings import Settings
from tests.conftest import client_for
from tests.factories import PASSWORD, make_user


@pytest.fixture
async def anonymous(app: FastAPI, session: AsyncSession) -> AsyncIterator[AsyncClient]:
    """A client whose requests carry only what the test sends: tokens are checked."""
    acting = app.dependency_overrides.pop(current_user)
    try:
        async with client_for(app, session) as client:
            yield client
    finally:
        app.dependency_overrides[current_user] = acting


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def log_in(client: AsyncClient, username: str, password: str = PASSWORD) -> Any:
    """The response of `POST /auth/token` for these credentials."""
    return await client.post("/auth/token", data={"username": username, "password": password})


MakeMember = Callable[..., Awaitable[User]]


@pytest.fixture
async def make_member(session: AsyncSession, hasher: PasswordHasher) -> MakeMember:
    """Makes users whose password is `PASSWORD` (superusers with `is_superuser=True`)."""
    hashed = await hasher.hash(PASSWORD)

    async def make(**overrides: Any) -> User:
        return await make_user(session, **({"hashed_password": hashed} | overrides))

    return make


def token_for(settings: Settings, user: User) -> dict[str, str]:
    """Headers with a fresh token of `user`, as `POST /auth/token` would issue it."""
    return bearer(issue_token(settings, user.id, user.token_version))
