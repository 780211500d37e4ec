"""Request bodies: one over MAX_REQUEST_BODY_BYTES is refused (413) without being read,
one that stalls is given up after REQUEST_BODY_TIMEOUT_SECONDS (408).

The app is driven as uvicorn drives it, with `receive` and `send`, to see what it reads;
tests/test_server.py does the same over a socket.
"""

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import URL
from starlette.types import Message, Scope

from {{ cookiecutter.package_name }}.main import create_app
from tests.conftest import settings_for
from tests.factories import user_payload

# The default MAX_REQUEST_BODY_BYTES (1 MiB).
LIMIT = 1_048_576
# Long enough for any answer here on a slow machine; waiting past it is the failure.
NO_HANG_SECONDS = 10.0


def http_scope(path: str, headers: dict[str, str]) -> Scope:
    """A POST's ASGI scope, as uvicorn makes it."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(name.lower().encode(), value.encode()) for name, value in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


class Exchange:
    """One request driven through the app: the body pieces it was offered, how many it
    asked for, and the response it sent."""

    def __init__(self, pieces: Iterator[bytes], stall: bool = False) -> None:
        self.pieces = pieces
        self.stall = stall
        self.asked = 0
        self.status: int | None = None
        self.headers: dict[str, str] = {}
        self.body = b""

    async def receive(self) -> Message:
        self.asked += 1
        piece = next(self.pieces, None)
        if piece is None:
            if self.stall:
                await asyncio.Event().wait()  # the client sends nothing more
            return {"type": "http.request", "body": b"", "more_body": False}
        return {"type": "http.request", "body": piece, "more_body": True}

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = {k.decode().lower(): v.decode() for k, v in message["headers"]}
        elif message["type"] == "http.response.body":
            self.body += message.get("body", b"")

    async def run(self, app: FastAPI, path: str, headers: dict[str, str]) -> None:
        scope = http_scope(path, {"content-type": "application/json", **headers})
        await asyncio.wait_for(app(scope, self.receive, self.send), NO_HANG_SECONDS)

    def error(self) -> tuple[int | None, str, str]:
        body = json.loads(self.body)
        assert set(body) == {"detail", "code"}
        return self.status, body["code"], self.headers.get("connection", "")


# 16 of these make LIMIT.
PIECE = b" " * 65_536
StartApp = Callable[..., Awaitable[FastAPI]]


@pytest.fixture
async def app_with(database_url: URL) -> AsyncIterator[StartApp]:
    """Starts apps on the test settings changed by the given fields, until the test ends."""
    async with AsyncExitStack() as running:

        async def start(**changes: Any) -> FastAPI:
            app = create_app(settings_for(database_url).model_copy(update=changes))
            await running.enter_async_context(app.router.lifespan_context(app))
            return app

        yield start


async def test_a_body_over_the_limit_is_413_with_the_usual_error_body(
    client: AsyncClient, app: FastAPI
) -> None:
    response = await client.post(
        app.url_path_for("create_user"),
        content=b" " * (LIMIT + 1),
        headers={"content-type": "application/json"},
    )

    assert response.status_code == 413
    assert response.json() == {
        "detail": f"request body larger than {LIMIT} bytes",
        "code": "content_too_large",
    }
    assert response.headers["connection"] == "close"


async def test_a_body_of_exactly_the_limit_is_read(client: AsyncClient, app: FastAPI) -> None:
    body = json.dumps(user_payload()).encode()

    response = await client.post(
        app.url_path_for("create_user"),
        content=body.ljust(LIMIT),
        headers={"content-type": "application/json"},
    )

    assert response.status_code == 201, response.text


async def test_a_declared_length_over_the_limit_is_refused_before_any_is_read(
    app: FastAPI,
) -> None:
    pieces = [PIECE] * 17
    exchange = Exchange(iter(pieces))

    await exchange.run(
        app,
        app.url_path_for("create_user"),
        {"content-length": str(sum(map(len, pieces)))},
    )

    assert exchange.error() == (413, "content_too_large", "close")
    assert exchange.asked == 0


async def test_a_streamed_body_is_refused_once_it_passes_the_limit(app: FastAPI) -> None:
    # No Content-Length: sent in chunks, 2.5 MiB in all.
    exchange = Exchange(iter([PIECE] * 40))

    await exchange.run(app, app.url_path_for("create_user"), {"transfer-encoding": "chunked"})

    assert exchange.error() == (413, "content_too_large", "close")
    # 16 pieces make the limit, the 17th passes it; the rest is never asked for.
    assert exchange.asked == 17


async def test_the_limit_is_max_request_body_bytes(app_with: StartApp) -> None:
    app = await app_with(max_request_body_bytes=100)
    body = json.dumps(user_payload(bio="x" * 100)).encode()
    exchange = Exchange(iter([body]))

    await exchange.run(app, app.url_path_for("create_user"), {"content-length": str(len(body))})

    assert exchange.error() == (413, "content_too_large", "close")
    assert json.loads(exchange.body)["detail"] == "request body larger than 100 bytes"


async def test_a_stalled_body_is_408_after_the_body_timeout(app_with: StartApp) -> None:
    app = await app_with(request_body_timeout_seconds=0.2)
    # Half a body, then nothing: a client that stalls, or one that lied about the length.
    exchange = Exchange(iter([b'{"username": ']), stall=True)
    started = time.monotonic()

    await exchange.run(app, app.url_path_for("create_user"), {"content-length": "100"})

    assert exchange.error() == (408, "request_timeout", "close")
    assert time.monotonic() - started < NO_HANG_SECONDS / 2
    assert json.loads(exchange.body)["detail"] == "request body stalled for 0.2 seconds"
