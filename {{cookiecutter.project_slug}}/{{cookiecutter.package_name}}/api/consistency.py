"""Read-your-writes over HTTP: `X-Consistency-Token` comes in through a dependency and
goes out, after a request's commits, through a middleware."""

from typing import Annotated

from fastapi import Depends, FastAPI, Header, Request
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..db.consistency import (
    TOKEN_HEADER,
    TOKEN_PATTERN,
    ReadYourWrites,
    format_position,
    parse_position,
)
from ..feature import Feature

# Where the request's `ReadYourWrites` lives in `request.state`.
_STATE_KEY = "read_your_writes"


async def get_read_your_writes(
    request: Request,
    token: Annotated[
        str | None,
        Header(
            alias=TOKEN_HEADER,
            pattern=TOKEN_PATTERN,
            description="From an earlier write's response: this request's reads include it.",
        ),
    ] = None,
) -> ReadYourWrites:
    """What this request's reads must see; one object per request, shared by its sessions."""
    read_your_writes = ReadYourWrites(
        required_position=None if token is None else parse_position(token)
    )
    setattr(request.state, _STATE_KEY, read_your_writes)
    return read_your_writes


ReadYourWritesDep = Annotated[ReadYourWrites, Depends(get_read_your_writes)]


class ConsistencyTokenMiddleware:
    """Adds `X-Consistency-Token` to the response of a request that committed writes."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_token(message: Message) -> None:
            if message["type"] == "http.response.start":
                read_your_writes = scope.get("state", {}).get(_STATE_KEY)
                if read_your_writes is not None and read_your_writes.position is not None:
                    headers = MutableHeaders(scope=message)
                    headers[TOKEN_HEADER] = format_position(read_your_writes.position)
            await send(message)

        await self.app(scope, receive, send_with_token)


def install(app: FastAPI) -> None:
    """Send each request's token back in `X-Consistency-Token` once it committed."""
    app.add_middleware(ConsistencyTokenMiddleware)


FEATURE = Feature("consistency tokens", install=install)
