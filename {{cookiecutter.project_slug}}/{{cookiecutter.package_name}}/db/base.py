"""Declarative base, naming convention, the columns every model shares, and the app's
session class."""

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, MetaData, func, true
from sqlalchemy.ext.asyncio import AsyncAttrs
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, declared_attr, mapped_column

# Deterministic constraint names, so Alembic can drop what it created.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class AppSession(Session):
    """The app's sessions. Its listeners (what a unit of work changed, soft delete, read
    only) are registered on this class, never on SQLAlchemy's `Session`: a script's or
    Alembic's plain session runs none of them."""


class Base(AsyncAttrs, DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class TimestampMixin:
    # sort_order: shared columns come last in CREATE TABLE, after the model's own.
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), sort_order=100
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now(), sort_order=100
    )


class BaseModel(TimestampMixin, Base):
    """Abstract base of the domain models: integer id, timestamps, active flag."""

    __abstract__ = True

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        # Fetch server-generated values (timestamps) with RETURNING: no lazy load in async code.
        return {"eager_defaults": True}

    id: Mapped[int] = mapped_column(primary_key=True, sort_order=-100)
    is_active: Mapped[bool] = mapped_column(default=True, server_default=true(), sort_order=99)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} id={self.id}>"
