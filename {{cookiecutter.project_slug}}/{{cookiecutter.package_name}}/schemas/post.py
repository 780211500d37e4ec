from datetime import datetime
from typing import Annotated

from pydantic import StrictBool

from .common import InputSchema, OutputSchema, text


class PostCreate(InputSchema):
    title: Annotated[str, text(min_length=1, max_length=200)]
    body: Annotated[str, text(min_length=1, max_length=100_000)]
    # JSON true/false only: 0 and "yes" are not booleans (the schema says so).
    published: StrictBool = False


class PostRead(OutputSchema):
    id: int
    author_id: int
    title: str
    body: str
    published: bool
    created_at: datetime
    updated_at: datetime
