"""Soft delete: rows are flagged instead of removed, and hidden from every ORM query.

One `do_orm_execute` listener on the app's sessions (`AppSession`) adds
`with_loader_criteria` to each SELECT, so a soft-deleted row never shows up, also not
through joins or relationship loads, and to each ORM UPDATE and DELETE, so a bulk
`update(User)` or `delete(User)` leaves deleted rows as they are. To see or touch them
anyway, pass the execution option: `.execution_options(include_deleted=True)`.
"""

from datetime import datetime
from weakref import WeakKeyDictionary

from sqlalchemy import DateTime, Executable, event, false, func, text
from sqlalchemy.orm import Mapped, ORMExecuteState, mapped_column, with_loader_criteria

from .base import AppSession

# Execution option that turns the filter off for one statement.
INCLUDE_DELETED = "include_deleted"
# Where-clause of unique indexes that ignore soft-deleted rows: a deleted value can be reused.
LIVE = text("NOT is_deleted")


class SoftDeleteMixin:
    is_deleted: Mapped[bool] = mapped_column(default=False, server_default=false(), sort_order=101)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), sort_order=102)

    def soft_delete(self) -> None:
        self.is_deleted = True
        # The database's clock, like created_at (app servers' clocks drift apart); after
        # the flush it is read back on access: `await obj.awaitable_attrs.deleted_at`.
        self.deleted_at = func.now()

    def restore(self) -> None:
        self.is_deleted = False
        self.deleted_at = None


# Made once: each new option analyses its lambda again (a third of what the criteria
# cost per statement).
_LIVE_ONLY = with_loader_criteria(
    SoftDeleteMixin, lambda cls: cls.is_deleted.is_(False), include_aliases=True
)


# Each statement with the criteria, kept while the statement lives: a statement made once
# and executed again (`_PUBLIC_BY_ID`) keeps the cache key SQLAlchemy memoizes on it,
# where a new copy per execution built its key again (52 of the 390 µs of CPU an uncached
# read cost beyond the defaults', by py-spy). A statement made per call is dropped with it.
_WITH_CRITERIA: WeakKeyDictionary[Executable, Executable] = WeakKeyDictionary()


@event.listens_for(AppSession, "do_orm_execute")
def _hide_soft_deleted(state: ORMExecuteState) -> None:
    # Column and relationship loads inherit the criteria from the statement that started them.
    if (
        (state.is_select or state.is_update or state.is_delete)
        and not state.is_column_load
        and not state.is_relationship_load
        and not state.execution_options.get(INCLUDE_DELETED, False)
    ):
        statement = state.statement
        live = _WITH_CRITERIA.get(statement)
        if live is None:
            live = _WITH_CRITERIA[statement] = statement.options(_LIVE_ONLY)
        state.statement = live
