from datetime import datetime
from typing import Annotated

from .common import InputSchema, OutputSchema, text


class PostCreate(InputSchema):
    title: Annotated[str, text(min_length=1, max_length=200)]
    body: Annotated[str, text(min_length=1, max_length=100_000)]
    published: bool = False


class PostRead(OutputSchema):
    id: int
    author_id: int
    title: str
    body: str
    published: bool
    created_at: datetime
    updated_at: datetime
