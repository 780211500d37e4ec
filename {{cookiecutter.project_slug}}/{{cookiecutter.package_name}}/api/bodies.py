"""Request bodies within bounds: none larger than MAX_REQUEST_BODY_BYTES, none that stalls
and holds its connection.

A pure ASGI middleware, as it must see the body while it arrives: a declared
`Content-Length` over the limit is refused before the app runs or any of the body is read;
a body sent in chunks is counted as it arrives and refused once it passes the limit, with
the rest left unread. Each wait for the next piece of a body lasts at most
REQUEST_BODY_TIMEOUT_SECONDS. Refusals are raised from `receive` as HTTP errors, so the
app's error handlers answer them (413 `content_too_large`, 408 `request_timeout`) with
`Connection: close`: the unread rest of the body cannot be followed by another request.
"""

import asyncio

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..settings import Settings
from .errors import http_error_response

_CLOSE = {"Connection": "close"}
# More digits than any body could have (and than int() may parse from text).
_MAX_LENGTH_DIGITS = 18


class BodyRefusedError(HTTPException):
    """The request body is refused (its rest is never read)."""


class ContentTooLargeError(BodyRefusedError):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body larger than {limit} bytes", headers=_CLOSE)


class BodyTimeoutError(BodyRefusedError):
    def __init__(self, seconds: float) -> None:
        super().__init__(408, f"request body stalled for {seconds:g} seconds", headers=_CLOSE)


def declared_length(scope: Scope) -> int | None:
    """The request's `Content-Length`, None when absent or not a number (the server
    rejects those; the body is then counted as it arrives)."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            if not value.isdigit():
                return None
            return int(value) if len(value) <= _MAX_LENGTH_DIGITS else 10**_MAX_LENGTH_DIGITS
    return None


def has_body(scope: Scope) -> bool:
    """Whether a body follows the request's headers: HTTP/1.1 sends one only with a
    `Content-Length` other than 0 or a `Transfer-Encoding` (RFC 9112, 6.3)."""
    for name, value in scope["headers"]:
        if name == b"transfer-encoding" or (name == b"content-length" and value != b"0"):
            return True
    return False


class _BoundedBody:
    """The request's `receive`, counting the body and timing each wait for it."""

    def __init__(self, receive: Receive, limit: int, timeout: float) -> None:
        self._receive = receive
        self.limit = limit
        self.timeout = timeout
        self.received = 0
        self.complete = False

    async def receive(self) -> Message:
        if self.complete:
            # Past the body, `receive` waits for the client to go: as long as it takes.
            return await self._receive()
        try:
            async with asyncio.timeout(self.timeout):
                message = await self._receive()
        except TimeoutError:
            raise BodyTimeoutError(self.timeout) from None
        if message["type"] != "http.request":
            self.complete = True
            return message
        self.received += len(message.get("body", b""))
        if self.received > self.limit:
            raise ContentTooLargeError(self.limit)
        self.complete = not message.get("more_body", False)
        return message


class BodyLimits:
    """Applies MAX_REQUEST_BODY_BYTES and REQUEST_BODY_TIMEOUT_SECONDS (read from the
    running app's settings) to each HTTP request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not has_body(scope):
            # Nothing to bound (most GETs): no wrapper on the request's path.
            await self.app(scope, receive, send)
            return
        settings: Settings = scope["app"].state.settings
        limit = settings.max_request_body_bytes
        length = declared_length(scope)
        if length is not None and length > limit:
            await http_error_response(ContentTooLargeError(limit))(scope, receive, send)
            return
        body = _BoundedBody(receive, limit, settings.request_body_timeout_seconds)
        started = False

        async def send_noting_start(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, body.receive, send_noting_start)
        except BodyRefusedError as refused:
            # Raised outside the routes, where no error handler answered it.
            if started:
                raise
            await http_error_response(refused)(scope, receive, send)
