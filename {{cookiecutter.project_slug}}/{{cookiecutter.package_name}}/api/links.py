"""Headers that point elsewhere: where a created resource lives (`Location`), where the
next page of a list starts (`Link: rel="next"`).

Both are built from PUBLIC_BASE_URL when it is set, else they are relative references
(`/users/7`, which RFC 9110 allows in `Location` and RFC 8288 in `Link`), resolved by the
client against the URL it called. Never from the request's `Host` header: a client (or a
cache in front of the service) could make the service point at any host it names.
"""

from collections.abc import Sequence
from typing import Any, Protocol
from urllib.parse import quote

from fastapi import Request, Response, status


class HasId(Protocol):
    @property
    def id(self) -> int: ...


# OpenAPI entries: the 201 of a route that creates one resource, the 200 of a paged list.
CREATED: dict[int | str, dict[str, Any]] = {
    status.HTTP_201_CREATED: {
        "description": "Created",
        "headers": {
            "Location": {
                "description": "The created resource: its path (`/users/7`), or its URL under"
                " PUBLIC_BASE_URL when that is set",
                "required": True,
                "schema": {"type": "string", "format": "uri-reference"},
            }
        },
    }
}
PAGED: dict[int | str, dict[str, Any]] = {
    status.HTTP_200_OK: {
        "description": "A page, ordered by id",
        "headers": {
            "Link": {
                "description": 'On a full page: `<...?after=<last id>&limit=N>; rel="next"`',
                "schema": {"type": "string"},
            }
        },
    }
}


def _mount_path(request: Request) -> str:
    """The path the app is served under (a proxy's prefix, uvicorn's `--root-path`), or ""."""
    return request.base_url.path.rstrip("/")


def _base(request: Request) -> str:
    """What the app's own paths are appended to: PUBLIC_BASE_URL, else the mount path."""
    public: str | None = request.app.state.settings.public_base_url
    return _mount_path(request) if public is None else public


def locate(request: Request, response: Response, route_name: str, **path_params: int | str) -> None:
    """Point `Location` at the route that reads the created resource."""
    # Percent-encoded: a role name may hold `/`, spaces or letters a header cannot carry.
    params = {name: quote(str(value), safe="") for name, value in path_params.items()}
    response.headers["Location"] = _base(request) + request.app.url_path_for(route_name, **params)


def link_next_page(request: Request, response: Response, page: Sequence[HasId], limit: int) -> None:
    """A full page links to the next one (RFC 8288): the same URL with `after=<its last
    id>`, which costs the same on any page (`skip` is dropped: it counts from the start)."""
    if len(page) == limit:
        query = (
            request.url.remove_query_params("skip")
            .include_query_params(after=page[-1].id, limit=limit)
            .query
        )
        path = request.url.path.removeprefix(_mount_path(request))
        response.headers["Link"] = f'<{_base(request)}{path}?{query}>; rel="next"'
