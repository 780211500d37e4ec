"""Request and response models shared by the reference apps (same fields as the template's)."""

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, EmailStr, Field

Username = Annotated[str, Field(min_length=3, max_length=50, pattern=r"^[A-Za-z0-9_.-]+$")]


class UserIn(BaseModel):
    username: Username
    email: EmailStr
    password: Annotated[str, Field(min_length=8, max_length=128)]
    full_name: str | None = None
    bio: str | None = None


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    email: str
    full_name: str | None
    bio: str | None
    is_active: bool
    is_verified: bool
    created_at: datetime
    updated_at: datetime


class PostIn(BaseModel):
    title: Annotated[str, Field(min_length=1, max_length=200)]
    body: Annotated[str, Field(min_length=1)]
    published: bool = False


class PostOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    author_id: int
    title: str
    body: str
    published: bool
    created_at: datetime


class Stats(BaseModel):
    total_users: int
    active_users: int
    new_users_30d: int
