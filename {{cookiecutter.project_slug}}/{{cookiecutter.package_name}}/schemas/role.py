from typing import Annotated

from fastapi import Path
from pydantic import StringConstraints

from .common import InputSchema, OutputSchema, text

# A role name is a path segment (/roles/{role_name}): no `/`, which no path could carry.
ROLE_NAME = r"^[^\x00/]*$"
RoleNamePath = Annotated[str, Path(min_length=1, max_length=50, pattern=ROLE_NAME)]


class RoleCreate(InputSchema):
    name: Annotated[str, StringConstraints(min_length=1, max_length=50, pattern=ROLE_NAME)]
    description: Annotated[str, text(max_length=10_000)] | None = None


class RoleRead(OutputSchema):
    id: int
    name: str
    description: str | None
