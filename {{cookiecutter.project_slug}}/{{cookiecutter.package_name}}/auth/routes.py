"""`POST /auth/token` (log in) and `GET /users/me`, and the feature that installs them."""

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal, cast

from fastapi import APIRouter, Depends, FastAPI, Request, Response, status
from fastapi.security import OAuth2PasswordRequestForm
from sqlalchemy import bindparam, func, select

from ..api.deps import PasswordHasherDep, SessionDep
from ..api.errors import DATABASE_ERROR_RESPONSES, error_responses
from ..db.session import Database
from ..feature import Feature
from ..models import User
from ..schemas.common import OutputSchema
from ..schemas.user import UserRead
from ..security import PasswordHasher
from ..settings import Settings, SettingsError
from .deps import AuthError, CurrentUserDep, auth_error_response, document_auth_errors
from .tokens import issue_token

router = APIRouter(responses=DATABASE_ERROR_RESPONSES)

# Served by the unique index on lower(username).
BY_USERNAME = select(User).where(func.lower(User.username) == func.lower(bindparam("username")))


class Token(OutputSchema):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    # Seconds until the token expires.
    expires_in: int


def invalid_credentials() -> AuthError:
    return AuthError(
        status.HTTP_401_UNAUTHORIZED, "wrong username or password", "invalid_credentials"
    )


@router.post(
    "/auth/token",
    tags=["auth"],
    response_model=Token,
    responses=error_responses(status.HTTP_401_UNAUTHORIZED),
)
async def log_in(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: SessionDep,
    hasher: PasswordHasherDep,
    request: Request,
    response: Response,
) -> Token:
    """OAuth2 password flow: form fields `username` and `password`. A wrong password, an
    unknown or an inactive user: the same 401 `invalid_credentials`, after the same work
    (a password hash is verified in every case)."""
    # PostgreSQL cannot hold a NUL character: no user has one in their name.
    user = None
    if "\x00" not in form.username:
        user = await session.scalar(BY_USERNAME, {"username": form.username})
    # Closed before Argon2 runs: no connection is held meanwhile.
    await session.close()
    hashed = request.app.state.dummy_password_hash if user is None else user.hashed_password
    matches = await hasher.verify(form.password, hashed)
    if user is None or not matches or not user.is_active:
        raise invalid_credentials()
    settings = cast(Settings, request.app.state.settings)
    # RFC 6749: a response carrying a token is never cached.
    response.headers["Cache-Control"] = "no-store"
    return Token(
        access_token=issue_token(settings, user.id, user.token_version),
        expires_in=settings.auth_token_ttl_seconds,
    )


@router.get("/users/me", tags=["users"], response_model=UserRead)
async def read_me(user: CurrentUserDep) -> User:
    """The user the token belongs to."""
    return user


def install(app: FastAPI) -> None:
    app.include_router(router)
    app.add_exception_handler(AuthError, auth_error_response)
    generate = app.openapi

    # FastAPI's documented way to adjust /openapi.json; runs once, the schema is kept.
    def openapi() -> dict[str, Any]:
        fresh = app.openapi_schema is None
        schema = generate()
        if fresh:
            # The one route that needs a login but no particular user.
            document_auth_errors(schema, login_only={(router.url_path_for("read_me"), "get")})
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


@asynccontextmanager
async def serve(app: FastAPI, database: Database, settings: Settings) -> AsyncIterator[None]:
    if settings.auth_secret_key is None:
        raise SettingsError(
            "invalid settings: AUTH_SECRET_KEY: required to sign access tokens"
            " (at least 32 characters, e.g. from `openssl rand -hex 32`)"
        )
    hasher = cast(PasswordHasher, app.state.password_hasher)
    # Verified against when the user is unknown: a login takes as long either way.
    app.state.dummy_password_hash = await hasher.hash(secrets.token_urlsafe(16))
    yield


FEATURE = Feature("authentication", install=install, serve=serve)
