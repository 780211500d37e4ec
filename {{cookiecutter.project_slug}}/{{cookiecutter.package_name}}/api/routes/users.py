import re
from typing import Annotated, Any, cast

from fastapi import APIRouter, Body, Depends, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import AfterValidator

from ...models import Post, User
from ...schemas.common import After, IdPath, Limit, Skip
from ...schemas.post import PostCreate, PostRead
from ...schemas.user import (
    UserBatch,
    UserCreate,
    UserDetails,
    UserPostCount,
    UserRead,
    UserStatistics,
    UserUpdate,
    UserWithProfileCreate,
    UserWithProfileRead,
)
from ...settings import BULK_MAX_USERS_CEILING, Settings
from ..access import OWNERS
{% if cookiecutter.use_cache %}
from ..cached import CachedUserReaderDep
{% endif %}
from ..deps import RecentStatisticsDep, UserReaderDep, UserReportsDep, UserServiceDep
from ..errors import DATABASE_ERROR_RESPONSES, error_responses
from ..idempotency import IdempotentRoute
from ..links import CREATED, PAGED, link_next_page, locate

router = APIRouter(
    prefix="/users", tags=["users"], responses=DATABASE_ERROR_RESPONSES, route_class=IdempotentRoute
)

# A search needs a trigram to look up: three letters or digits in a row. Shorter terms
# ("ab", "a.b", "...") would read the whole table, whatever the indexes.
_SEARCHABLE = re.compile(r"[^\W_]{3}")


def _searchable(term: str) -> str:
    if "\x00" in term:
        raise ValueError("must not contain NUL characters")
    if _SEARCHABLE.search(term) is None:
        raise ValueError("must contain at least 3 letters or digits in a row")
    return term


SearchTerm = Annotated[
    str,
    Query(
        min_length=3,
        max_length=100,
        description="A substring of the username, email or full name, any case; it must"
        " hold at least 3 letters or digits in a row.",
        # The same rule for clients (ECMA regexes: ASCII letters and digits only).
        json_schema_extra={"pattern": "^[^\\x00]*[A-Za-z0-9]{3}[^\\x00]*$"},
    ),
    AfterValidator(_searchable),
]
# The schema's bound is the largest BULK_MAX_USERS allowed; the route applies the setting.
BulkUsers = Annotated[UserBatch, Body(min_length=1, max_length=BULK_MAX_USERS_CEILING)]


async def bulk_max_users(request: Request) -> int:
    return cast(Settings, request.app.state.settings).bulk_max_users


def document_bulk_limit(schema: dict[str, Any], limit: int) -> None:
    """/openapi.json states BULK_MAX_USERS, not the ceiling the body type allows."""
    body = schema["paths"][router.url_path_for("create_users")]["post"]["requestBody"]
    body["content"]["application/json"]["schema"]["maxItems"] = limit


# First: the most requested route is the first one tried.
{% if cookiecutter.use_cache %}
@router.get(
    "/{user_id:int}", response_model=UserRead, responses=error_responses(status.HTTP_404_NOT_FOUND)
)
async def get_user(user_id: IdPath, users: CachedUserReaderDep) -> Response:
    """From Redis when cached (`X-Cache: hit`), else from the database (`X-Cache: miss`)."""
    user, cached = await users.get_user(user_id)
    # Serialised here, once: the response model's validation would only repeat it.
    return Response(
        user.model_dump_json(),
        media_type="application/json",
        headers={"X-Cache": "hit" if cached else "miss"},
    )
{% else %}
@router.get(
    "/{user_id:int}", response_model=UserRead, responses=error_responses(status.HTTP_404_NOT_FOUND)
)
async def get_user(user_id: IdPath, users: UserReaderDep) -> UserRead:
    return await users.read_user(user_id)
{% endif %}


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=UserRead,
    responses={**CREATED, **error_responses(status.HTTP_409_CONFLICT)},
)
async def create_user(
    data: UserCreate, users: UserServiceDep, request: Request, response: Response
) -> User:
    user = await users.create_user(data)
    locate(request, response, "get_user", user_id=user.id)
    return user


@router.post(
    "/bulk",
    status_code=status.HTTP_201_CREATED,
    response_model=list[UserRead],
    responses=error_responses(status.HTTP_409_CONFLICT),
)
async def create_users(
    data: BulkUsers, users: UserServiceDep, limit: Annotated[int, Depends(bulk_max_users)]
) -> list[User]:
    """Create 1 to BULK_MAX_USERS (default 100) users with one INSERT statement; all or none.
    No `Location`: there is no one created resource to point at.

    A batch that repeats a username or email (ignoring case) is rejected with 422 before
    any password is hashed; 409 when a user in it already exists.
    """
    if len(data) > limit:
        message = f"List should have at most {limit} items (BULK_MAX_USERS)"
        raise RequestValidationError([{"type": "too_long", "loc": ("body",), "msg": message}])
    return await users.create_users(data)


@router.post(
    "/with-profile",
    status_code=status.HTTP_201_CREATED,
    response_model=UserWithProfileRead,
    responses={**CREATED, **error_responses(status.HTTP_409_CONFLICT)},
)
async def create_user_with_profile(
    data: UserWithProfileCreate, users: UserServiceDep, request: Request, response: Response
) -> User:
    user = await users.create_user_with_profile(data.user, data.profile)
    locate(request, response, "get_user", user_id=user.id)
    return user


@router.get("", response_model=list[UserRead], responses={**PAGED, **error_responses()})
async def list_users(
    request: Request,
    response: Response,
    users: UserReaderDep,
    skip: Skip = 0,
    after: After = None,
    limit: Limit = 100,
) -> list[UserRead]:
    """Users ordered by id, by key (`after=<last id seen>`, which costs the same on any
    page) or by offset (`skip`; with `after`, rows skipped after the key). A full page links
    to the next one: `Link: <...>; rel="next"`."""
    page = await users.list_users(skip=skip, limit=limit, after=after)
    link_next_page(request, response, page, limit)
    return page


@router.get("/search", response_model=list[UserRead], responses=error_responses())
async def search_users(
    q: SearchTerm, users: UserReaderDep, skip: Skip = 0, limit: Limit = 100
) -> list[User]:
    """Case-insensitive substring match on username, email or full name."""
    return list(await users.search_users(q, skip=skip, limit=limit))


@router.get("/stats", response_model=UserStatistics)
async def user_statistics(
    users: UserReportsDep, recent: RecentStatisticsDep, response: Response
) -> UserStatistics:
    """Counted at most once every `STATS_MAX_AGE_SECONDS` per process (counting reads
    every user); `Age` says how many seconds old the answer is."""
    statistics, age = await recent.get(users.statistics)
    response.headers["Age"] = str(int(age))
    response.headers["Cache-Control"] = f"max-age={max(0, int(recent.max_age - age))}"
    return UserStatistics.model_validate(statistics)


@router.get("/post-counts", response_model=list[UserPostCount], responses=error_responses())
async def user_post_counts(
    users: UserReportsDep, skip: Skip = 0, limit: Limit = 100
) -> list[UserPostCount]:
    rows = await users.post_counts(skip=skip, limit=limit)
    return [UserPostCount.model_validate(row) for row in rows]


@router.get(
    "/{user_id:int}/details",
    response_model=UserDetails,
    responses=error_responses(status.HTTP_404_NOT_FOUND),
)
async def get_user_details(user_id: IdPath, users: UserReaderDep) -> User:
    """The user with roles, posts and profile."""
    return await users.get_user_details(user_id)


@router.patch(
    "/{user_id:int}",
    response_model=UserRead,
    responses=error_responses(status.HTTP_404_NOT_FOUND, status.HTTP_409_CONFLICT),
    dependencies=OWNERS,
)
async def update_user(user_id: IdPath, data: UserUpdate, users: UserServiceDep) -> User:
    return await users.update_user(user_id, data)


@router.delete(
    "/{user_id:int}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(status.HTTP_404_NOT_FOUND),
    dependencies=OWNERS,
)
async def delete_user(user_id: IdPath, users: UserServiceDep) -> None:
    await users.delete_user(user_id)


{% if cookiecutter.use_soft_delete %}
@router.post(
    "/{user_id:int}/restore",
    response_model=UserRead,
    responses=error_responses(status.HTTP_404_NOT_FOUND, status.HTTP_409_CONFLICT),
    # With authentication, in practice a superuser's: the user's own token died with the delete.
    dependencies=OWNERS,
)
async def restore_user(user_id: IdPath, users: UserServiceDep) -> User:
    """Undo a (soft) delete."""
    return await users.restore_user(user_id)


{% endif %}
@router.post(
    "/{user_id:int}/posts",
    status_code=status.HTTP_201_CREATED,
    response_model=PostRead,
    responses={**CREATED, **error_responses(status.HTTP_404_NOT_FOUND)},
    dependencies=OWNERS,
)
async def create_post(
    user_id: IdPath, data: PostCreate, users: UserServiceDep, request: Request, response: Response
) -> Post:
    post = await users.create_post(user_id, data)
    locate(request, response, "get_post", user_id=user_id, post_id=post.id)
    return post


@router.get(
    "/{user_id:int}/posts",
    response_model=list[PostRead],
    responses={**PAGED, **error_responses(status.HTTP_404_NOT_FOUND)},
)
async def list_posts(
    user_id: IdPath,
    users: UserReaderDep,
    request: Request,
    response: Response,
    after: After = None,
    limit: Limit = 100,
) -> list[Post]:
    """The user's posts by id, paged by key exactly like `GET /users` (`after`, `Link`)."""
    page = list(await users.list_posts(user_id, after=after or 0, limit=limit))
    link_next_page(request, response, page, limit)
    return page


@router.get(
    "/{user_id:int}/posts/{post_id:int}",
    response_model=PostRead,
    responses=error_responses(status.HTTP_404_NOT_FOUND),
)
async def get_post(user_id: IdPath, post_id: IdPath, users: UserReaderDep) -> Post:
    return await users.get_post(user_id, post_id)
