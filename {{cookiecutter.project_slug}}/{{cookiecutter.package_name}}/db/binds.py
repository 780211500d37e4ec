"""What sessions are bound to: an engine in production, a connection in the tests (whose
transaction is rolled back at the end, so sessions there commit to savepoints)."""

from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

Bind = AsyncEngine | AsyncConnection


def sync_bind(bind: Bind) -> Engine | Connection:
    """What a sync session's `get_bind` returns for `bind`."""
    if isinstance(bind, AsyncEngine):
        return bind.sync_engine
    return bind.sync_connection  # type: ignore[return-value]


def session_options(bind: Bind) -> dict[str, Any]:
    """Options every session factory shares; on a connection, savepoints for its commits."""
    # expire_on_commit=False: objects stay readable after commit without another query.
    options: dict[str, Any] = {"expire_on_commit": False}
    if isinstance(bind, AsyncConnection):
        options["join_transaction_mode"] = "create_savepoint"
    return options
