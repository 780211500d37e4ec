"""Map domain errors, database failures and HTTP errors to JSON error responses.

Every error body is `{"detail": ..., "code": ...}`: `detail` for people, `code` a stable
string for programs (422 keeps FastAPI's list of problems as its `detail`).
"""

import logging
import traceback
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError
from starlette.exceptions import HTTPException
from starlette.routing import Match

from ..db.errors import (
    DatabaseUnreachableError,
    is_conflict,
    is_connection_error,
    is_statement_timeout,
    sqlstate,
    unreachable_reason,
)
from ..db.transaction import domain_error
from ..errors import ConflictError, DomainError, InvalidRequestError, NotFoundError
from ..schemas.common import ErrorResponse, ValidationErrorResponse

logger = logging.getLogger(__name__)

_STATUS_BY_ERROR: dict[type[DomainError], int] = {
    NotFoundError: status.HTTP_404_NOT_FOUND,
    ConflictError: status.HTTP_409_CONFLICT,
    InvalidRequestError: status.HTTP_422_UNPROCESSABLE_CONTENT,
}

DATABASE_UNAVAILABLE = "database unavailable"
DATABASE_TIMEOUT = "database timeout"
DATABASE_CONFLICT = "database conflict, try again"
INTERNAL_ERROR = "internal server error"
VALIDATION_FAILED = "validation_failed"
# The methods a 405's `Allow` may list.
_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
# Codes of HTTP errors raised outside the routes (no route, no such method); any other
# status gets its reason phrase in snake case.
_HTTP_ERROR_CODES = {
    status.HTTP_404_NOT_FOUND: "not_found",
    status.HTTP_405_METHOD_NOT_ALLOWED: "method_not_allowed",
    # Request bodies refused by `api.bodies` (Python 3.11 and 3.12 call 413 "Request
    # Entity Too Large").
    status.HTTP_408_REQUEST_TIMEOUT: "request_timeout",
    status.HTTP_413_CONTENT_TOO_LARGE: "content_too_large",
}

# Documented on every route that touches the database.
DATABASE_ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    status.HTTP_503_SERVICE_UNAVAILABLE: {
        "model": ErrorResponse,
        "description": "Database unavailable (`database_unavailable`), a statement ran out of"
        " time (`database_timeout`), or a conflict with another transaction"
        " (`database_conflict`, with `Retry-After`: nothing was written, send it again)",
    },
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for a route's error statuses, shaped like `ErrorResponse`, and its
    422 (every route with parameters or a body has one) like `ValidationErrorResponse`."""
    responses: dict[int | str, dict[str, Any]] = {
        code: {"model": ErrorResponse} for code in statuses
    }
    responses[status.HTTP_422_UNPROCESSABLE_CONTENT] = {
        "model": ValidationErrorResponse,
        "description": f"Invalid request (code `{VALIDATION_FAILED}`)",
    }
    return responses


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    status_code = next(code for kind, code in _STATUS_BY_ERROR.items() if isinstance(exc, kind))
    return _error(status_code, exc.detail, exc.code)


def _problem(error: Any) -> dict[str, Any]:
    """One validation problem as FastAPI reports it, less what could leak or not encode:
    the rejected input (it could be a password) and exception objects in `ctx` (their
    message is already `msg`)."""
    problem = {key: error[key] for key in ("type", "loc", "msg") if key in error}
    context = {
        key: value
        for key, value in (error.get("ctx") or {}).items()
        if isinstance(value, str | int | float | bool)
    }
    if context:
        problem["ctx"] = context
    return problem


def _validation_response(errors: Sequence[Any]) -> JSONResponse:
    return JSONResponse(
        {"detail": [_problem(error) for error in errors], "code": VALIDATION_FAILED},
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return _validation_response(exc.errors())


def _allowed_methods(request: Request) -> str:
    """Every method some route answers on the request's path (Starlette names only the
    first matching route's, and GET and POST /users are two routes)."""
    return ", ".join(
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL
            for route in request.app.router.routes
        )
    )


def _http_error_code(status_code: int) -> str:
    if status_code in _HTTP_ERROR_CODES:
        return _HTTP_ERROR_CODES[status_code]
    try:
        return HTTPStatus(status_code).phrase.lower().replace(" ", "_").replace("-", "_")
    except ValueError:
        return "http_error"


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == status.HTTP_400_BAD_REQUEST and isinstance(
        exc.__cause__, UnicodeDecodeError
    ):
        # A body that is not UTF-8 cannot be JSON: the same answer as malformed JSON.
        return _validation_response(
            [{"type": "json_invalid", "loc": ("body",), "msg": "JSON body is not valid UTF-8"}]
        )
    headers = dict(exc.headers or {})
    if exc.status_code == status.HTTP_405_METHOD_NOT_ALLOWED:
        headers["Allow"] = _allowed_methods(request)
    return _error(exc.status_code, exc.detail, _http_error_code(exc.status_code), headers)


def http_error_response(exc: HTTPException) -> JSONResponse:
    """An HTTP error's response (`{"detail", "code"}`) with its headers, for code that
    answers outside the routes."""
    code = _http_error_code(exc.status_code)
    return _error(exc.status_code, exc.detail, code, dict(exc.headers or {}))


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    # Starlette logs the exception (it re-raises it after this response is sent).
    return _error(status.HTTP_500_INTERNAL_SERVER_ERROR, INTERNAL_ERROR, "internal_error")


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    if is_connection_error(exc):
        # Why, without the driver's message: it can carry host names and user names.
        logger.error("database unavailable: %s", unreachable_reason(exc))
        return _error(
            status.HTTP_503_SERVICE_UNAVAILABLE, DATABASE_UNAVAILABLE, "database_unavailable"
        )
    if is_conflict(exc):
        # Retried once already where that was safe (`transactional`); nothing was written.
        logger.warning("database conflict: SQLSTATE %s", sqlstate(exc))
        return _error(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            DATABASE_CONFLICT,
            "database_conflict",
            {"Retry-After": "1"},
        )
    if is_statement_timeout(exc):
        logger.error("database timeout: SQLSTATE %s", sqlstate(exc))
        return _error(status.HTTP_503_SERVICE_UNAVAILABLE, DATABASE_TIMEOUT, "database_timeout")
    if isinstance(exc, IntegrityError) and (domain := domain_error(exc)) is not None:
        return await _domain_error(request, domain)
    if not isinstance(exc, DBAPIError):
        raise exc
    # The statement and where it failed, but not the message or parameters: they can
    # hold the row's values (a password hash, an email).
    logger.error(
        "database error %s (SQLSTATE %s) in %r\n%s",
        type(exc).__name__,
        sqlstate(exc),
        exc.statement,
        "".join(traceback.format_tb(exc.__traceback__)),
    )
    return _error(status.HTTP_500_INTERNAL_SERVER_ERROR, INTERNAL_ERROR, "internal_error")


def _error(
    status_code: int, detail: str, code: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"detail": detail, "code": code}, status_code=status_code, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
    for error_type in _STATUS_BY_ERROR:
        app.add_exception_handler(error_type, _domain_error)
    app.add_exception_handler(SQLAlchemyError, _database_error)
    app.add_exception_handler(DatabaseUnreachableError, _database_error)
