"""Generic async CRUD repository: it flushes, the unit of work commits."""

from collections.abc import Mapping, Sequence
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Select, bindparam, func, insert, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.elements import UnaryExpression

from ..db.base import BaseModel
{% if cookiecutter.use_soft_delete %}
from ..db.soft_delete import SoftDeleteMixin
{% endif %}

ModelT = TypeVar("ModelT", bound=BaseModel)


_BY_ID: dict[type[BaseModel], Select[Any]] = {}


def by_id(model: type[ModelT]) -> Select[ModelT]:
    """`SELECT <model> WHERE id = :id`, built once per model and run with the id as a
    parameter: building the statement and its cache key for every call took a quarter of
    the CPU of a read by id."""
    statement = _BY_ID.get(model)
    if statement is None:
        statement = _BY_ID[model] = select(model).where(model.id == bindparam("id"))
    return statement


class Repository(Generic[ModelT]):
    """Create, read, update, delete and count rows of one model."""

    model: type[ModelT]

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _column(self, name: str) -> InstrumentedAttribute[Any]:
        if name not in inspect(self.model).column_attrs:
            raise ValueError(f"{self.model.__name__} has no column {name!r}")
        column: InstrumentedAttribute[Any] = getattr(self.model, name)
        return column

    def _conditions(self, filters: Mapping[str, Any] | None) -> list[ColumnElement[bool]]:
        return [self._column(name) == value for name, value in (filters or {}).items()]

    def _ordering(self, order_by: Sequence[str]) -> list[UnaryExpression[Any]]:
        """Column names, each optionally prefixed with `-` for descending order."""
        return [
            self._column(name[1:]).desc() if name.startswith("-") else self._column(name).asc()
            for name in order_by
        ]

    async def create(self, **values: Any) -> ModelT:
        instance = self.model(**values)
        self.session.add(instance)
        await self.session.flush()
        return instance

    async def bulk_create(self, rows: Sequence[Mapping[str, Any]]) -> list[ModelT]:
        """Insert every row in one statement; returns the objects in input order."""
        if not rows:
            return []
        statement = insert(self.model).returning(self.model, sort_by_parameter_order=True)
        result = await self.session.scalars(statement, [dict(row) for row in rows])
        return list(result.all())

    async def get(self, id_: int) -> ModelT | None:
        # A SELECT rather than session.get(): the identity map would skip query-wide
        # criteria (such as hiding soft-deleted rows) for objects the session holds.
        return await self.session.scalar(by_id(self.model), {"id": id_})

    async def get_many(
        self,
        *,
        filters: Mapping[str, Any] | None = None,
        order_by: Sequence[str] = ("id",),
        skip: int = 0,
        limit: int = 100,
    ) -> Sequence[ModelT]:
        statement = (
            select(self.model)
            .where(*self._conditions(filters))
            .order_by(*self._ordering(order_by))
            .offset(skip)
            .limit(limit)
        )
        return (await self.session.scalars(statement)).all()

    async def get_page_after(
        self,
        after: int,
        *,
        limit: int = 100,
        skip: int = 0,
        filters: Mapping[str, Any] | None = None,
    ) -> Sequence[ModelT]:
        """Up to `limit` rows with an id above `after` (less the first `skip` of them), by
        id: keyset pagination, an index range scan that costs the same on the last page as
        on the first (OFFSET from the start does not)."""
        statement = (
            select(self.model)
            .where(self.model.id > after, *self._conditions(filters))
            .order_by(self.model.id)
        )
        return (await self.session.scalars(statement.offset(skip).limit(limit))).all()

    async def count(self, filters: Mapping[str, Any] | None = None) -> int:
        statement = select(func.count()).select_from(self.model).where(*self._conditions(filters))
        return (await self.session.scalar(statement)) or 0

    async def update(self, instance: ModelT, values: Mapping[str, Any]) -> ModelT:
        for name in values:
            self._column(name)
        for name, value in values.items():
            setattr(instance, name, value)
        await self.session.flush()
        return instance

    async def delete(self, instance: ModelT) -> None:
{% if cookiecutter.use_soft_delete %}
        """Soft-delete models that support it; remove the row of any other."""
        if isinstance(instance, SoftDeleteMixin):
            instance.soft_delete()
            await self.session.flush()
            return
        await self.hard_delete(instance)

    async def hard_delete(self, instance: ModelT) -> None:
        """Remove the row, whatever the model."""
{% endif %}
        await self.session.delete(instance)
        await self.session.flush()
