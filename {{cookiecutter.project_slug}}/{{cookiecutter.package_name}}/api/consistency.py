"""Read-your-writes over HTTP: `X-Consistency-Token` comes in through a dependency and goes
out on the response of a request that committed (see `api.deps.get_session`)."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI, Header

from ..db.consistency import TOKEN_HEADER, TOKEN_PATTERN, Publisher, ReadYourWrites, parse_position
from ..db.session import Database
from ..feature import Feature
from ..settings import Settings

# A request's `X-Consistency-Token`, as a parameter of a dependency (documented and
# validated by FastAPI).
TokenHeader = Annotated[
    str | None,
    Header(
        alias=TOKEN_HEADER,
        pattern=TOKEN_PATTERN,
        description="From an earlier write's response: this request's reads include it.",
    ),
]


def read_your_writes(token: str | None) -> ReadYourWrites:
    """What a request with `token` (or none) must see."""
    return ReadYourWrites(required_position=None if token is None else parse_position(token))


async def get_read_your_writes(token: TokenHeader = None) -> ReadYourWrites:
    """What this request's reads must see; one object per request, shared by its sessions."""
    return read_your_writes(token)


ReadYourWritesDep = Annotated[ReadYourWrites, Depends(get_read_your_writes)]


@asynccontextmanager
async def serve(app: FastAPI, database: Database, _settings: Settings) -> AsyncIterator[None]:
    """While the app serves: a publisher of every request's commits (`app.state.publisher`),
    which the cache, entered later, tells about them."""
    publisher = Publisher(database.checks["primary"])
    app.state.publisher = publisher
    try:
        yield
    finally:
        await publisher.dispose()


FEATURE = Feature("consistency tokens", serve=serve)
