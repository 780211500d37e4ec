"""The cache's request dependencies (a bake with the cache only)."""

from typing import Annotated, cast

from fastapi import Depends, Request

from ..cache import CachedUserReader, UserCache
from .consistency import TokenHeader, read_your_writes
from .deps import DatabaseDep


async def get_user_cache(request: Request) -> UserCache:
    return cast(UserCache, request.app.state.user_cache)


async def get_cached_user_reader(
    request: Request, database: DatabaseDep, token: TokenHeader = None
) -> CachedUserReader:
    """For a route that only reads (`GET /users/{id}`): what its reads must see comes from
    the request's token here, not through `ReadYourWritesDep`. A route that also writes
    must share that object with its session (`CachedUserReader(..., read_your_writes)`),
    or the reader would not know the request's own writes."""
    state = request.app.state
    return CachedUserReader(
        state.user_cache, database, read_your_writes(token), state.fill_positions
    )


UserCacheDep = Annotated[UserCache, Depends(get_user_cache)]
CachedUserReaderDep = Annotated[CachedUserReader, Depends(get_cached_user_reader)]
