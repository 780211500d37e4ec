"""/openapi.json as the running service behaves: limits from settings (the bulk size, the
body limits), parameters that are either absent or a value (never `null`)."""

from typing import Any

from fastapi import FastAPI

from ..settings import Settings, get_settings
from .routes.users import document_bulk_limit


def _parameters_without_null(schema: dict[str, Any]) -> None:
    # FastAPI documents an optional parameter (`int | None = None`) as "int or null"; a
    # query string or header has no null, only absence.
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                variants = parameter["schema"].pop("anyOf", None)
                if variants is None:
                    continue
                values = [variant for variant in variants if variant != {"type": "null"}]
                if len(values) == 1:
                    parameter["schema"].update(values[0])
                else:
                    parameter["schema"]["anyOf"] = values


def _document_body_refusals(schema: dict[str, Any], settings: Settings) -> None:
    # Any operation that takes a body may have it refused (see `api.bodies`).
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}
    refusals = {
        "408": {
            "description": "The body stalled for REQUEST_BODY_TIMEOUT_SECONDS"
            f" ({settings.request_body_timeout_seconds:g} s; code `request_timeout`)",
            "content": error,
        },
        "413": {
            "description": "The body is larger than MAX_REQUEST_BODY_BYTES"
            f" ({settings.max_request_body_bytes} bytes; code `content_too_large`)",
            "content": error,
        },
    }
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            if "requestBody" in operation:
                operation["responses"] |= refusals


def install_openapi(app: FastAPI, settings: Settings | None = None) -> None:
    """Adjust FastAPI's generated document once, the first time it is asked for."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            active = settings or get_settings()
            document_bulk_limit(schema, active.bulk_max_users)
            _document_body_refusals(schema, active)
            _parameters_without_null(schema)
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]
