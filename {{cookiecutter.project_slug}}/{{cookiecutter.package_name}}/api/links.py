"""Headers that point elsewhere: where a created resource lives (`Location`), where the
next page of a list starts (`Link: rel="next"`)."""

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
                "description": "The URL of the created resource",
                "required": True,
                "schema": {"type": "string", "format": "uri"},
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


def locate(request: Request, response: Response, route_name: str, **path_params: int | str) -> None:
    """Point `Location` at the route that reads the created resource."""
    # Percent-encoded: a role name may hold `/`, spaces or letters a header cannot carry.
    params = {name: quote(str(value), safe="") for name, value in path_params.items()}
    response.headers["Location"] = str(request.url_for(route_name, **params))


def link_next_page(request: Request, response: Response, page: Sequence[HasId], limit: int) -> None:
    """A full page links to the next one (RFC 8288): the same URL with `after=<its last
    id>`, which costs the same on any page (`skip` is dropped: it counts from the start)."""
    if len(page) == limit:
        next_url = request.url.remove_query_params("skip").include_query_params(
            after=page[-1].id, limit=limit
        )
        response.headers["Link"] = f'<{next_url}>; rel="next"'
