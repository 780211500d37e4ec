"""Idempotency keys: a `POST` sent again with the same `Idempotency-Key` runs once.

A client that got no answer (a timeout, a dropped connection) cannot tell whether its
write happened; with a key it sends the request again and gets the first answer, with
`Idempotent-Replayed: true`, instead of a second write. The request's session opens its
transaction as an outer unit of work (`TransactionManager`), and the key is claimed in
it as the route's first unit opens (so what comes before, hashing a password, holds no
connection), or after the route when it opened none:

1. `pg_try_advisory_xact_lock` on the key: a repeat while the first still runs is a 409
   (`idempotency_key_in_use`). The lock is the transaction's, so it goes with it: a worker
   that dies mid-request loses its connection, and the key is free again.
2. A stored answer for the key that has not expired is replayed; stored for another
   method, path or body, the request is a 422 (`idempotency_key_reused`).
3. Otherwise the route runs on. Its units of work are savepoints of the transaction,
   and a 2xx answer is stored before it commits: the writes and the stored answer are
   committed together or not at all. An error rolls both back, so a repeat runs again
   (nothing was written).

A request refused before it runs (422 validation) claims nothing. With authentication,
keys are the caller's: the same key from two users is two keys. `IdempotentRoute` adds
this to every `POST` route of a router: `APIRouter(route_class=IdempotentRoute)`.
"""

import hashlib
import json
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Annotated, Any, cast

from fastapi import Depends, Header, Request, Response, status
from fastapi.routing import APIRoute
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

{% if cookiecutter.use_auth %}
from ..auth.tokens import token_subject
{% endif %}
from ..db.transaction import BEFORE_FIRST_UNIT, TransactionManager
from ..errors import ConflictError, InvalidRequestError
from ..schemas.common import ErrorResponse, ValidationErrorResponse
from ..settings import Settings
from .errors import VALIDATION_FAILED

logger = logging.getLogger(__name__)

KEY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
# 1 to 255 visible ASCII characters (no spaces).
KEY_PATTERN = r"^[\x21-\x7e]{1,255}$"
# The headers of an answer that a replay repeats (the consistency token is the replay's own).
STORED_HEADERS = ("content-type", "location", "link")
# Expired keys deleted by each request that stores one: the table stays the size of the
# keys of the last IDEMPOTENCY_TTL_SECONDS, with no job to schedule.
EXPIRED_PER_STORE = 2

# OpenAPI entries of every POST route (a route's own 409 has other codes too).
KEY_RESPONSES: dict[int | str, dict[str, Any]] = {
    status.HTTP_409_CONFLICT: {
        "model": ErrorResponse,
        "description": "Conflict; `idempotency_key_in_use`: a request with this"
        f" `{KEY_HEADER}` is still running",
    },
    status.HTTP_422_UNPROCESSABLE_CONTENT: {
        "model": ValidationErrorResponse | ErrorResponse,
        "description": f"Invalid request (code `{VALIDATION_FAILED}`), or its"
        f" `{KEY_HEADER}` was used for another request (`idempotency_key_reused`)",
    },
}

# Key in `request.state`.
_CLAIM = "idempotency_claim"

_LOCK = text("SELECT pg_try_advisory_xact_lock(hashtextextended(:scope || ' ' || :key, 0))")
_STORED = text(
    "SELECT fingerprint, status_code, headers, body FROM idempotency_keys"
    " WHERE scope = :scope AND key = :key AND expires_at > now()"
)
_FORGET_EXPIRED = text(
    "DELETE FROM idempotency_keys WHERE ctid = ANY(ARRAY("
    " SELECT ctid FROM idempotency_keys WHERE expires_at <= now()"
    " AND NOT (scope = :scope AND key = :key)"
    f" LIMIT {EXPIRED_PER_STORE} FOR UPDATE SKIP LOCKED))"
)
_STORE = text(
    "INSERT INTO idempotency_keys (scope, key, fingerprint, status_code, headers, body,"
    " expires_at) VALUES (:scope, :key, :fingerprint, :status_code, CAST(:headers AS jsonb),"
    " :body, now() + make_interval(secs => :ttl))"
    " ON CONFLICT (scope, key) DO UPDATE SET fingerprint = EXCLUDED.fingerprint,"
    " status_code = EXCLUDED.status_code, headers = EXCLUDED.headers, body = EXCLUDED.body,"
    " created_at = now(), expires_at = EXCLUDED.expires_at"
)


class KeyInUseError(ConflictError):
    code = "idempotency_key_in_use"

    def __init__(self) -> None:
        super().__init__(f"a request with this {KEY_HEADER} is still running; try again later")


class KeyReusedError(InvalidRequestError):
    code = "idempotency_key_reused"

    def __init__(self) -> None:
        super().__init__(f"this {KEY_HEADER} was used for another request")


class Replayed(Exception):  # noqa: N818 (not an error: the way out with a stored answer)
    """Raised where the key is claimed, caught by `IdempotentRoute`: the stored answer."""

    def __init__(self, response: Response) -> None:
        super().__init__("replayed")
        self.response = response


def key_scope(request: Request) -> str:
{% if cookiecutter.use_auth %}
    """Whose key it is: the caller's user id, from a valid token ("" without one; such a
    request to a protected route is refused before it writes, and stores nothing)."""
    return token_subject(request) or ""
{% else %}
    """Whose key it is: every caller shares one scope without authentication."""
    return ""
{% endif %}


# Rolls back a request whose key was answered before.
_ANSWERED_BEFORE = Exception("answered before")
# Adds what a replayed answer carries besides the stored one (the consistency token).
OnReplay = Callable[[Response], Awaitable[None]]


@dataclass
class Claim:
    """One request's key, from the header to the stored answer."""

    scope: str
    key: str
    fingerprint: bytes
    ttl_seconds: int
    # The route's `Response` parameter: headers set after the commit are taken from it.
    response: Response
    # The request's transaction, once its session opened it (`open`).
    transaction: TransactionManager | None = None
    taken: bool = False
    on_replay: OnReplay | None = None
    params: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        self.params = {"scope": self.scope, "key": self.key}

    def open(self, session: AsyncSession) -> Awaitable[Any]:
        """Open the request's transaction on `session` (no statement yet); the key is
        taken as its first unit of work opens."""
        self.transaction = TransactionManager(session)
        session.info[BEFORE_FIRST_UNIT] = self.take
        return self.transaction.__aenter__()

    async def take(self, session: AsyncSession) -> None:
        """Hold the key in the transaction, or leave by raising: `KeyInUseError`,
        `KeyReusedError`, or `Replayed` with the stored answer."""
        self.taken = True
        if not await session.scalar(_LOCK, self.params):
            raise KeyInUseError
        stored = (await session.execute(_STORED, self.params)).one_or_none()
        if stored is None:
            return
        if stored.fingerprint != self.fingerprint:
            raise KeyReusedError
        headers = dict(stored.headers)
        headers[REPLAYED_HEADER] = "true"
        raise Replayed(Response(stored.body, status_code=stored.status_code, headers=headers))

    async def commit(self, response: Response) -> None:
        """Take the key if no unit of work did, store a 2xx answer, then commit it with
        the route's writes."""
        assert self.transaction is not None
        session = self.transaction.session
        if not self.taken:
            session.info.pop(BEFORE_FIRST_UNIT, None)
            await self.take(session)
        body = getattr(response, "body", None)
        if 200 <= response.status_code < 300 and isinstance(body, bytes | memoryview):
            headers = response.headers.items()
            stored = [[name, value] for name, value in headers if name in STORED_HEADERS]
            await session.execute(
                _STORE,
                {
                    **self.params,
                    "fingerprint": self.fingerprint,
                    "status_code": response.status_code,
                    "headers": json.dumps(stored),
                    "body": bytes(body),
                    "ttl": self.ttl_seconds,
                },
            )
            # After the key's own row: this statement never waits (SKIP LOCKED), so two
            # requests cleaning up each other's expired keys cannot deadlock.
            await session.execute(_FORGET_EXPIRED, self.params)
        elif 200 <= response.status_code < 300:
            logger.warning("a streamed answer is not kept for %s: a repeat runs again", KEY_HEADER)
        await self.transaction.__aexit__(None, None, None)
        # What the commit added (the consistency token) goes out with the answer.
        for name, value in self.response.headers.items():
            if name not in response.headers:
                response.headers[name] = value

    async def replay(self, response: Response) -> Response:
        """Roll back whatever the request did, and answer with the stored `response`."""
        await self.abandon(None)
        if self.on_replay is not None:
            await self.on_replay(response)
        return response

    async def abandon(self, error: Exception | None) -> None:
        """Roll back (raising what a constraint violation means for the client)."""
        if self.transaction is None:
            return
        transaction, self.transaction = self.transaction, None
        transaction.session.info.pop(BEFORE_FIRST_UNIT, None)
        error = error or _ANSWERED_BEFORE
        await transaction.__aexit__(type(error), error, error.__traceback__)


def fingerprint(request: Request, body: bytes) -> bytes:
    digest = hashlib.sha256()
    for part in (request.method.encode(), request.url.path.encode(), request.url.query.encode()):
        digest.update(len(part).to_bytes(8, "big") + part)
    digest.update(body)
    return digest.digest()


async def take_key(
    request: Request,
    response: Response,
    key: Annotated[
        str | None,
        Header(
            alias=KEY_HEADER,
            pattern=KEY_PATTERN,
            description="1 to 255 visible ASCII characters, unique per write (a UUID): the"
            " same request sent again with it gets the first answer, and writes nothing",
        ),
    ] = None,
) -> None:
    """The request's key, claimed when its session opens (`begin`)."""
    if key is None:
        return
    settings = cast(Settings, request.app.state.settings)
    claim = Claim(
        scope=key_scope(request),
        key=key,
        fingerprint=fingerprint(request, await request.body()),
        ttl_seconds=settings.idempotency_ttl_seconds,
        response=response,
    )
    setattr(request.state, _CLAIM, claim)


def claim_of(request: Request) -> Claim | None:
    """The request's key, when it was sent with one."""
    return getattr(request.state, _CLAIM, None)


async def begin(
    request: Request, session: AsyncSession, *, on_replay: OnReplay | None = None
) -> None:
    """Open the request's transaction on its session (`api.deps.get_session`) when it has a
    key, which is claimed in it as the first unit of work opens; `on_replay` adds to a
    replayed answer what the stored one cannot hold."""
    claim = claim_of(request)
    if claim is not None and claim.transaction is None:
        claim.on_replay = on_replay
        await claim.open(session)


class IdempotentRoute(APIRoute):
    """A route whose `POST` takes an `Idempotency-Key` (documented in OpenAPI)."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if "POST" in (kwargs.get("methods") or ()):
            kwargs["dependencies"] = [*(kwargs.get("dependencies") or ()), Depends(take_key)]
            kwargs["responses"] = {**(kwargs.get("responses") or {}), **KEY_RESPONSES}
        super().__init__(path, endpoint, **kwargs)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if "POST" not in (self.methods or ()):
            return handler

        async def idempotent(request: Request) -> Response:
            try:
                response = await handler(request)
                claim = claim_of(request)
                if claim is not None and claim.transaction is not None:
                    await claim.commit(response)
                return response
            except Replayed as replayed:
                claim = claim_of(request)
                assert claim is not None
                return await claim.replay(replayed.response)
            except Exception as error:
                # A cancellation (the client went away) is left to the session's close.
                claim = claim_of(request)
                if claim is not None:
                    await claim.abandon(error)
                raise

        return idempotent
