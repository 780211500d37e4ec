"""Who is calling: the user a request's bearer token names, checked against the row.

Every authenticated request reads its user by primary key (one indexed read, on the
primary, in a short session of its own): a token stops working as soon as its user is
deleted (soft deletes too: the row is hidden), deactivated, or changes their password
(the token's `ver` no longer matches `users.token_version`).

Protect a route with a dependency, never with copied checks: `dependencies=OWNERS` on a
route with a `user_id` path parameter, `dependencies=SUPERUSERS` (both in `api.access`,
built from `OWNER_OR_SUPERUSER` and `SUPERUSER` here), or a `user: CurrentUserDep`
parameter where the route needs the caller itself.
"""

from collections.abc import Collection
from typing import Annotated, Any, cast

from fastapi import Depends, Request, status
from fastapi.responses import JSONResponse
from fastapi.security import OAuth2PasswordBearer

from ..api.deps import AdmittedDep
from ..models import User
from ..repositories import UserRepository
from ..schemas.common import IdPath
from ..settings import Settings
from .tokens import verified_claims

# Documents the password flow in /openapi.json (the Authorize button of /docs); the
# checks below give the errors, in the API's shape.
bearer = OAuth2PasswordBearer(tokenUrl="auth/token", auto_error=False)


class AuthError(Exception):
    """A request refused for who sent it: 401 (no valid token) or 403 (not allowed)."""

    def __init__(self, status_code: int, detail: str, code: str) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.detail = detail
        self.code = code


def not_authenticated() -> AuthError:
    return AuthError(
        status.HTTP_401_UNAUTHORIZED, "not authenticated: send a valid token", "not_authenticated"
    )


def forbidden() -> AuthError:
    return AuthError(status.HTTP_403_FORBIDDEN, "not allowed for this user", "forbidden")


async def auth_error_response(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AuthError)
    # RFC 6750: a 401 names the scheme that would have worked.
    headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
    return JSONResponse(
        {"detail": exc.detail, "code": exc.code}, status_code=exc.status_code, headers=headers
    )


async def current_user(
    token: Annotated[str | None, Depends(bearer)],
    request: Request,
    database: AdmittedDep,
) -> User:
    """The token's user, if the token is valid and still matches the user's row."""
    settings = cast(Settings, request.app.state.settings)
    claims = None if token is None else verified_claims(settings, token)
    if claims is None:
        raise not_authenticated()
    async with database.sessionmaker() as session:
        user = await UserRepository(session).get(claims.user_id)
    if user is None or not user.is_active or user.token_version != claims.token_version:
        raise not_authenticated()
    return user


# scope="function", like the sessions the reads use (see api/deps.py).
CurrentUserDep = Annotated[User, Depends(current_user, scope="function")]


async def current_superuser(user: CurrentUserDep) -> User:
    if not user.is_superuser:
        raise forbidden()
    return user


async def owner_or_superuser(user_id: IdPath, user: CurrentUserDep) -> User:
    """The caller, when it is the user the path names (`user_id`) or a superuser."""
    if user.id != user_id and not user.is_superuser:
        raise forbidden()
    return user


SuperuserDep = Annotated[User, Depends(current_superuser, scope="function")]
OwnerOrSuperuserDep = Annotated[User, Depends(owner_or_superuser, scope="function")]
# For `dependencies=[...]` of a route that does not need the user itself.
SUPERUSER = Depends(current_superuser, scope="function")
OWNER_OR_SUPERUSER = Depends(owner_or_superuser, scope="function")


def document_auth_errors(schema: dict[str, Any], login_only: Collection[tuple[str, str]]) -> None:
    """401 on every operation that needs a token (FastAPI marks them with `security`), and
    403 on those that need a particular user, all but the `(path, method)`s in
    `login_only`: a new protected route is documented as it is declared."""
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            if "security" not in operation:
                continue
            operation["responses"]["401"] = {
                "description": "No valid token (code `not_authenticated`)",
                "content": error,
            }
            if (path, method) not in login_only:
                operation["responses"]["403"] = {
                    "description": "The token's user may not do this (code `forbidden`)",
                    "content": error,
                }
