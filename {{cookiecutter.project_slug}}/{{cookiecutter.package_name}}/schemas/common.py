"""Field types shared by the request and response schemas."""

from typing import Annotated, Any, Literal

from fastapi import Path, Query
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

# PostgreSQL text cannot hold NUL characters: such input is rejected up front (422).
NO_NUL = r"^[^\x00]*$"
# Ids are PostgreSQL `integer`s; larger values cannot exist and are rejected up front.
MAX_ID = 2_147_483_647


def text(*, min_length: int = 0, max_length: int) -> StringConstraints:
    return StringConstraints(min_length=min_length, max_length=max_length, pattern=NO_NUL)


IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]
# An offset costs a row read for every row skipped: bounded, as `after` pages at no such cost.
MAX_SKIP = 10_000
Skip = Annotated[
    int,
    Query(
        ge=0,
        le=MAX_SKIP,
        description=f"Rows to leave out from the start (at most {MAX_SKIP:,}: each costs a"
        " read); `after` pages at the same cost on any page.",
    ),
]
# Keyset pagination: the id of the last row of the previous page (0 for the first page).
After = Annotated[int | None, Query(ge=0, le=MAX_ID)]
Limit = Annotated[int, Query(ge=1, le=100)]


class InputSchema(BaseModel):
    """Request bodies: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


class OutputSchema(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class ErrorResponse(BaseModel):
    detail: str = Field(description="What went wrong, for people.")
    code: str = Field(
        description="What went wrong, for programs; stable (the README lists every code).",
        examples=["user_not_found"],
    )


class ValidationIssue(BaseModel):
    type: str = Field(description="pydantic's error type, e.g. `string_too_short`.")
    loc: list[str | int] = Field(description="`body`, `query`, `path` or `header`, then the field.")
    msg: str
    ctx: dict[str, Any] | None = Field(default=None, description="The limit broken, if any.")


class ValidationErrorResponse(BaseModel):
    """FastAPI's 422 shape, without the rejected input, plus the code."""

    detail: list[ValidationIssue]
    code: Literal["validation_failed"]
