"""/openapi.json as the running service behaves: limits from settings, parameters that
are either absent or a value (never `null`)."""

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


def install_openapi(app: FastAPI, settings: Settings | None = None) -> None:
    """Adjust FastAPI's generated document once, the first time it is asked for."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            document_bulk_limit(schema, (settings or get_settings()).bulk_max_users)
            _parameters_without_null(schema)
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]
