from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    Date,
    DateTime,
    ForeignKey,
    Index,
    String,
    Text,
{% if not cookiecutter.use_soft_delete %}
    UniqueConstraint,
{% endif %}
    false,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db.base import BaseModel
{% if cookiecutter.use_soft_delete %}
from ..db.soft_delete import LIVE, SoftDeleteMixin
{% endif %}

if TYPE_CHECKING:
    from .post import Post
    from .role import Role


{% if cookiecutter.use_soft_delete %}
class User(SoftDeleteMixin, BaseModel):
{% else %}
class User(BaseModel):
{% endif %}
    __tablename__ = "users"

    username: Mapped[str] = mapped_column(String(50))
    email: Mapped[str] = mapped_column(String(100))
    full_name: Mapped[str | None] = mapped_column(String(100))
    bio: Mapped[str | None] = mapped_column(Text)
    hashed_password: Mapped[str] = mapped_column(String(255))
    last_login: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    is_verified: Mapped[bool] = mapped_column(default=False, server_default=false())
    is_superuser: Mapped[bool] = mapped_column(default=False, server_default=false())
{% if cookiecutter.use_auth %}
    # Raised by every password change: tokens carry the version they were issued at and
    # die with it (auth/deps.py).
    token_version: Mapped[int] = mapped_column(default=0, server_default="0")
{% endif %}

    # lazy="raise": related rows are loaded explicitly (selectinload), never by surprise I/O.
    # passive_deletes: the database's ON DELETE CASCADE removes dependants.
    posts: Mapped[list[Post]] = relationship(
        back_populates="author",
        cascade="all, delete-orphan",
        passive_deletes=True,
        lazy="raise",
        order_by="Post.id",
    )
    profile: Mapped[UserProfile | None] = relationship(
        back_populates="user",
        cascade="all, delete-orphan",
        passive_deletes=True,
        lazy="raise",
    )
    roles: Mapped[list[Role]] = relationship(
        secondary="user_roles",
        back_populates="users",
        passive_deletes=True,
        lazy="raise",
        order_by="Role.id",
    )

    def __repr__(self) -> str:
        return f"<User id={self.id} username={self.username!r}>"


# Usernames are unique whatever their letter case; emails are stored lower-cased.
{% if cookiecutter.use_soft_delete %}
# Among live users only: a deleted user's name and email can be taken again.
Index("uq_users_username", func.lower(User.username), unique=True, postgresql_where=LIVE)
Index("uq_users_email", User.email, unique=True, postgresql_where=LIVE)
{% else %}
Index("uq_users_username", func.lower(User.username), unique=True)
UniqueConstraint(User.email, name="uq_users_email")
{% endif %}
# Search (a substring anywhere, any case: `ILIKE '%term%'`) is served by trigram indexes.
for _column in (User.username, User.email, User.full_name):
    Index(
        f"ix_users_{_column.key}_trgm",
        _column,
        postgresql_using="gin",
        postgresql_ops={_column.key: "gin_trgm_ops"},
        # No pending list: see migrations/versions/*_0004_*.py.
        postgresql_with={"fastupdate": "off"},
    )


class UserProfile(BaseModel):
    __tablename__ = "user_profiles"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    avatar_url: Mapped[str | None] = mapped_column(String(500))
    website: Mapped[str | None] = mapped_column(String(200))
    location: Mapped[str | None] = mapped_column(String(100))
    birth_date: Mapped[date | None] = mapped_column(Date)
    timezone: Mapped[str] = mapped_column(String(50), default="UTC", server_default="UTC")
    language: Mapped[str] = mapped_column(String(10), default="en", server_default="en")

    user: Mapped[User] = relationship(back_populates="profile", lazy="raise")
