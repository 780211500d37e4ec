"""Access tokens: JWTs signed with HS256 (PyJWT) under AUTH_SECRET_KEY.

A token names its user (`sub`, the id), the user's token version when it was issued
(`ver`: a password change raises it and so ends the token) and its expiry (`exp`). It is
verified with the current key and then each of AUTH_PREVIOUS_SECRET_KEYS, so the secret
can be rotated without logging everybody out.
"""

import time
from dataclasses import dataclass
from typing import cast

import jwt
from fastapi import Request

from ..settings import Settings

ALGORITHM = "HS256"
# The claims a token must carry to be considered at all.
REQUIRED_CLAIMS = ["sub", "ver", "exp", "iat"]


@dataclass(frozen=True)
class Claims:
    user_id: int
    token_version: int


def issue_token(settings: Settings, user_id: int, token_version: int) -> str:
    """A new access token for the user, valid for AUTH_TOKEN_TTL_SECONDS."""
    key = settings.auth_secret_key
    if key is None:
        raise RuntimeError("AUTH_SECRET_KEY is not set")
    now = int(time.time())
    claims = {
        "sub": str(user_id),
        "ver": token_version,
        "iat": now,
        "exp": now + settings.auth_token_ttl_seconds,
    }
    return jwt.encode(claims, key.get_secret_value(), algorithm=ALGORITHM)


def verified_claims(settings: Settings, token: str) -> Claims | None:
    """The claims of `token` if a current or previous key signed it and it has not
    expired; None for anything else (malformed, tampered, expired, foreign)."""
    keys = [settings.auth_secret_key, *settings.auth_previous_secret_keys]
    for key in keys:
        if key is None:
            continue
        try:
            payload = jwt.decode(
                token,
                key.get_secret_value(),
                algorithms=[ALGORITHM],
                options={"require": REQUIRED_CLAIMS},
            )
        except jwt.InvalidSignatureError:
            # Maybe signed with a previous key: try the next one.
            continue
        except jwt.InvalidTokenError:
            return None
        return _claims(payload)
    return None


def _claims(payload: dict[str, object]) -> Claims | None:
    subject, version = payload["sub"], payload["ver"]
    if not isinstance(subject, str) or not subject.isdecimal() or type(version) is not int:
        return None
    return Claims(user_id=int(subject), token_version=version)


def bearer_token(request: Request) -> str | None:
    """The token of the request's `Authorization: Bearer <token>` header, if any."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    return token.strip()


def token_subject(request: Request) -> str | None:
    """The verified `sub` (the user id, as a string) of the request's bearer token, or
    None when there is none or it is invalid or expired. No database read: a token of a
    user deleted or deactivated since still names them (the routes check the row)."""
    token = bearer_token(request)
    if token is None:
        return None
    claims = verified_claims(cast(Settings, request.app.state.settings), token)
    return None if claims is None else str(claims.user_id)
