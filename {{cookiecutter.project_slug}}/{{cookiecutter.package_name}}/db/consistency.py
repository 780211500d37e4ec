"""Read-your-writes and cache invalidation, derived from what a unit of work committed.

Positions are PostgreSQL WAL positions (LSNs) as integers. After a commit the writer
asks the primary for a position past its commit; a replica that has replayed that far
shows the write, and a cached value read at or after it cannot predate the write.

Events of the app's sessions (`AppSession`) record the rows each flush changed (and
tables hit by ORM bulk UPDATE or DELETE); `after_commit` moves them to
`take_committed(session)`, a rollback of the whole transaction forgets them. This covers
every ORM write path, async or sync. `Publisher` owns what follows a commit: the
position, asked on the primary's check connection (never the request pool's), and the
commit listeners (the cache's invalidation); whatever fails there, the commit stands.
"""

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Self

from sqlalchemy import Delete, Insert, Update, event, inspect, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction, UOWTransaction

from .base import AppSession
from .checks import Coalesced, ServerCheck

logger = logging.getLogger(__name__)

# Response header with the position after a request's writes; clients send it back.
TOKEN_HEADER = "X-Consistency-Token"
# A PostgreSQL LSN as text: two hexadecimal halves, e.g. `16/B374D848`.
TOKEN_PATTERN = r"^[0-9A-Fa-f]{1,8}/[0-9A-Fa-f]{1,8}$"

# Position of a WAL record written after the commit became visible: a reader whose
# position reached it sees the commit (pg_current_wal_lsn() alone does not promise that
# while a synchronous standby holds the commit back). Writes no transaction.
WRITE_POSITION = "pg_wal_lsn_diff(pg_logical_emit_message(false, 'rw', ''), '0/0')::int8"
WRITE_POSITION_SQL = f"SELECT {WRITE_POSITION}"
_WRITE_POSITION = text(WRITE_POSITION_SQL)
# A lower bound of what the next statement on this connection sees.
READ_POSITION_SQL = text(
    "SELECT pg_wal_lsn_diff(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()"
    " ELSE pg_current_wal_insert_lsn() END, '0/0')::int8"
)

# In `Changes.tables`: a bulk statement whose table has no single name (a join).
ANY_TABLE = "*"

# Keys in `session.info`.
READ_YOUR_WRITES = "read_your_writes"
_PENDING = "pending_changes"
_COMMITTED = "committed_changes"


def format_position(position: int) -> str:
    return f"{position >> 32:X}/{position & 0xFFFFFFFF:X}"


def parse_position(token: str) -> int:
    if not re.fullmatch(TOKEN_PATTERN, token):
        raise ValueError(f"{TOKEN_HEADER} must look like 16/B374D848")
    high, low = token.split("/")
    return (int(high, 16) << 32) | int(low, 16)


@dataclass
class ReadYourWrites:
    """What one request's reads must see: its own commits and the client's token."""

    # Position from the client's token: replicas that have not replayed it are skipped.
    required_position: int | None = None
    # Set once this request committed a write: its later reads go to the primary.
    wrote: bool = False
    # The primary's position after this request's commits: the token it answers with.
    position: int | None = None


@dataclass
class Changes:
    """Rows a unit of work updated or deleted, and tables changed by bulk statements."""

    # (table name, primary key) of each row updated or deleted.
    rows: set[tuple[str, tuple[Any, ...]]] = field(default_factory=set)
    # Tables an ORM bulk UPDATE or DELETE touched: any of their rows may have changed.
    tables: set[str] = field(default_factory=set)
    # Anything written at all, inserts included.
    wrote: bool = False

    def merge(self, other: Self) -> None:
        self.rows |= other.rows
        self.tables |= other.tables
        self.wrote = self.wrote or other.wrote


def _pending(session: Session) -> Changes:
    changes: Changes = session.info.setdefault(_PENDING, Changes())
    return changes


@event.listens_for(AppSession, "after_flush")
def _record_flush(session: Session, flush_context: UOWTransaction) -> None:
    # Still the pre-flush state here: new, dirty, deleted and attribute history.
    pending = _pending(session)
    pending.wrote = pending.wrote or bool(session.new or session.dirty or session.deleted)
    changed = [instance for instance in session.dirty if session.is_modified(instance)]
    for instance in (*changed, *session.deleted):
        state = inspect(instance)
        if state.identity is not None:
            pending.rows.add((state.mapper.local_table.name, state.identity))


@event.listens_for(AppSession, "do_orm_execute")
def _record_bulk_statement(state: ORMExecuteState) -> None:
    statement = state.statement
    if isinstance(statement, Insert):
        # New rows make no cached row stale, but the request wrote: it gets a token.
        _pending(state.session).wrote = True
    elif isinstance(statement, Update | Delete):
        pending = _pending(state.session)
        pending.wrote = True
        pending.tables.add(getattr(statement.table, "name", ANY_TABLE))


@event.listens_for(AppSession, "after_commit")
def _commit_changes(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if pending is None or not (pending.wrote or pending.rows or pending.tables):
        return
    committed: Changes = session.info.setdefault(_COMMITTED, Changes())
    committed.merge(pending)
    read_your_writes = session.info.get(READ_YOUR_WRITES)
    if isinstance(read_your_writes, ReadYourWrites):
        read_your_writes.wrote = True


@event.listens_for(AppSession, "after_transaction_end")
def _forget_rolled_back(session: Session, transaction: SessionTransaction) -> None:
    # after_commit has already taken what the root transaction committed.
    if transaction.parent is None:
        session.info.pop(_PENDING, None)


def take_committed(session: Session | AsyncSession) -> Changes | None:
    """What the session committed since the last call, or None."""
    changes: Changes | None = session.info.pop(_COMMITTED, None)
    return changes


# Told what a request committed and the primary's position after it (None: unknown).
CommitListener = Callable[[Changes, int | None], Awaitable[None]]


class Publisher:
    """After a session's commits: the primary's position past them, and the listeners told."""

    def __init__(self, primary: ServerCheck) -> None:
        self.listeners: list[CommitListener] = []
        # Every writer that asks while one query runs shares the next one.
        self._position = Coalesced(lambda: primary.scalar(_WRITE_POSITION))

    async def publish(self, session: Session | AsyncSession) -> int | None:
        """What the session committed since the last call, told to the listeners; returns
        the primary's position past it, None when it committed nothing or that is unknown.
        Never raises: the commit has happened whatever fails here."""
        changes = take_committed(session)
        if changes is None:
            return None
        # Unknown (None): listeners then assume the newest possible position.
        position = await self.position()
        for listener in self.listeners:
            try:
                await listener(changes, position)
            except Exception:
                logger.exception("a commit listener failed")
        return position

    async def position(self) -> int | None:
        """The primary's position now, past every commit made before the call; None when
        it is unknown. Never raises."""
        try:
            position: int = await self._position()
        except Exception as error:
            logger.warning("position unknown: %s", type(error).__name__)
            return None
        return position

    async def dispose(self) -> None:
        await self._position.close()


async def read_position(session: AsyncSession) -> int:
    """A lower bound of the data the session's next statements read (same connection)."""
    position: int = (await session.scalar(READ_POSITION_SQL)) or 0
    return position
