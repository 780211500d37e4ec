from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, LargeBinary, SmallInteger, String, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from ..db.base import Base


class IdempotencyKey(Base):
    """The answer to a `POST` sent with an `Idempotency-Key`, kept for its repeats until it
    expires (`api.idempotency`). Written with SQL there, in the request's transaction."""

    __tablename__ = "idempotency_keys"

    # Whose key: "" for anonymous callers (with authentication, the caller's user id).
    scope: Mapped[str] = mapped_column(String(255), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    # SHA-256 of the method, path and body: a repeat must send the same request.
    fingerprint: Mapped[bytes] = mapped_column(LargeBinary)
    status_code: Mapped[int] = mapped_column(SmallInteger)
    # [[name, value], ...] of the headers a replay repeats (Content-Type, Location, Link).
    headers: Mapped[list[Any]] = mapped_column(JSONB)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
