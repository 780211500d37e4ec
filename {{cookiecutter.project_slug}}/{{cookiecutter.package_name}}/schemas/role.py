from typing import Annotated

from fastapi import Path

from .common import NO_NUL, InputSchema, OutputSchema, text

RoleNamePath = Annotated[str, Path(min_length=1, max_length=50, pattern=NO_NUL)]


class RoleCreate(InputSchema):
    name: Annotated[str, text(min_length=1, max_length=50)]
    description: Annotated[str, text(max_length=10_000)] | None = None


class RoleRead(OutputSchema):
    id: int
    name: str
    description: str | None
